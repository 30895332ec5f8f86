"""Every op's derivative against central finite differences, for every activation × loss.

If these fail, a δ, dW or db nnstep shows is not the derivative of the loss
it shows. Failure messages print analytic and numeric side by side.
"""

from __future__ import annotations

import numpy as np
import pytest
from nnstep.engine import Session, build_config
from nnstep.engine.functions import activate, loss_value

HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]
OUTPUT = {
    "mse": ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"],
    "cross_entropy": ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"],
    "bce": ["sigmoid", "softmax"],
    "bce_with_logits": ["identity"],
}
PAIRS = [(h, o, loss) for loss, outs in OUTPUT.items() for o in outs for h in HIDDEN]


def check(analytic: np.ndarray, numeric: np.ndarray, what: str) -> None:
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    error = np.linalg.norm(analytic - numeric) / scale if scale else 0.0
    assert error < 1e-6, f"{what}: relative error {error:.2e}\nanalytic:\n{analytic}\nnumeric:\n{numeric}"


def central(f, tensor: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(tensor)
    for index in np.ndindex(tensor.shape):
        saved = tensor[index]
        tensor[index] = saved + eps
        plus = f()
        tensor[index] = saved - eps
        minus = f()
        tensor[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize(("hidden", "output", "loss"), PAIRS)
def test_delta_and_gradients_are_derivatives_of_the_loss(hidden: str, output: str, loss: str) -> None:
    n_out = 1 if loss == "bce" and output == "sigmoid" else 3
    raw = {
        "seed": 4,
        "model": {"sizes": [3, 4, 3, n_out], "activations": [hidden, hidden, output], "init": "torch"},  # biases ≠ 0: no z exactly at a ReLU kink
        "loss": {"kind": loss},
        "optimizer": {"lr": 0.1},
        "data": {"dataset": "random", "n": 5},
    }
    if loss == "bce" and n_out == 3:  # softmax rows as probabilities of 3 independent targets
        raw["data"] = {"x": np.random.default_rng(1).normal(size=(5, 3)).tolist(),
                       "y": np.random.default_rng(2).random((5, 3)).tolist()}
    config = build_config(raw, "fd")
    records = {(r.op, r.layer): r.tensors for r in Session(config).iteration_records(0)}
    x, y = np.array(config.x), np.array(config.y)
    W = [np.array(w) for w, _ in config.layers]
    b = [np.array(v) for _, v in config.layers]
    acts = config.activations

    def loss_from(layer: int, z: np.ndarray) -> float:
        a = activate(acts[layer - 1], z)
        for l in range(layer, config.depth):
            a = activate(acts[l], a @ W[l].T + b[l])
        return float(loss_value(loss, a, y))

    for l in range(1, config.depth + 1):
        z = np.array(records[("linear", l)]["z"])
        check(records[("delta", l)]["delta"], central(lambda l=l, z=z: loss_from(l, z), z), f"δ{l} ({hidden}/{output}/{loss})")

    def full_loss() -> float:
        a = x
        for l in range(config.depth):
            a = activate(acts[l], a @ W[l].T + b[l])
        return float(loss_value(loss, a, y))

    for l in range(1, config.depth + 1):
        check(records[("grad", l)]["dW"], central(full_loss, W[l - 1]), f"dW{l} ({hidden}/{output}/{loss})")
        check(records[("grad", l)]["db"], central(full_loss, b[l - 1]), f"db{l} ({hidden}/{output}/{loss})")
        expected = W[l - 1] - config.lr * records[("grad", l)]["dW"]
        np.testing.assert_array_equal(records[("update", l)]["W"], expected)

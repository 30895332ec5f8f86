"""Live parity with PyTorch in float64, when torch is importable (never required).

Random small nets, every optimizer variant × dropout, L1, frozen parameters,
bce_with_logits and leaky ReLU's negative_slope, 30 iterations of shuffled
mini-batches: every tensor the engine's records write (loss, δ, dW, db, the
optimizer state, W, b, …) within 1e-10 relative of torch's
(golden/make_golden.py's `reference`). If these fail, a student checking
nnstep against PyTorch sees different numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nnstep.engine import Session, build_config  # noqa: E402
from nnstep.engine.functions import loss_grad, loss_value, sigmoid  # noqa: E402

from .golden.make_golden import assert_run_matches, engine_values, reference  # noqa: E402

ITERATIONS = 30
HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]
OUTPUT = {
    "mse": ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"],
    # Not tanh: cross-entropy drives tanh's z to saturation, where 1 − a² cancels and the
    # last-bit differences of np.tanh and torch.tanh (a fifth of all inputs) grow past 1e-10 in δ.
    "cross_entropy": ["identity", "leaky_relu"],
    "bce": ["sigmoid"],
    "bce_with_logits": ["identity"],
}
# (kind, options, learning-rate range)
VARIANTS = {
    "sgd": ("sgd", {}, (0.05, 0.5)),
    "sgd_decay": ("sgd", {"weight_decay": 0.05}, (0.05, 0.5)),
    "sgd_momentum": ("sgd", {"momentum": 0.9}, (0.01, 0.1)),
    "sgd_momentum_dampening_decay": ("sgd", {"momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}, (0.01, 0.2)),
    "sgd_nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}, (0.01, 0.1)),
    "sgd_nesterov_decay": ("sgd", {"momentum": 0.5, "nesterov": True, "weight_decay": 0.1}, (0.01, 0.2)),
    "adam": ("adam", {}, (0.001, 0.05)),
    "adam_decay": ("adam", {"weight_decay": 0.05, "betas": [0.8, 0.99]}, (0.001, 0.05)),
    "adam_amsgrad": ("adam", {"amsgrad": True}, (0.001, 0.05)),
    "adam_amsgrad_decay": ("adam", {"amsgrad": True, "weight_decay": 0.01, "eps": 1e-6}, (0.001, 0.05)),
    "adamw": ("adamw", {}, (0.001, 0.05)),
    "adamw_amsgrad_decay": ("adamw", {"amsgrad": True, "weight_decay": 0.2}, (0.001, 0.05)),
    "rmsprop": ("rmsprop", {}, (0.001, 0.02)),
    "rmsprop_momentum": ("rmsprop", {"momentum": 0.9}, (0.001, 0.01)),
    "rmsprop_centered": ("rmsprop", {"centered": True, "alpha": 0.9}, (0.001, 0.02)),
    "rmsprop_centered_momentum_decay": ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.01},
                                        (0.001, 0.01)),
}
# Per seed: the parts switched on and the loss; every variant meets every part.
PARTS = [
    ({"dropout", "l1"}, "mse"),
    ({"freeze", "negative_slope"}, "bce_with_logits"),
    ({"dropout", "l1", "freeze", "negative_slope"}, "cross_entropy"),
    ({"dropout", "freeze", "negative_slope"}, "bce"),
    ({"l1", "negative_slope"}, "bce_with_logits"),
]


def random_raw(variant: str, seed: int) -> dict:
    """A random 2–3 layer net with `variant`'s optimizer and PARTS[seed] on, on shuffled mini-batches."""
    kind, options, (low, high) = VARIANTS[variant]
    parts, loss = PARTS[seed]
    rng = np.random.default_rng([seed, *variant.encode()])
    depth = int(rng.integers(2, 4))
    sizes = [int(n) for n in rng.integers(1, 6, depth + 1)]
    if loss == "cross_entropy":
        sizes[-1] = max(sizes[-1], 2)
    acts = [str(rng.choice(HIDDEN)) for _ in range(depth - 1)] + [str(rng.choice(OUTPUT[loss]))]
    if loss == "mse" and acts[-1] == "softmax":
        sizes[-1] = max(sizes[-1], 2)
    model: dict = {"sizes": sizes, "activations": acts, "init": str(rng.choice(["xavier", "he", "torch", "normal"]))}
    if "negative_slope" in parts:
        acts[int(rng.integers(0, depth - 1))] = "leaky_relu"
        model["negative_slope"] = float(rng.uniform(0.05, 0.5))
    if "dropout" in parts:
        model["dropout"] = [float(rng.choice([0.2, 0.5])) for _ in range(depth - 1)] + [0.0]
    if "freeze" in parts:
        names = [f"{P}{l}" for l in range(1, depth + 1) for P in "Wb"]
        model["freeze"] = [str(n) for n in rng.choice(names, size=int(rng.integers(1, 3)), replace=False)]
    n = int(rng.integers(7, 13))
    raw = {
        "seed": seed,
        "model": model,
        "loss": {"kind": loss, **({"l1": float(rng.uniform(0.001, 0.01))} if "l1" in parts else {})},
        "optimizer": {"kind": kind, "lr": float(rng.uniform(low, high)), **options},
        "data": {"dataset": "random", "n": n, "batch_size": int(rng.integers(2, n)), "shuffle": True},
    }
    if loss in ("mse", "bce_with_logits") and rng.random() < 0.5:  # real-valued targets in [0, 1]
        raw["data"] = {"x": rng.standard_normal((n, sizes[0])).tolist(), "y": rng.random((n, sizes[-1])).tolist(),
                       "batch_size": raw["data"]["batch_size"], "shuffle": True}
    return raw


@pytest.mark.parametrize("seed", range(len(PARTS)))
@pytest.mark.parametrize("variant", VARIANTS)
def test_random_net_matches_pytorch(variant: str, seed: int) -> None:
    raw = random_raw(variant, seed)
    resolved, expected = reference(raw, ITERATIONS)
    session = Session(build_config(resolved, "parity"))
    assert session.config.batch_size < len(session.config.x)
    assert_run_matches(((i + 1, engine_values(session.iteration_records(i)), e) for i, e in enumerate(expected)),
                       f"{variant}, PARTS[{seed}], raw config {raw}")


# -- numerics the engine copies from torch's kernels --------------------------------------------


def _torch_grad(loss_fn, y_hat: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    t = torch.tensor(y_hat, dtype=torch.float64, requires_grad=True)
    loss = loss_fn(t, torch.tensor(y, dtype=torch.float64))
    loss.backward()
    return loss.item(), t.grad.numpy()


@pytest.mark.parametrize("n", [1, 2, 3])
def test_mse_gradient_overflows_exactly_when_torchs_does(n: int) -> None:
    # (ŷ − y)·(2/n): with n = 1 a difference past max/2 overflows, with n ≥ 2 it does not (2·(ŷ − y) first would).
    big = np.finfo(np.float64).max
    for d in (0.4 * big, 0.6 * big, big, -0.7 * big):
        y_hat, y = np.full((n, 1), d), np.zeros((n, 1))
        _, want = _torch_grad(torch.nn.MSELoss(), y_hat, y)
        with np.errstate(over="ignore"):
            got = loss_grad("mse", y_hat, y)
        np.testing.assert_array_equal(got, want, err_msg=f"ŷ − y = {d:g}, n = {n}")
    y_hat, y = np.array([[big], [0.5]])[:n], np.array([[-big], [0.0]])[:n]  # ŷ − y itself overflows
    _, want = _torch_grad(torch.nn.MSELoss(), y_hat, y)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(loss_grad("mse", y_hat, y), want)


def test_bce_backward_clamp_matches_torch_near_saturation() -> None:
    # Past |z| ≈ 27.6, p(1 − p) < 1e-12 and torch divides by its clamp instead.
    z = np.concatenate([np.linspace(-36, -25, 23), np.linspace(25, 36, 23)])[:, None]
    p = sigmoid(z)
    for target in (0.0, 1.0, 0.3):
        y = np.full_like(p, target)
        _, want = _torch_grad(torch.nn.BCELoss(), p, y)
        np.testing.assert_allclose(loss_grad("bce", p, y), want, rtol=1e-13, atol=0, err_msg=f"y = {target}")


@pytest.mark.parametrize("p", [1e-20, 1e-300, 5e-324, 1e-8])
def test_bce_loss_of_a_tiny_p_is_positive_and_torchs(p: float) -> None:
    y_hat, y = np.array([[p]]), np.array([[0.0]])
    want, _ = _torch_grad(torch.nn.BCELoss(), y_hat, y)
    got = float(loss_value("bce", y_hat, y))
    assert not math.copysign(1.0, got) < 0, f"loss of p = {p:g}, y = 0 is -0.0"
    assert got == pytest.approx(want, rel=1e-15, abs=0), f"p = {p:g}: nnstep {got!r}, torch {want!r}"
    assert got > 0

"""Live parity with PyTorch on random nets, when torch is importable (never required)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nnstep.engine import Session, build_config  # noqa: E402

from .golden.make_golden import golden  # noqa: E402

ACTS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]


def random_raw(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 4))
    sizes = [int(n) for n in rng.integers(1, 7, depth + 1)]
    loss = ["mse", "cross_entropy", "bce"][seed % 3]
    acts = [str(rng.choice(ACTS)) for _ in range(depth)]
    if loss == "cross_entropy":
        sizes[-1] = max(sizes[-1], 2)
        acts[-1] = str(rng.choice(["identity", "tanh"]))
    if loss == "bce":
        acts[-1] = "sigmoid"
    if loss == "mse" and sizes[-1] > 1 and rng.random() < 0.3:
        acts[-1] = "softmax"
    momentum = float(rng.choice([0.0, 0.9]))
    return {
        "seed": seed,
        "model": {"sizes": sizes, "activations": acts, "init": str(rng.choice(["xavier", "he", "torch"]))},
        "loss": {"kind": loss},
        "optimizer": {"lr": float(rng.uniform(0.01, 1.0)), "momentum": momentum,
                      "weight_decay": float(rng.choice([0.0, 0.01])), "nesterov": bool(momentum and rng.random() < 0.5)},
        "data": {"dataset": "random", "n": int(rng.integers(1, 9))},
    }


@pytest.mark.parametrize("seed", range(40))
def test_random_net_matches_pytorch(seed: int) -> None:
    raw = random_raw(seed)
    expected = golden(raw)
    session = Session(build_config(expected["config"], "parity"))
    for i, step in enumerate(expected["steps"]):
        got = {(r.op, r.layer): r.tensors for r in session.iteration_records(i)}
        assert float(got[("loss", None)]["loss"]) == pytest.approx(step["loss"], abs=1e-10, rel=1e-12)
        for l in range(1, session.config.depth + 1):
            np.testing.assert_allclose(got[("delta", l)]["delta"], step["delta"][l - 1], rtol=1e-10, atol=1e-12, err_msg=f"δ{l} {raw}")
            np.testing.assert_allclose(got[("grad", l)]["dW"], step["dW"][l - 1], rtol=1e-10, atol=1e-12, err_msg=f"dW{l} {raw}")
            np.testing.assert_allclose(got[("update", l)]["W"], step["W"][l - 1], rtol=1e-10, atol=1e-12, err_msg=f"W{l} {raw}")

"""Property-based: on any valid network, gradients are derivatives, paths agree, exports are strict.

If these fail, some combination of sizes, activations, loss and optimizer a
user can write gives gradients that are not the loss's derivatives, a
`nnstep run` that trains another network than the app steps through, or a
trace that strict JSON parsers reject.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nnstep.engine import Session, build_config
from nnstep.engine.gradcheck import check_gradients, numeric_gradients
from nnstep.engine.trace import write_trace

HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid config: 1–3 layers of 1–6 units, any activations, loss and SGD settings."""
    depth = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 6), min_size=depth + 1, max_size=depth + 1))
    loss = draw(st.sampled_from(["mse", "cross_entropy", "bce"]))
    acts = draw(st.lists(st.sampled_from(HIDDEN), min_size=depth, max_size=depth))
    if loss == "cross_entropy":
        sizes[-1] = max(sizes[-1], 2)
    if loss == "bce":
        acts[-1] = draw(st.sampled_from(["sigmoid", "softmax"]))
    elif draw(st.booleans()) and sizes[-1] > 1:
        acts[-1] = "softmax"
    momentum = draw(st.sampled_from([0.0, 0.5, 0.9]))
    n = draw(st.integers(1, 7))
    return {
        "seed": draw(st.integers(0, 2**31)),
        "dtype": draw(st.sampled_from(["float64", "float64", "float32"])),
        "model": {"sizes": sizes, "activations": acts, "init": draw(st.sampled_from(["xavier", "he", "torch", "normal"]))},
        "loss": {"kind": loss},
        "optimizer": {
            "lr": draw(st.floats(1e-3, 2.0)),
            "momentum": momentum,
            "weight_decay": draw(st.sampled_from([0.0, 1e-3])),
            "nesterov": bool(momentum) and draw(st.booleans()),
        },
        "data": {"dataset": "random", "n": n, "batch_size": draw(st.integers(1, n))},
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=configs())
def test_gradients_agree_with_finite_differences(raw: dict[str, Any]) -> None:
    raw = {**raw, "dtype": "float64", "model": {**raw["model"], "init": "torch"}}  # b ≠ 0: off the ReLU kinks
    config = build_config(raw, "property")
    session = Session(config)
    x = np.array(session.iteration_records(0)[0].tensors["a_prev"])
    y = np.array(next(r for r in session.iteration_records(0) if r.op == "loss").tensors["y"])
    results = check_gradients(config, session.iteration_params(0), x, y)
    numeric_W, numeric_b = numeric_gradients(config, session.iteration_params(0), x, y)
    grads = {r.layer: r.tensors for r in session.iteration_records(0) if r.op == "grad"}
    for result in results:
        if result.error < 1e-6 or result.kinks:
            continue
        # A gradient of 1e-6 is within finite differences' round-off (~1e-11) only absolutely.
        l = result.layer
        np.testing.assert_allclose(grads[l]["dW"], numeric_W[l - 1], rtol=1e-5, atol=1e-9, err_msg=str(raw))
        np.testing.assert_allclose(grads[l]["db"], numeric_b[l - 1], rtol=1e-5, atol=1e-9, err_msg=str(raw))


@settings(max_examples=100, deadline=None)
@given(raw=configs(), iterations=st.integers(1, 12))
def test_fast_path_equals_stepping_path(raw: dict[str, Any], iterations: int) -> None:
    config = build_config(raw, "property")
    fast, stepped = Session(config), Session(config)
    fast.train(iterations)
    while stepped.iterations_done < iterations:
        stepped.step()
    for a, b in zip(fast.state.W + fast.state.b, stepped.state.W + stepped.state.b):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fast.losses(), stepped.losses())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=configs(), lr=st.sampled_from([0.1, 1e3, 1e6]))
def test_exports_are_always_strict_json(tmp_path: Path, raw: dict[str, Any], lr: float) -> None:
    raw = {**raw, "optimizer": {**raw["optimizer"], "lr": lr}}  # large η diverges to inf and NaN
    session = Session(build_config(raw, "property"))
    session.train(6)
    path = tmp_path / "t.json"
    write_trace(path, session.config.to_dict(), session.iter_records())

    def refuse(name: str) -> None:
        raise ValueError(f"bare {name}")

    data = json.load(open(path, encoding="utf-8"), parse_constant=refuse)
    assert len(data["steps"]) == 6 * session.ops_per_iteration

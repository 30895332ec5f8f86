"""The new parts (bce_with_logits, L1, leaky ReLU's slope, dropout, frozen parameters, the optimizers)
against central finite differences, and the session's promises about them.

Batch rows: z, a, δ have shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).
The reference loss here is plain NumPy, written apart from the engine's
functions. If these fail, a user would see a δ, dW or db that is not the
derivative of the loss nnstep shows, a frozen W that moves, `nnstep run`
training another network than the app steps through, numbers that change
on stepping back, or a pane missing a tensor the schedule promises.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from nnstep.engine import Session, build_config
from nnstep.engine.functions import loss_grad, loss_value
from nnstep.engine.network import dropout_mask

from tests.engine.test_finite_differences import central

OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd": {"kind": "sgd", "lr": 0.1},
    "sgd_momentum_dampening_decay": {"kind": "sgd", "lr": 0.1, "momentum": 0.9, "dampening": 0.2, "weight_decay": 0.01},
    "sgd_nesterov": {"kind": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
    "adam": {"kind": "adam", "lr": 0.01},
    "adam_amsgrad_decay": {"kind": "adam", "lr": 0.01, "amsgrad": True, "weight_decay": 0.01},
    "adamw": {"kind": "adamw", "lr": 0.01, "amsgrad": True},
    "rmsprop": {"kind": "rmsprop", "lr": 0.01},
    "rmsprop_centered_momentum": {"kind": "rmsprop", "lr": 0.01, "centered": True, "momentum": 0.9, "weight_decay": 0.01},
}


def raw_config(loss: str = "mse", acts: tuple[str, ...] = ("tanh", "sigmoid", "identity"), *, sizes=(3, 5, 4, 2),
               optimizer: dict | None = None, n: int = 6, batch_size: int | None = None, **model: Any) -> dict:
    """A small net with inline data (targets in [0, 1], one-hot rows for cross-entropy)."""
    rng = np.random.default_rng(17)
    y = rng.random((n, sizes[-1]))
    if loss == "cross_entropy":
        y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    return {
        "seed": 5,
        "model": {"sizes": list(sizes), "activations": list(acts), "init": "torch", **model},
        "loss": {"kind": loss},
        "optimizer": optimizer or {"kind": "sgd", "lr": 0.1},
        "data": {"x": rng.standard_normal((n, sizes[0])).tolist(), "y": y.tolist(),
                 "batch_size": batch_size or n, "shuffle": True},
    }


# -- an independent reference loss ----------------------------------------------------------------


def activation(name: str, z: np.ndarray, slope: float) -> np.ndarray:
    if name == "identity":
        return z
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(name)


def data_loss(kind: str, out: np.ndarray, y: np.ndarray) -> float:
    if kind == "mse":
        return float(np.mean((out - y) ** 2))
    if kind == "cross_entropy":
        shifted = out - out.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return float(-(y * log_p).sum() / len(y))
    if kind == "bce":
        return float(-np.mean(y * np.log(out) + (1 - y) * np.log(1 - out)))
    if kind == "bce_with_logits":  # log(1 + e^z) − y·z
        return float(np.mean(np.logaddexp(0.0, out) - y * out))
    raise ValueError(kind)


def reference_loss(config, W, b, y, masks, a_prev, *, layer: int = 1, z: np.ndarray | None = None) -> float:
    """L from layer `layer` on, given its input a_prev (or its z), dropout by `masks` (mask/(1 − p)), plus λ·Σ|W|."""
    a = a_prev
    for l in range(layer, config.depth + 1):
        z_l = z if (l == layer and z is not None) else a @ W[l - 1].T + b[l - 1]
        a = activation(config.activations[l - 1], z_l, config.negative_slope)
        if masks[l - 1] is not None:
            a = a * masks[l - 1] / (1.0 - config.dropout[l - 1])
    return data_loss(config.loss, a, y) + config.l1 * sum(float(np.abs(w).sum()) for w in W)




def check(analytic: np.ndarray, numeric: np.ndarray, what: str) -> None:
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    error = np.linalg.norm(analytic - numeric) / scale if scale else 0.0
    assert error < 1e-7, f"{what}: relative error {error:.2e}\nanalytic:\n{analytic}\nnumeric:\n{numeric}"


def assert_off_kinks(records, config) -> None:
    """No pre-activation of a (leaky) ReLU so near 0 that a ±1e-6 nudge of a parameter crosses the kink."""
    for l, name in enumerate(config.activations, start=1):
        if name in ("relu", "leaky_relu"):
            assert np.abs(records[("linear", l)]["z"]).min() > 1e-3, f"layer {l} has a z at a kink: pick another seed"


def check_iteration(config, iteration: int = 0) -> dict:
    """δ⁽ˡ⁾, dW⁽ˡ⁾, db⁽ˡ⁾ of the engine's stepped `iteration` against central differences of
    reference_loss with the same batch, parameters and dropout masks. Returns the records by (op, layer)."""
    records = {(r.op, r.layer): r.tensors for r in Session(config).iteration_records(iteration)}
    assert_off_kinks(records, config)
    depth = config.depth
    W = [np.array(records[("linear", l)]["W"]) for l in range(1, depth + 1)]
    b = [np.array(records[("linear", l)]["b"]) for l in range(1, depth + 1)]
    x, y = np.array(records[("linear", 1)]["a_prev"]), np.array(records[("loss", None)]["y"])
    masks = [np.array(records[("dropout", l)]["mask"]) if config.dropout[l - 1] else None for l in range(1, depth + 1)]
    inputs = [x] + [np.array(records[("dropout", l)]["a_drop"] if masks[l - 1] is not None else records[("activation", l)]["a"])
                    for l in range(1, depth)]
    for l in range(1, depth + 1):
        z = np.array(records[("linear", l)]["z"])
        numeric = central(lambda l=l, z=z: reference_loss(config, W, b, y, masks, inputs[l - 1], layer=l, z=z), z)
        check(records[("delta", l)]["delta"], numeric, f"δ{l}")
    for l in range(1, depth + 1):
        check(records[("grad", l)]["dW"], central(lambda: reference_loss(config, W, b, y, masks, x), W[l - 1]), f"dW{l}")
        check(records[("grad", l)]["db"], central(lambda: reference_loss(config, W, b, y, masks, x), b[l - 1]), f"db{l}")
    return records


# -- finite differences of the new parts ----------------------------------------------------------


def test_bce_with_logits_gradients_are_derivatives_of_the_loss() -> None:
    check_iteration(build_config(raw_config("bce_with_logits", ("tanh", "sigmoid", "identity")), "fd"))


def test_l1_gradients_are_derivatives_of_the_penalised_loss() -> None:
    raw = raw_config("mse", ("tanh", "tanh", "identity"))
    raw["loss"]["l1"] = 0.05
    config = build_config(raw, "fd")
    assert min(float(np.abs(W).min()) for W, _ in config.layers) > 1e-3  # away from |W|'s kink at 0
    records = check_iteration(config)
    W = [W for W, _ in config.layers]
    loss = records[("loss", None)]
    assert float(loss["penalty"]) == pytest.approx(0.05 * sum(np.abs(w).sum() for w in W), rel=1e-15)
    assert float(loss["loss"]) == float(loss["data_loss"]) + float(loss["penalty"])


@pytest.mark.parametrize("slope", [0.3, -0.5])
def test_leaky_relu_with_its_own_slope_is_differentiated_with_it(slope: float) -> None:
    config = build_config(raw_config("mse", ("leaky_relu", "leaky_relu", "leaky_relu"), negative_slope=slope), "fd")
    records = check_iteration(config)
    z = records[("linear", 1)]["z"]
    assert (z < 0).any() and (z > 0).any(), "both sides of the kink are exercised"


def test_dropout_backward_goes_through_the_same_mask() -> None:
    # The gradient check of the engine turns dropout off; here the mask of a stepped iteration is held fixed.
    config = build_config(raw_config("mse", ("tanh", "sigmoid", "identity"), dropout=[0.5, 0.3, 0.0], n=8), "fd")
    iteration = 2
    records = check_iteration(config, iteration)
    for l, p in ((1, 0.5), (2, 0.3)):
        r = records[("dropout", l)]
        mask = dropout_mask(config, iteration, l, r["a"].shape)
        np.testing.assert_array_equal(r["mask"], mask)
        assert set(np.unique(mask)) == {0.0, 1.0}, "some units kept and some dropped"
        np.testing.assert_array_equal(r["a_drop"], r["a"] * (mask / (1.0 - p)))
    assert not np.array_equal(records[("dropout", 1)]["mask"], dropout_mask(config, iteration + 1, 1, (8, 5)))


def test_frozen_parameters_have_gradients_but_do_not_move() -> None:
    config = build_config(raw_config("mse", ("tanh", "sigmoid", "identity"), freeze=["W1", "b2"],
                                     optimizer={"kind": "adam", "lr": 0.05}), "fd")
    records = check_iteration(config)  # dW1 and db2 are still the derivatives of the loss
    update1, update2 = records[("update", 1)], records[("update", 2)]
    assert "W" not in config.schedule.find("update", 1).writes and "W" in update1
    assert not any(k.endswith("_W") for k in update1) and not any(k.endswith("_b") for k in update2)
    session = Session(config)
    session.train(5)
    params = session.iteration_params(5)
    np.testing.assert_array_equal(params.W[0], config.layers[0][0])
    np.testing.assert_array_equal(params.b[1], config.layers[1][1])
    assert not np.array_equal(params.b[0], config.layers[0][1]) and not np.array_equal(params.W[1], config.layers[1][0])
    assert not any(k.endswith("_W") for k in params.state[0]) and not any(k.endswith("_b") for k in params.state[1])
    np.testing.assert_array_equal(update1["W"], config.layers[0][0])


# -- the session: fast path, time travel, schedule ------------------------------------------------


def every_part(optimizer: dict, loss: str = "cross_entropy") -> dict:
    """Dropout on both hidden layers, L1, a frozen W and b, leaky ReLU's slope, shuffled mini-batches."""
    out = "identity" if loss in ("cross_entropy", "bce_with_logits", "mse") else "sigmoid"
    raw = raw_config(loss, ("leaky_relu", "tanh", out), optimizer=optimizer, n=10, batch_size=4,
                     dropout=[0.3, 0.5, 0.0], freeze=["b1", "W3"], negative_slope=0.2)
    raw["loss"]["l1"] = 0.001
    return raw


def assert_params_identical(a, b) -> None:
    assert a.t == b.t
    for x, y in zip(a.W + a.b, b.W + b.b):
        np.testing.assert_array_equal(x, y)
    for sa, sb in zip(a.state, b.state):
        assert set(sa) == set(sb)
        for k in sa:
            np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)


FAST_PATH_CASES = {**{f"{name}, every part": every_part(opt) for name, opt in OPTIMIZERS.items()},
                   "dropout only": raw_config(dropout=[0.5, 0.2, 0.0], batch_size=4),
                   "l1 only": {**raw_config(batch_size=4), "loss": {"kind": "mse", "l1": 0.01}},
                   "freeze only": raw_config(freeze=["W2"], batch_size=4)}


@pytest.mark.parametrize("case", FAST_PATH_CASES)
def test_stepping_and_the_fast_path_are_bit_identical(case: str) -> None:
    config = build_config(FAST_PATH_CASES[case], "parts")
    fast, stepped = Session(config), Session(config)
    fast.train(12)
    for i in range(12):
        stepped.iteration_records(i)
    assert_params_identical(fast.iteration_params(12), stepped.iteration_params(12))
    stepped.goto(12 * stepped.ops_per_iteration - 1)
    np.testing.assert_array_equal(fast.losses(), stepped.losses())


def test_going_back_in_time_gives_bit_identical_records() -> None:
    config = build_config(every_part(OPTIMIZERS["adam_amsgrad_decay"]), "parts")
    session = Session(config, checkpoint_every=4, cache_iterations=2)
    ops = session.ops_per_iteration
    first = [session.step() for _ in range(10 * ops)]
    session.train(40)
    for start in (3 * ops + 2, 0, 7 * ops):
        session.goto(start - 1)
        again = [session.step() for _ in range(10 * ops - start)]
        for a, b in zip(first[start:], again):
            assert (a.index, a.op, a.layer, a.writes, a.equation) == (b.index, b.op, b.layer, b.writes, b.equation)
            assert a.tensors.keys() == b.tensors.keys()
            for k in a.tensors:
                assert a.tensors[k].dtype == b.tensors[k].dtype
                np.testing.assert_array_equal(a.tensors[k], b.tensors[k], err_msg=f"{k} of op {a.index} ({a.op})")


LOSSES = ["cross_entropy", "bce_with_logits", "bce", "mse"]


@pytest.mark.parametrize(("optimizer", "loss"), [(name, LOSSES[i % 4]) for i, name in enumerate(OPTIMIZERS)])
def test_records_hold_exactly_the_tensors_the_schedule_names(optimizer: str, loss: str) -> None:
    config = build_config(every_part(OPTIMIZERS[optimizer], loss), "parts")
    records = Session(config).iteration_records(1)
    assert len(records) == len(config.schedule)
    for record, spec in zip(records, config.schedule):
        where = f"{spec.op} {spec.layer}"
        assert (record.op, record.layer, record.stage, record.writes) == (spec.op, spec.layer, spec.stage, spec.writes)
        assert set(record.tensors) == set(spec.tensors), (
            f"{where}: record has {sorted(set(record.tensors) - set(spec.tensors))} not in the schedule, "
            f"lacks {sorted(set(spec.tensors) - set(record.tensors))}")


# -- the numerics copied from torch's kernels (test_torch_parity.py compares them with torch itself) ----


def test_mse_gradient_is_difference_times_two_over_n() -> None:
    big = np.finfo(np.float64).max
    with np.errstate(over="ignore"):
        assert np.isinf(loss_grad("mse", np.array([[0.6 * big]]), np.zeros((1, 1)))).all()  # n = 1: 2·d overflows
        np.testing.assert_array_equal(loss_grad("mse", np.full((2, 1), 0.6 * big), np.zeros((2, 1))), 0.6 * big)


def test_bce_gradient_clamps_at_float32_epsilon() -> None:
    p = 1.0 / (1.0 + np.exp(np.array([[30.0]])))  # p(1 − p) ≈ 9e-14 < 1e-12
    assert float(loss_grad("bce", p, np.zeros_like(p))[0, 0]) == float(p[0, 0]) / float(np.float32(1e-12))


@pytest.mark.parametrize("p", [1e-20, 5e-324])
def test_bce_loss_of_a_tiny_p_is_not_minus_zero(p: float) -> None:
    loss = float(loss_value("bce", np.array([[p]]), np.array([[0.0]])))
    assert loss == p and math.copysign(1.0, loss) == 1.0

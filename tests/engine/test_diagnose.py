"""The root cause of a NaN: the first op that wrote a non-finite value, found by replay.

If these fail, `nnstep run --break nan` or the app would point a user at an
op downstream of where their run really broke.
"""

from __future__ import annotations

import numpy as np
import pytest
from nnstep.engine import Session
from nnstep.engine.diagnose import first_non_finite

from tests.conftest import make_config

DIVERGING = {
    "identity net, huge lr": dict(model={"sizes": [2, 3, 2], "activations": ["identity", "identity"], "init": "normal",
                                         "std": 3.0}, optimizer={"lr": 5.0}),
    "relu net, sgd with momentum": dict(
        model={"sizes": [2, 4, 4, 2], "activations": ["relu", "relu", "identity"], "init": "normal", "std": 2.0},
        optimizer={"lr": 20.0, "momentum": 0.9}, loss={"kind": "mse"}),
    "sigmoid hides an overflowing z": dict(
        model={"sizes": [2, 3, 1], "activations": ["sigmoid", "sigmoid"], "init": "explicit",
               "layers": [{"W": [[1e308, 1e308], [1.0, 1.0], [1.0, 1.0]], "b": [0.0, 0.0, 0.0]},
                          {"W": [[1.0, 1.0, 1.0]], "b": [0.0]}]},
        loss={"kind": "bce"}, data={"x": [[1.0, 1.0]], "y": [[1.0]]}),
}


def _first_by_brute_force(session: Session, iterations: int) -> int | None:
    for record in session.iter_records(0, iterations * session.ops_per_iteration):
        if any(a.dtype.kind == "f" and not np.isfinite(a).all() for a in record.tensors.values()):
            return record.index
    return None


@pytest.mark.parametrize("name", list(DIVERGING))
def test_the_first_non_finite_op_is_the_first_one_in_the_full_trace(name: str) -> None:
    session = Session(make_config(**DIVERGING[name]))
    with np.errstate(all="ignore"):
        session.train(200)
    expected = _first_by_brute_force(session, 200)
    assert expected is not None, "the config should diverge within 200 iterations"
    found = first_non_finite(session.iter_records(0, 200 * session.ops_per_iteration))
    assert found is not None and found.index == expected
    record = session.record_at(found.index)
    assert found.tensor in record.writes
    assert not np.isfinite(record.tensors[found.tensor][found.cell])
    assert found.line().startswith(f"first non-finite: index {found.index}, iteration {record.iteration}, ")


def test_the_report_names_the_cause_and_the_growth_before_it() -> None:
    session = Session(make_config(**DIVERGING["identity net, huge lr"]))
    with np.errstate(all="ignore"):
        session.train(20)
    found = first_non_finite(session.iter_records(0, 20 * session.ops_per_iteration))
    assert found is not None
    assert found.line() == "first non-finite: index 48, iteration 5, loss, tensor loss = inf"
    assert "the loss overflowed: |y_hat| reached 1.976e+182" in found.cause
    assert "grew geometrically from iteration 1" in found.growth


def test_the_overflow_a_sigmoid_hides_is_still_found() -> None:
    # z⁽¹⁾ overflows to inf, σ(inf) = 1 is finite: loss and parameters stay finite.
    session = Session(make_config(**DIVERGING["sigmoid hides an overflowing z"]))
    found = first_non_finite(session.iter_records(0, session.ops_per_iteration))
    assert found is not None and (found.op, found.layer, found.tensor, found.cell) == ("linear", 1, "z", (0, 0))
    assert "the weighted sum z = W·a + b overflowed: |W| reached 1e+308" in found.cause


def test_a_finite_run_has_no_first_non_finite() -> None:
    session = Session(make_config())
    assert first_non_finite(session.iter_records(0, 5 * session.ops_per_iteration)) is None

"""Comparing two runs op by op: identical, where they first differ, refused for different networks.

If these fail, `nnstep diff` would call two different runs identical, or
point at the wrong op as the first difference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from nnstep.engine import NnstepError, Session
from nnstep.engine.diff import check_same_network, compare

from tests.conftest import make_config


def _records(config, iterations: int = 3) -> list:
    session = Session(config)
    return list(session.iter_records(0, iterations * session.ops_per_iteration))


def test_identical_runs_compare_identical() -> None:
    config = make_config(optimizer={"kind": "adam", "lr": 0.01}, model={"dropout": [0.5, 0.0]})
    result = compare(_records(config), _records(config))
    assert result.identical and result.compared == 3 * len(config.schedule) and not result.tensors


def test_another_learning_rate_differs_first_at_the_first_update() -> None:
    a, b = make_config(optimizer={"lr": 0.5}), make_config(optimizer={"lr": 0.4})
    result = compare(_records(a), _records(b))
    first_update = a.schedule.first("update")
    assert not result.identical
    assert result.first.startswith(f"first difference: index {first_update}, iteration 1, update layer 1 update, tensor step_W")
    names = {d.name for d in result.tensors}
    assert {"step_W", "W", "z", "loss"} <= names and "x" not in names
    assert result.tensors[0].largest == max(d.largest for d in result.tensors)


def test_tolerance_hides_differences_below_it() -> None:
    a = _records(make_config(optimizer={"lr": 0.5}))
    b = _records(make_config(optimizer={"lr": 0.5 + 1e-12}))
    assert not compare(a, b).identical
    assert compare(a, b, tolerance=1e-9).identical


def test_nan_equals_nan_but_not_a_number() -> None:
    from nnstep.engine.diff import _max_abs_difference

    assert _max_abs_difference(np.array([np.nan, np.inf]), np.array([np.nan, np.inf])) == 0.0
    assert _max_abs_difference(np.array([np.nan]), np.array([1.0])) == math.inf


def test_missing_steps_are_a_difference() -> None:
    config = make_config()
    result = compare(_records(config, 3), _records(config, 2))
    assert not result.identical and result.only == f"{len(config.schedule)} steps only in the first"


def test_different_networks_are_refused() -> None:
    a, b = make_config(), make_config(model={"sizes": [2, 4, 2]})
    with pytest.raises(NnstepError, match=r"a.json and b.json are runs of different networks \(2→3→2 sigmoid/sigmoid, mse vs 2→4→2"):
        check_same_network(a, b, "a.json", "b.json")

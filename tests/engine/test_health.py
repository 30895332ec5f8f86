"""Gradient health names the classic failures, judged layer against layer, and calls healthy nets ok.

If these fail, `--health` and the app's health report would say "ok" over a
net whose lower layers have stopped learning, or cry wolf over a healthy one.
"""

from __future__ import annotations

import numpy as np
import pytest
from nnstep.engine import Session, StepRecord, load_demo
from nnstep.engine.health import layer_health

from tests.conftest import make_config


def _health(session: Session, iteration: int):
    return layer_health(session.iteration_records(iteration - 1), session.config.activations)


@pytest.mark.parametrize("demo", ["tutorial", "mazur", "xor", "moons", "spiral", "sine", "xor-relu", "nielsen-quick"])
@pytest.mark.parametrize("iteration", [50, 300])  # the very first steps of moons and sine are large: said so
def test_healthy_demos_are_ok(demo: str, iteration: int) -> None:
    session = Session(load_demo(demo))
    warned = {h.layer: h.warnings for h in _health(session, iteration) if h.warnings}
    assert not warned, f"{demo} at iteration {iteration}: {warned}"


def test_the_deep_sigmoid_net_is_vanishing_in_its_lower_layers() -> None:
    session = Session(load_demo("vanishing"))
    health = _health(session, 300)
    assert all(any(w.startswith("vanishing gradient: ‖δ‖") for w in h.warnings) for h in health[:3])
    assert not health[-1].warnings  # the output layer is the reference, and it learns
    assert health[0].shrink > 19 and health[0].update_ratio < 1e-4


def test_an_exploding_deep_linear_net() -> None:
    layers = [{"W": [[3.0, 0.0], [0.0, 3.0]], "b": [0.0, 0.0]}] * 4 + [{"W": [[1.0, 1.0]], "b": [0.0]}]
    config = make_config(model={"sizes": [2, 2, 2, 2, 2, 1], "activations": ["identity"] * 5, "init": "explicit",
                                "layers": layers},
                         data={"x": [[1.0, -0.5]], "y": [[0.0]]}, optimizer={"lr": 0.01})
    health = _health(Session(config), 1)
    assert any(w.startswith("exploding gradient") for w in health[0].warnings), health[0]
    assert health[0].shrink < 1 / 10  # δ grew on the way down


def test_dead_relu_units() -> None:
    config = make_config(model={"sizes": [2, 3, 2], "activations": ["relu", "sigmoid"], "init": "explicit",
                                "layers": [{"W": [[-1.0, -1.0]] * 3, "b": [-9.0] * 3},
                                           {"W": [[1.0] * 3] * 2, "b": [0.0, 0.0]}]})
    assert "every unit dead" in _health(Session(config), 1)[0].warnings


def test_exploding_judged_against_the_output_layer() -> None:
    # ‖dW‖ ≈ 2 is nothing absolute, but δ doubles at every layer on the way down and steps are a third of W.
    layers = [{"W": [[2.0, 0.0], [0.0, 2.0]], "b": [0.0, 0.0]}] * 4 + [{"W": [[1.0, 1.0]], "b": [0.0]}]
    config = make_config(model={"sizes": [2, 2, 2, 2, 2, 1], "activations": ["identity"] * 5, "init": "explicit",
                                "layers": layers},
                         data={"x": [[0.1, -0.05]], "y": [[0.0]]}, optimizer={"lr": 0.5})
    health = _health(Session(config), 1)
    assert health[0].warnings[0] == "exploding gradient: ‖δ‖ 11.3× larger than the output layer's"
    assert not any(w.startswith("exploding") for h in health[1:] for w in h.warnings)


def test_a_solved_net_has_no_gradient_and_that_is_fine() -> None:
    health = _health(Session(load_demo("xor-relu")), 1)
    assert all(h.norm_dW == 0.0 and not h.warnings for h in health)


def test_norms_and_means_of_huge_and_tiny_tensors_are_what_they_are() -> None:
    """1e200 entries: the sum of squares overflows, the norm does not (it is 1e200·√n); 1e-200 entries:
    the squares underflow to 0, the norm does not. Health, breakpoints and watches read these."""
    import math

    from nnstep.engine.breakpoints import parse_breakpoint
    from nnstep.engine.functions import l2_norm, safe_mean
    from nnstep.engine.health import _norm

    for scale in (1e200, 1e-200, 1.0, 1e307):
        values = np.array([3.0, -4.0, 0.0]) * scale
        assert math.isclose(l2_norm(values), 5.0 * scale, rel_tol=1e-15) and _norm(values) == l2_norm(values)
        assert math.isclose(safe_mean(values), -scale / 3, rel_tol=1e-15)
    plain = np.random.default_rng(0).normal(size=(7, 5))
    assert l2_norm(plain) == float(np.linalg.norm(plain)) and safe_mean(plain) == float(np.mean(plain))
    assert math.isnan(l2_norm(np.array([1.0, np.nan]))) and l2_norm(np.array([1.0, -np.inf])) == math.inf
    assert l2_norm(np.zeros(0)) == 0.0 and l2_norm(np.zeros(3)) == 0.0
    # A breakpoint on a norm past 1e300 holds only where the norm is that large, not where squares overflow.
    record = Session(make_config()).step()
    assert record is not None
    big = StepRecord(record.index, record.iteration, record.epoch, record.stage, 1, "grad", "",
                     {"dW": np.full((3, 2), 1e200), "db": np.zeros(3)}, frozenset({"dW", "db"}))
    assert not parse_breakpoint("norm(dW1) > 1e300", ("sigmoid", "sigmoid")).hits(big)
    assert parse_breakpoint("norm(dW1) > 1e200", ("sigmoid", "sigmoid")).hits(big)

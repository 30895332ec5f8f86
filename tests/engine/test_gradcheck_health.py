"""The gradient check catches a wrong derivative; health flags sick layers."""

from __future__ import annotations

import numpy as np
import pytest
from nnstep.engine import Session, functions, load_demo, network
from nnstep.engine.gradcheck import check_gradients
from nnstep.engine.health import layer_health

from ..conftest import make_config


def first_batch_check(config):
    session = Session(config)
    batch = session.iteration_records(0)[0].tensors["a_prev"]
    rows = [int(np.flatnonzero((np.array(config.x) == row).all(axis=1))[0]) for row in batch]
    return check_gradients(config, session.iteration_params(0), np.array(config.x)[rows], np.array(config.y)[rows])


@pytest.mark.parametrize("demo", ["mazur", "tutorial", "xor", "moons", "spiral", "sine"])
def test_every_demo_passes(demo: str) -> None:
    assert all(r.verdict == "PASS" for r in first_batch_check(load_demo(demo)))


def test_a_wrong_activation_derivative_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    right = functions.activation_backward

    def wrong(name, g, z, a, slope=0.01):  # sigmoid′ = a instead of a(1 − a)
        return g * a if name == "sigmoid" else right(name, g, z, a, slope)

    monkeypatch.setattr(network, "activation_backward", wrong)
    results = first_batch_check(load_demo("mazur"))
    assert [r.verdict for r in results] == ["FAIL", "FAIL"]


def test_health_flags_vanishing_and_dead_layers() -> None:
    config = make_config(model={"sizes": [2, 3, 2], "activations": ["relu", "sigmoid"], "init": "explicit",
                                "layers": [{"W": [[-1.0, -1.0]] * 3, "b": [-9.0] * 3}, {"W": [[1.0] * 3] * 2, "b": [0.0, 0.0]}]})
    session = Session(config)
    health = layer_health(session.iteration_records(0), config.activations)
    assert health[0].dead == 3 and "every unit dead" in health[0].warnings
    assert "vanishing gradient" in health[0].warnings
    healthy = layer_health(Session(load_demo("tutorial")).iteration_records(0), ("relu", "identity"))
    assert all(not h.warnings for h in healthy)


def test_relu_kinks_are_counted_where_finite_differences_cannot_be_trusted() -> None:
    config = load_demo("spiral")  # b = 0 (he init): a sample with all-zero inputs to a layer sits on the kink
    results = check_gradients(config, Session(config).iteration_params(0), np.array(config.x), np.array(config.y))
    assert results[0].kinks > 0

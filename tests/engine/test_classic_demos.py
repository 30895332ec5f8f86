"""The classic worked examples shipped as demos reproduce their published numbers.

If these fail, a student following Mazur, Goodfellow et al. or Nielsen with
nnstep open beside the text would see other numbers than the book's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from nnstep.engine import Session, load_demo
from nnstep.engine.network import forward


def _output(session: Session, iteration: int) -> float:
    """ŷ of the single sample with the parameters at the start of 0-based `iteration`."""
    params = session.iteration_params(iteration)
    return float(forward(session.config, params.W, params.b, session.config.x)[0, 0])


def test_mazur_second_iteration_loss_with_frozen_biases() -> None:
    # Mazur's post updates the weights only: "0.291027924" after the first
    # round (his rounded intermediates); the exact value is 0.2910277737.
    session = Session(load_demo("mazur"))
    session.train(2)
    first, second = session.losses()
    assert first == pytest.approx(0.298371109, abs=5e-10)
    assert second == pytest.approx(0.2910277737, abs=5e-11)
    assert round(second, 6) == round(0.291027924, 6)
    assert np.array_equal(session.iteration_params(2).b[0], np.array([0.35, 0.35]))


def test_xor_relu_is_solved_exactly_and_every_gradient_is_zero() -> None:
    # Goodfellow, Bengio & Courville §6.1: f(x) = wᵀ max(0, Wᵀx + c) + b gives [0, 1, 1, 0].
    session = Session(load_demo("xor-relu"))
    records = {(r.op, r.layer): r for r in session.iteration_records(0)}
    assert records[("activation", 2)].tensors["a"].ravel().tolist() == [0.0, 1.0, 1.0, 0.0]
    assert records[("activation", 1)].tensors["a"].tolist() == [[0, 0], [1, 0], [1, 0], [2, 1]]  # the book's h
    assert float(records[("loss", None)].tensors["loss"]) == 0.0
    for (op, _), record in records.items():
        for name in {"delta": ("delta",), "grad": ("dW", "db")}.get(op, ()):
            assert not record.tensors[name].any(), f"{op}: {name} is not zero"
    assert np.array_equal(records[("update", 1)].tensors["W"], records[("linear", 1)].tensors["W"])


@pytest.mark.parametrize("demo, start, after_300", [("nielsen-quick", 0.82, 0.09), ("nielsen-slowdown", 0.98, 0.20)])
def test_nielsen_quadratic_cost_starts_and_ends_as_in_the_book(demo: str, start: float, after_300: float) -> None:
    session = Session(load_demo(demo))
    session.train(300)
    assert round(_output(session, 0), 2) == start
    assert round(_output(session, 300), 2) == after_300


def test_nielsen_cross_entropy_does_not_crawl() -> None:
    quadratic, cross_entropy = Session(load_demo("nielsen-slowdown")), Session(load_demo("nielsen-slowdown-ce"))
    quadratic.train(50)
    cross_entropy.train(50)
    assert round(_output(cross_entropy, 0), 2) == 0.98
    assert _output(quadratic, 50) > 0.97  # still stuck near the start
    assert _output(cross_entropy, 50) < 0.15  # most of the way to y = 0


def test_vanishing_is_stuck_near_ln_2_with_delta_shrinking_downwards() -> None:
    session = Session(load_demo("vanishing"))
    session.train(500)
    assert abs(session.losses()[-100:].mean() - math.log(2)) < 0.02
    deltas = {r.layer: np.linalg.norm(r.tensors["delta"]) for r in session.iteration_records(499) if r.op == "delta"}
    assert deltas[7] / deltas[1] > 19

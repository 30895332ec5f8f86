"""Breakpoints stop where a user expects, and the parser never runs user text."""

from __future__ import annotations

import re

import pytest
from nnstep.engine import NnstepError, Session, load_demo
from nnstep.engine.breakpoints import parse_breakpoint
from nnstep.engine.run import run

from ..conftest import make_config


def run_to(session: Session, text: str, max_iterations: int = 5000):
    """The record where the breakpoint `text` hits, by the engine's one run loop (None if it never does)."""
    bp = parse_breakpoint(text, session.config.activations)
    result = run(session, iterations=max_iterations, breakpoints=[bp], stop_at_non_finite=False)
    return result.record if result.reason == "breakpoint" else None


def test_loss_below_stops_at_the_first_iteration_below() -> None:
    session = Session(load_demo("xor"))
    record = run_to(session, "loss < 0.05")
    losses = Session(load_demo("xor"))
    losses.train(record.iteration)
    curve = losses.losses()
    assert record.op == "loss" and record.loss < 0.05
    assert all(loss >= 0.05 for loss in curve[: record.iteration - 1])


def test_nan_stops_at_the_first_non_finite_op() -> None:
    config = make_config(model={"sizes": [2, 3, 2], "activations": ["identity", "identity"], "init": "normal", "std": 3.0},
                         optimizer={"lr": 50.0})
    session = Session(config)
    record = run_to(session, "nan")
    assert record is not None
    earlier = Session(config)
    for index in range(record.index):
        rec = earlier.step()
        assert all(__import__("numpy").isfinite(t).all() for t in rec.tensors.values()), index


def test_position_and_gradient_conditions() -> None:
    session = Session(load_demo("tutorial"))
    record = run_to(session, "iteration == 3 and stage == backward and layer == 1")
    assert (record.iteration, record.stage, record.layer, record.op) == (3, "backward", 1, "delta")
    record = run_to(Session(load_demo("tutorial")), "norm(dW1) > 0")
    assert (record.op, record.layer) == ("grad", 1)
    assert run_to(Session(load_demo("mazur")), "norm(dW2) < 1e-8", max_iterations=3) is None
    record = run_to(Session(load_demo("tutorial")), "epoch == 2")
    assert (record.epoch, record.index) == (2, session.ops_per_iteration)


def test_loss_increased_needs_a_previous_iteration() -> None:
    config = make_config(model={"sizes": [2, 3, 2], "activations": ["identity", "identity"], "init": "normal", "std": 3.0},
                         optimizer={"lr": 50.0})
    record = run_to(Session(config), "loss increased")
    assert record.op == "loss" and record.iteration >= 2


def test_dead_relu_fraction() -> None:
    config = make_config(model={"sizes": [2, 2, 2], "activations": ["relu", "identity"], "init": "explicit",
                                "layers": [{"W": [[-1.0, -1.0], [1.0, 1.0]], "b": [-5.0, 0.0]}, {"W": [[1.0, 0.0], [0.0, 1.0]], "b": [0.0, 0.0]}]})
    record = run_to(Session(config), "dead(1) >= 0.5")
    assert (record.op, record.layer) == ("activation", 1)
    assert run_to(Session(config), "dead(1) > 0.5", max_iterations=2) is None


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("__import__('os')", 1),
        ("loss <", 7),
        ("loss < < 1", 8),
        ("norm(dW9) > 1", 6),
        ("lost < 1", 1),
        ("open('x').read()", 10),
        ("loss < 1; import os", 9),
        ("(loss < 1", 10),
        ("", 1),
        ("dW1 > 3", 1),
        ("stage == 3", 1),
    ],
)
def test_malformed_expressions_point_at_the_column(text: str, column: int) -> None:
    with pytest.raises(NnstepError, match=rf"column {column}:"):
        parse_breakpoint(text, ("sigmoid", "sigmoid"))


def test_a_watch_is_a_value_known_where_its_tensor_is() -> None:
    from nnstep.engine.breakpoints import parse_watch

    session = Session(load_demo("mazur"))
    records = {(r.op, r.layer): r for r in session.iteration_records(0)}
    watch = parse_watch("norm(dW1)", session.config.activations)
    assert watch.value(records[("grad", 1)]) == pytest.approx(0.0014833401911948725, rel=1e-12)
    assert watch.value(records[("linear", 1)]) is None
    assert parse_watch("loss", session.config.activations).value(records[("loss", None)]) == pytest.approx(0.298371109)
    for text, message in (("loss < 1", "column 6: unexpected '<'"), ("stage", "column 1: watch a number"),
                          ("norm(dW9)", "column 6: layer 9 does not exist")):
        with pytest.raises(NnstepError, match=rf"^watch '{re.escape(text)}': {message}"):
            parse_watch(text, session.config.activations)

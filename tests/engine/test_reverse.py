"""Reverse-continue lands where a forward run from the start would have stopped last.

If this fails, pressing C in the app would jump to an op where the
breakpoint does not hold, or skip the one that does.
"""

from __future__ import annotations

import numpy as np
from nnstep.engine import Session, load_demo
from nnstep.engine.breakpoints import parse_breakpoint
from nnstep.engine.run import run_backwards

from tests.conftest import make_config


def _all_hits(config, text: str, stop: int) -> list[int]:
    """Every op index before `stop` where the breakpoint holds, by a forward scan."""
    bp = parse_breakpoint(text, config.activations)
    session, previous, hits = Session(config), None, []
    for record in session.iter_records(0, stop):
        if bp.hits(record, previous):
            hits.append(record.index)
        if record.op == "loss":
            previous = record.loss
    return hits


def test_reverse_continue_steps_back_through_every_hit() -> None:
    config = load_demo("moons")
    text = "loss increased"
    session = Session(config)
    session.goto(60 * session.ops_per_iteration - 1)
    expected = _all_hits(config, text, session.position)
    assert len(expected) >= 5, "moons' loss rises now and then from batch to batch"
    bp = parse_breakpoint(text, config.activations)
    found = []
    while (record := run_backwards(session, [bp])) is not None:
        found.append(record.index)
        session.goto(record.index)
    assert found == expected[::-1]


def test_reverse_to_the_first_non_finite_op() -> None:
    config = make_config(model={"sizes": [2, 3, 2], "activations": ["identity", "identity"], "init": "normal", "std": 3.0},
                         optimizer={"lr": 5.0})
    session = Session(config)
    with np.errstate(all="ignore"):
        session.goto(20 * session.ops_per_iteration - 1)
    nan = parse_breakpoint("nan", config.activations)
    # Keep reversing while the op before still holds a non-finite value: land on the first one.
    record = run_backwards(session, [nan])
    while record is not None:
        session.goto(record.index)
        record = run_backwards(session, [nan])
    from nnstep.engine.diagnose import first_non_finite

    first = first_non_finite(Session(config).iter_records(0, 20 * session.ops_per_iteration))
    assert first is not None and session.position == first.index


def test_reverse_reports_each_iteration_it_looks_at() -> None:
    """progress(iteration) once per iteration looked at, latest first, down to the one that holds:
    what the app's status line counts while C runs."""
    config = load_demo("mazur")
    session = Session(config)
    session.goto(10 * session.ops_per_iteration - 1)
    looked: list[int] = []
    record = run_backwards(session, [parse_breakpoint("iteration == 4", config.activations)], progress=looked.append)
    assert record is not None and record.iteration == 4
    assert looked == [9, 8, 7, 6, 5, 4, 3]

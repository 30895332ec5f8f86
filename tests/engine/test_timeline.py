"""One timeline interface (engine/timeline.py): a live Session and a loaded trace behave alike.

If these fail, `nnstep view` shows other tensors, losses or parameters than
the run it was exported from, a key lands on another op than in the live
app, or a key press in a long trace scans every record (a visible stall).
Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from nnstep.engine import Session, StepRecord, Timeline, TraceTimeline, load_demo
from nnstep.engine.timeline import batch_of
from nnstep.engine.trace import read_trace, select, write_trace

MEMBERS = sorted(name for name in {*vars(Timeline), *Timeline.__annotations__} if not name.startswith("_"))


def same(a: StepRecord | None, b: StepRecord | None) -> None:
    assert (a is None) == (b is None)
    if a is None or b is None:
        return
    assert (a.index, a.iteration, a.epoch, a.stage, a.layer, a.op, a.equation, a.writes) == \
           (b.index, b.iteration, b.epoch, b.stage, b.layer, b.op, b.equation, b.writes)
    assert a.tensors.keys() == b.tensors.keys()
    for name in a.tensors:
        np.testing.assert_array_equal(a.tensors[name], b.tensors[name], err_msg=name)


def exported(config, iterations: int, tmp_path: Path, every: int = 1, stages=None) -> tuple[Session, TraceTimeline]:  # type: ignore[no-untyped-def]
    """A live session trained `iterations` and the trace of it, written to disk and read back."""
    live = Session(config)
    live.train(iterations)
    path = tmp_path / "t.json"
    write_trace(path, config.to_dict(), select(live.iter_records(), every, stages))
    trace = read_trace(path)
    return live, TraceTimeline(config, trace["records"])


def test_session_and_trace_both_implement_the_protocol(tmp_path: Path) -> None:
    """The screen uses only these members: each one must exist on both (and be callable where a method)."""
    assert {"step", "back", "goto", "goto_iteration", "finish", "losses", "record_at", "iteration_records",
            "iter_records", "previous_record", "first_position", "read_only", "can_train", "at_end", "state"} <= set(MEMBERS)
    live, trace = exported(load_demo("mazur"), 2, tmp_path)
    for timeline in (live, trace):
        assert isinstance(timeline, Timeline)
        for name in MEMBERS:
            assert hasattr(timeline, name), (type(timeline).__name__, name)
            if callable(getattr(Timeline, name, None)):
                assert callable(getattr(timeline, name)), name
    assert (live.read_only, live.can_train, trace.read_only, trace.can_train) == (False, True, True, False)


@pytest.mark.parametrize("demo", ["mazur", "moons"])
def test_a_trace_read_back_is_the_live_session_at_every_position(demo: str, tmp_path: Path) -> None:
    config = load_demo(demo)
    live, trace = exported(config, 3, tmp_path)
    reference = Session(config)
    for position in range(-1, live.position + 1):
        same(trace.goto(position), reference.goto(position))
        same(trace.record, reference.record)
        np.testing.assert_array_equal(trace.losses(), reference.losses())
        state, expected = trace.state, reference.state
        assert (state.iteration, state.epoch) == (expected.iteration, expected.epoch)
        for got, want in zip((*state.W, *state.b), (*expected.W, *expected.b)):
            np.testing.assert_array_equal(got, want)
        if trace.record is not None:
            same(trace.previous_record(trace.record), reference.previous_record(reference.record))
            assert trace.iterations_done == reference.iterations_done
    for iteration in range(3):
        records, expected = trace.iteration_records(iteration), reference.iteration_records(iteration)
        assert len(records) == len(expected) == len(config.schedule)
        for a, b in zip(records, expected):
            same(a, b)
        assert batch_of(trace, iteration) is not None
        for got, want in zip(batch_of(trace, iteration), batch_of(reference, iteration)):  # type: ignore[arg-type]
            if isinstance(got, np.ndarray):
                np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(trace.losses(1), reference.losses(1))


def test_moves_land_alike_on_a_whole_trace(tmp_path: Path) -> None:
    config = load_demo("moons")  # several batches an epoch: stage, iteration and epoch ends differ
    _, trace = exported(config, 2 * config.batches_per_epoch + 1, tmp_path)
    reference = Session(config)
    moves: list[tuple[str, Callable[[Timeline], object]]] = [
        ("step", lambda t: t.step()), ("stage", lambda t: t.finish("stage")), ("stage", lambda t: t.finish("stage")),
        ("iteration", lambda t: t.finish("iteration")), ("back", lambda t: t.back()),
        ("epoch", lambda t: t.finish("epoch")), ("op", lambda t: t.finish("op")), ("iteration", lambda t: t.finish("iteration")),
        ("goto 3", lambda t: t.goto_iteration(3)), ("epoch", lambda t: t.finish("epoch")),
        ("reset", lambda t: t.reset()), ("goto 1", lambda t: t.goto_iteration(1)),
    ]
    for name, move in moves:
        move(trace), move(reference)
        assert trace.position == reference.position, name
        same(trace.record, reference.record)


def naive_finish(records: list[StepRecord], position: int, unit: str) -> int:
    """The old TraceSession.finish, a scan: the reference for the indexed one."""
    key: Callable[[StepRecord], object] = {
        "stage": lambda r: (r.iteration, r.stage), "iteration": lambda r: r.iteration, "epoch": lambda r: r.epoch,
    }[unit]
    last = len(records) - 1
    p = max(position, 0)
    if position >= 0 and (p == last or key(records[p + 1]) != key(records[p])):
        p = min(p + 1, last)
    while p < last and key(records[p + 1]) == key(records[p]):
        p += 1
    return p


def test_a_partial_trace_moves_as_a_scan_would(tmp_path: Path) -> None:
    """`--every 3 --stages loss,update`: iterations and stages are missing; every move and read must
    still land where scanning the records would."""
    config = load_demo("moons")
    live, trace = exported(config, 20, tmp_path, every=3, stages=("loss", "update"))
    records = list(trace.records)
    assert 0 < len(records) < live.position
    for position in range(-1, len(records)):
        for unit in ("stage", "iteration", "epoch"):
            trace.goto(position)
            trace.finish(unit)
            assert trace.position == naive_finish(records, position, unit), (position, unit)
        trace.goto(position)
        shown = [r.loss for r in records[: position + 1] if r.op == "loss"]
        np.testing.assert_array_equal(trace.losses(), shown)
    for iteration in range(1, 23):
        expected = next((i for i, r in enumerate(records) if r.iteration >= iteration), None)
        record = trace.goto_iteration(iteration)
        if expected is None:
            assert record is None
        else:
            assert trace.position == expected and record is records[expected]
        assert trace.iteration_records(iteration - 1) == tuple(r for r in records if r.iteration == iteration)
    assert trace.first_position(10**6) == len(records)
    trace.goto(len(records) - 1)
    assert trace.at_end and trace.step() is trace.record


class NoScan(tuple):
    """The records of a trace that fails the test if anything walks through all of them."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise AssertionError("a key press scanned every record of the trace")


def test_reads_of_a_long_trace_do_not_scan_it(tmp_path: Path) -> None:
    """Indexed once at load: after that a move or read looks records up, never walks all of them."""
    config = load_demo("mazur")
    live = Session(config)
    live.train(2)
    one = live.iteration_records(1)
    n = len(config.schedule)
    records = [replace(r, index=i * n + k, iteration=i + 1, epoch=i + 1) for i in range(20_000) for k, r in enumerate(one)]
    trace = TraceTimeline(config, records)
    trace.records = NoScan(trace.records)  # from here on, walking the records fails the test
    trace.goto(len(records) // 2)
    losses = trace.losses()
    assert len(losses) == 10_000 and not losses.flags.writeable
    assert np.shares_memory(losses, trace.losses()), "losses() must be a view of the array built at load, not a copy"
    assert trace.iteration_records(5000) is trace.iteration_records(5000) and len(trace.iteration_records(5000)) == n
    trace.finish("epoch")
    trace.finish("stage")
    assert trace.goto_iteration(15_000) is not None
    assert trace.previous_record(trace.record).iteration == 14_999  # type: ignore[arg-type,union-attr]
    assert trace.state.iteration == 15_000
    assert sum(1 for _ in trace.iter_records(trace.position, trace.position + 3)) == 3


def test_session_losses_from_a_start_copy_only_that_span() -> None:
    session = Session(load_demo("mazur"))
    session.train(10)
    everything = session.losses()
    np.testing.assert_array_equal(session.losses(7), everything[7:])
    assert len(session.losses(10)) == 0 and len(session.losses(99)) == 0
    assert session.losses(3).flags.owndata

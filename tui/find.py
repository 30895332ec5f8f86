"""Find the cause, without a screen: reverse-continue, reverse step, and the words for where they land.

Training is deterministic, so going back is looking up (a trace) or
recomputing (a live session) earlier ops: `run_backwards` in the engine walks
back iteration by iteration. Reverse-continue (C) lands on the most recent
earlier op where an enabled breakpoint holds. `nan` is the exception that
makes it useful: it holds on every op after things went non-finite, so the
op just before is no answer; C lands where the non-finite stretch began —
the op that wrote the first NaN or ±inf (`stretch_start`; from a
non-finite op C does so even without a `nan` breakpoint). Reverse step (P) mirrors s: back to the last op
of the previous stage, where s would have stopped.

Ops are counted from 1 in every message ("op N" is record.index + 1). Batch
rows: z⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from nnstep.engine import StepRecord
from nnstep.engine.breakpoint_set import BreakpointSet
from nnstep.engine.run import run_backwards
from nnstep.engine.timeline import Timeline

Stop = Callable[[], bool]
Looking = Callable[[int], None]  # told the 0-based iteration a backward scan is about to look at


def position_of(timeline: Timeline, record: StepRecord) -> int:
    """The timeline position of `record` (a live session's is its index; a trace's its place among the recorded steps)."""
    iteration = record.iteration - 1
    records = timeline.iteration_records(iteration)
    offset = next(k for k, r in enumerate(records) if r.index == record.index)
    return timeline.first_position(iteration) + offset


def non_finite(record: StepRecord) -> bool:
    """True when any tensor of the op (read or written) holds a NaN or ±inf."""
    return any(not np.isfinite(t).all() for t in record.tensors.values())


def where(record: StepRecord) -> str:
    """`op 57 (iteration 6)`: ops counted from 1."""
    return f"op {record.index + 1} (iteration {record.iteration})"


def first_written(record: StepRecord) -> str:
    """`z[0, 1] = inf`: the first non-finite value the op writes ('' if it writes none)."""
    for name in record.writes:
        array = record.tensors[name]
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            cell = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0]) if array.ndim else ()
            value = float(array[cell]) if cell else float(array)
            shown = "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
            index = f"[{', '.join(str(i + 1) for i in cell)}]" if cell else ""
            return f"{name}{index} = {shown}"
    return ""


def _backwards(timeline: Timeline, before: int, stop: Stop, looking: Looking | None = None) -> Iterator[StepRecord]:
    """The records with run index < `before`, latest first, an iteration at a time (stops when `stop()`;
    `looking(iteration)` before each)."""
    iteration = timeline.schedule.locate(max(before - 1, 0))[0] if before > 0 else -1
    while iteration >= 0:
        if stop():
            return
        if looking is not None:
            looking(iteration)
        for record in reversed(timeline.iteration_records(iteration)):
            if record.index < before:
                yield record
        iteration -= 1


def stretch_start(timeline: Timeline, before: int, after: int, stop: Stop,
                  looking: Looking | None = None) -> StepRecord | None:
    """Where the latest non-finite stretch before run index `before` began, if its last op is after
    run index `after`.

    A stretch is ops holding a NaN/inf with gaps of fewer than an iteration's ops
    between them: a loss that overflows once can leave the backward pass finite for
    a few ops before the update spreads inf everywhere, and the first inf is the
    cause. A whole iteration of finite ops (every parameter updated finite) ends it.
    """
    start: StepRecord | None = None
    gap = 0
    per_iteration = len(timeline.schedule)
    for record in _backwards(timeline, before, stop, looking):
        if non_finite(record):
            if start is None and record.index <= after:
                return None
            start, gap = record, 0
        elif start is not None:
            gap += 1
            if gap >= per_iteration:
                return start
    return None if stop() else start


def reverse_continue(timeline: Timeline, breakpoints: BreakpointSet, stop: Stop,
                     looking: Looking | None = None) -> tuple[str, bool]:
    """Move `timeline` back to the most recent earlier op where an enabled breakpoint holds.

    Returns the status line's words and whether it moved. With `nan` (or from a
    non-finite op) the landing is where the non-finite stretch began, unless
    another breakpoint holds later than that. `looking(iteration)` is told each
    iteration (0-based) as the scan reaches it, for a progress report.
    """
    record = timeline.record
    if record is None:
        return "reverse: already before the first op", False
    from_nan = non_finite(record)
    nan = next((e for e in breakpoints.entries if e.enabled and e.text == "nan"), None)
    others = [bp for bp in breakpoints.active() if bp.text != "nan"]
    if not others and nan is None and not from_nan:
        return "reverse: no breakpoints (b adds one; C runs back to the latest op where one holds)", False
    found = run_backwards(timeline, others, stop=stop, progress=looking) if others else None
    if stop():
        return "reverse stopped; still at " + where(record), False
    start = None
    if nan is not None or from_nan:
        start = stretch_start(timeline, record.index, found.index if found is not None else -1, stop, looking)
        if stop():
            return "reverse stopped; still at " + where(record), False
    if start is not None:
        timeline.goto(position_of(timeline, start))
        if nan is not None:
            nan.hits += 1
        wrote = first_written(start)
        what = "breakpoint `nan` holds" if nan is not None else "the non-finite values began"
        return f"reverse: {what} at {where(start)}: the first NaN/inf of this stretch" + (
            f", {wrote} written by {_op(start)}" if wrote else ""), True
    if found is None:
        if from_nan and nan is None and not others:
            return f"reverse: the non-finite values began at this op, {where(record)}; none earlier", False
        return "reverse: no earlier op where a breakpoint holds", False
    timeline.goto(position_of(timeline, found))
    previous = _previous_loss(timeline, found)
    entry = breakpoints.holding(found, previous)
    text = entry.text if entry is not None else "?"
    return f"reverse: breakpoint `{text}` holds at {where(found)}", True


def reverse_progress(start: int, iteration: int) -> str:
    """`38% · at iteration 12,346`: how far a scan back from iteration `start` (1-based) has got when
    it looks at `iteration` (0-based); the percentage is of the way back to iteration 1."""
    done = min(max(start - iteration, 0), max(start, 1))
    return f"{done / max(start, 1):.0%} · at iteration {iteration + 1:,}"


def _op(record: StepRecord) -> str:
    return record.op if record.layer is None else f"{record.stage} layer {record.layer} {record.op}"


def _previous_loss(timeline: Timeline, record: StepRecord) -> float | None:
    """The loss of the iteration before `record`'s, as `run_backwards` compares with."""
    losses = timeline.losses()
    iteration = record.iteration - 1
    return float(losses[iteration - 1]) if 0 < iteration <= len(losses) else None


def previous_stage_end(timeline: Timeline) -> int:
    """The position of the last op of the stage before the current op's (-1: before the first op).

    Where `s` would have stopped coming from there: P and s undo each other.
    """
    position = timeline.position
    if position <= 0:
        return -1
    later = timeline.record_at(position)
    for q in range(position - 1, -1, -1):
        earlier = timeline.record_at(q)
        if (earlier.iteration, earlier.stage) != (later.iteration, later.stage):
            return q
        later = earlier
    return -1


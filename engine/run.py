"""The one run loop: continue, run N iterations, run to a breakpoint.

`nnstep run` and the app's continue / run N both call `run` (or iterate
`Run.records()` to stream what is stepped into a trace) and only format the
`RunResult`. The loop owns what a run means, once:

- where it ends: after `iterations` whole iterations (counting from the
  iterations complete when it starts), at the first op where a breakpoint
  hits, at the first non-finite loss (on that iteration's loss op), when
  `stop()` says so, or at the end of a recorded trace;
- `loss increased` / `decreased`: compared with the loss of the latest
  loss op before, the one already passed when the run starts included;
- the fast path: with no breakpoints on a timeline that `can_train`, whole
  iterations run in chunks of about `chunk_seconds` (bit-identical to
  stepping, see session.py), with `pause` seconds of sleep between chunks
  so that another thread (the app's screen) gets the interpreter at once.
  Otherwise op by op.

Batch rows: z⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .breakpoints import Breakpoint
from .records import StepRecord
from .timeline import Timeline

REASONS = ("breakpoint", "iterations", "stopped", "non-finite", "end")
CHUNK_SECONDS = 0.01  # fast-path training between two looks at stop() and progress()

Progress = Callable[[Timeline], None]
OnLoss = Callable[[int, int, float], None]


def _never() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a run ended.

    `reason` is one of REASONS. `record` is the timeline's record when the
    run ended: the op a breakpoint hit, the loss op of a non-finite loss.
    `iterations` counts the whole iterations completed during the run;
    `loss` is the last loss the run saw (for 'non-finite', the one that
    stopped it), None if it saw none.
    """

    reason: str
    record: StepRecord | None
    breakpoint: Breakpoint | None = None
    iterations: int = 0
    loss: float | None = None


class Run:
    """One run of `timeline`; `run()` runs it, `records()` streams the records stepped.

    - `iterations`: whole iterations to run (≥ 1), from those complete now.
    - `breakpoints`: stop at the first op where one hits (op by op then).
    - `stop()`: asked before every op or fast-path chunk; True ends the run.
    - `progress(timeline)`: after every op stepped and every fast-path chunk
      (throttle in the callback).
    - `on_loss(iteration, epoch, loss)`: every loss the run computes, in
      order, 1-based iteration and epoch (every iteration on the fast path).
    - `stop_at_non_finite`: end at the first NaN or ±inf loss, on its loss op.
    - `chunk_seconds`, `pause`: fast-path chunk length and the sleep after each.
    """

    def __init__(
        self,
        timeline: Timeline,
        *,
        iterations: int,
        breakpoints: Sequence[Breakpoint] = (),
        stop: Callable[[], bool] = _never,
        progress: Progress | None = None,
        on_loss: OnLoss | None = None,
        stop_at_non_finite: bool = True,
        chunk_seconds: float = CHUNK_SECONDS,
        pause: float = 0.0,
    ) -> None:
        if iterations < 1:
            raise ValueError("iterations must be >= 1")
        self.timeline = timeline
        self.iterations = iterations
        self.breakpoints = tuple(breakpoints)
        self.stop = stop
        self.progress = progress
        self.on_loss = on_loss
        self.stop_at_non_finite = stop_at_non_finite
        self.chunk_seconds = chunk_seconds
        self.pause = pause
        self.result: RunResult | None = None  # set when the run has ended
        self._start = timeline.iterations_done
        self._loss: float | None = None

    @property
    def fast(self) -> bool:
        """True when the run trains whole iterations without a record per op."""
        return not self.breakpoints and self.timeline.can_train

    def run(self) -> RunResult:
        """Run to the end (fast path when it can) and say why it ended."""
        if self.fast:
            return self._fast()
        for _ in self.records():
            pass
        assert self.result is not None
        return self.result

    def records(self) -> Iterator[StepRecord]:
        """Step op by op, yielding every record stepped (the one that ends the run included).

        `result` is set once the generator is exhausted.
        """
        timeline = self.timeline
        last = timeline.schedule.index(self._start + self.iterations, 0) - 1  # run index of the last op
        previous: float | None = None
        if self.breakpoints:
            seen = timeline.losses()
            previous = float(seen[-1]) if len(seen) else None
        while True:
            if self.stop():
                self._end("stopped")
                return
            if timeline.at_end:
                self._end("end")
                return
            record = timeline.step()
            assert record is not None  # not at the end: there is a next record
            loss = record.loss if record.op == "loss" else None
            if loss is not None:
                self._loss = loss
                if self.on_loss is not None:
                    self.on_loss(record.iteration, record.epoch, loss)
            yield record
            for bp in self.breakpoints:
                if bp.hits(record, previous):
                    self._end("breakpoint", bp)
                    return
            if loss is not None:
                if self.stop_at_non_finite and not math.isfinite(loss):
                    self._end("non-finite")
                    return
                previous = loss
            if record.index >= last:
                self._end("iterations")
                return
            if self.progress is not None:
                self.progress(timeline)

    def _fast(self) -> RunResult:
        timeline = self.timeline
        schedule = timeline.schedule
        per_epoch = timeline.config.batches_per_epoch
        goal = self._start + self.iterations
        chunk = 1
        while timeline.iterations_done < goal:
            if self.stop():
                return self._end("stopped")
            done = timeline.iterations_done
            n = min(chunk, goal - done)
            started = time.monotonic()
            timeline.train(n)
            losses = timeline.losses(done)  # iterations done … done + n - 1
            bad = np.flatnonzero(~np.isfinite(losses)) if self.stop_at_non_finite else np.zeros(0, dtype=np.intp)
            seen = int(bad[0]) + 1 if len(bad) else n  # a chunk may run past the first inf into NaN
            if self.on_loss is not None:
                on_loss = self.on_loss
                for i in range(done, done + seen):
                    on_loss(i + 1, i // per_epoch + 1, float(losses[i - done]))
            self._loss = float(losses[seen - 1])
            if len(bad):
                timeline.goto(schedule.index(done + seen - 1, schedule.loss_offset))
                return self._end("non-finite")
            if self.progress is not None:
                self.progress(timeline)
            elapsed = time.monotonic() - started
            chunk = max(1, min(chunk * 2, int(n * self.chunk_seconds / max(elapsed, 1e-6)) or 1))
            if self.pause:
                time.sleep(self.pause)
        return self._end("iterations")

    def _end(self, reason: str, breakpoint: Breakpoint | None = None) -> RunResult:
        timeline = self.timeline
        self.result = RunResult(reason, timeline.record, breakpoint, timeline.iterations_done - self._start, self._loss)
        return self.result


def run(timeline: Timeline, **options: Any) -> RunResult:
    """`Run(timeline, **options).run()`: run for `iterations` whole iterations, or until a breakpoint,
    a non-finite loss or `stop()`; returns why and where the run ended (see `Run` for the options)."""
    return Run(timeline, **options).run()


def run_backwards(
    timeline: Timeline, breakpoints: Sequence[Breakpoint], *, stop: Callable[[], bool] = _never,
    progress: Callable[[int], None] | None = None,
) -> StepRecord | None:
    """Reverse-continue: the most recent op before the position where a breakpoint holds, or None.

    Goes back iteration by iteration (each one's records recomputed or looked
    up, never the whole run held at once); `loss increased` compares each
    loss with the loss of the iteration before it, as a forward run would.
    `stop()` is asked and `progress(iteration)` told (0-based) before each
    iteration is looked at. The timeline's position is left alone: the caller
    goes to the record.
    """
    position = timeline.position
    if position <= 0 or not breakpoints:
        return None
    losses = timeline.losses()
    iteration = timeline.schedule.locate(timeline.record.index)[0]  # type: ignore[union-attr]
    while iteration >= 0:
        if stop():
            return None
        if progress is not None:
            progress(iteration)
        previous = float(losses[iteration - 1]) if 0 < iteration <= len(losses) else None
        for record in reversed(timeline.iteration_records(iteration)):
            if record.index >= timeline.record.index:  # type: ignore[union-attr]
                continue
            if any(bp.hits(record, previous) for bp in breakpoints):
                return record
        iteration -= 1
    return None

"""Watches without a screen: values pinned to follow as training goes, each with its recent history.

A watch is one value of the breakpoint grammar (`norm(dW1)`, `max(z2)`,
`loss`, `dead(1)`; engine `parse_watch`). An op holds only some values —
`norm(dW1)` lives on layer 1's grad and update ops — so a watch's value *at*
an op is the latest one known within the iteration's worth of ops ending
there (`value_at`): after the grad op it is this iteration's ∂L/∂W⁽¹⁾, before
it the previous iteration's. Its history is that value at the same op of
each of the last HISTORY iterations: the sparkline.

The history is computed lazily and never for long at a time: `fill` works
for at most a given budget of seconds (the screen calls it again from a
timer until it says it is done), streaming a few iterations at a time
from the timeline (one replay from a checkpoint per chunk on a live
session, lookups on a trace). Values are cached per iteration: training is
deterministic, so an op's values never change. The timeline is only read
while no job runs (the screen sees to that). Batch rows: z⁽ˡ⁾ has shape
(B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from nnstep.engine import NnstepError, StepRecord
from nnstep.engine.breakpoints import Watch, parse_watch
from nnstep.engine.timeline import Timeline

HISTORY = 100  # iterations in a sparkline
CHUNK = 10  # iterations streamed per pass
MAX_WATCHES = 12

Values = tuple[float | None, ...]  # one per watch


@dataclass(frozen=True)
class WatchRow:
    """What the watch pane shows of one watch.

    `value` is the watch at the current op (None: not known in the last
    iteration's worth of ops); `at` the run index of the op it was read from;
    `series` the value at the same op of iterations `first`, `first` + 1, …
    (1-based), the current one last; None where unknown or not computed yet.
    """

    text: str
    value: float | None
    at: int | None
    series: Values
    first: int


class Watches:
    """The watches of a session and the cache of their values per iteration."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.items: list[Watch] = []
        self._seen: dict[int, tuple[tuple[int, Values], ...]] = {}  # 0-based iteration → (run index, values) per op
        self._stream: tuple[int, int, Iterator[StepRecord]] | None = None
        self._partial: dict[int, list[tuple[int, Values]]] = {}
        self._fills: dict[int, tuple[list[int], list[tuple[tuple[float | None, int | None], ...]]]] = {}

    def __len__(self) -> int:
        return len(self.items)

    @property
    def texts(self) -> list[str]:
        """The watched expressions, in order."""
        return [watch.text for watch in self.items]

    def check(self, text: str) -> str | None:
        """The parser's message for a bad watch, None for a good one."""
        if len(self.items) >= MAX_WATCHES:
            return f"at most {MAX_WATCHES} watches: remove one first (A)"
        try:
            parse_watch(text, self.timeline.config.activations)
        except NnstepError as error:
            return str(error)
        return None

    def add(self, text: str) -> Watch:
        """Watch `text` (raises NnstepError for a bad expression)."""
        watch = parse_watch(text, self.timeline.config.activations)
        self.items.append(watch)
        self._forget()
        return watch

    def remove(self, number: int) -> Watch:
        """Stop watching number `number` (1-based)."""
        if not 1 <= number <= len(self.items):
            raise IndexError(f"no watch {number} (1..{len(self.items)})")
        watch = self.items.pop(number - 1)
        self._forget()
        return watch

    def _forget(self) -> None:
        self._seen.clear()
        self._fills.clear()
        self._partial.clear()
        self._stream = None

    # -- computing ------------------------------------------------------------

    def _values(self, record: StepRecord) -> Values:
        return tuple(watch.value(record) for watch in self.items)

    def wanted(self, record: StepRecord | None) -> list[int]:
        """The 0-based iterations a sparkline at `record` needs and the cache lacks, latest first."""
        if record is None or not self.items:
            return []
        current = record.iteration - 1
        # One more than the sparkline shows: its oldest point may need the iteration before's values.
        return [k for k in range(current, max(current - HISTORY - 1, -1), -1) if k not in self._seen]

    def fill(self, record: StepRecord | None, budget: float) -> bool:
        """Compute missing values for about `budget` seconds at most; True when nothing is left to do.

        The current iteration comes first, whole, whatever the budget (its
        records are the ones on screen, cached by the timeline).
        """
        wanted = self.wanted(record)
        if not wanted:
            self._stream = None
            return True
        timeline = self.timeline
        if wanted[0] == record.iteration - 1:  # type: ignore[union-attr]
            self._seen[wanted[0]] = tuple((r.index, self._values(r)) for r in timeline.iteration_records(wanted[0]))
            self._fills.pop(wanted[0], None)
            wanted = wanted[1:]
        deadline = time.monotonic() + budget
        while wanted and time.monotonic() < deadline:
            if self._stream is None or self._stream[1] not in wanted:
                high = wanted[0]
                low = high
                while low - 1 in wanted and high - low + 1 < CHUNK:
                    low -= 1
                records = timeline.iter_records(timeline.first_position(low), timeline.first_position(high + 1))
                self._stream = (low, high, records)
                self._partial.clear()
            low, high, records = self._stream
            for record_ in records:
                self._partial.setdefault(record_.iteration - 1, []).append((record_.index, self._values(record_)))
                if time.monotonic() >= deadline:
                    break
            else:  # the chunk is done: every iteration of it is known (a trace may hold none of one)
                for k in range(low, high + 1):
                    self._seen[k] = tuple(self._partial.get(k, ()))
                    self._fills.pop(k, None)
                self._stream = None
                self._partial.clear()
                wanted = [k for k in wanted if k not in self._seen]
        self._trim(record.iteration - 1)  # type: ignore[union-attr]
        return not self.wanted(record)

    def _trim(self, current: int) -> None:
        """Keep the cache bounded: at most 4·HISTORY iterations, those nearest the current one."""
        if len(self._seen) > 4 * HISTORY:
            for k in sorted(self._seen, key=lambda k: abs(k - current))[4 * HISTORY:]:
                del self._seen[k]
                self._fills.pop(k, None)

    # -- reading ----------------------------------------------------------------

    def _filled(self, iteration: int) -> tuple[list[int], list[tuple[tuple[float | None, int | None], ...]]] | None:
        """Iteration `iteration`'s run indices and, at each, every watch's latest (value, run index) so far in it."""
        found = self._fills.get(iteration)
        if found is None:
            entries = self._seen.get(iteration)
            if entries is None:
                return None
            latest: list[tuple[float | None, int | None]] = [(None, None)] * len(self.items)
            filled = []
            for at, values in entries:
                latest = [(v, at) if v is not None else old for v, old in zip(values, latest)]
                filled.append(tuple(latest))
            found = self._fills[iteration] = ([at for at, _ in entries], filled)
        return found

    def value_at(self, index: int, which: int) -> tuple[float | None, int | None]:
        """Watch `which` (0-based) at run index `index`: the latest value known within the iteration's
        worth of ops ending there, and the run index it was read at (None, None: unknown or not computed)."""
        per_iteration = len(self.timeline.schedule)
        iteration = self.timeline.schedule.locate(index)[0]
        for k in (iteration, iteration - 1):
            filled = self._filled(k)
            if filled is None:
                continue
            indices, latest = filled
            p = bisect_right(indices, index) - 1
            if p >= 0:
                value, at = latest[p][which]
                if value is not None and at is not None and at > index - per_iteration:
                    return value, at
        return None, None

    def rows(self, record: StepRecord | None) -> tuple[WatchRow, ...]:
        """Each watch at `record`, with its series over the last HISTORY iterations (what is known so far)."""
        if record is None:
            return tuple(WatchRow(w.text, None, None, (), 1) for w in self.items)
        per_iteration = len(self.timeline.schedule)
        current = record.iteration - 1
        first = max(current - HISTORY + 1, 0)
        rows = []
        for which, watch in enumerate(self.items):
            value, at = self.value_at(record.index, which)
            series = tuple(self.value_at(record.index - (current - k) * per_iteration, which)[0]
                           for k in range(first, current + 1))
            rows.append(WatchRow(watch.text, value, at, series, first + 1))
        return tuple(rows)

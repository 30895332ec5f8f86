"""The one interface the app and the run loop step through: a live Session or a recorded trace.

`Timeline` is a `typing.Protocol`. `Session` (session.py) implements it by
computing ops; `TraceTimeline` implements it over the records of an exported
trace, read-only. The screen and `run.run` use only this interface, so they
never ask which one they have: they read `read_only` (nothing can be
computed; every read is a lookup) and `can_train` (the fast path exists).

Positions. A timeline is a sequence of records with a cursor, `position`
(-1 before the first). For a Session the position is the global op index
(`record.index`); a trace may skip iterations or stages (`nnstep run
--every/--stages`), so there the position is the index among the recorded
steps and `record.index` is the op's index in the original run.

Batch rows: z⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .config import Config
from .errors import NnstepError
from .network import Params, batch_rows
from .records import StepRecord
from .schedule import STAGES, UNITS, Schedule
from .session import NetworkState
from .trace_records import StepColumns, TraceRecords


@runtime_checkable
class Timeline(Protocol):
    """What can be stepped through: records at positions, a cursor, losses and parameters.

    Batch rows: z⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).
    Iterations are 0-based in arguments (`iteration_records(0)` is the first)
    and 1-based in records (`record.iteration == 1`), as in the engine.
    """

    config: Config
    schedule: Schedule
    read_only: bool  # a recorded trace: nothing is computed, every read is a lookup
    can_train: bool  # `train` (the fast path, no record per op) is available

    @property
    def position(self) -> int:
        """The cursor: -1 before the first record."""
        ...

    @property
    def record(self) -> StepRecord | None:
        """The record at the position (None before the first)."""
        ...

    @property
    def at_end(self) -> bool:
        """True when `step` cannot go further (never for a live session)."""
        ...

    @property
    def iterations_done(self) -> int:
        """Iterations of the run whose last op is at or before the current record."""
        ...

    @property
    def state(self) -> NetworkState:
        """W⁽ˡ⁾ and b⁽ˡ⁾ as they stand at the position."""
        ...

    def step(self) -> StepRecord | None:
        """One op forward; the new current record."""
        ...

    def back(self) -> StepRecord | None:
        """One op back; None once before the first."""
        ...

    def goto(self, position: int) -> StepRecord | None:
        """Jump to any position (-1 is before the start)."""
        ...

    def goto_iteration(self, iteration: int) -> StepRecord | None:
        """Jump to the first op of 1-based `iteration`; None, not moving, if the timeline has none."""
        ...

    def reset(self) -> None:
        """Back to before the first op."""
        ...

    def finish(self, unit: str) -> StepRecord | None:
        """To the last op of this stage, iteration or epoch (the next one's when already there)."""
        ...

    def train(self, iterations: int) -> float:
        """Fast path: run whole iterations without records (only when `can_train`)."""
        ...

    def losses(self, start: int = 0) -> np.ndarray:
        """The losses seen up to the position, from the `start`-th on."""
        ...

    def record_at(self, position: int) -> StepRecord:
        """The record at `position`."""
        ...

    def iteration_records(self, iteration: int) -> tuple[StepRecord, ...]:
        """The records of 0-based `iteration` (a trace may hold only some of its ops)."""
        ...

    def iter_records(self, start: int = 0, stop: int | None = None) -> Iterator[StepRecord]:
        """Records at positions start…stop-1 (default: up to the position), streamed in order."""
        ...

    def first_position(self, iteration: int) -> int:
        """Position of the first op of 0-based `iteration` or later (a trace: its length when past its end)."""
        ...

    def previous_record(self, record: StepRecord) -> StepRecord | None:
        """The same op of the previous iteration, if the timeline has it."""
        ...


class TraceTimeline:
    """A recorded trace as a read-only Timeline.

    Indexed once when loaded — from the steps' skeletons (StepColumns: run
    index, iteration, epoch, op), never their tensors: the losses as one
    array, the positions holding each layer's W and b, where each stage,
    iteration and epoch ends — so every move and read costs O(1) or
    O(log n), never a scan of the records. `records` may be a list of
    records or the TraceRecords `read_trace` returns, whose tensors are
    decoded only when a record's are read (a record shown, the state at the
    position); its losses are read at load, in one go.
    """

    read_only = True
    can_train = False

    def __init__(self, config: Config, records: Sequence[StepRecord]) -> None:
        self.config = config
        self.schedule = config.schedule
        self.records: Sequence[StepRecord]
        if isinstance(records, TraceRecords):
            self.records, columns = records, records.columns
        else:
            self.records = tuple(records)
            columns = StepColumns.from_records(self.records)
        self._position = -1
        n = len(columns.index)
        kinds, kind = columns.kinds, columns.kind
        index, iterations, epochs = columns.index, columns.iteration, columns.epoch
        stages = np.array([STAGES.index(k.stage) for k in kinds], dtype=np.int64)[kind] if n else kind
        # read_trace gives steps in run order; records handed in directly need not be.
        self._sorted = bool(n < 2 or (index[1:] > index[:-1]).all())
        self._index = index
        self._by_index = None if self._sorted else {int(i): p for p, i in enumerate(index.tolist())}
        self._iterations = iterations
        self._iterations_sorted = bool(n < 2 or (iterations[1:] >= iterations[:-1]).all())
        self._by_iteration: OrderedDict[int, tuple[StepRecord, ...]] = OrderedDict()
        # The first position reaching an iteration is where the running maximum does.
        self._reached = np.maximum.accumulate(iterations) if n else iterations
        is_loss = np.array([k.op == "loss" and "loss" in k.names for k in kinds], dtype=bool)
        self._loss_positions = np.flatnonzero(is_loss[kind]) if n else np.zeros(0, dtype=np.intp)
        if isinstance(self.records, TraceRecords):
            self._loss_values = self.records.losses(self._loss_positions)
        else:
            self._loss_values = np.array([self.records[i].loss for i in self._loss_positions.tolist()], dtype=np.float64)
        self._loss_values.flags.writeable = False
        # Positions of the records holding W⁽ˡ⁾ and b⁽ˡ⁾ (linear and update ops), per layer.
        self._params_at: dict[int, list[int]] = {}
        for row, k in enumerate(kinds):
            if k.layer is not None and k.op in ("linear", "update") and "W" in k.names and "b" in k.names:
                positions = np.flatnonzero(kind == row).tolist()
                self._params_at[k.layer] = sorted(self._params_at.get(k.layer, []) + positions)
        # Where each run of equal stage / iteration / epoch ends: `finish` is a binary search.
        self._ends: dict[str, np.ndarray] = {}
        for unit, changed in (
            ("stage", (iterations[1:] != iterations[:-1]) | (stages[1:] != stages[:-1])),
            ("iteration", iterations[1:] != iterations[:-1]),
            ("epoch", epochs[1:] != epochs[:-1]),
        ):
            self._ends[unit] = np.append(np.flatnonzero(changed), n - 1) if n else np.zeros(0, dtype=np.intp)

    def __len__(self) -> int:
        return len(self.records)

    # -- where we are ---------------------------------------------------------

    @property
    def position(self) -> int:
        """Index of the current record in the trace; -1 before the first."""
        return self._position

    @property
    def record(self) -> StepRecord | None:
        """The current record, None before the start."""
        return self.records[self._position] if self._position >= 0 else None

    @property
    def at_end(self) -> bool:
        """True on the last recorded step."""
        return self._position >= len(self.records) - 1

    @property
    def iterations_done(self) -> int:
        """Iterations of the original run complete at the current record."""
        record = self.record
        return 0 if record is None else self.schedule.iterations_done(record.index)

    def record_at(self, position: int) -> StepRecord:
        """The record at trace position `position`."""
        if not 0 <= position < len(self.records):
            raise IndexError(f"no record at position {position}")
        return self.records[position]

    def record_by_index(self, index: int) -> StepRecord | None:
        """The recorded step whose run index is `index`, if the trace kept it."""
        if self._by_index is not None:
            position = self._by_index.get(index)
        else:
            found = int(np.searchsorted(self._index, index))
            position = found if found < len(self._index) and self._index[found] == index else None
        return None if position is None else self.records[position]

    def previous_record(self, record: StepRecord) -> StepRecord | None:
        """The same op of the previous iteration, if the trace kept it."""
        return self.record_by_index(record.index - len(self.schedule))

    # -- moving ---------------------------------------------------------------

    def step(self) -> StepRecord | None:
        """One recorded step forward (stays on the last one)."""
        self._position = min(self._position + 1, len(self.records) - 1)
        return self.record

    def back(self) -> StepRecord | None:
        """One recorded step back; None once before the first."""
        self._position = max(-1, self._position - 1)
        return self.record

    def goto(self, position: int) -> StepRecord | None:
        """Jump to trace position `position`, clamped to the trace."""
        self._position = max(-1, min(position, len(self.records) - 1))
        return self.record

    def first_position(self, iteration: int) -> int:
        """Position of the first recorded op of 0-based `iteration` or later; len(trace) past the end."""
        return int(np.searchsorted(self._reached, iteration + 1, side="left"))

    def goto_iteration(self, iteration: int) -> StepRecord | None:
        """To the first recorded op of 1-based `iteration` (or the next recorded one); None past the end."""
        position = self.first_position(iteration - 1)
        if position >= len(self.records):
            return None
        return self.goto(position)

    def reset(self) -> None:
        """Back to before the first step."""
        self._position = -1

    def finish(self, unit: str) -> StepRecord | None:
        """To the last recorded step of this stage, iteration or epoch (or the next one's)."""
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; one of {UNITS}")
        if unit == "op" or not self.records:
            return self.step()
        ends = self._ends[unit]
        last = len(self.records) - 1

        def end_of(position: int) -> int:
            return int(ends[np.searchsorted(ends, position, side="left")])

        position = max(self._position, 0)
        if self._position >= 0 and end_of(position) == position:
            position = min(position + 1, last)
        self._position = end_of(position)
        return self.record

    def train(self, iterations: int) -> float:
        """A trace cannot compute new iterations."""
        raise NnstepError("a trace is read-only: it cannot train")

    # -- what is known --------------------------------------------------------

    def losses(self, start: int = 0) -> np.ndarray:
        """Loss of every recorded loss step up to the position, from the `start`-th on (a read-only view)."""
        seen = int(np.searchsorted(self._loss_positions, self._position, side="right"))
        return self._loss_values[start:seen]

    def iteration_records(self, iteration: int) -> tuple[StepRecord, ...]:
        """The recorded steps of 0-based `iteration`, possibly partial or none (the same tuple while recent)."""
        found = self._by_iteration.get(iteration)
        if found is None:
            wanted = iteration + 1
            if self._iterations_sorted:
                lo, hi = np.searchsorted(self._iterations, [wanted, wanted + 1]).tolist()
                positions: list[int] = list(range(lo, hi))
            else:
                positions = np.flatnonzero(self._iterations == wanted).tolist()
            found = tuple(self.records[p] for p in positions)
            self._by_iteration[iteration] = found
            if len(self._by_iteration) > 256:
                self._by_iteration.popitem(last=False)
        return found

    def iter_records(self, start: int = 0, stop: int | None = None) -> Iterator[StepRecord]:
        """Records at trace positions start…stop-1 (default: up to the position), made as they are reached."""
        stop = self._position + 1 if stop is None else stop
        records = self.records
        return (records[i] for i in range(max(start, 0), min(stop, len(records))))

    @property
    def state(self) -> NetworkState:
        """W and b at the position, as far as the recorded steps show them (the config's before)."""
        position = max(self._position, 0)
        W = [w for w, _ in self.config.layers]
        b = [v for _, v in self.config.layers]
        for layer, positions in self._params_at.items():
            i = bisect_right(positions, position) - 1
            if i >= 0:
                tensors = self.records[positions[i]].tensors
                W[layer - 1], b[layer - 1] = tensors["W"], tensors["b"]
        record = self.record or (self.records[0] if self.records else None)
        iteration = record.iteration if record else 1
        epoch = record.epoch if record else 1
        return NetworkState(self._position, iteration, epoch, tuple(W), tuple(b))


def batch_of(timeline: Timeline, iteration: int) -> tuple[Params, np.ndarray, np.ndarray] | None:
    """Parameters at the start of 0-based `iteration` and its batch (x, y), read from its records.

    Uses only the record API. W⁽ˡ⁾ (n_l, n_{l-1}) and b⁽ˡ⁾ come from the
    linear ops, else from the update ops (W_before, or W where it is frozen),
    so a trace exported with `--stages update` has them too. x (B, n_0) is
    the first linear op's input and y (B, n_L) the loss op's; where the trace
    lacks those ops, the batch's rows of the config's data (the config
    decides every batch, `batch_rows`). None if some layer's W and b are in
    none of the iteration's records (a trace of only the loss or backward stage).
    """
    records = timeline.iteration_records(iteration)
    config = timeline.config
    depth = config.depth
    W: dict[int, np.ndarray | None] = {}
    b: dict[int, np.ndarray | None] = {}
    for r in records:
        if r.layer is None or r.layer in W:
            continue
        t = r.tensors
        if r.op == "linear":
            W[r.layer], b[r.layer] = t["W"], t["b"]
        elif r.op == "update":  # the values before this update: a parameter it does not update, it reads as it is
            W[r.layer], b[r.layer] = t.get("W_before", t.get("W")), t.get("b_before", t.get("b"))
    if any(W.get(l) is None or b.get(l) is None for l in range(1, depth + 1)):
        return None
    first = next((r for r in records if r.op == "linear" and r.layer == 1), None)
    loss = next((r for r in records if r.op == "loss"), None)
    rows = batch_rows(config, iteration)
    x = first.tensors["a_prev"] if first is not None else config.x[rows]
    y = loss.tensors["y"] if loss is not None else config.y[rows]
    weights = tuple(W[l] for l in range(1, depth + 1))
    biases = tuple(b[l] for l in range(1, depth + 1))
    assert all(w is not None for w in weights) and all(v is not None for v in biases)  # checked above
    params = Params(tuple(w for w in weights if w is not None), tuple(v for v in biases if v is not None))
    return params, x, y

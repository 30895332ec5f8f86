"""What the app steps through: a live Session, or a recorded trace read-only.

`TraceSession` offers the read API of `nnstep.engine.Session` (record,
position, step, back, goto, reset, finish, losses, state, record_at,
iteration_records, run_until) over the records of a trace, so `nnstep view`
uses the same screen and keys. Batch rows: z has shape (B, n_l); W has
shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeAlias

import numpy as np

from nnstep.engine import Config, NetworkState, Params, Session, StepRecord


class TraceSession:
    """A read-only stand-in for Session over a list of recorded steps.

    Positions are indices into the list (a trace may skip iterations or
    stages), so `record.index` is the index the op had in the original run.
    """

    read_only = True

    def __init__(self, config: Config, records: Sequence[StepRecord]) -> None:
        self.config = config
        self.records = list(records)
        self.ops_per_iteration = 5 * config.depth + 1
        self._position = -1
        self._by_index: dict[int, int] | None = None

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

    def record_at(self, index: int) -> StepRecord:
        """The record at trace position `index`."""
        if not 0 <= index < len(self.records):
            raise IndexError(f"no record at index {index}")
        return self.records[index]

    def record_by_index(self, index: int) -> StepRecord | None:
        """The recorded step whose run index is `index`, if the trace kept it."""
        if self._by_index is None:
            self._by_index = {r.index: i for i, r in enumerate(self.records)}
        position = self._by_index.get(index)
        return None if position is None else self.records[position]

    def step(self) -> StepRecord | None:
        """One recorded step forward (stays on the last one)."""
        self._position = min(self._position + 1, len(self.records) - 1)
        return self.record

    def back(self) -> StepRecord | None:
        """One recorded step back; None once before the first."""
        self._position = max(-1, self._position - 1)
        return self.record

    def goto(self, index: int) -> StepRecord | None:
        """Jump to trace position `index`, clamped to the trace."""
        self._position = max(-1, min(index, len(self.records) - 1))
        return self.record

    def reset(self) -> None:
        """Back to before the first step."""
        self._position = -1

    def finish(self, unit: str) -> StepRecord | None:
        """To the last recorded step of this stage, iteration or epoch (or the next one's)."""
        key: Callable[[StepRecord], object] = {
            "stage": lambda r: (r.iteration, r.stage),
            "iteration": lambda r: r.iteration,
            "epoch": lambda r: r.epoch,
        }[unit]
        last = len(self.records) - 1
        position = max(self._position, 0)
        if self._position >= 0 and (position == last or key(self.records[position + 1]) != key(self.records[position])):
            position = min(position + 1, last)
        while position < last and key(self.records[position + 1]) == key(self.records[position]):
            position += 1
        self._position = position
        return self.record

    def run_until(
        self, hit: Callable[[StepRecord], bool], max_iterations: int, *, stop: Callable[[], bool] | None = None
    ) -> StepRecord | None:
        """Step until `hit(record)` or the end of the trace (or `stop()`)."""
        while not self.at_end:
            if stop is not None and stop():
                return None
            record = self.step()
            if record is not None and hit(record):
                return record
        return None

    def losses(self) -> np.ndarray:
        """Loss of every recorded loss step up to the position."""
        values = [r.loss for r in self.records[: self._position + 1] if r.op == "loss"]
        return np.array([v for v in values if v is not None], dtype=np.float64)

    def iteration_records(self, iteration: int) -> tuple[StepRecord, ...]:
        """The recorded steps of iteration `iteration` (0-based), possibly partial."""
        return tuple(r for r in self.records if r.iteration == iteration + 1)

    @property
    def state(self) -> NetworkState:
        """W and b at the position, as far as the recorded steps show them."""
        record = self.record or (self.records[0] if self.records else None)
        W = [w for w, _ in self.config.layers]
        b = [v for _, v in self.config.layers]
        for r in self.records[: max(self._position, 0) + 1]:
            if r.layer is None:
                continue
            if r.op == "linear" or r.op == "update":
                W[r.layer - 1], b[r.layer - 1] = r.tensors["W"], r.tensors["b"]
        iteration = record.iteration if record else 1
        epoch = record.epoch if record else 1
        return NetworkState(self._position, iteration, epoch, tuple(W), tuple(b))


AnySession: TypeAlias = "Session | TraceSession"


def batch_of(session: AnySession, iteration: int) -> tuple[Params, np.ndarray, np.ndarray] | None:
    """Parameters at the start of `iteration` (0-based) and its batch (x, y), read from its records.

    Uses only the public record API: the linear ops hold W⁽ˡ⁾, b⁽ˡ⁾ and the
    first one's input is x; the loss op holds y. None if the records lack them.
    """
    records = session.iteration_records(iteration)
    depth = session.config.depth
    linear = {r.layer: r for r in records if r.op == "linear"}
    loss = next((r for r in records if r.op == "loss"), None)
    if len(linear) != depth or loss is None:
        return None
    W = tuple(linear[l].tensors["W"] for l in range(1, depth + 1))
    b = tuple(linear[l].tensors["b"] for l in range(1, depth + 1))
    params = Params(W, b)
    return params, linear[1].tensors["a_prev"], loss.tensors["y"]

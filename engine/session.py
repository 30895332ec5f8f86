"""A training session you can step through op by op, forward and back.

Batch rows: z⁽ˡ⁾ has shape (B, n_l), W⁽ˡ⁾ shape (n_l, n_{l-1}).

The position is a global op index (-1 before the first op); the config's
schedule (schedule.py) says which op each index is. Training is deterministic, so the session
keeps only parameter checkpoints every `checkpoint_every` iterations plus
the records of a few recent iterations; any other iteration is recomputed
from the nearest checkpoint with the fast path. Checkpoints, remembered
parameters and cached records stay within HISTORY_BUDGET bytes of memory:
older checkpoints spill to a temporary folder (checkpoints.py), up to
DISK_BUDGET bytes, and only past that does the spacing double. Between
checkpoints, the parameters of every √spacing-th iteration passed lately are
kept too, so stepping back replays a few iterations. Parameter arrays are never
changed in place, so a checkpoint is a handful of references, not a copy.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from math import isqrt
from types import MappingProxyType

import numpy as np

from .checkpoints import CheckpointStore, LossHistory
from .config import Config
from .fastpath import fast_path
from .network import Params, batch_rows, iterate, row_indices
from .records import StepRecord, unique_nbytes
from .schedule import UNITS, OpSpec

HISTORY_BUDGET = 64 * 2**20  # bytes of checkpoints, remembered parameters and records kept in memory
DISK_BUDGET = 2 * 2**30  # bytes of older checkpoints spilled to a temporary folder
REPLAYED = 4  # parameter sets kept after a replay (the iterations around the position)
# A diverging run is something to show, not to warn about on stderr (which
# would also tear the app's screen): overflow becomes inf and NaN silently.
def _quiet() -> np.errstate:
    return np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")


@dataclass(frozen=True)
class NetworkState:
    """The parameters as they stand at the session's position.

    W[l-1] is W⁽ˡ⁾ with shape (n_l, n_{l-1}); during the update stage the
    layers already updated hold their new values.
    """

    position: int
    iteration: int
    epoch: int
    W: tuple[np.ndarray, ...]
    b: tuple[np.ndarray, ...]


class Session:
    """Step through training of the network a Config describes.

    Implements `timeline.Timeline`: its position is the global op index.
    """

    read_only = False  # ops are computed, not looked up
    can_train = True  # `train` runs whole iterations on the fast path

    def __init__(self, config: Config, *, checkpoint_every: int = 100, cache_iterations: int = 8) -> None:
        self.config = config
        self.schedule = config.schedule
        self.ops_per_iteration = len(self.schedule)  # kept for callers; the schedule does the arithmetic
        self.checkpoint_every = checkpoint_every
        self._cache_size = cache_iterations
        self._one_batch = config.batches_per_epoch == 1
        self._fast = fast_path(config)  # iterations without records, into buffers of its own
        initial = Params.initial(config)
        # Parameters plus the optimizer's state (Adam keeps two or three arrays per parameter).
        per_checkpoint = max(1, (1 + len(config.optimizer.state_names())) * initial.nbytes)
        # Half of HISTORY_BUDGET for checkpoints in memory (never fewer than 16), a
        # quarter each for remembered parameters and cached records; older
        # checkpoints spill to a temporary folder, up to DISK_BUDGET bytes. Past
        # both, spacing doubles and every other checkpoint goes.
        self._checkpoints = CheckpointStore(config.depth, max(16, HISTORY_BUDGET // 2 // per_checkpoint),
                                            DISK_BUDGET // per_checkpoint)
        self._checkpoints[0] = initial
        self._frontier = 0  # iterations whose resulting parameters are known
        self._frontier_params = initial
        # Where the last iteration trained started from: after a run, the app
        # shows that iteration's records, so they cost one stepped iteration.
        self._before_frontier: Params | None = None
        # Parameters at the start of every `_stride`-th iteration passed lately
        # (trained or replayed), a quarter of the budget at most: stepping back
        # then replays a few iterations, not the whole span since a checkpoint.
        self._recent: OrderedDict[int, Params] = OrderedDict()
        # √(checkpoint spacing): a replay costs at most that many iterations, for
        # that many remembered parameter sets per span. Kept as an attribute (and
        # updated when checkpoints thin out): the fast path reads it every iteration.
        self._stride = max(1, isqrt(checkpoint_every))
        self._max_recent = max(4, min(32, HISTORY_BUDGET // 4 // per_checkpoint))
        self._losses = LossHistory(self._checkpoints)  # loss of every iteration before the frontier
        self._cache: OrderedDict[int, tuple[StepRecord, ...]] = OrderedDict()
        self._cache_bytes: dict[int, int] = {}  # of each cached iteration's records
        # The last few parameter sets worked out by a replay: `state` and `losses` ask for the start of
        # the position's iteration and of the next one on every op while stepping back.
        self._replayed: OrderedDict[int, Params] = OrderedDict()
        self._position = -1

    # -- where we are -------------------------------------------------------

    @property
    def position(self) -> int:
        """Index of the current record; -1 before the first op."""
        return self._position

    @property
    def record(self) -> StepRecord | None:
        """The record of the op at the current position (None before the start)."""
        if self._position < 0:
            return None
        return self.record_at(self._position)

    @property
    def at_end(self) -> bool:
        """Never: a live session can always compute the next op."""
        return False

    @property
    def iterations_done(self) -> int:
        """Iterations whose update stage is complete at the current position."""
        return self.schedule.iterations_done(self._position)

    def record_at(self, index: int) -> StepRecord:
        """The record at any index, recomputed from a checkpoint when needed."""
        if index < 0:
            raise IndexError(f"no record at index {index}")
        iteration, op = self.schedule.locate(index)
        return self.iteration_records(iteration)[op]

    def previous_record(self, record: StepRecord) -> StepRecord | None:
        """The same op of the previous iteration (None in the first iteration)."""
        index = record.index - len(self.schedule)
        return self.record_at(index) if index >= 0 else None

    def first_position(self, iteration: int) -> int:
        """Index of the first op of 0-based `iteration`."""
        return self.schedule.index(max(iteration, 0), 0)

    # -- moving -------------------------------------------------------------

    def step(self) -> StepRecord:
        """Advance one op and return its record."""
        self._position += 1
        return self.record  # type: ignore[return-value]

    def back(self) -> StepRecord | None:
        """Go back one op (time travel); None once before the first op."""
        self._position = max(-1, self._position - 1)
        return self.record

    def goto(self, index: int) -> StepRecord | None:
        """Jump to any op index, earlier or later (-1 is before the start)."""
        self._position = max(-1, index)
        return self.record

    def goto_iteration(self, iteration: int) -> StepRecord | None:
        """Jump to the first op of 1-based `iteration` (computed from the nearest checkpoint)."""
        return self.goto(self.first_position(iteration - 1))

    def reset(self) -> None:
        """Back to before the first op; history and checkpoints are kept."""
        self._position = -1

    def finish(self, unit: str) -> StepRecord:
        """Run to the last op of the current stage, iteration or epoch.

        Already at that last op, run to the last op of the next one.
        """
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; one of {UNITS}")
        per_epoch = self.config.batches_per_epoch
        target = self.schedule.end_of(unit, self._position, per_epoch)
        if target == self._position:
            target = self.schedule.end_of(unit, self._position + 1, per_epoch)
        self._position = target
        return self.record  # type: ignore[return-value]

    def train(self, iterations: int) -> float:
        """Fast path: run whole iterations without a record per op.

        The position moves to the last op of the last iteration run; returns
        that iteration's loss. Parameters are bit-identical to stepping.
        """
        if iterations < 1:
            raise ValueError("iterations must be >= 1")
        target = self.iterations_done + iterations
        self._params_before(target)
        self._position = self.schedule.index(target, 0) - 1
        return self._losses[target - 1]

    # -- what is known ------------------------------------------------------

    @property
    def state(self) -> NetworkState:
        """W and b as they stand at the current position."""
        iteration, op = self.schedule.locate(max(self._position, 0))
        params = self._params_before(iteration)
        W, b = list(params.W), list(params.b)
        first_update = self.schedule.first("update")
        if self._position >= 0 and op >= first_update:
            records = self.iteration_records(iteration)
            for record in records[first_update : op + 1]:
                W[record.layer - 1] = record.tensors["W"]  # type: ignore[operator]
                b[record.layer - 1] = record.tensors["b"]  # type: ignore[operator]
        return NetworkState(self._position, iteration + 1, iteration // self.config.batches_per_epoch + 1, tuple(W), tuple(b))

    def losses(self, start: int = 0) -> np.ndarray:
        """Loss of every iteration up to the current position's (if its loss op is passed), from 0-based `start` on."""
        seen = self.schedule.losses_seen(self._position)
        if seen:
            self._params_before(seen)
        start = min(max(start, 0), seen)
        # A copy of just that span: the buffer may move as training appends to it.
        return self._losses.span(start, seen)

    @property
    def history_bytes(self) -> int:
        """Memory held for time travel: checkpoints, cached records and losses."""
        kept = (*self._checkpoints.in_memory(), self._frontier_params, self._before_frontier, *self._recent.values(),
                *self._replayed.values())
        parameters = (a for p in kept if p is not None for a in p.arrays())
        tensors = (a for records in self._cache.values() for r in records for a in r.tensors.values())
        losses = self._losses.nbytes
        return losses + unique_nbytes(chain(parameters, tensors))

    def iteration_params(self, iteration: int) -> Params:
        """Parameters and optimizer state at the start of `iteration` (0-based)."""
        return self._params_before(iteration)

    def iteration_records(self, iteration: int) -> tuple[StepRecord, ...]:
        """All the records of iteration `iteration` (0-based), one per op of the schedule, cached."""
        records = self._cache.get(iteration)
        if records is not None:
            self._cache.move_to_end(iteration)
            return records
        params = self._params_before(iteration)
        records, after, loss = self._stepped(iteration, params)
        self._advance_frontier(iteration, after, loss)
        self._cache[iteration] = records
        self._cache_bytes[iteration] = unique_nbytes(a for r in records for a in r.tensors.values())
        # At most `cache_iterations` iterations, and a quarter of the budget (a wide net's
        # activations are large); the newest always stays.
        while len(self._cache) > 1 and (len(self._cache) > self._cache_size
                                        or sum(self._cache_bytes.values()) > HISTORY_BUDGET // 4):
            oldest, _ = self._cache.popitem(last=False)
            del self._cache_bytes[oldest]
        return records

    def iter_records(self, start: int = 0, stop: int | None = None) -> Iterator[StepRecord]:
        """Records from index `start` up to `stop` (default: the position), recomputed in order.

        Streams: each iteration's records are made, yielded and dropped.
        """
        stop = self._position + 1 if stop is None else stop
        iteration = self.schedule.locate(max(start, 0))[0]
        params = self._params_before(iteration)
        while self.schedule.index(iteration, 0) < stop:
            records = self._cache.get(iteration)
            if records is None:
                records, after, loss = self._stepped(iteration, params)
                self._advance_frontier(iteration, after, loss)
            else:
                after = self._params_before(iteration + 1)
            for record in records:
                if start <= record.index < stop:
                    yield record
            params = after
            iteration += 1

    # -- machinery ----------------------------------------------------------

    def _batch(self, iteration: int) -> tuple[np.ndarray, np.ndarray]:
        if self._one_batch:  # every iteration trains on all rows, in file order
            return self.config.x, self.config.y
        rows = batch_rows(self.config, iteration)
        return self.config.x[rows], self.config.y[rows]

    def _stepped(self, iteration: int, params: Params) -> tuple[tuple[StepRecord, ...], Params, float]:
        x, y = self._batch(iteration)
        x.setflags(write=False)  # a shuffled batch is a fresh copy; it goes into records
        y.setflags(write=False)
        base = self.schedule.index(iteration, 0)
        epoch = iteration // self.config.batches_per_epoch + 1
        records: list[StepRecord] = []

        def emit(spec: OpSpec, tensors: dict) -> None:
            # Not make_record: iterate() emits only read-only arrays (checked for
            # every op by tests/engine/test_perf_invariants.py), and setting the
            # flag again on each tensor was a fifth of the stepping path's time.
            records.append(
                StepRecord(base + spec.offset, iteration + 1, epoch, spec.stage, spec.layer, spec.op, spec.formula,
                           MappingProxyType(tensors), spec.writes)
            )

        with _quiet():
            after, loss = iterate(self.config, params, x, y, emit, iteration=iteration,
                                  rows=row_indices(self.config, iteration))
        return tuple(records), after, loss

    def _advance_frontier(self, iteration: int, after: Params, loss: float) -> None:
        if iteration == self._frontier:
            self._losses.append(loss)
            self._before_frontier = self._frontier_params
            self._frontier += 1
            self._frontier_params = after
            if self._frontier % self._stride == 0:
                self._remember(self._frontier, after)
            if self._frontier % self.checkpoint_every == 0:
                self._checkpoints[self._frontier] = after
                if len(self._checkpoints) > self._checkpoints.capacity:
                    self._thin_checkpoints()

    def _train_to(self, iteration: int) -> None:
        """Advance the frontier to `iteration` on the fast path: `_advance_frontier` per iteration, inlined.

        The loop is the fast path's whole per-iteration cost besides the
        iteration itself, so it keeps the frontier in locals and leaves the
        bookkeeping to the iterations that are remembered or checkpointed.
        """
        fast, append = self._fast, self._losses.append
        i, params, before = self._frontier, self._frontier_params, self._before_frontier
        try:
            while i < iteration:
                x, y = fast.batch(i)
                after, loss = fast(params, x, y, i)
                append(loss)
                i, params, before = i + 1, after, params
                if i % self._stride == 0:
                    self._remember(i, params)
                if i % self.checkpoint_every == 0:
                    self._checkpoints[i] = params
                    if len(self._checkpoints) > self._checkpoints.capacity:
                        self._thin_checkpoints()
        finally:  # a stop mid-way (KeyboardInterrupt) leaves the losses and the frontier in step
            self._frontier, self._frontier_params, self._before_frontier = i, params, before

    def _thin_checkpoints(self) -> None:
        """Keep every other checkpoint and double the spacing: history memory stays bounded."""
        self.checkpoint_every *= 2
        self._stride = max(1, isqrt(self.checkpoint_every))
        self._checkpoints.retain(lambda i: i % self.checkpoint_every == 0)

    def _remember(self, iteration: int, params: Params) -> None:
        """Keep the parameters at the start of `iteration` among the recent few."""
        self._recent[iteration] = params
        self._recent.move_to_end(iteration)
        while len(self._recent) > self._max_recent:
            self._recent.popitem(last=False)

    def _params_before(self, iteration: int) -> Params:
        """Parameters (and momentum) at the start of `iteration` (0-based)."""
        if iteration == self._frontier:
            return self._frontier_params
        if iteration == self._frontier - 1 and self._before_frontier is not None:
            return self._before_frontier
        replayed = self._replayed.get(iteration)
        if replayed is not None:  # a replay is up to √spacing fast iterations: ~6 ms a key for 784→128→10
            self._replayed.move_to_end(iteration)
            return replayed
        with _quiet():
            if iteration > self._frontier:
                self._train_to(iteration)
                return self._frontier_params
            start = iteration - iteration % self.checkpoint_every
            params = self._checkpoints[start]
            nearer = [i for i in self._recent if start < i <= iteration]
            if nearer:
                start = max(nearer)
                params = self._recent[start]
                self._recent.move_to_end(start)
            fast = self._fast
            for i in range(start, iteration):
                x, y = fast.batch(i)
                params, _ = fast(params, x, y, i)
                if (i + 1) % self._stride == 0:
                    self._remember(i + 1, params)
        self._replayed[iteration] = params
        if len(self._replayed) > REPLAYED:
            self._replayed.popitem(last=False)
        return params

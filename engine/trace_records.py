"""A trace's steps: checked against the schedule, made into records when asked for, decoded when read.

A 1 GB trace holds some fifty million numbers; parsing them all takes tens
of seconds and several times the file in memory. So `read_trace` checks
the steps — their ops, places in the schedule, tensor names and references
— and keeps where each array is (a span of the JSON text, or a slice of an
.npz block). `TraceRecords` is the list of records it returns: a record is
made when asked for, and its tensors are decoded (and their shapes checked)
when read, one tensor at a time, through a small cache that keeps a decoded
array the same object while anything holds it.

Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, overload

import numpy as np

from .config import Config
from .errors import NnstepError
from .records import StepRecord
from .schedule import OPS, STAGE_OF

NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
# Decoded arrays kept for reuse beyond those still referenced elsewhere.
CACHE_BYTES = 16 * 2**20
# Records kept made (so that reading one twice gives the same object while it is recent).
_RECORDS_KEPT = 65536

# Version 1: the tensors of each op that the viewer reads (its schedule was fixed: SGD, no dropout).
_V1_TENSORS = {
    "linear": ("a_prev", "W", "b", "z"),
    "activation": ("z", "a"),
    "loss": ("y_hat", "y", "loss"),
    "delta": ("z", "delta"),
    "grad": ("delta", "a_prev", "dW", "db"),
    "update": ("W", "b"),
}


@dataclass(frozen=True, slots=True)
class OpKind:
    """What every step of one op shares: its place, formula, writes and tensor names."""

    stage: str
    layer: int | None
    op: str
    equation: str
    writes: tuple[str, ...]
    names: tuple[str, ...]


@dataclass(frozen=True)
class StepColumns:
    """A trace's steps as columns: run index, iteration, epoch and the row of `kinds` of each."""

    index: np.ndarray
    iteration: np.ndarray
    epoch: np.ndarray
    kind: np.ndarray
    kinds: tuple[OpKind, ...]

    @classmethod
    def from_records(cls, records: Sequence[StepRecord]) -> StepColumns:
        """The columns of records already in memory (one pass)."""
        kinds: dict[OpKind, int] = {}
        rows = [(r.index, r.iteration, r.epoch,
                 kinds.setdefault(OpKind(r.stage, r.layer, r.op, r.equation, r.writes, tuple(r.tensors)), len(kinds)))
                for r in records]
        table = np.array(rows, dtype=np.int64).reshape(-1, 4)
        return cls(table[:, 0], table[:, 1], table[:, 2], table[:, 3], tuple(kinds))


def decode_nested(value: Any) -> Any:
    """Nested lists from JSON with "NaN", "Infinity", "-Infinity" turned into floats."""
    if isinstance(value, str):
        return NON_FINITE.get(value, value)
    if isinstance(value, list):
        return [decode_nested(v) for v in value]
    return value


def as_array(where: str, value: Any, name: str) -> np.ndarray:
    """A tensor's nested lists as a read-only array (int64 for `rows`, else float64)."""
    try:
        result = np.array(decode_nested(value), dtype=np.int64 if name == "rows" else np.float64)
    except (TypeError, ValueError, OverflowError, RecursionError):
        raise NnstepError(f"{where}.tensors.{name} is not an array of numbers (ragged, or not numbers)") from None
    result.flags.writeable = False
    return result


# --- checking steps -----------------------------------------------------------------------------


def check_step(where: str, step: Any, config: Config, version: int, known: dict[Any, OpKind]) -> tuple[int, int, int, OpKind]:
    """(index, iteration, epoch, kind) of one step, checked against the schedule of `config`.

    `known` caches the kinds already checked (by their fields and place in
    the iteration), so a long trace checks each op's fields once.
    """
    if not isinstance(step, dict):
        raise NnstepError(f"{where} is not an object")
    for field in ("index", "iteration", "epoch", "stage", "layer", "op", "equation", "tensors"):
        if field not in step:
            raise NnstepError(f"{where} has no {field!r}")
    for field, least in (("index", 0), ("iteration", 1), ("epoch", 1)):
        value = step[field]
        if type(value) is not int or value < least:
            raise NnstepError(f"{where}.{field} must be a whole number >= {least}")
        if value >= 2**62:  # held as int64; no run gets near
            raise NnstepError(f"{where}.{field} is too large (at most 2**62)")
    index, tensors, writes = step["index"], step["tensors"], step.get("writes", [])
    key: tuple[Any, ...] | None = None
    kind = None
    if type(tensors) is dict and type(writes) is list:
        try:
            key = (step["op"], step["stage"], step["layer"], step["equation"], tuple(writes), tuple(tensors),
                   index % len(config.schedule) if version > 1 else 0)
            kind = known.get(key)
        except TypeError:  # an unhashable field: the full check below says which
            key = None
    if kind is None:
        kind = _check_kind(where, step, config, version)
        if key is not None:
            known[key] = kind
    return index, step["iteration"], step["epoch"], kind


def _check_kind(where: str, step: dict[str, Any], config: Config, version: int) -> OpKind:
    sizes = config.sizes
    op, stage, layer = step["op"], step["stage"], step["layer"]
    if not isinstance(op, str) or op not in OPS:
        raise NnstepError(f"{where}.op is not an op nnstep writes ({', '.join(OPS)})")
    if stage != STAGE_OF[op]:
        raise NnstepError(f"{where}.stage must be '{STAGE_OF[op]}' for op '{op}'")
    depth = len(sizes) - 1
    if op == "loss" and layer is not None:
        raise NnstepError(f"{where}.layer must be null for the loss")
    if op != "loss" and (type(layer) is not int or not 1 <= layer <= depth):
        raise NnstepError(f"{where}.layer must be a layer number 1..{depth}")
    if not isinstance(step["equation"], str):
        raise NnstepError(f"{where}.equation must be a string")
    writes = step.get("writes", [])
    if not isinstance(writes, list) or not all(isinstance(w, str) for w in writes):
        raise NnstepError(f"{where}.writes must be a list of tensor names")
    tensors = step["tensors"]
    if not isinstance(tensors, dict):
        raise NnstepError(f"{where}.tensors must be an object")
    if version == 1:
        required = _V1_TENSORS[op]
    else:
        spec = config.schedule.spec(step["index"])
        if (spec.op, spec.layer) != (op, layer):
            raise NnstepError(f"{where} is op {op!r} of layer {layer}, but index {step['index']} of this network is "
                              f"op {spec.op!r} of layer {spec.layer}")
        required = spec.tensors
    for name in required:
        if name not in tensors:
            raise NnstepError(f"{where}.tensors has no {name!r}, which a {op} step holds")
    return OpKind(stage, layer, op, step["equation"], tuple(writes), tuple(tensors))


def check_shape(where: str, op: str, layer: int | None, name: str, array_: np.ndarray, sizes: tuple[int, ...]) -> None:
    """W, dW (n_l, n_{l-1}); b, db (n_l,); z, a, delta (B, n_l); a_prev (B, n_{l-1}); y_hat, y (B, n_L)."""
    if layer is None:
        if name == "loss" and array_.ndim != 0:
            raise NnstepError(f"{where}.tensors.loss must be a single number")
        width = sizes[-1] if name in ("y_hat", "y") else None
    else:
        n, n_prev = sizes[layer], sizes[layer - 1]
        # W, dW, W_before, step_W and the optimizer's m_W, v_W, … all have W's shape; likewise for b.
        kind = "W" if name in ("W", "dW") or name.endswith("_W") else "b" if name in ("b", "db") or name.endswith("_b") else ""
        shape = (n, n_prev) if kind == "W" else (n,) if kind == "b" else None
        if shape is not None and array_.shape != shape:
            raise NnstepError(f"{where}.tensors.{name} has shape {array_.shape}, expected {shape} (layer {layer})")
        width = {"z": n, "a": n, "mask": n, "a_drop": n, "delta": n, "a_prev": n_prev}.get(name)
    if name == "rows" and array_.ndim != 1:
        raise NnstepError(f"{where}.tensors.rows must be a list of row numbers")
    if width is not None and (array_.ndim != 2 or array_.shape[1] != width):
        raise NnstepError(f"{where}.tensors.{name} has shape {array_.shape}, expected (batch rows, {width})")


def check_order(path: str, index: np.ndarray) -> None:
    """The viewer steps through the list: it must be the run's order."""
    if len(index) > 1:
        wrong = np.flatnonzero(index[1:] <= index[:-1])
        if wrong.size:
            i = int(wrong[0]) + 1
            raise NnstepError(f"{path}: steps[{i}].index {index[i]} does not come after the step before it "
                              f"(index {index[i - 1]})")


def check_refs(where: str, tensors: dict[str, Any], count: int) -> list[int]:
    """A version-3 step's tensors: numbers into "arrays", each one there."""
    refs = list(tensors.values())
    for name, ref in tensors.items():
        if type(ref) is not int:
            raise NnstepError(f'{where}.tensors.{name} must be the number of an array in "arrays" (a whole number)')
        if not 0 <= ref < count:
            raise NnstepError(f"{where}.tensors.{name} refers to arrays[{ref}], but the trace has "
                              f"{count} array{'s' * (count != 1)}")
    return refs


# --- lazy records -------------------------------------------------------------------------------


class ArraySource(Protocol):
    """Where a trace's arrays are: decoded one at a time, on demand."""

    count: int
    nbytes: int  # bytes of array data in the file (text or binary)

    def decode(self, number: int, dtype: np.dtype[Any]) -> np.ndarray:
        """Array `number` as `dtype`; ValueError (with a reason) if its data are not an array of numbers."""
        ...

    def scalars(self, numbers: np.ndarray) -> np.ndarray:
        """Arrays `numbers`, each a single number, as one float64 array (ValueError if one is not)."""
        ...


class _Tensors(Mapping[str, np.ndarray]):
    """A lazy record's tensors: names known, each array decoded when read."""

    __slots__ = ("_names", "_owner", "_position", "_refs")

    def __init__(self, owner: TraceRecords, position: int, names: tuple[str, ...], refs: np.ndarray) -> None:
        self._owner, self._position, self._names, self._refs = owner, position, names, refs

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            j = self._names.index(name)
        except ValueError:
            raise KeyError(name) from None
        return self._owner.tensor(self._position, name, int(self._refs[j]))

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"<tensors {', '.join(self._names)} (decoded when read)>"


class TraceRecords(Sequence[StepRecord]):
    """The records of a trace file, made when asked for; tensors decoded when read.

    A Sequence[StepRecord] like a list of records (TraceTimeline, diff and
    verify_trace take either). `columns` holds every step's skeleton for
    indexing without making records; `decoded` counts the arrays decoded so
    far. A tensor that does not decode, or has the wrong shape for its op,
    raises NnstepError naming the step when it is read.
    """

    def __init__(self, path: str, config: Config, columns: StepColumns, starts: np.ndarray, refs: np.ndarray,
                 source: ArraySource) -> None:
        self.path = path
        self.columns = columns
        self.source = source
        self.decoded = 0
        self._sizes = config.sizes
        self._starts, self._refs = starts, refs
        self._records: OrderedDict[int, StepRecord] = OrderedDict()
        self._alive: weakref.WeakValueDictionary[tuple[int, str], np.ndarray] = weakref.WeakValueDictionary()
        self._recent: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()
        self._recent_bytes = 0
        self._lock = threading.RLock()  # the app reads records from worker threads too

    @property
    def nbytes(self) -> int:
        """Bytes of array data in the file: what decoding everything would read."""
        return self.source.nbytes

    def __len__(self) -> int:
        return len(self.columns.index)

    @overload
    def __getitem__(self, position: int) -> StepRecord: ...
    @overload
    def __getitem__(self, position: slice) -> tuple[StepRecord, ...]: ...

    def __getitem__(self, position: int | slice) -> StepRecord | tuple[StepRecord, ...]:
        if isinstance(position, slice):
            return tuple(self[i] for i in range(*position.indices(len(self))))
        n = len(self)
        if position < 0:
            position += n
        if not 0 <= position < n:
            raise IndexError(f"no step {position} in a trace of {n}")
        with self._lock:
            record = self._records.get(position)
            if record is None:
                record = self._make(position)
                self._records[position] = record
                if len(self._records) > _RECORDS_KEPT:
                    self._records.popitem(last=False)
            else:
                self._records.move_to_end(position)
            return record

    def __iter__(self) -> Iterator[StepRecord]:
        for i in range(len(self)):
            yield self[i]

    def _make(self, position: int) -> StepRecord:
        c = self.columns
        kind = c.kinds[c.kind[position]]
        refs = self._refs[self._starts[position]: self._starts[position + 1]]
        return StepRecord(int(c.index[position]), int(c.iteration[position]), int(c.epoch[position]), kind.stage,
                          kind.layer, kind.op, kind.equation, _Tensors(self, position, kind.names, refs), kind.writes)

    def tensor(self, position: int, name: str, number: int) -> np.ndarray:
        """Tensor `name` of the step at `position` (array `number`), decoded and checked."""
        dtype = np.dtype(np.int64 if name == "rows" else np.float64)
        key = (number, dtype.char)
        with self._lock:
            value = self._alive.get(key)
            if value is None:
                value = self._decode(position, name, number, dtype)
                self._alive[key] = value
            self._remember(key, value)
        kind = self.columns.kinds[self.columns.kind[position]]
        check_shape(f"{self.path}: steps[{position}]", kind.op, kind.layer, name, value, self._sizes)
        return value

    def _decode(self, position: int, name: str, number: int, dtype: np.dtype[Any]) -> np.ndarray:
        try:
            value = self.source.decode(number, dtype)
        except (ValueError, TypeError, OverflowError, RecursionError) as error:
            raise NnstepError(f"{self.path}: steps[{position}].tensors.{name} (arrays[{number}]) is not an array of "
                              f"numbers ({error})") from None
        value.flags.writeable = False
        self.decoded += 1
        return value

    def _remember(self, key: tuple[int, str], value: np.ndarray) -> None:
        if key in self._recent:
            self._recent.move_to_end(key)
            return
        self._recent[key] = value
        self._recent_bytes += value.nbytes
        while self._recent_bytes > CACHE_BYTES and len(self._recent) > 1:
            _, dropped = self._recent.popitem(last=False)
            self._recent_bytes -= dropped.nbytes

    def losses(self, positions: np.ndarray) -> np.ndarray:
        """The loss of each step at `positions` (each holds a "loss" tensor), as float64, read in one go."""
        c = self.columns
        at = np.array([kind.names.index("loss") if "loss" in kind.names else -1 for kind in c.kinds], dtype=np.int64)
        numbers = self._refs[self._starts[positions] + at[c.kind[positions]]] if len(positions) else self._refs[:0]
        try:
            return self.source.scalars(numbers)
        except (ValueError, TypeError, OverflowError, RecursionError):
            for i in positions.tolist():  # find the step that is wrong, and say which
                self[i].tensors["loss"]
            raise NnstepError(f"{self.path}: a loss of the trace is not a number") from None

"""Search in tensors, without a screen: the next NaN/inf, the largest |value|, or a typed value.

`/` in the app asks for `nan` (NaN or ±inf), `max` (the largest finite
|value|) or a number, and `search` finds it: first in the focused tensor
after the cursor (row by row), then in the tensors of the iteration's
other ops, starting from the op after the current one and coming round.
`max` is the focused tensor's largest finite |value|, else (no focus, or
no finite value in it) the largest of the whole iteration. A typed number matches the values that round to it at the
digits typed: `0.0123` matches 0.01225 ≤ v < 0.01235, `1e-3` matches
0.0005 ≤ v < 0.0015 — what a pane shows rounded is what is found.

Also the conversions between a pane cell (row, col of the tensor as a
matrix) and the tensor's own index. Batch rows: z has shape (B, n_l);
W has shape (n_l, n_{l-1}); a 1-D tensor is one row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np
from nnstep.engine import StepRecord
from nnstep.engine.timeline import Timeline

KINDS = ("nan", "max", "value")


@dataclass(frozen=True)
class Query:
    """What to look for: `kind` one of KINDS; for a value, the number and how far from it still matches."""

    kind: str
    value: float = 0.0
    tolerance: float = 0.0
    text: str = ""


@dataclass(frozen=True)
class Hit:
    """Where it is: the timeline position of the op, the tensor's engine name, its index (0-based), the value."""

    position: int
    record: StepRecord
    name: str
    index: tuple[int, ...]
    value: float  # as searched (in the Δ view, the difference)


def parse_query(text: str) -> Query | str:
    """`nan`, `inf`, `max` or a number; else the one-line message saying what is accepted."""
    plain = text.strip().lower()
    if plain in ("nan", "inf", "non-finite"):
        return Query("nan", text=plain)
    if plain in ("max", "largest"):
        return Query("max", text=plain)
    if len(plain) > 40:
        return "type nan, max or a number (at most 40 characters)"
    try:
        number = Decimal(plain.replace("−", "-"))
    except InvalidOperation:
        return f"'{text.strip()}' is not nan, max or a number (e.g. 0.25, -1.5e-3)"
    if not number.is_finite():
        return "type nan to find NaN or ±inf"
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    if abs(exponent) > 300 or not math.isfinite(float(number)):
        return f"'{text.strip()}' is beyond what float64 holds: type nan to find ±inf"
    return Query("value", float(number), 0.5 * 10.0**exponent, plain)


def matches(values: np.ndarray, query: Query) -> np.ndarray:
    """A boolean mask of the cells that match (`max`: the largest finite |value|, the first of equals)."""
    array = np.asarray(values, dtype=np.float64)
    with np.errstate(all="ignore"):
        if query.kind == "nan":
            return ~np.isfinite(array)
        if query.kind == "value":
            return np.abs(array - query.value) <= query.tolerance * (1 + 1e-9)
        mask = np.zeros(array.shape, dtype=bool)
        finite = np.where(np.isfinite(array), np.abs(array), -np.inf)
        if finite.size and np.isfinite(finite.max()):
            mask.flat[int(np.argmax(finite))] = True
        return mask


def _first(values: np.ndarray, query: Query, after: int = -1) -> int | None:
    """The flat index of the first match after flat index `after`, None if none."""
    found = np.flatnonzero(matches(values, query).ravel())
    found = found[found > after]
    return int(found[0]) if found.size else None


def _index(values: np.ndarray, flat: int) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, values.shape)) if values.ndim else ()


Values = Callable[[StepRecord, str], np.ndarray]


def _recorded(record: StepRecord, name: str) -> np.ndarray:
    return np.asarray(record.tensors[name])


def _hit(position: int, record: StepRecord, name: str, values: np.ndarray, flat: int) -> Hit:
    index = _index(values, flat)
    return Hit(position, record, name, index, float(values[index]) if index else float(values))


def search(timeline: Timeline, query: Query, names: Callable[[StepRecord], Sequence[str]],
           focused: str | None = None, cursor: tuple[int, ...] | None = None, values: Values | None = None) -> Hit | None:
    """The next match from the current op: in tensor `focused` after `cursor`, then the iteration's ops.

    `names(record)` lists the tensors the screen shows for an op, in pane order; `values(record, name)`
    gives what a pane shows of one (default: the recorded tensor; the Δ view: its difference).
    """
    values = values or _recorded
    record = timeline.record
    if record is None:
        return None
    position = timeline.position
    if focused is not None and focused in record.tensors:
        array = values(record, focused)
        after = -1
        if cursor is not None and query.kind != "max":
            after = int(np.ravel_multi_index(cursor, array.shape)) if array.ndim else 0
        flat = _first(array, query, after)
        if flat is not None:
            return _hit(position, record, focused, array, flat)
    records = timeline.iteration_records(record.iteration - 1)
    first = timeline.first_position(record.iteration - 1)
    here = next(k for k, r in enumerate(records) if r.index == record.index)
    if query.kind == "max":  # the focused tensor holds no finite value, or none is focused
        return _largest(records, first, query, names, values)
    shown = list(names(record))
    cut = shown.index(focused) + 1 if focused in shown else 0
    # This op's tensors after the focused one, the later ops, the earlier ones, then this op's first ones
    # (the focused tensor again from its first cell: a match before the cursor).
    order = [(here, name) for name in shown[cut:]]
    order += [(k, name) for k in [*range(here + 1, len(records)), *range(here)] for name in names(records[k])]
    order += [(here, name) for name in shown[:cut]]
    for k, name in order:
        array = values(records[k], name)
        flat = _first(array, query)
        if flat is not None:
            return _hit(first + k, records[k], name, array, flat)
    return None


def _largest(records: Sequence[StepRecord], first: int, query: Query,
             names: Callable[[StepRecord], Sequence[str]], values: Values) -> Hit | None:
    """The largest finite |value| among every shown tensor of the iteration's ops (the first of equals)."""
    best: Hit | None = None
    size = -math.inf
    for k, record in enumerate(records):
        for name in names(record):
            array = values(record, name)
            flat = _first(array, query)
            if flat is not None and abs(float(array.flat[flat])) > size:
                size = abs(float(array.flat[flat]))
                best = _hit(first + k, record, name, array, flat)
    return best


def tensor_index(ndim: int, cell: tuple[int, int]) -> tuple[int, ...]:
    """The tensor's own index of a pane cell (row, col of the tensor shown as a matrix)."""
    return () if ndim == 0 else (cell[1],) if ndim == 1 else cell


def matrix_cell(index: tuple[int, ...]) -> tuple[int, int]:
    """The pane cell of a tensor index."""
    return (0, 0) if not index else (0, index[0]) if len(index) == 1 else (index[0], index[1])


def fits(shape: tuple[int, ...], index: tuple[int, ...]) -> bool:
    """True when `index` is inside `shape` (a unit of sample 12 is not in a batch of 10).

    ŷ's unit j is y's unit j; a 1-D b is W's row: only equal ranks carry a cursor.
    """
    return len(shape) == len(index) and all(0 <= i < n for i, n in zip(index, shape))

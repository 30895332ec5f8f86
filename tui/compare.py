"""The Δ view, without a screen: an op's tensors as differences against a reference op.

`d` in the app shows every tensor of the current op as actual − reference:
the same op of the previous iteration (how much this iteration changed it),
or, when the app was opened with `nnstep view A --compare B`, the same op
(by run index) of the second run. A NaN against a NaN and an inf against
the same inf count as equal (Δ 0), as `nnstep diff` counts them; a
tensor the reference lacks, or holds with another shape, is shown as it is
and says so in its title. Batch rows: z has shape (B, n_l); W has shape
(n_l, n_{l-1}).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from nnstep.engine import StepRecord
from nnstep.engine.timeline import Timeline, TraceTimeline
from nnstep.tui.shown import Tensor


def counterpart(other: Timeline, record: StepRecord) -> StepRecord | None:
    """The op of `other` with `record`'s run index, if it has one."""
    if isinstance(other, TraceTimeline):
        return other.record_by_index(record.index)
    try:
        return other.record_at(record.index)  # a live session: positions are run indices
    except IndexError:
        return None


def difference(actual: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """actual − reference, with NaN − NaN and inf − inf of the same sign counted as 0."""
    with np.errstate(all="ignore"):
        a, b = np.asarray(actual, dtype=np.float64), np.asarray(reference, dtype=np.float64)
        delta = a - b
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        delta = np.where(same, 0.0, delta)
    delta.flags.writeable = False
    return delta


def as_delta(tensors: tuple[Tensor, ...], reference: StepRecord | None, against: str) -> tuple[Tensor, ...]:
    """The tensors as differences against `reference`'s same-named ones; `against` words it for titles
    ("iteration 4", "b.json"). A tensor without a counterpart is kept as it is, its title saying so."""
    shown = []
    for tensor in tensors:
        other = reference.tensors.get(tensor.name) if reference is not None else None
        if other is None or np.shape(other) != tensor.values.shape:
            shown.append(replace(tensor, symbol=f"{tensor.symbol} (no Δ: not in {against})", reference=None))
            continue
        shown.append(replace(tensor, symbol=f"{tensor.symbol} − {against}", values=difference(tensor.values, other),
                             reference=None))
    return tuple(shown)

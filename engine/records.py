"""Immutable step records: what one op computed, with its formula.

Batch rows: every tensor is as the engine holds it, e.g. z has shape
(B, n_l), W shape (n_l, n_{l-1}), dW the same as W, db shape (n_l,).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from .schedule import STAGES  # noqa: F401 - re-exported: records are grouped by stage


# eq=False: two records are the same record only when they are one object. Field-wise equality
# would compare dicts of arrays, which raises (a widget's reactive compares old and new values).
@dataclass(frozen=True, slots=True, eq=False)
class StepRecord:
    """One op of one iteration.

    `index` is the 0-based position in the whole run; `iteration`, `epoch`
    and `layer` count from 1 (layer is None for the loss). `tensors` maps
    names to read-only arrays; `writes` names the ones this op computed (the
    rest are the op's inputs).
    """

    index: int
    iteration: int
    epoch: int
    stage: str
    layer: int | None
    op: str
    equation: str
    tensors: Mapping[str, np.ndarray]
    writes: tuple[str, ...]

    @property
    def loss(self) -> float | None:
        """The loss value on the loss step, else None."""
        value = self.tensors.get("loss")
        return None if value is None else float(value)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the trace: tensors become nested lists."""
        return {
            "index": self.index,
            "iteration": self.iteration,
            "epoch": self.epoch,
            "stage": self.stage,
            "layer": self.layer,
            "op": self.op,
            "equation": self.equation,
            "writes": list(self.writes),
            "tensors": {name: value.tolist() for name, value in self.tensors.items()},
        }


def unique_nbytes(arrays: Iterable[np.ndarray | None]) -> int:
    """Bytes held by these arrays, each counted once however often it is shared."""
    seen: set[int] = set()
    total = 0
    for array in arrays:
        if array is not None and id(array) not in seen:
            seen.add(id(array))
            total += array.nbytes
    return total


def make_record(
    index: int,
    iteration: int,
    epoch: int,
    stage: str,
    layer: int | None,
    op: str,
    equation: str,
    tensors: dict[str, np.ndarray],
    writes: tuple[str, ...],
) -> StepRecord:
    """Build a record whose tensors cannot be changed through it."""
    for value in tensors.values():
        value.flags.writeable = False
    return StepRecord(index, iteration, epoch, stage, layer, op, equation, MappingProxyType(tensors), writes)

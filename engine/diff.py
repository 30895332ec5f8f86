"""Compare two runs op by op: where they first differ, and by how much each tensor does.

Both runs are sequences of step records in run order (two traces, or a trace
and a live session's records); steps are matched by their run index. Batch
rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .config import Config
from .errors import NnstepError
from .records import StepRecord


@dataclass(frozen=True)
class TensorDiff:
    """The largest |a − b| of one tensor name over all compared steps, and where it is."""

    name: str
    largest: float
    index: int
    steps: int  # steps where this tensor differs


@dataclass(frozen=True)
class Comparison:
    """What `compare` found: matched steps, the first that differs, per-tensor largest differences."""

    compared: int
    first: str = ""  # "first difference: index N, iteration I, <stage> layer L <op>, tensor T, max |Δ| = …"
    tensors: tuple[TensorDiff, ...] = field(default_factory=tuple)
    only: str = ""  # steps one run has and the other lacks

    @property
    def identical(self) -> bool:
        """No tensor differs beyond the tolerance and both runs have the same steps."""
        return not self.first and not self.only


def describe(config: Config) -> str:
    """The network in one phrase: 2→2→2 sigmoid/sigmoid, mse."""
    return f"{'→'.join(map(str, config.sizes))} {'/'.join(config.activations)}, {config.loss}"


def check_same_network(a: Config, b: Config, name_a: str, name_b: str) -> None:
    """NnstepError unless both runs train networks of the same shape, activations and loss."""
    if (a.sizes, a.activations, a.loss) != (b.sizes, b.activations, b.loss):
        raise NnstepError(f"{name_a} and {name_b} are runs of different networks ({describe(a)} vs {describe(b)}): "
                          "nothing to compare op by op")


def _max_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    """max |a − b|, with NaN equal to NaN and inf equal to the same inf; inf where only one is finite."""
    if a.shape != b.shape:
        return math.inf
    with np.errstate(all="ignore"):
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        if same.all():
            return 0.0
        delta = np.atleast_1d(np.abs(a.astype(np.float64) - b.astype(np.float64)))  # 0-d: the loss
        delta[np.atleast_1d(same)] = 0.0
        delta[np.isnan(delta)] = math.inf
    return float(delta.max())


def _where(record: StepRecord) -> str:
    place = record.op if record.layer is None else f"{record.stage} layer {record.layer} {record.op}"
    return f"index {record.index}, iteration {record.iteration}, {place}"


def compare(a: Iterable[StepRecord], b: Iterable[StepRecord], tolerance: float = 0.0) -> Comparison:
    """Compare runs `a` and `b` step by step (by run index); differences above `tolerance` count."""
    by_index = {record.index: record for record in b}
    largest: dict[str, TensorDiff] = {}
    first = ""
    compared = 0
    missing = 0
    for record in a:
        other = by_index.pop(record.index, None)
        if other is None:
            missing += 1
            continue
        compared += 1
        for name in [*record.tensors, *(n for n in other.tensors if n not in record.tensors)]:
            if name not in record.tensors or name not in other.tensors:
                delta = math.inf
            else:
                delta = _max_abs_difference(record.tensors[name], other.tensors[name])
            if delta > tolerance:
                known = largest.get(name)
                steps = known.steps + 1 if known else 1
                if known is None or delta > known.largest:
                    largest[name] = TensorDiff(name, delta, record.index, steps)
                else:
                    largest[name] = TensorDiff(name, known.largest, known.index, steps)
                if not first:
                    first = f"first difference: {_where(record)}, tensor {name}, max |Δ| = {delta:.6g}"
    only = []
    if missing:
        only.append(f"{missing} step{'s' * (missing != 1)} only in the first")
    if by_index:
        only.append(f"{len(by_index)} step{'s' * (len(by_index) != 1)} only in the second")
    ordered = tuple(sorted(largest.values(), key=lambda d: (-d.largest, d.name)))
    return Comparison(compared, first, ordered, ", ".join(only))

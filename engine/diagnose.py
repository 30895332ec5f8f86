"""Where a run went non-finite, and why: the first NaN/inf, its inputs, the growth before it.

Training is deterministic, so the first op that wrote a NaN or ±inf can be
found by replaying the run from the start and looking at what each op
writes. Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from .equations import sup
from .records import StepRecord

GROWTH = 1.2  # per-iteration factor from which a rising gradient norm counts as geometric growth


@dataclass(frozen=True)
class NonFinite:
    """The first op of a run that wrote a non-finite value, and what led to it.

    `cell` indexes `tensor` (batch rows); `inputs` maps each tensor the op read
    to its largest finite |value| (inf when it held no finite value);
    `growth` says from which iteration max|∂L/∂W| of the layer grew
    geometrically, if it did.
    """

    index: int
    iteration: int
    stage: str
    layer: int | None
    op: str
    tensor: str
    cell: tuple[int, ...]
    value: float
    inputs: dict[str, float]
    cause: str
    growth: str

    def line(self) -> str:
        """`first non-finite: index N, iteration I, <stage> layer L <op>, tensor T` and the cell."""
        where = self.op if self.layer is None else f"{self.stage} layer {self.layer} {self.op}"
        cell = f"[{', '.join(map(str, self.cell))}]" if self.cell else ""
        return (f"first non-finite: index {self.index}, iteration {self.iteration}, {where}, "
                f"tensor {self.tensor}{cell} = {_shown(self.value)}")

    def lines(self) -> list[str]:
        """The report: where, the cause, the growth before it."""
        return [self.line(), f"  cause: {self.cause}", *( [f"  before: {self.growth}"] if self.growth else [])]


def _shown(value: float) -> str:
    return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _largest(array: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        finite = np.abs(array[np.isfinite(array)]) if array.dtype.kind == "f" else np.abs(array)
    return float(finite.max()) if finite.size else math.inf


def first_non_finite(
    records: Iterable[StepRecord], *, stop: Callable[[], bool] | None = None
) -> NonFinite | None:
    """Scan `records` in run order for the first op whose written tensors hold NaN or ±inf.

    Collects max|∂L/∂W⁽ˡ⁾| of every iteration on the way, to say from when the
    gradient of the offending layer grew geometrically. None if every value
    is finite (or `stop()` said to give up).
    """
    norms: dict[int, list[tuple[int, float]]] = {}
    for record in records:
        if stop is not None and stop():
            return None
        for name in record.writes:
            array = record.tensors[name]
            if array.dtype.kind != "f" or np.isfinite(array).all():
                continue
            bad = np.argwhere(~np.isfinite(array))
            cell = tuple(int(i) for i in bad[0]) if array.ndim else ()
            value = float(array[cell]) if array.ndim else float(array)
            inputs = {read: _largest(record.tensors[read]) for read in record.tensors if read not in record.writes}
            layer = record.layer if record.layer is not None else max(norms, default=None)
            return NonFinite(record.index, record.iteration, record.stage, record.layer, record.op, name, cell, value,
                             inputs, _cause(record, name, inputs), _growth(norms.get(layer, []) if layer else [], layer))
        if record.op == "grad" and record.layer is not None:
            # max |∂L/∂W|: unlike the norm, it cannot overflow while every entry is finite.
            norms.setdefault(record.layer, []).append((record.iteration, _largest(record.tensors["dW"])))
    return None


def _cause(record: StepRecord, name: str, inputs: dict[str, float]) -> str:
    """Plain words: which input grew past what the dtype holds."""
    dtype = next((a.dtype for a in record.tensors.values() if a.dtype.kind == "f"), np.dtype(np.float64))
    limit = float(np.finfo(dtype).max)
    bad = [read for read, value in inputs.items() if not math.isfinite(value)]
    if bad:
        return f"its input {bad[0]} already held no finite value"
    largest = max(inputs.items(), key=lambda item: item[1], default=("", 0.0))
    shown = ", ".join(f"|{read}| reached {value:.4g}" for read, value in sorted(inputs.items(), key=lambda i: -i[1])[:3])
    what = {
        "linear": "the weighted sum z = W·a + b overflowed",
        "activation": "the activation overflowed",
        "dropout": "scaling the kept units overflowed",
        "loss": "the loss overflowed" if name == "loss" else f"{name} of the loss overflowed",
        "delta": "the error signal δ overflowed",
        "grad": "the gradient δᵀ·a overflowed",
        "update": "the update overflowed",
    }.get(record.op, "the op overflowed")
    near = f" ({dtype} holds up to {limit:.3g})" if largest[1] > math.sqrt(limit) else ""
    return f"{what}: {shown}{near}"


def _growth(norms: list[tuple[int, float]], layer: int | None) -> str:
    """From which iteration max|∂L/∂W⁽ˡ⁾| rose by ≥ GROWTH× every iteration up to the end, if it did."""
    if len(norms) < 3 or layer is None:
        return ""
    end = len(norms) - 1
    start = end
    while start > 0 and math.isfinite(norms[start][1]) and norms[start][1] >= GROWTH * norms[start - 1][1] > 0:
        start -= 1
    if end - start < 2:
        return ""
    first, last = norms[start], norms[end]
    factor = (last[1] / first[1]) ** (1.0 / (end - start)) if first[1] > 0 else math.inf
    return (f"max|∂L/∂W{sup(layer)}| grew geometrically from iteration {first[0]} ({first[1]:.3g}) to iteration {last[0]} "
            f"({last[1]:.3g}), ×{factor:.3g} per iteration")

"""Where a number comes from: the cells an op computed it from, and what a tensor is across ops.

The main screen marks these cells in the other panes when a number is
selected, and keeps the selection on the same quantity (W⁽²⁾₁₃, unit 3 of
layer 1) from op to op. Batch rows: the row of W and the sample's a⁽ˡ⁻¹⁾ for
z; W has shape (n_l, n_{l-1}). Nothing here imports textual.
"""

from __future__ import annotations

import numpy as np
from nnstep.engine import StepRecord

Cell = tuple[str, tuple[int, ...]]  # a tensor of a record and an index into it


def family_of(name: str) -> str | None:
    """W or b: the parameter an update op's tensor belongs to."""
    if name in ("W", "dW", "W_before", "step_W") or name.endswith("_W"):
        return "W"
    if name in ("b", "db", "b_before", "step_b") or name.endswith("_b"):
        return "b"
    return None


def sources(record: StepRecord, cell: Cell) -> dict[str, np.ndarray]:
    """The cells the op computed `cell` from, per tensor of the record, as boolean masks (as 2-D).

    For a cell the op reads, the cells it helps compute. Batch rows: the row of
    W and the sample's a⁽ˡ⁻¹⁾ for z; a column of W⁺ and the sample's δ⁺ for δ;
    a column of δ and of a⁽ˡ⁻¹⁾ for ∂L/∂W.
    """
    name, index = cell
    t = record.tensors
    masks: dict[str, np.ndarray] = {}

    def mark(tensor: str, rows: slice | int, cols: slice | int) -> None:
        if tensor in t and tensor != name:
            shape = _matrix_shape(t[tensor])
            mask = masks.setdefault(tensor, np.zeros(shape, dtype=bool))
            mask[rows, cols] = True

    op = record.op
    i, j = (int(index[0]), int(index[1])) if len(index) == 2 else (0, int(index[-1])) if index else (0, 0)
    everything = slice(None)
    if op == "linear":
        if name == "z":
            mark("a_prev", i, everything)
            mark("W", j, everything)
            mark("b", 0, j)
        elif name == "a_prev":
            mark("z", i, everything)
            mark("W", everything, j)
        elif name == "W":
            mark("z", everything, i)
            mark("a_prev", everything, j)
        elif name == "b":
            mark("z", everything, j)
    elif op in ("activation", "dropout"):
        wide = op == "activation" and "softmax" in record.equation
        for other in ("z", "a", "mask", "a_drop"):
            mark(other, i, everything if wide else j)
    elif op == "loss":
        if name in ("dL_dy_hat", "p"):
            mark("y_hat", i, everything)
            mark("y", i, everything)
            mark("p", i, everything)
            mark("dL_dy_hat", i, j)
        else:
            for other in ("y_hat", "y", "p"):
                mark(other, everything, everything)
    elif op == "delta":
        if name == "delta":
            mark("z", i, j)
            mark("mask", i, j)
            mark("delta_next", i, everything)
            mark("W_next", everything, j)
            mark("dL_dy_hat", i, everything if "softmax" in record.equation else j)
        elif name == "W_next":
            mark("delta", everything, j)
        elif name in ("delta_next", "dL_dy_hat"):
            mark("delta", i, everything)
        else:
            mark("delta", i, j)
    elif op == "grad":
        if name == "dW":
            mark("delta", everything, i)
            mark("a_prev", everything, j)
            mark("W", i, j)
        elif name == "db":
            mark("delta", everything, j)
        elif name == "delta":
            mark("dW", j, everything)
            mark("db", 0, j)
        elif name == "a_prev":
            mark("dW", everything, j)
    elif op == "update":
        family = family_of(name)
        for other in t:
            if family_of(other) == family:
                mark(other, i, j)
    return masks


def _matrix_shape(values: np.ndarray) -> tuple[int, int]:
    if values.ndim == 0:
        return (1, 1)
    if values.ndim == 1:
        return (1, values.shape[0])
    return (int(np.prod(values.shape[:-1])), values.shape[-1])


def quantity(name: str, layer: int | None, depth: int) -> tuple[str, int]:
    """What a tensor of an op is, across ops: ("W", l), ("b", l), ("unit", l) — layer 0 the input x — ("y", 0)
    or ("loss", 0). A cursor on W⁽²⁾₁₃ in the forward pass stays on it through ∂L/∂W⁽²⁾ and the update."""
    if layer is None:  # the loss op: ŷ is the last layer's a
        return {"y": ("y", 0), "loss": ("loss", 0), "data_loss": ("loss", 0), "penalty": ("loss", 0)}.get(
            name, ("unit", depth))
    if name == "W_next":
        return ("W", layer + 1)
    if name == "a_prev":
        return ("unit", layer - 1)
    if name == "delta_next":
        return ("unit", layer + 1)
    family = family_of(name)
    if family is not None:
        return (family, layer)
    if name in ("x",):
        return ("unit", 0)
    if name == "y":
        return ("y", 0)
    return ("unit", layer)

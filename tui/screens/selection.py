"""Explain this number: the selected number across ops, its cell in this op's panes, and its operands marked.

The main screen owns one `Selection` and hands it the panes after every
move; the selection keeps *what* was chosen (W⁽²⁾₁₃ stays W⁽²⁾₁₃ through
forward, backward and update: `operands.quantity`) and puts the cursor on it
in whichever pane of the op shows it, works it out in the equation pane and
marks the cells it was computed from (or, for a number the op reads, the
ones it goes into). No widget of its own and no reference to the screen.
Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from nnstep.engine import StepRecord
from nnstep.tui.operands import quantity, sources
from nnstep.tui.search import fits as fits_shape
from nnstep.tui.search import matrix_cell, tensor_index
from nnstep.tui.shown import Tensor
from nnstep.tui.widgets.equation_pane import EquationPane
from nnstep.tui.widgets.tensor_pane import TensorPane

Chosen = tuple[tuple[str, int], tuple[int, ...]]  # what (a quantity), and the index in it


class Selection:
    """The number under the cell cursor, remembered across ops (None: nothing selected)."""

    def __init__(self, depth: int) -> None:
        """`depth`: the network's number of layers (the loss op's ŷ is layer `depth`)."""
        self.depth = depth
        self.chosen: Chosen | None = None

    def choose(self, tensor: Tensor, cell: tuple[int, int], record: StepRecord | None) -> None:
        """The cursor moved to `cell` (row, col of `tensor` as a matrix) in a pane of `record`'s op."""
        layer = tensor.layer if tensor.kind == "start" else (record.layer if record else None)
        self.chosen = (quantity(tensor.name, layer, self.depth), tensor_index(tensor.values.ndim, cell))

    def _target(self, panes: Sequence[TensorPane], record: StepRecord | None,
                prefer: TensorPane | None) -> TensorPane | None:
        """The pane of this op showing the chosen number: `prefer` if it does, else the op's own result
        (W⁽ˡ⁾ after, not ΔW, in an update), then the last thing it writes, then the first thing it reads."""
        if self.chosen is None:
            return None
        wanted, index = self.chosen
        layer = record.layer if record is not None else None
        shown = [(p, p.tensor) for p in panes if p.tensor is not None]
        fits = [(p, t) for p, t in shown if fits_shape(t.values.shape, index)
                and quantity(t.name, t.layer if t.kind == "start" else layer, self.depth) == wanted]
        result = [p for p, t in fits if t.written and t.name in ("W", "b")]
        written = [p for p, t in fits if t.written]
        if prefer is not None and any(p is prefer for p, _ in fits):
            return prefer
        if result or written:
            return (result or written[-1:])[0]
        return fits[0][0] if fits else None

    def explain(self, panes: Sequence[TensorPane], equation: EquationPane, sample: int | None,
                sample_cell: Callable[[StepRecord | None], tuple[str, tuple[int, ...], str, bool] | None],
                prefer: TensorPane | None = None) -> None:
        """Put the cursor on the chosen number in this op's `panes`, work it out in `equation` and mark
        its operands; with nothing chosen, unit 1 of sample 1 (or of the followed `sample`)."""
        record = equation.record
        target = self._target(panes, record, prefer)
        marks: dict[str, np.ndarray] = {}
        if target is not None and target.tensor is not None and self.chosen is not None:
            equation.following = None
            index = self.chosen[1]
            tensor = target.tensor
            target.set_cursor(matrix_cell(index))
            if record is not None and tensor.kind != "start":
                equation.cell = (tensor.name, index, tensor.symbol, tensor.written)
                marks = sources(record, (tensor.name, index))
            else:
                equation.cell = None
        else:  # unit 1 of sample 1, or of the followed sample
            equation.following = sample
            equation.cell = sample_cell(record)
        for pane in panes:
            if pane is not target:
                pane.set_cursor(None)
            pane.set_marks(marks.get(pane.tensor.name) if pane.tensor is not None and pane is not target else None)

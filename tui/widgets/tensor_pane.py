"""One tensor of the current step: its name, shape, role, summary and values, in one bordered widget.

The pane *is* the Line-API grid (a TensorView with a border), not a
container around one: a container's size change costs Textual another
layout pass on every step. Batch rows: z has shape (B, n_l); W has shape
(n_l, n_{l-1}).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual.reactive import reactive

from nnstep.tui.render import finite_summary, shape_text
from nnstep.tui.widgets.tensor_view import Grid, TensorView


@dataclass(frozen=True, eq=False)
class Tensor:
    """A tensor as a pane shows it: engine name, tutorial symbol, values, role."""

    name: str
    symbol: str
    values: np.ndarray
    written: bool
    reference: np.ndarray | None = None


class TensorPane(TensorView):
    """A bordered tensor: title `symbol  shape  (rows/cols in view)`, bottom border `in|out · summary`.

    The summary (min, max, mean, norm, NaN/inf count) sits in the border, so
    it is always visible however the grid is scrolled and costs no row.
    """

    ALLOW_MAXIMIZE = True

    tensor: reactive[Tensor | None] = reactive(None, layout=False)
    digits: reactive[int] = reactive(4)
    mode: reactive[str] = reactive("heat")

    def __init__(self) -> None:
        super().__init__()
        self.summary = ""
        self._title = ""
        self._window = ""

    def _update(self) -> None:
        tensor = self.tensor
        if tensor is None:
            self.grid = None
            self.border_title = self.border_subtitle = self._title = ""
            return
        role = "out" if tensor.written else "in"
        self._title = f"{tensor.symbol}  {shape_text(tensor.values)}"
        self.set_class(tensor.written, "written")
        text = finite_summary(tensor.values)
        self.summary = text
        self.border_subtitle = f"{role} · {text}"
        self.set_class("⚠" in text or "no finite" in text, "non-finite")
        self.grid = Grid(tensor.values, tensor.reference, self.digits, self.mode)
        self.border_title = self._title + self._window

    def view_changed(self, rows: tuple[int, int, int], columns: tuple[int, int, int]) -> None:
        """Name the rows and columns in view when not all of them fit (there are no scrollbars)."""
        (r0, r1, total_rows), (c0, c1, total_cols) = rows, columns
        parts = []
        if r1 - r0 < total_rows:
            parts.append(f"rows {r0}–{r1 - 1} of {total_rows}" if r1 > r0 else f"{total_rows} rows")
        if c1 - c0 < total_cols:
            parts.append(f"cols {c0}–{c1 - 1} of {total_cols}" if c1 > c0 else f"{total_cols} cols")
        window = f"  ({', '.join(parts)})" if parts else ""
        if window != self._window:
            self._window = window
            self.border_title = self._title + window

    def watch_tensor(self) -> None:
        """New values: redraw title, summary and grid."""
        if self.is_mounted:
            self._update()

    def watch_digits(self) -> None:
        """Precision changed: redraw the grid."""
        if self.is_mounted:
            self._update()

    def watch_mode(self) -> None:
        """Heatmap/numbers/blocks changed: redraw the grid."""
        if self.is_mounted:
            self._update()

    def on_mount(self) -> None:
        """Show whatever was assigned before mounting."""
        self._update()

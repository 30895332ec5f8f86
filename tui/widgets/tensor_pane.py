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

from nnstep.tui.render import finite_summary, fitted_summary, shape_text
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
    it is always visible however the grid is scrolled and costs no row. A
    narrow pane gets a shorter form (↓min ↑max μmean ‖norm‖, fewer digits)
    rather than one cut with "…"; the NaN/inf count is never dropped.
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
        self._width = 0
        self._role = "in"

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
        self._role = role
        self._fit_summary()
        self.set_class("⚠" in text or "no finite" in text, "non-finite")
        self.grid = Grid(tensor.values, tensor.reference, self.digits, self.mode)
        self.border_title = self._title + self._window

    def _fit_summary(self) -> None:
        tensor = self.tensor
        if tensor is None:
            return
        width = self._width or self.size.width or 80
        # The border keeps a corner, a rule and a space each side of the subtitle.
        self.border_subtitle = fitted_summary(tensor.values, self._role, width - 6)

    def expect_size(self, width: int, height: int) -> None:
        """The layout about to happen: fit the summary to the new width now too."""
        outer = width + 2
        if outer != self._width:
            self._width = outer
            self._fit_summary()
        super().expect_size(width, height)

    def on_resize(self) -> None:
        """A new width may need a shorter (or allow a longer) summary."""
        if self.size.width != self._width:
            self._width = self.size.width
            self._fit_summary()  # (Textual calls TensorView.on_resize as well: handlers run up the MRO)

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

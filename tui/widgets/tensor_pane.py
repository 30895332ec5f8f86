"""One tensor of the current step: its name, shape, role, summary line and values.

Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual.app import ComposeResult
from textual.containers import Vertical
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


class TensorPane(Vertical):
    """A bordered pane: title `symbol  shape`, the value grid, and in the bottom border
    `in|out · summary`.

    The summary (min, max, mean, norm, NaN/inf count) sits in the border, so
    it is always visible however the grid is scrolled and costs no row.
    """

    ALLOW_MAXIMIZE = True

    tensor: reactive[Tensor | None] = reactive(None, layout=False)
    summary = ""
    _title = ""
    _window = ""
    digits: reactive[int] = reactive(4)
    mode: reactive[str] = reactive("heat")

    def compose(self) -> ComposeResult:
        yield TensorView()

    def _update(self) -> None:
        tensor = self.tensor
        view = self.query_one(TensorView)
        if tensor is None:
            view.grid = None
            self.border_subtitle = ""
            self.border_title = self._title = ""
            return
        role = "out" if tensor.written else "in"
        self._title = f"{tensor.symbol}  {shape_text(tensor.values)}"
        self.border_title = self._title + self._window
        self.set_class(tensor.written, "written")
        text = finite_summary(tensor.values)
        self.summary = text
        self.border_subtitle = f"{role} · {text}"
        self.set_class("⚠" in text or "no finite" in text, "non-finite")
        view.grid = Grid(tensor.values, tensor.reference, self.digits, self.mode)

    def on_tensor_view_scrolled(self, message: TensorView.Scrolled) -> None:
        """Name the rows and columns in view when not all of them fit (there are no scrollbars)."""
        (r0, r1, rows), (c0, c1, cols) = message.rows, message.columns
        parts = []
        if r1 - r0 < rows:
            parts.append(f"rows {r0}–{r1 - 1} of {rows}" if r1 > r0 else f"{rows} rows")
        if c1 - c0 < cols:
            parts.append(f"cols {c0}–{c1 - 1} of {cols}" if c1 > c0 else f"{cols} cols")
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

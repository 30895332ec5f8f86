"""A scrollable grid of one tensor's values, drawn with the Line API.

Only the rows and columns in view are turned into segments, so a 784×128
weight matrix costs no more per frame than a 2×2 one. Batch rows: z has
shape (B, n_l) and shows B rows; W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from nnstep.tui.render import (
    CHANGED_DOWN,
    CHANGED_UP,
    NON_FINITE_STYLE,
    as_matrix,
    fmt,
    heat_levels,
    heat_style,
    number_width,
)

MODES = ("heat", "numbers", "blocks")
_GUTTER = Style(dim=True)
_POSITIVE = Style(color="indian_red1")
_NEGATIVE = Style(color="cornflower_blue")


@dataclass(frozen=True, eq=False)
class Grid:
    """What a TensorView draws: the values, and the values they are compared with."""

    values: np.ndarray
    reference: np.ndarray | None = None
    digits: int = 4
    mode: str = "heat"


class TensorView(ScrollView, can_focus=True):
    """Values of a tensor as a heatmap grid; cells that changed carry ▴ or ▾.

    Modes: "heat" numbers on a diverging background (blue negative, red
    positive), "numbers" plain signed numbers, "blocks" two-character colour
    cells only (to see the pattern of a large matrix). NaN/inf cells are
    magenta whatever the mode.
    """

    # No scrollbars: they would cost a row and a column of every pane, and each
    # one appearing or going forces another layout pass. The pane's title says
    # which rows and columns are in view; keys and the wheel still scroll.
    DEFAULT_CSS = """
    TensorView { height: 1fr; overflow: hidden hidden; }
    """

    grid: reactive[Grid | None] = reactive(None, layout=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._matrix = np.zeros((0, 0))
        self._levels = np.zeros((0, 0), dtype=np.int8)
        self._change = np.zeros((0, 0), dtype=np.int8)
        self._texts: np.ndarray | None = None

    @property
    def allow_vertical_scroll(self) -> bool:
        """Scroll whenever there are more rows than fit (there is no scrollbar to ask)."""
        return self.virtual_size.height > self.scrollable_content_region.height

    @property
    def allow_horizontal_scroll(self) -> bool:
        """Scroll whenever there are more columns than fit."""
        return self.virtual_size.width > self.scrollable_content_region.width

    @property
    def in_view(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """(first, stop, total) of the rows and of the columns in view."""
        region = self.scrollable_content_region
        return self._in_view(region.width, region.height)

    def _in_view(self, width: int, height: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        rows, cols = self._matrix.shape
        x, y = self.scroll_offset
        first_col = x // self.cell_width
        visible_cols = max((width - self._gutter_width) // self.cell_width, 1)
        return (y, min(rows, y + height), rows), (first_col, min(cols, first_col + visible_cols), cols)

    def expect_size(self, width: int, height: int) -> None:
        """The layout about to happen gives the content this size: report the view for it now."""
        self.view_changed(*self._in_view(max(width, 0), max(height, 0)))

    def _report_view(self) -> None:
        self.view_changed(*self.in_view)

    def view_changed(self, rows: tuple[int, int, int], columns: tuple[int, int, int]) -> None:
        """Hook: the rows and columns in view, as (first, stop, total); a pane names them in its title."""

    def watch_scroll_x(self, old_value: float, new_value: float) -> None:
        """Scrolled sideways: redraw and tell the pane."""
        super().watch_scroll_x(old_value, new_value)
        self._report_view()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolled up or down: redraw and tell the pane."""
        super().watch_scroll_y(old_value, new_value)
        self._report_view()

    def on_resize(self) -> None:
        """A new size shows other rows and columns."""
        self._report_view()

    def watch_grid(self, grid: Grid | None) -> None:
        """Precompute levels, changes and texts once per step, not per line."""
        if grid is None:
            self._matrix = np.zeros((0, 0))
        else:
            self._matrix = as_matrix(np.asarray(grid.values, dtype=np.float64))
        self._levels = heat_levels(self._matrix)
        self._change = np.zeros(self._matrix.shape, dtype=np.int8)
        if grid is not None and grid.reference is not None:
            ref = as_matrix(np.asarray(grid.reference, dtype=np.float64))
            if ref.shape == self._matrix.shape:
                with np.errstate(all="ignore"):
                    differs = ~((self._matrix == ref) | (np.isnan(self._matrix) & np.isnan(ref)))
                    self._change = np.where(differs, np.where(self._matrix >= ref, 1, -1), 0).astype(np.int8)
        self._texts = None
        rows, cols = self._matrix.shape
        self.virtual_size = Size(self._gutter_width + cols * self.cell_width, rows)
        self.refresh()
        self._report_view()

    @property
    def formatted_cells(self) -> int:
        """How many cells have been turned into text so far (only the ones scrolled into view)."""
        return 0 if self._texts is None else sum(text is not None for text in self._texts.ravel())

    @property
    def grid_mode(self) -> str:
        """The display mode of the values drawn now."""
        return self.grid.mode if self.grid else "heat"

    @property
    def cell_width(self) -> int:
        """Characters per cell: the number (right-aligned, so spaced) and the change marker."""
        if self.grid_mode == "blocks":
            return 2
        return number_width(self.grid.digits if self.grid else 4) + 1

    @property
    def _gutter_width(self) -> int:
        rows = self._matrix.shape[0]
        return len(str(rows - 1)) + 1 if rows > 1 else 0

    def _text(self, row: int, col: int) -> str:
        if self._texts is None:
            self._texts = np.empty(self._matrix.shape, dtype=object)
            self._texts.fill(None)
        text = self._texts[row, col]
        if text is None:
            text = fmt(self._matrix[row, col], self.grid.digits if self.grid else 4)
            self._texts[row, col] = text
        return str(text)

    def render_line(self, y: int) -> Strip:
        """One visible row: a fixed gutter with the row index, then the cells in view."""
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        rows, cols = self._matrix.shape
        if row >= rows or cols == 0:
            return Strip.blank(width)
        gutter = self._gutter_width
        avail = max(width - gutter, 0)
        cw = self.cell_width
        first = scroll_x // cw
        last = min(cols, (scroll_x + avail) // cw + 1)
        segments = [self._cell(row, col) for col in range(first, last)]
        strip = Strip(segments).crop(scroll_x - first * cw, scroll_x - first * cw + avail)
        if gutter:
            strip = Strip([Segment(f"{row:>{gutter - 1}} ", _GUTTER), *strip])
        return strip.extend_cell_length(width).crop(0, width)

    def _cell(self, row: int, col: int) -> Segment:
        value = self._matrix[row, col]
        change = int(self._change[row, col])
        marker = CHANGED_UP if change > 0 else CHANGED_DOWN if change < 0 else " "
        finite = bool(np.isfinite(value))
        mode = self.grid_mode
        if mode == "blocks":
            style = heat_style(int(self._levels[row, col]), bool(change)) if finite else NON_FINITE_STYLE
            return Segment(("!" if not finite else " ") + marker, style)
        text = self._text(row, col)
        body = f"{text:>{self.cell_width - 1}}{marker}"
        if not finite:
            return Segment(body, NON_FINITE_STYLE)
        if mode == "numbers":
            style = _POSITIVE if value > 0 else _NEGATIVE if value < 0 else Style()
            return Segment(body, style + Style(bold=bool(change)))
        return Segment(body, heat_style(int(self._levels[row, col]), bool(change)))

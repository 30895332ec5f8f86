"""One tensor of the current op in a bordered pane: title, values with their indices, summary, a cell cursor.

The widget keeps the state — the tensor, the window in view, the cursor, the
marks — and answers keys and the mouse. How the tensor fits the pane's size
(number format, cells, rows and columns in view) is `tensor_view`; the lines
themselves are `tensor_lines`, which formats only the block in view in one
vectorised pass, so a 784×128 matrix costs no more per frame than a 2×2 one.
Statistics (summary, heat scale, number format) come from `numbers.stats`,
cached by array identity. It scrolls by whole rows and columns.

Keys once focused (tab or a click): arrows or h j k l move the cell
cursor, Home/End to the first/last column, PageUp/PageDown by a screen;
the wheel scrolls (shift: sideways). Indices are 1-based, as in the worked
numbers (W⁽¹⁾₂₃ is row 2, column 3). Batch rows: z has shape (B, n_l) and
shows B rows; W has shape (n_l, n_{l-1}); a vector wraps.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from nnstep.tui.numbers import as_matrix, stats, summary
from nnstep.tui.shown import Tensor
from nnstep.tui.symbols import shape_text
from nnstep.tui.widgets.pane_sides import EdgedLines
from nnstep.tui.widgets.tensor_lines import Lines, Window, lines, window_stats
from nnstep.tui.widgets.tensor_view import (
    MODES,
    View,
    item_of,
    role_line,
    view_of,
    window_parts,
)
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.markup import escape
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

__all__ = ["MODES", "Tensor", "TensorPane", "item_of"]

class TensorPane(Widget, can_focus=True):
    """A bordered tensor: title `symbol  shape  (what is in view)`, bottom border `role · summary`.

    Modes: "heat" numbers on a diverging background (blue negative, orange
    positive, brighter with |value|), "numbers" plain signed numbers,
    "blocks" colour cells only. NaN/inf are magenta in every mode; ▴/▾ mark
    a change since the previous iteration's same op (for an update: since
    before it). The cursor cell is reversed; cells the selected number was
    computed from are underlined in yellow (`marks`).
    """

    ALLOW_MAXIMIZE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1, 0)", "Up", show=False),
        Binding("down,j", "move(1, 0)", "Down", show=False),
        Binding("left,h", "move(0, -1)", "Left", show=False),
        Binding("right,l", "move(0, 1)", "Right", show=False),
        Binding("home", "move(0, -1000000000)", "First column", show=False),
        Binding("end", "move(0, 1000000000)", "Last column", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
    ]
    DEFAULT_CSS = """
    TensorPane { width: 1fr; height: 1fr; }
    """

    class Selected(Message):
        """The cursor moved to a cell (row, col of the tensor; a vector's row is 0)."""

        def __init__(self, pane: TensorPane, cell: tuple[int, int]) -> None:
            super().__init__()
            self.pane = pane
            self.cell = cell

    digits: reactive[int] = reactive(4, layout=False)
    mode: reactive[str] = reactive("heat", layout=False)

    def __init__(self) -> None:
        super().__init__()
        self.tensor: Tensor | None = None
        self.summary = ""
        self.marks: np.ndarray | None = None  # bool mask over the tensor as a matrix
        self.cursor: tuple[int, int] | None = None  # (row, col) of the tensor as a matrix
        self.sample: int | None = None  # the batch row followed through the iteration (f)
        self._matrix = np.zeros((0, 0))
        self._reference: np.ndarray | None = None
        self._origin = (0, 0)  # first display row, first display column in view
        self._view: View | None = None
        self._given: tuple[int, int] = (0, 0)
        self._strips: Lines | None = None  # the lines in view, until something changes
        self._strips_base = Style()
        self._base = Style()  # the pane's style for the drawing pass under way (render_lines)
        self._edged = EdgedLines()  # the values' lines with their side borders
        self._title = ""

    # -- what to show -------------------------------------------------------------

    def show(self, tensor: Tensor | None, size: tuple[int, int] | None = None, *, restyle: bool = True) -> bool:
        """A new tensor (or none), in a pane about to be `size` (outer width, height) if given.

        Nothing is redrawn when it is the very same arrays at the same size. With `restyle`
        False a change of role (written, non-finite: the border's colour) only sets the CSS
        classes, and True is returned: the caller updates the styles of all such panes at once.
        """
        old = self.tensor
        if (old is not None and tensor is not None and old.values is tensor.values and old.reference is tensor.reference
                and old.symbol == tensor.symbol and old.kind == tensor.kind):
            self.tensor = tensor
            if size is not None and size != self._given:
                self._fit(*size)
                self.refresh()
            return False
        if size is not None:
            self._given = size
        self.tensor = tensor
        self._strips = None
        if tensor is None:
            self._matrix = np.zeros((0, 0))
            self._reference = None
            self.border_title = self.border_subtitle = ""
            self._view = None
            return False
        self._matrix = as_matrix(tensor.values)
        self._reference = _reference_of(tensor)
        if self.cursor is not None and not (self.cursor[0] < self._matrix.shape[0] and self.cursor[1] < self._matrix.shape[1]):
            self.cursor = None
        self.marks = None
        s = stats(tensor.values)
        written, non_finite = tensor.kind == "written", bool(s.nan or s.inf) or not s.finite and s.size > 0
        stale = self.has_class("written") != written or self.has_class("non-finite") != non_finite
        self.set_class(written, "written", update=restyle)
        self.set_class(non_finite, "non-finite", update=restyle)
        self._title = f"{tensor.symbol}  {shape_text(tensor.values)}"
        self._view = None
        self._fit(*self._given)
        self.refresh()
        return stale and not restyle

    def expect(self, width: int, height: int) -> None:
        """The grid is about to give the pane this outer size: fit title and view to it now (not a frame later)."""
        self._fit(width, height)

    def set_marks(self, marks: np.ndarray | None) -> None:
        """Cells to mark as the operands of the selected number (None: no marks)."""
        if marks is None and self.marks is None:
            return
        self.marks = marks
        self._strips = None
        self.refresh()

    def set_sample(self, row: int | None) -> None:
        """Highlight batch row `row` (a sample followed through forward and backward; None: none)."""
        if row is not None and not 0 <= row < self._matrix.shape[0]:
            row = None
        if row == self.sample:
            return
        self.sample = row
        if row is not None:
            self._reveal((row, self.cursor[1] if self.cursor is not None else self._origin[1]))
        self._name_window()
        self._strips = None
        self.refresh()

    def set_cursor(self, cell: tuple[int, int] | None, *, announce: bool = False) -> None:
        """Put the cell cursor on `cell` (row, col of the tensor as a matrix), scrolled into view."""
        rows, cols = self._matrix.shape
        if cell is not None:
            cell = (min(max(cell[0], 0), rows - 1), min(max(cell[1], 0), cols - 1))
            if rows == 0 or cols == 0:
                cell = None
        if cell == self.cursor:
            return
        self.cursor = cell
        if cell is not None:
            self._reveal(cell)
            if announce:
                self.post_message(self.Selected(self, cell))
        self._name_window()
        self._strips = None
        self.refresh()

    @property
    def view(self) -> View | None:
        """The format and geometry in use (None before a size or a tensor)."""
        return self._view

    # -- geometry -------------------------------------------------------------------

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        """Take a new size without asking for another layout pass.

        Textual's default sets `virtual_size`, a reactive that requests a second
        layout — and a second frame a tick later — whenever a widget changes size,
        as panes do on nearly every op. The pane does not scroll by Textual's
        means (it draws its own window of rows and columns), so its virtual size
        is only a number to store.
        """
        return super()._size_updated(size, virtual_size, container_size, layout=False)

    def on_resize(self, event: events.Resize) -> None:
        """A new size: another format and other rows and columns in view."""
        self.refit()

    def refit(self) -> None:
        """Fit the format and view to the size the pane has now (after a zoom, say)."""
        size = (self.outer_size.width, self.outer_size.height)
        if size != self._given:
            self._fit(*size)
            self.refresh()

    def watch_digits(self) -> None:
        """Another precision: refit."""
        self._view = None
        self._fit(*self._given)
        self.refresh()

    def watch_mode(self) -> None:
        """Heat, numbers or blocks: refit (blocks are narrower)."""
        self._view = None
        self._fit(*self._given)
        self.refresh()

    def _fit(self, width: int, height: int) -> None:
        self._given = (width, height)
        self._strips = None
        tensor = self.tensor
        if tensor is None or width <= 2 or height <= 2:
            self._view = None
            self._name_window()
            return
        view = self._view = view_of(tensor, width, height, self.digits, self.mode)
        self._origin = _within(view, *self._origin)
        if self.cursor is not None:
            self._reveal(self.cursor)
        subtitle = self._subtitle(width)
        if subtitle != self.border_subtitle:
            self.border_subtitle = subtitle
        self._name_window()

    def _subtitle(self, width: int) -> str:
        tensor = self.tensor
        if tensor is None:
            return ""
        self.summary = summary(tensor.values)
        return role_line(tensor, width)

    def _display(self, cell: tuple[int, int]) -> tuple[int, int]:
        """Display (row, col) of a tensor cell (a vector wraps)."""
        view = self._view
        if view is None or self.tensor is None or self.tensor.values.ndim != 1 or view.lines <= 1:
            return cell
        return divmod(cell[1], view.columns)

    def _tensor_cell(self, row: int, col: int) -> tuple[int, int] | None:
        """The tensor cell at display (row, col), None past the end."""
        view = self._view
        rows, cols = self._matrix.shape
        if view is None:
            return None
        if self.tensor is not None and self.tensor.values.ndim == 1 and view.lines > 1:
            index = row * view.columns + col
            return (0, index) if index < cols else None
        return (row, col) if row < rows and col < cols else None

    def _reveal(self, cell: tuple[int, int]) -> None:
        view = self._view
        if view is None:
            return
        row, col = self._display(cell)
        first_row, first_col = self._origin
        if row < first_row:
            first_row = row
        elif row >= first_row + view.rows_in_view:
            first_row = row - view.rows_in_view + 1
        if col < first_col:
            first_col = col
        elif col >= first_col + view.columns_in_view:
            first_col = col - view.columns_in_view + 1
        self._origin = (max(first_row, 0), max(first_col, 0))

    def _name_window(self) -> None:
        """The title names the rows and columns in view when not all of them fit (there are no scrollbars)."""
        view = self._view
        parts = []
        if view is not None and self.tensor is not None:
            parts = window_parts(view, self._origin, self.tensor.values.ndim == 1, self._matrix.size, self.sample,
                                 self.digits, self._matrix.dtype.kind in "iub")
        title = self._title + (f"  ({', '.join(parts)})" if parts else "")
        title = escape(title)  # a symbol may hold a file name (the Δ view against a trace): never markup
        if title != self.border_title:
            self.border_title = title

    # -- keys and mouse -------------------------------------------------------------

    def action_move(self, rows: int, cols: int) -> None:
        """Move the cell cursor (placed on the first cell in view if there is none)."""
        view = self._view
        if view is None:
            return
        if self.cursor is None:  # the first press shows the cursor on the first cell in view; Home/End go on
            self.cursor = self._tensor_cell(*self._origin) or (0, 0)
            if abs(rows) + abs(cols) == 1:
                self.cursor = None
                self.set_cursor(self._tensor_cell(*self._origin) or (0, 0), announce=True)
                return
        row, col = self._display(self.cursor)
        if abs(cols) >= 1000000000:
            col = 0 if cols < 0 else view.columns - 1
        else:
            col = min(max(col + cols, 0), view.columns - 1)
        row = min(max(row + rows, 0), view.lines - 1)
        cell = self._tensor_cell(row, col)
        if cell is None:  # past the end of a wrapped vector's last line
            cell = (0, self._matrix.shape[1] - 1)
        self.set_cursor(cell, announce=True)

    def action_page(self, direction: int) -> None:
        """Move the cursor a screen of rows up or down."""
        view = self._view
        if view is not None:
            self.action_move(direction * max(view.rows_in_view - 1, 1), 0)

    def on_click(self, event: events.Click) -> None:
        """Put the cursor on the clicked cell."""
        view = self._view
        offset = event.get_content_offset(self)
        if view is None or offset is None:
            return
        row = self._origin[0] + offset.y - view.header
        col = self._origin[1] + (offset.x - view.gutter) // max(view.cell, 1)
        if row < self._origin[0] or offset.x < view.gutter:
            return
        cell = self._tensor_cell(row, col)
        if cell is not None:
            self.focus()
            self.set_cursor(cell, announce=True)

    def _shift(self, rows: int, cols: int) -> None:
        view = self._view
        if view is None:
            return
        origin = _within(view, self._origin[0] + rows, self._origin[1] + cols)
        if origin != self._origin:
            self._origin = origin
            self._name_window()
            self._strips = None
            self.refresh()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """Wheel: a row down (shift: a column right)."""
        self._shift(0, 1) if event.shift else self._shift(1, 0)
        event.stop()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """Wheel: a row up (shift: a column left)."""
        self._shift(0, -1) if event.shift else self._shift(-1, 0)
        event.stop()

    # -- drawing --------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        """The lines Textual asks for: the values' lines kept with their side borders (`EdgedLines`).

        `rich_style` (it walks every ancestor's styles) is read once a pass, not once a line.
        """
        self._base = self.rich_style
        return self._edged.render(self, crop, super().render_lines, self._content)

    def render_line(self, y: int) -> Strip:
        """Line y of the content: the header of column indices, then rows of values with their row index."""
        lines = self._content()
        return Strip(lines.line(y), lines.width)

    def _content(self) -> Lines:
        """The content lines now, made again when the size, the background or what is shown changed."""
        if (self.outer_size.width, self.outer_size.height) != self._given:  # zoomed without a Resize event
            self._fit(self.outer_size.width, self.outer_size.height)
        base = self._base
        strips = self._strips
        if strips is None or base != self._strips_base:  # focus changes the pane's background
            strips = self._strips = self._window(base)
            self._strips_base = base
        return strips

    def _window(self, base: Style) -> Lines:
        """Every line in view (kept by `tensor_lines` while the same arrays are shown the same way)."""
        view, tensor = self._view, self.tensor
        if view is None or tensor is None:
            return Lines([], max(self.size.width, 0), base)
        return lines(self._window_of(tensor, self._matrix, self._reference, view, self._origin, self.size.width,
                                     self.size.height, base, self.marks, self.cursor, self.sample))

    def predict(self, tensor: Tensor, size: tuple[int, int]) -> Window | None:
        """The window this pane would draw were it shown `tensor` at outer `size` now, for drawing it
        ahead (TensorGrid.prepare); None when a cursor or a followed sample would decide it."""
        width, height = size
        if self.cursor is not None or self.sample is not None or width <= 2 or height <= 2:
            return None
        view = view_of(tensor, width, height, self.digits, self.mode)
        # No padding (else the pane draws by Textual's general path): the content is the size less the border.
        return self._window_of(tensor, as_matrix(tensor.values), _reference_of(tensor), view, _within(view, *self._origin),
                               width - 2, height - 2, self.rich_style, None, None, None)

    def _window_of(self, tensor: Tensor, matrix: np.ndarray, reference: np.ndarray | None, view: View,
                   origin: tuple[int, int], width: int, height: int, base: Style, marks: np.ndarray | None,
                   cursor: tuple[int, int] | None, sample: int | None) -> Window:
        scale, finite = window_stats(tensor.values)
        # Segments carry the pane's own colours underneath theirs: a Line-API widget draws its
        # background itself, and without it the cells showed the terminal's, not the theme's.
        return Window(
            matrix, reference, marks, tensor.values.ndim == 1 and view.lines > 1, view.form, view.cell, view.gutter,
            view.header, view.lines, view.columns, view.rows_in_view, view.columns_in_view, origin, self.mode, width,
            height, base, cursor, sample, scale, finite,
        )


def _reference_of(tensor: Tensor) -> np.ndarray | None:
    """What the ▴/▾ marks compare `tensor` with, as a matrix (None: nothing of its shape)."""
    reference = tensor.reference
    return as_matrix(reference) if reference is not None and reference.shape == tensor.values.shape else None


def _within(view: View, first_row: int, first_col: int) -> tuple[int, int]:
    """The first display row and column in view, kept where the view can scroll to."""
    return (min(max(first_row, 0), max(view.lines - view.rows_in_view, 0)),
            min(max(first_col, 0), max(view.columns - view.columns_in_view, 0)))

"""The lines a tensor pane draws: the cells in view as styled segments, made in one pass and kept.

Separate from the widget (tensor_pane.py), which owns the geometry, the cursor
and the keys: this module only turns a `Window` — which values, in which
format, which of them marked — into text. The visible block is formatted,
levelled and compared with its reference in one vectorised pass, and the
pane's own colours are folded into each cell's style as it is made (no second
pass over the segments). Lines are lists of segments, not Strips: the pane
puts its side borders around them and makes one Strip a line of that
(pane_sides.py). The result is kept per Window (`lines`): a tensor
shown again at the same place and size — the next op reading what this one
wrote, a step back — costs a dictionary look-up, not a redraw.
Batch rows: z has shape (B, n_l) and shows B rows; a vector wraps.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from nnstep.tui.colours import CHANGED_DOWN, CHANGED_UP, NON_FINITE_STYLE, heat_style
from nnstep.tui.numbers import NumberFormat, stats
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import ANSIToTruecolor, DimFilter, LineFilter, Monochrome, NoColor
from textual.strip import Strip

_GUTTER = Style(dim=True)
_INDEX = Style(dim=True, italic=True)
_INDEX_CURSOR = Style(reverse=True, bold=True)
_INDEX_MARKED = Style(bold=True, underline=True)
_POSITIVE = Style(color="dark_orange")
_NEGATIVE = Style(color="dodger_blue1")
_CURSOR = Style(reverse=True, bold=True)
_MARKED = Style(underline=True, bold=True)
_SAMPLE_INDEX = Style(color="black", bgcolor="yellow", bold=True)
_SAMPLE_CELL = Style(bold=True, italic=True)
_HEAT = {level: heat_style(level) for level in range(-8, 9)}
_PLAIN = Style()
_BOLD = Style(bold=True)
KEPT = 48  # windows whose lines are kept (a few ops' panes, forward and back)


@dataclass(frozen=True, slots=True, eq=False)
class Window:
    """Everything the lines of a pane depend on: the arrays, the block in view and how it looks.

    `origin` is the first display row and column in view; a wrapped vector's
    display row r holds values r·columns … r·columns + columns − 1.
    `cursor` and `sample` are in display rows and tensor cells as the pane
    keeps them; `marks` is a bool mask over the tensor as a matrix.
    """

    values: np.ndarray  # the tensor as a matrix (a vector is one row)
    reference: np.ndarray | None  # the same shape, for ▴/▾; None: no change marks
    marks: np.ndarray | None
    vector: bool  # a wrapped vector (more than one display line)
    form: NumberFormat
    cell: int
    gutter: int
    header: int
    lines: int
    columns: int
    rows_in_view: int
    columns_in_view: int
    origin: tuple[int, int]
    mode: str
    width: int
    height: int
    base: Style  # the pane's own colours, under every cell's
    cursor: tuple[int, int] | None
    sample: int | None
    scale: float  # the whole tensor's largest finite |value|: the heat scale
    finite: bool  # no NaN or inf anywhere in the tensor

    def key(self) -> tuple[object, ...]:
        """What identifies the lines, arrays by identity (they are immutable and shared)."""
        return (id(self.values), id(self.reference), id(self.marks), self.vector, self.form, self.cell, self.gutter,
                self.header, self.lines, self.columns, self.rows_in_view, self.columns_in_view, self.origin, self.mode,
                self.width, self.height, self.base, self.cursor, self.sample, self.scale, self.finite)


Line = list[Segment]  # one content line, exactly the window's width in cells


# Textual's line filters that work segment by segment: a line's segments may go through them in parts.
PER_SEGMENT = (ANSIToTruecolor, DimFilter, Monochrome, NoColor)


@dataclass(frozen=True, slots=True, eq=False)
class Lines:
    """A pane's content lines: `rows[y]` is line y (header first), each `width` cells; below them, blanks."""

    rows: list[Line]
    width: int
    base: Style  # the blank lines' style
    _filtered: dict[tuple[object, ...], list[Line]] = field(default_factory=dict)

    def line(self, y: int) -> Line:
        """Line y, or a blank one below the last."""
        return self.rows[y] if y < len(self.rows) else [Segment(" " * self.width, self.base)]

    def filtered(self, filters: tuple[LineFilter, ...], background: Color) -> list[Line]:
        """Every line through `filters` (PER_SEGMENT ones), as the screen shows it; kept per filters and background."""
        key = (filters, background)
        made = self._filtered.get(key)
        if made is None:
            made = []
            for row in self.rows:
                for line_filter in filters:
                    row = line_filter.apply(row, background)
                made.append(row)
            self._filtered[key] = made
        return made

    def text(self, y: int) -> str:
        """Line y as plain text."""
        return "".join(segment.text for segment in self.line(y))


_KEPT: OrderedDict[tuple[object, ...], tuple[Window, Lines]] = OrderedDict()


def lines(window: Window) -> Lines:
    """The pane's content lines for `window`: made once, then kept while the same arrays are shown so."""
    key = window.key()
    kept = _KEPT.get(key)
    if (kept is not None and kept[0].values is window.values and kept[0].reference is window.reference
            and kept[0].marks is window.marks):
        _KEPT.move_to_end(key)
        return kept[1]
    made = Lines(_draw(window), max(window.width, 0), window.base)
    _KEPT[key] = (window, made)  # the window holds its arrays: an id is not reused while kept
    if len(_KEPT) > KEPT:
        _KEPT.popitem(last=False)
    return made


def _display(window: Window, cell: tuple[int, int]) -> tuple[int, int]:
    """Display (row, col) of a tensor cell (a vector wraps)."""
    return divmod(cell[1], window.columns) if window.vector else cell


def _draw(window: Window) -> list[Line]:
    """Every line in view: the visible block formatted, levelled and compared in one pass."""
    width, base = window.width, window.base
    if width <= 0:
        return []
    first_row, first_col = window.origin
    last_row = min(window.lines, first_row + window.rows_in_view)
    last_col = min(window.columns, first_col + window.columns_in_view)
    matrix, reference = window.values, window.reference
    # Per display row: its tensor cells' (row, col) as flat indices into the block, its label.
    if window.vector:
        flat = matrix[0]
        spans = [(r * window.columns + first_col, min(r * window.columns + last_col, flat.size))
                 for r in range(first_row, last_row)]
        block = np.concatenate([flat[a:b] for a, b in spans]) if spans else flat[:0]
        compared = (np.concatenate([reference[0, a:b] for a, b in spans]) if spans else None) if reference is not None else None
        rows = [(0, [(0, c) for c in range(a, b)], r * window.columns + 1) for r, (a, b) in zip(range(first_row, last_row), spans)]
        counts = [b - a for a, b in spans]
    else:
        block = matrix[first_row:last_row, first_col:last_col].ravel()
        compared = None if reference is None else reference[first_row:last_row, first_col:last_col].ravel()
        n = max(last_col - first_col, 0)
        rows = [(r, [(r, c) for c in range(first_col, last_col)], r + 1) for r in range(first_row, last_row)]
        counts = [n] * len(rows)
    segments_per_row = _cells(window, block, compared, [cells for _, cells, _ in rows], counts)
    made: list[Line] = [_header(window)] if window.header else []
    cursor_row = _display(window, window.cursor)[0] if window.cursor is not None else -1
    marks = window.marks
    spaced = window.mode == "blocks"  # the gutter ends in its own blank (elsewhere the first cell's blank follows)
    for display, ((_, _, label), cells_shown) in enumerate(zip(rows, segments_per_row), start=first_row):
        segments = []
        sample = display == window.sample and not window.vector
        if window.gutter:
            marked_row = marks is not None and not window.vector and bool(marks[display].any())
            style = _INDEX_CURSOR if display == cursor_row else _INDEX_MARKED if marked_row else _GUTTER
            if sample:
                style = _SAMPLE_INDEX
            segments.append(Segment(f"{label:>{window.gutter - spaced}}", base + style))
            if spaced:
                segments.append(Segment(" ", base))
        if sample:  # the followed sample's row, in every mode
            cells_shown = [Segment(segment.text, (segment.style or base) + _SAMPLE_CELL) for segment in cells_shown]
        segments.extend(cells_shown)
        made.append(_exact(segments, width, base))
    return made


def _header(window: Window) -> Line:
    base = window.base
    segments = [Segment(" " * window.gutter, base)] if window.gutter else []
    number = window.cell - 1
    cursor_col = _display(window, window.cursor)[1] if window.cursor is not None else -1
    marks = window.marks
    marked = np.asarray(marks.any(axis=0)) if marks is not None and not window.vector else None
    first = window.origin[1]
    for col in range(first, min(window.columns, first + window.columns_in_view)):
        # A wrapped vector's columns are offsets from the row's first index; one value per line needs none.
        label = ("" if window.columns == 1 else f"+{col}") if window.vector else str(col + 1)
        style = _INDEX_CURSOR if col == cursor_col else _INDEX_MARKED if marked is not None and marked[col] else _INDEX
        segments.append(Segment(f"{label:>{number}}", base + style))
        segments.append(Segment(" ", base))
    return _exact(segments, window.width, base)


def _cells(window: Window, values: np.ndarray, reference: np.ndarray | None,
           cells: list[list[tuple[int, int]]], counts: list[int]) -> list[list[Segment]]:
    """The cells of every line, styled per cell over the pane's colours (plain heat lines in one comprehension).

    A cell is a blank (arrange.GAP: none in blocks mode or for a scalar), the number and its mark, so
    that a mark never touches the next cell's number.
    """
    mode, base = window.mode, window.base
    listed = values.tolist()
    texts = window.form.write(listed) if mode != "blocks" else [" "] * len(listed)
    gap = " " if mode != "blocks" and window.values.size > 1 else ""
    slot = window.cell - len(gap) - 1  # the number's columns: a column index wider than the numbers widens them
    if slot > window.form.width and mode != "blocks":
        texts = [text.rjust(slot) for text in texts]
    scale = window.scale
    with np.errstate(all="ignore"):
        if scale and mode != "numbers":
            levels = np.rint(np.where(np.isfinite(values), values, 0.0) * (8 / scale)).astype(int).tolist()
        else:
            levels = [0] * len(listed)
        changes = None
        if reference is not None:
            same = (values == reference) | (np.isnan(values) & np.isnan(reference))
            if not same.all():
                changes = np.where(same, 0, np.where(values >= reference, 1, -1)).tolist()
    cursor, marks = window.cursor, window.marks
    out: list[list[Segment]] = []
    start = 0
    if changes is None and marks is None and cursor is None and window.finite and mode == "heat":
        heat = {level: base + style for level, style in _HEAT.items()}
        for count in counts:
            out.append([Segment(gap + text + " ", heat[level])
                        for text, level in zip(texts[start:start + count], levels[start:start + count])])
            start += count
        return out
    for row_cells, count in zip(cells, counts):
        line = []
        for k in range(start, start + count):
            text, value, level = texts[k], listed[k], levels[k]
            change = changes[k] if changes is not None else 0
            marker = CHANGED_UP if change > 0 else CHANGED_DOWN if change < 0 else " "
            if value - value != 0:  # NaN or ±inf
                style = NON_FINITE_STYLE
                text = text if mode != "blocks" else "!"
            elif mode == "numbers":
                style = _POSITIVE if value > 0 else _NEGATIVE if value < 0 else _PLAIN
                if change:
                    style = style + _BOLD
            else:
                style = heat_style(level, bool(change))
            if marks is not None or cursor is not None:
                cell = row_cells[k - start]
                plain = style
                if marks is not None and marks[cell]:  # an operand of the selected number: underlined, with a •
                    style = style + _MARKED
                    marker = "•"
                if cell == cursor:
                    style = style + _CURSOR
                if gap and style is not plain:  # underline and cursor cover the number and its mark only
                    line.append(Segment(gap, base + plain))
                    line.append(Segment(text + marker, base + style))
                    continue
            line.append(Segment(gap + text + marker, base + style))
        out.append(line)
        start += count
    return out


def _exact(segments: list[Segment], width: int, base: Style) -> Line:
    """Segments as a line of exactly `width` cells (cells are never cut: the view fits whole ones)."""
    used = sum(len(segment.text) for segment in segments)
    if used < width:
        segments.append(Segment(" " * (width - used), base))
    elif used > width:
        return list(Strip(segments).crop(0, width))
    return segments


def window_stats(values: np.ndarray) -> tuple[float, bool]:
    """The heat scale and whether every value is finite, from the tensor's cached statistics."""
    s = stats(values)
    return s.max_abs, not (s.nan or s.inf)

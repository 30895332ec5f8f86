"""How a tensor pane fits its tensor to its size: the number format, the cells, the rows and columns in view.

Pure arithmetic on a tensor's shape and statistics (no widget): TensorGrid
asks `item_of` what each tensor needs before it lays the panes out, and each
TensorPane asks `view_of` how to show its tensor in the size it was given —
all columns with the most significant digits that fit (`arrange.place`),
never a cut number. The words around the values (the window named in the
title, the role and summary in the bottom border) are worked out here too.
Batch rows: z has shape (B, n_l) and shows B rows; W has shape
(n_l, n_{l-1}); a vector wraps.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from nnstep.tui.numbers import NumberFormat, as_matrix, number_format, stats, summary
from nnstep.tui.shown import Tensor
from nnstep.tui.symbols import shape_text
from nnstep.tui.widgets.arrange import (
    MIN_SIGNIFICANT,
    Item,
    Place,
    cell_width,
    gutter,
    header,
    place,
)
from rich.cells import cell_len

MODES = ("heat", "numbers", "blocks")
SCALAR_SIGNIFICANT = 9  # digits of a scalar such as the loss
ROLES = {"read": "read", "written": "written", "start": "initial"}  # the bottom border says which
_ITEMS: OrderedDict[tuple[object, ...], tuple[weakref.ref[np.ndarray], Item]] = OrderedDict()
_ITEMS_KEPT = 256


def item_of(tensor: Tensor, significant: int, mode: str) -> Item:
    """What the layout needs of `tensor`: its shape as shown and its number widths up to `significant` digits.

    Kept by array identity (with the symbol, role and settings): the grid and each pane ask on every op.
    """
    values = tensor.values
    key = (id(values), tensor.symbol, tensor.kind, significant, mode)
    kept = _ITEMS.get(key)
    if kept is not None and kept[0]() is values:
        return kept[1]
    item = _item(tensor, significant, mode)
    try:
        _ITEMS[key] = (weakref.ref(values), item)
    except TypeError:  # not weak-referenceable: not kept
        return item
    if len(_ITEMS) > _ITEMS_KEPT:
        _ITEMS.popitem(last=False)
    return item


def _item(tensor: Tensor, significant: int, mode: str) -> Item:
    values = tensor.values
    rows, cols = as_matrix(values).shape
    s = stats(values)
    if values.size == 1:  # a scalar (the loss) is worth its full precision: it has a pane to itself
        significant = max(significant, SCALAR_SIGNIFICANT)
    widths = tuple((d, number_format(s, d).width) for d in range(MIN_SIGNIFICANT, max(significant, MIN_SIGNIFICANT) + 1))
    title = cell_len(f"{tensor.symbol}  {shape_text(values)}")
    # The NaN/inf count in the bottom border must never be cut: the pane is at least that wide.
    must = cell_len(f"{ROLES.get(tensor.kind, tensor.kind)} · ⚠ {s.nan} NaN {s.inf} inf") + 6 if s.nan or s.inf else 0
    return Item(rows, cols, values.ndim == 1 and values.size > 1, tensor.kind == "written", widths, title,
                2 if mode == "blocks" else 0, must)


@dataclass(frozen=True, slots=True)
class View:
    """How the pane shows its tensor at its size: format, cells, and how many rows and columns fit."""

    place: Place
    form: NumberFormat
    cell: int
    gutter: int
    header: int
    lines: int  # display rows in all
    columns: int  # display columns in all (a vector's values per line)
    rows_in_view: int
    columns_in_view: int


def view_of(tensor: Tensor, width: int, height: int, digits: int, mode: str) -> View:
    """The format and geometry of `tensor` in a pane of outer size `width` × `height` (border included)."""
    item = item_of(tensor, digits, mode)
    where = place(item, width)
    if item.scalar:
        where = Place(where.width, where.height, item.most, 1, 1)
    form = number_format(stats(tensor.values), where.significant)
    if item.cell:
        form = NumberFormat(0, False, 1)
    per_line = where.per_line
    if item.vector or item.scalar:
        columns = per_line if where.lines > 1 else item.cols
        cell = cell_width(item, form.width, per_line if where.lines > 1 else None)
        gap = gutter(item) if where.lines > 1 else 0
    else:
        columns = item.cols
        cell = cell_width(item, form.width)
        gap = gutter(item)
    top = header(item)
    in_rows = max(height - 2 - top, 0)
    in_cols = max(1, min(columns, (width - 2 - gap) // max(cell, 1)))
    return View(where, form, cell, gap, top, where.lines, columns, in_rows, in_cols)


def role_line(tensor: Tensor, width: int) -> str:
    """The bottom border: the tensor's role, then as much of its summary as `width` holds."""
    role = ROLES.get(tensor.kind, tensor.kind)
    if tensor.kind == "start" and tensor.name in ("x", "y"):
        role = "first batch"
    if tensor.values.size == 1:  # its value is the pane's content
        return role
    text = summary(tensor.values, max(width - len(role) - 9, 0))
    return f"{role} · {text}" if text else role


def window_parts(view: View, origin: tuple[int, int], vector: bool, size: int, sample: int | None, digits: int,
                 whole: bool) -> list[str]:
    """What the title says of the window when not all of the tensor fits: rows, values or columns in view,
    the followed sample, the digits given up (`whole`: integer values, which have no digits to lose)."""
    parts = []
    first_row, first_col = origin
    if view.rows_in_view < view.lines:
        last = min(view.lines, first_row + view.rows_in_view)
        if vector:
            parts.append(f"values {first_row * view.columns + 1}–{min(last * view.columns, size)}")
        elif last == first_row + 1:
            parts.append(f"row {last}")
        elif last > first_row:
            parts.append(f"rows {first_row + 1}–{last}")
    if view.columns_in_view < view.columns:
        parts.append(f"cols {first_col + 1}–{first_col + view.columns_in_view} of {view.columns}")
    if sample is not None and not vector:
        parts.append(f"sample {sample + 1}")
    if view.place.significant < digits and not whole:
        parts.append(f"{view.place.significant} digits")
    return parts

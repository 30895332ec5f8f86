"""Where an op's tensor panes go: rows of panes, each pane's width, height and number format.

Pure arithmetic on shapes and number formats, no widgets; TensorGrid places
the panes where `arrange` says and each TensorPane draws within its size.

A pane is a border of 2 rows and 2 columns (title above, summary below),
a header row of 1-based column indices, a gutter of 1-based row indices
and one cell per value: a blank, the number right-aligned in the pane's
format width, then one character for the ▴/▾ change mark. The blank keeps a
mark off the next cell's number (`2.2e+152▴ 2.3e+154▴`, not
`2.2e+152▴2.3e+154▴`, which reads as one number) and separates the gutter
from the first cell; a scalar, with no neighbour, has none, and neither do
heat blocks, whose colour is the separation. A vector wraps: its lines show
`k` values each, the gutter the index of a line's first value and the header
the offsets +0…+k−1. A matrix shows whole columns only; when not all fit the
pane scrolls by whole columns.

Choosing: every way of cutting the op's tensors, in order, into rows is
tried (up to EXHAUSTIVE tensors; past that rows of equal counts and greedy
fills); in a row, matrices get the width that shows all their columns with
the most significant digits that fit (down to MIN_SIGNIFICANT), vectors
share what is left and wrap. The rows then share the height, written panes
first. The layout that shows the most of the tensors — written ones counting
WRITTEN times — wins; when not all fit, the op's written tensors are also
tried first, so that at 80×24 what the op computes stays on screen and what
it reads gives way. Results are cached: the shapes repeat every iteration.
Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, pairwise

MIN_SIGNIFICANT = 2  # never fewer significant digits of the largest |value|, to fit all columns
SCROLL_SIGNIFICANT = 3  # a pane that cannot show all its columns anyway keeps this many
ENOUGH = 3  # significant digits a written tensor should keep before a read one gets room
MIN_PANE = 16  # columns: title corner, a few cells
MIN_TITLED = 24  # a pane is at least this wide, or as wide as its title needs if less
MIN_ROLE = 17  # and wide enough for its role in the bottom border ("written", "first batch")
WRITTEN = 3.0  # a written tensor in view is worth this many read ones
EXHAUSTIVE = 8  # up to this many tensors every cut into rows is tried (2⁷ ways)
BORDER = 2
GAP = 1  # the blank before each number (none in blocks mode or for a scalar)
MARK = 1  # the ▴/▾ change mark after each number


@dataclass(frozen=True, slots=True)
class Item:
    """What the layout needs of one tensor: its shape as shown, its role, its number formats.

    `widths` pairs significant digits s = MIN_SIGNIFICANT … (the most asked for) with the width every
    number of the tensor needs at s digits (the widths alone: the layout is the same for any numbers
    of those widths, so it is cached across iterations). `cell` fixes the cell width instead
    (blocks mode: 2, no header).
    """

    rows: int
    cols: int
    vector: bool  # a 1-D tensor: wraps into lines
    written: bool
    widths: tuple[tuple[int, int], ...]
    title: int = 0
    cell: int = 0
    must: int = 0  # columns the pane needs whatever else gives way (a NaN/inf count in its border)

    @property
    def scalar(self) -> bool:
        """A single value: no header, no gutter."""
        return self.rows * self.cols == 1

    def format_at(self, significant: int) -> int:
        """The number width at `significant` digits (the nearest fewer there is)."""
        best = self.widths[0][1]
        for digits, width in self.widths:
            if digits <= significant:
                best = width
        return best

    @property
    def most(self) -> int:
        """The most significant digits asked for."""
        return self.widths[-1][0]


@dataclass(frozen=True, slots=True)
class Place:
    """One pane as laid out: its width and height, the significant digits it shows, values per line."""

    width: int
    height: int
    significant: int
    per_line: int  # a vector's values per line; a matrix's columns in view
    lines: int  # rows of values it would take to show everything


def cell_width(item: Item, form: int, per_line: int | None = None) -> int:
    """Characters per value: the blank, the number (or its column index, whichever is wider) and the mark."""
    if item.cell:
        return item.cell
    index = per_line if per_line is not None else item.cols
    header = len(f"+{index - 1}") if item.vector and per_line is not None else len(str(index))
    return (0 if item.scalar else GAP) + max(form, header) + MARK


def gutter(item: Item) -> int:
    """Columns of the row-index gutter (a wrapped vector's is its length's); the first cell's blank
    follows it, except in blocks mode, where the gutter ends in a blank of its own."""
    if item.scalar:
        return 0
    return len(str(item.cols if item.vector else item.rows)) + (1 if item.cell else 0)


def header(item: Item) -> int:
    """Rows of column indices above the values (none for a scalar or in blocks mode)."""
    return 0 if item.scalar or item.cell else 1


def natural_width(item: Item, significant: int) -> int:
    """The width showing everything on one line (a vector) or every column (a matrix)."""
    form = item.format_at(significant)
    if item.scalar:
        return BORDER + cell_width(item, form)
    if item.vector:
        return BORDER + item.cols * cell_width(item, form)
    return BORDER + gutter(item) + item.cols * cell_width(item, form)


def place(item: Item, width: int) -> Place:
    """How `item` looks in a pane `width` wide: the most digits that show all columns, values per line, lines."""
    if item.scalar:
        return Place(width, BORDER + 1, item.most, 1, 1)
    if item.vector:
        if natural_width(item, item.most) <= width:
            return Place(width, BORDER + 2, item.most, item.cols, 1)
        significant = item.most
        form = item.format_at(significant)
        room = width - BORDER - gutter(item)
        per_line = max(1, room // cell_width(item, form, item.cols))
        # The header's offsets +0…+k−1 may be narrower than the vector's length: fit k to its own offsets.
        while per_line > 1 and per_line * cell_width(item, form, per_line) > room:
            per_line -= 1
        per_line = max(1, min(per_line, item.cols))
        lines = math.ceil(item.cols / per_line)
        per_line = math.ceil(item.cols / lines)  # balanced lines: 16 values as 8 + 8, not 13 + 3
        used = BORDER + gutter(item) + per_line * cell_width(item, form, per_line)
        return Place(min(width, max(used, floor_width(item))), BORDER + header(item) + lines, significant, per_line, lines)
    for significant in range(item.most, MIN_SIGNIFICANT - 1, -1):
        if natural_width(item, significant) <= width:
            return Place(width, BORDER + header(item) + item.rows, significant, item.cols, item.rows)
    significant = min(item.most, SCROLL_SIGNIFICANT)
    room = width - BORDER - gutter(item)
    shown = max(1, min(item.cols, room // cell_width(item, item.format_at(significant))))
    return Place(width, BORDER + header(item) + item.rows, significant, shown, item.rows)


def least_height(item: Item) -> int:
    """The fewest rows a pane may have: border, header and one row of values."""
    return BORDER + header(item) + 1


def shown(item: Item, where: Place, height: int) -> float:
    """The fraction of the tensor's values a pane of `height` rows shows."""
    lines = min(where.lines, max(height - BORDER - header(item), 0))
    if item.vector or item.scalar:
        return lines / where.lines if where.lines else 1.0
    return lines / item.rows * (where.per_line / item.cols)


def floor_width(item: Item) -> int:
    """The narrowest a pane of `item` may be: its title (up to MIN_TITLED), and a matrix MIN_PANE
    (it scrolls), a vector one value a line, a scalar its number — or less when it needs less."""
    titled = max(min(item.title + 6, MIN_TITLED), item.must, MIN_ROLE)
    natural = natural_width(item, item.most)
    if item.scalar:
        return max(titled, natural)
    if item.vector:  # down to one value a line: a column vector
        return max(titled, min(natural, BORDER + gutter(item) + cell_width(item, item.format_at(item.most), 1)))
    return max(titled, min(natural, MIN_PANE))


def pack(items: list[Item], width: int) -> list[Place] | None:
    """Widths for panes sharing a row of `width` columns; None when they cannot share it.

    From each pane's floor, shared fairly in turn: written matrices, then
    written vectors, up to what shows all of them at the most digits; read
    matrices up to all their columns at MIN_SIGNIFICANT digits, then at the
    most; then vectors. Matrices that still lack room scroll sideways;
    vectors wrap.
    """
    count = len(items)
    floor = [floor_width(item) for item in items]
    want = [max(f, natural_width(item, item.most)) for f, item in zip(floor, items)]
    if count == 1:
        return [place(items[0], min(max(want[0], items[0].must), width))]
    if sum(floor) > width:
        return None
    least = [f if item.vector else max(f, natural_width(item, MIN_SIGNIFICANT)) for f, item in zip(floor, items)]
    widths = list(floor)
    matrices = [i for i in range(count) if not items[i].vector]
    vectors = [i for i in range(count) if items[i].vector]
    for group, limit in (([i for i in matrices if items[i].written], want), ([i for i in vectors if items[i].written], want),
                         (matrices, least), (matrices, want), (vectors, want)):
        _fill(widths, limit, group, width - sum(widths))
    return [place(item, w) for item, w in zip(items, widths)]


def _fill(widths: list[int], limits: list[int], open_: list[int], spare: int) -> None:
    """Share `spare` columns fairly among panes `open_`, none beyond its limit (in place)."""
    while spare > 0:
        open_ = [i for i in open_ if widths[i] < limits[i]]
        if not open_:
            return
        each = max(spare // len(open_), 1)
        for i in open_:
            grown = min(each, limits[i] - widths[i], spare)
            widths[i] += grown
            spare -= grown


def share(wants: list[int], least: list[int], first: list[bool], room: int, reserve: bool = True) -> list[int]:
    """Split `room` rows among grid rows wanting `wants` (at least `least` each).

    Rows marked `first` (they hold what the op writes) get what they want
    before the others get anything beyond their least: what the op reads
    gives way first. With `reserve`, every row's least is set aside before
    any row gets more (many rows, each partly in view); without, rows take
    what they want in order and a later one may go below the screen (few
    rows, whole). A row that does not fit keeps its least (the grid scrolls).
    """
    given = [0] * len(wants)
    spare = room
    for pass_first in (True, False):
        group = [i for i in range(len(wants)) if first[i] == pass_first]
        if reserve:
            for i in group:
                given[i] = min(wants[i], least[i])
                spare -= given[i]
        for i in group:
            extra = max(min(wants[i] - given[i], spare), 0)
            if not reserve and given[i] + extra < min(wants[i], least[i]):
                extra = min(wants[i], least[i]) - given[i]  # below the screen, with its least
            given[i] += extra
            spare -= extra
    return given


@dataclass(frozen=True, slots=True)
class _Row:
    places: tuple[Place, ...]
    want: int
    least: int
    written: bool


@dataclass(frozen=True, slots=True)
class Arrangement:
    """Rows of panes: `order[i]` is the tensor in slot i; `rows` the slot counts per row; heights per row."""

    order: tuple[int, ...]
    rows: tuple[int, ...]
    places: tuple[Place, ...]  # in slot order
    heights: tuple[int, ...]
    natural: int  # total height if every row had what it asks for
    key: tuple[float, ...]  # larger is better (see _evaluate)


_View = tuple[int, float, float, int, int, int, int, int]  # a row's panes at a height: see _row_view


def _evaluate(items: list[Item], order: tuple[int, ...], rows: tuple[int, ...], height: int,
              segment: dict[tuple[int, int], _Row], views: dict[tuple[int, int, int], _View]
              ) -> tuple[tuple[float, ...], tuple[int, ...], list[_Row]] | None:
    """The score of cutting the slots into `rows` (see _score), the heights it gives them, the rows;
    None when a row is too narrow for its panes."""
    parts: list[_Row] = []
    spans: list[tuple[int, int]] = []
    a = 0
    for count in rows:
        part = segment.get((a, a + count))
        if part is None:
            return None
        parts.append(part)
        spans.append((a, a + count))
        a += count
    wants, least, written = [p.want for p in parts], [p.least for p in parts], [p.written for p in parts]
    natural = sum(wants)
    best: tuple[tuple[float, ...], list[int]] | None = None
    for reserve in (True, False):
        heights = share(wants, least, written, height, reserve)
        if best is not None and heights == best[1]:
            break  # every row got what it wants either way (it all fits): the same score
        key = _score(items, order, rows, height, parts, spans, heights, natural, views)
        if best is None or key > best[0]:
            best = key, heights
    assert best is not None
    return best[0], tuple(best[1]), parts


def _row_view(items: list[Item], order: tuple[int, ...], span: tuple[int, int], part: _Row, in_view: int) -> _View:
    """A grid row's panes with `in_view` rows on screen: written panes present, the fraction of the
    written and of the read tensors in view, digits up to ENOUGH and in all, written then read."""
    present = 0
    seen = [0.0, 0.0]  # read, written
    enough = [0, 0]
    digits = [0, 0]
    for k, where in zip(range(*span), part.places):
        item = items[order[k]]
        fraction = shown(item, where, in_view)
        w = int(item.written)
        seen[w] += fraction
        present += item.written and fraction > 0
        digits[w] += where.significant
        enough[w] += min(where.significant, ENOUGH)
    return present, seen[1], seen[0], enough[1], enough[0], digits[1], digits[0], 0


def _score(items: list[Item], order: tuple[int, ...], rows: tuple[int, ...], height: int, parts: list[_Row],
           spans: list[tuple[int, int]], heights: list[int], natural: int, views: dict[tuple[int, int, int], _View]
           ) -> tuple[float, ...]:
    """The key `arrange` ranks arrangements by (larger is better) for these rows at these heights."""
    present = enough_written = enough_read = digits_written = digits_read = 0
    seen_written = seen_read = 0.0
    used = 0
    for span, part, given in zip(spans, parts, heights):
        in_view = max(0, min(given, height - used))  # rows of this grid row on screen before any scrolling
        key = (span[0], span[1], in_view)
        view = views.get(key)
        if view is None:  # the same row at the same height recurs in many cuts: worked out once
            view = views[key] = _row_view(items, order, span, part, in_view)
        present += view[0]
        seen_written += view[1]
        seen_read += view[2]
        enough_written += view[3]
        enough_read += view[4]
        digits_written += view[5]
        digits_read += view[6]
        used += given
    # Every tensor the op computes on screen first; then as much of them in view as can be, with at
    # least ENOUGH digits; then what it reads,
    # likewise; then more digits where it writes, then a layout that leaves rows over (for the
    # iteration log), then fewer rows, then earlier rows fuller (reading order).
    return (present, _rough(seen_written), enough_written, _rough(seen_read), enough_read, digits_written,
            -min(natural, height), -len(rows), digits_read, *rows)


def _rough(fraction: float) -> float:
    """`fraction` to two significant digits: near-equal views compare on what comes next in the key.

    Relative, not two decimals: a 64×784 tensor shows a few hundredths of itself at best, and
    rounding 0.034 and 0.029 alike put the read panes above a written one pushed half off screen.
    """
    return float(f"{fraction:.2g}")


def _cuts(items: list[Item], width: int) -> list[tuple[int, ...]]:
    """Row lengths to try for `items` in order: every cut up to EXHAUSTIVE panes; past that, rows of
    equal counts and greedy fills (as many panes as fit their natural width, within runs of one kind)."""
    count = len(items)
    if count <= EXHAUSTIVE:
        result = []
        for bars in range(count):
            for cut in combinations(range(1, count), bars):
                bounds = (0, *cut, count)
                result.append(tuple(b - a for a, b in pairwise(bounds)))
        return result
    cuts = {tuple([k] * (count // k) + ([count % k] if count % k else [])) for k in range(1, count + 1)}
    for significant in (MIN_SIGNIFICANT, SCROLL_SIGNIFICANT, max(item.most for item in items)):
        for by_kind in (False, True):
            rows: list[int] = []
            used = 0
            for k, item in enumerate(items):
                need = max(natural_width(item, significant), MIN_PANE)
                kind_changed = by_kind and k and items[k - 1].vector != item.vector
                if rows and used + need <= width and not kind_changed:
                    rows[-1] += 1
                    used += need
                else:
                    rows.append(1)
                    used = need
            cuts.add(tuple(rows))
    return sorted(cuts)


@lru_cache(maxsize=512)
def arrange(items: tuple[Item, ...], width: int, height: int) -> Arrangement:
    """The best arrangement of `items` (in op order: reads, then writes) in `width` × `height`."""
    orders = [tuple(range(len(items)))]
    best: Arrangement | None = None
    listed_items = list(items)
    for attempt in range(2):
        for order in orders:
            listed = [items[i] for i in order]
            segment: dict[tuple[int, int], _Row] = {}
            views: dict[tuple[int, int, int], _View] = {}  # per order, like segment
            for a in range(len(items)):
                for b in range(a + 1, len(items) + 1):
                    row = listed[a:b]
                    packed = pack(row, width)
                    if packed is None:
                        continue
                    places = tuple(packed)
                    segment[(a, b)] = _Row(places, max(p.height for p in places),
                                           max(least_height(item) for item in row), any(item.written for item in row))
            top: tuple[tuple[float, ...], tuple[int, ...], tuple[int, ...], list[_Row]] | None = None
            for rows in _cuts(listed, width):
                scored = _evaluate(listed_items, order, rows, height, segment, views)
                if scored is not None and (top is None or scored[0] > top[0]):
                    top = scored[0], rows, scored[1], scored[2]
            if top is not None and (best is None or top[0] > best.key):
                key, rows, heights, parts = top
                places = tuple(where for part in parts for where in part.places)
                best = Arrangement(order, rows, places, heights, sum(p.want for p in parts), key)
        assert best is not None
        if attempt or best.natural <= height or not any(item.written for item in items):
            break
        # Not everything fits: try what the op computes first, what it reads after.
        written = [i for i, item in enumerate(items) if item.written]
        orders = [tuple(written + [i for i in range(len(items)) if i not in written])]
    assert best is not None
    return best

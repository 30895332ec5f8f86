"""A bordered pane's content lines drawn between the side segments Textual's general path would add.

Textual's general path (borders, padding, tint, opacity, hatch, worked out
again for every line a pane redraws, a new Strip at each step) was two thirds
of a 784→128→10 frame at 250×70. A tensor pane has a plain border and no
padding, tint or opacity: its top and bottom lines (title, summary) still go
through that path; each line in between is its kept line of values between
the two side segments that path would put there (`EdgedLines`), made once per
window and colours. The side segments' formula is Textual's own
(`textual._styles_cache.StylesCache.render_line`, content lines with a left
and right border), so it depends on Textual internals pinned at 8.2.8;
tests/tui/test_pane_lines.py compares every line with the general path and
fails when they part. A plain container (the grid under the panes) has lines
all alike: Textual's first, for every row (`plain_lines`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nnstep.tui.widgets.tensor_lines import PER_SEGMENT, Lines
from rich.segment import Segment
from rich.style import Style as RichStyle
from textual._border import get_box
from textual.color import Color
from textual.filter import LineFilter
from textual.geometry import Region
from textual.strip import Strip
from textual.style import Style


@dataclass(frozen=True, slots=True)
class Sides:
    """The left and right border segments of a content line, and the style that pads a short line."""

    left: Segment
    right: Segment
    inner: RichStyle


def pane_sides(widget: Any) -> Sides | None:
    """The side segments of `widget`'s content lines; None when its styles need the general path.

    The general path is needed for padding, tint, opacity, text opacity, hatch, an
    outline, or a border missing on either side.
    """
    styles = widget.styles
    (_, _), (right_type, right_colour), (_, _), (left_type, left_colour) = styles.border
    if not left_type or not right_type or any(styles.padding) or widget.opacity != 1.0:
        return None
    if styles.tint.a or styles.text_opacity != 1.0 or any(kind for kind, _ in styles.outline):
        return None
    if styles.has_rule("hatch") and styles.hatch != "none":
        return None
    base_background, background = widget.background_colors
    inner = Style(background=base_background + background)
    outer = Style(background=base_background)
    left = get_box(left_type, inner, outer, Style(foreground=base_background + left_colour))[1][0]
    right = get_box(right_type, inner, outer, Style(foreground=base_background + right_colour))[1][2]
    return Sides(left, right, inner.rich_style)


def plain_lines(widget: Any, crop: Region, general: Callable[[Region], list[Strip]]) -> list[Strip]:
    """A container's lines in `crop`: with no border, padding, outline, tint, opacity or hatch they
    are all its background alike, so Textual's first line, the same Strip for every row.

    Panes cover most of a container, but the compositor still asks it for every line and cuts
    each at every pane's edges; one Strip for all rows also keeps those cuts (`Strip.divide`).
    """
    styles = widget.styles
    if (any(styles.padding) or any(kind for kind, _ in styles.border) or any(kind for kind, _ in styles.outline)
            or styles.tint.a or widget.opacity != 1.0 or (styles.has_rule("hatch") and styles.hatch != "none")):
        return general(crop)
    if not crop.height:
        return []
    return general(Region(crop.x, crop.y, crop.width, 1)) * crop.height


class EdgedLines:
    """A pane's content lines with their side segments, kept while its lines and colours are the same."""

    def __init__(self) -> None:
        self._lines: dict[int, Strip] = {}
        self._source: Lines | None = None  # the content lines they were made from (by identity)
        self._look: tuple[object, ...] | None = None  # the sides, filters and background they were made with

    def render(self, widget: Any, crop: Region, general: Callable[[Region], list[Strip]],
               content: Callable[[], Lines]) -> list[Strip]:
        """`widget`'s lines in `crop`: border lines by `general` (Textual's path), the others edged here.

        `content()` is the pane's content lines now (made if need be): other lines than last
        time, or other colours, start the kept lines again.
        """
        sides = pane_sides(widget)
        if sides is None:
            return general(crop)
        width, height = widget.outer_size
        background = widget.background_colors[1]
        filters = widget.get_line_filters()
        look = (sides, tuple(filters), background)
        source = content()
        if source is not self._source or look != self._look:
            self._lines = {}
            self._source, self._look = source, look
        # Filters that work segment by segment go over the content once per content (it may have
        # been filtered ahead, TensorGrid.prepare) and over the two sides once per look.
        split = source.width == width - 2 and all(type(f) in PER_SEGMENT for f in filters)
        if split:
            rows = source.filtered(tuple(filters), background)
            left, right = [sides.left], [sides.right]
            for line_filter in filters:
                left, right = line_filter.apply(left, background), line_filter.apply(right, background)
        strips: list[Strip] = []
        for y in crop.line_range:
            if 0 < y < height - 1:
                strip = self._lines.get(y - 1)
                if strip is None:
                    if split and y - 1 < len(rows):
                        strip = self._lines[y - 1] = Strip([*left, *rows[y - 1], *right], width)
                    else:
                        strip = self._line(y - 1, sides, width, source, filters, background)
            else:
                strip = general(Region(0, y, width, 1))[0]
            strips.append(strip)
        if crop.column_span != (0, width):
            strips = [strip.crop(*crop.column_span) for strip in strips]
        return strips

    def _line(self, y: int, sides: Sides, width: int, source: Lines, filters: Sequence[LineFilter],
              background: Color) -> Strip:
        line = source.line(y)
        if source.width != width - 2:  # a size the lines were not made for (a frame while resizing)
            line = list(Strip(line).adjust_cell_length(width - 2, sides.inner))
        # The filters (true colour for ANSI colours, dim) as Strip.apply_filter would apply them,
        # on the segments: one Strip a line, not one per step.
        segments = [sides.left, *line, sides.right]
        for line_filter in filters:
            segments = line_filter.apply(segments, background)
        edged = self._lines[y] = Strip(segments, width)
        return edged

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
fails when they part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.segment import Segment
from rich.style import Style as RichStyle
from textual._border import get_box
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


class EdgedLines:
    """A pane's content lines with their side segments, kept while its lines and colours are the same."""

    def __init__(self) -> None:
        self._lines: dict[int, Strip] = {}
        self._source: object = None  # the pane's own list of content lines they were made from (by identity)
        self._sides: Sides | None = None

    def render(self, widget: Any, crop: Region, general: Callable[[Region], list[Strip]],
               content: Callable[[int], Strip], source: Callable[[], object]) -> list[Strip]:
        """`widget`'s lines in `crop`: border lines by `general` (Textual's path), the others edged here.

        `content(y)` is content line y; `source()` the object holding the content lines now
        (None when dropped): a new one starts the kept lines again.
        """
        sides = pane_sides(widget)
        if sides is None:
            return general(crop)
        width, height = widget.outer_size
        background = widget.background_colors[1]
        filters = widget.get_line_filters()
        strips: list[Strip] = []
        for y in crop.line_range:
            if 0 < y < height - 1:
                strip = self._line(y - 1, sides, width, content, source)
                for line_filter in filters:
                    strip = strip.apply_filter(line_filter, background)
            else:
                strip = general(Region(0, y, width, 1))[0]
            strips.append(strip)
        if crop.column_span != (0, width):
            strips = [strip.crop(*crop.column_span) for strip in strips]
        return strips

    def _line(self, y: int, sides: Sides, width: int, content: Callable[[int], Strip],
              source: Callable[[], object]) -> Strip:
        if source() is None or source() is not self._source or sides != self._sides:
            self._lines = {}
        edged = self._lines.get(y)
        if edged is None:
            line = content(y)  # may make the pane's content lines again (a new source)
            if line.cell_length != width - 2:
                line = line.adjust_cell_length(width - 2, sides.inner)
            edged = Strip([sides.left, *line, sides.right], width)
            if source() is not self._source or sides != self._sides:
                self._lines = {}
                self._source, self._sides = source(), sides
            self._lines[y] = edged
        return edged

"""The side segments of a bordered pane's content lines, as Textual's general path draws them.

A tensor pane draws its lines of values itself and puts these two segments
around each (tensor_pane.py, `render_lines`), instead of sending every line
through Textual's per-line styling again. The formula is Textual's own
(`textual._styles_cache.StylesCache.render_line`, content lines with a left
and right border), so it depends on Textual internals pinned at 8.2.8;
tests/tui/test_pane_lines.py compares every line with the general path and
fails when they part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.segment import Segment
from rich.style import Style as RichStyle
from textual._border import get_box
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

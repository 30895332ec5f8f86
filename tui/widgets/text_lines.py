"""Widgets whose `render()` is a Text of whole lines, drawn into strips by the widget itself.

Textual's own path from a Text to the lines on screen (through its Content
type: markup, wrapping, alignment) cost a text pane about ten times the Text
itself, on every key. These panes draw lines that never wrap (a line too long
ends in …), so the Text's lines are turned into strips directly, under the
pane's style, and kept while the Text, the style and the width are the same.
tests/tui/test_pane_lines.py compares the result with Textual's path.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


def text_strips(text: Text, width: int, base: Style, console: Console) -> list[Strip]:
    """Each line of `text` as a strip `width` cells wide under `base` (a longer line ends in …)."""
    fill = Style(bgcolor=base.bgcolor)  # what Textual pads a short line with: the background alone
    strips = []
    for line in text.split("\n", allow_blank=True):
        if line.cell_len > width:
            line.truncate(width, overflow="ellipsis")
        if line.spans or not line.style:
            segments = Segment.apply_style(line.render(console), base)
        else:  # Rich's Text.render leaves the Text's own style to its caller when no span is set
            segments = [Segment(line.plain, base + console.get_style(line.style))]
        strips.append(Strip(segments, line.cell_len).adjust_cell_length(width, fill))
    return strips


class TextLines(Widget):
    """A Widget whose `render()` returns a Text of whole lines (CSS `text-wrap: nowrap`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lines: list[Strip] = []
        self._lines_key: tuple[object, ...] | None = None
        self._lines_base = Style()
        self._rendered: tuple[object, ...] | None = None  # style and size of the last render(); None: repaint

    def _set_dirty(self, *regions: Region) -> None:
        """A repaint was asked for (refresh, a reactive, a new size): render() at the next pass."""
        self._rendered = None
        super()._set_dirty(*regions)

    def render_lines(self, crop: Region) -> list[Strip]:
        """Draw the Text once for all the lines of this pass (and not at all when it did not change).

        render() itself runs only after a repaint was asked for, or in another style or size: the
        compositor asks every widget on screen for its lines whenever the layout changes, and the
        network pane's Text alone took 1-2 ms.
        """
        base = self.rich_style
        look = (base, self.size)
        if look != self._rendered:
            text = self.render()
            assert isinstance(text, Text)
            width = self.size.width
            key = (text.plain, tuple(text.spans), text.style, base, width)
            if key != self._lines_key:
                self._lines = text_strips(text, width, base, self.app.console)
                self._lines_key, self._lines_base = key, base
            self._rendered = look
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """Line y of the Text (blank below it)."""
        lines = self._lines
        return lines[y] if y < len(lines) else Strip.blank(self.size.width, self._lines_base)

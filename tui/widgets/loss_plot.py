"""Loss over iterations as a braille line plot, with the current value in the title.

Each character is a 2×4 grid of braille dots; with more iterations than dot
columns, each column draws the span (min to max) of the iterations it covers.
Non-finite losses are skipped and counted in the title.
"""

from __future__ import annotations

import math

import numpy as np
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from nnstep.tui.render import fmt

_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


def braille_plot(values: np.ndarray, width: int, height: int, log: bool) -> list[str]:
    """`height` lines of `width` braille characters plotting finite `values` left to right."""
    grid = [[0] * width for _ in range(height)]
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values) & ((values > 0) if log else True)
    if width <= 0 or height <= 0 or not finite.any():
        return ["".join(chr(0x2800 + c) for c in row) for row in grid]
    ys = np.log10(values, where=finite, out=np.zeros_like(values)) if log else np.where(finite, values, 0.0)
    low, high = float(ys[finite].min()), float(ys[finite].max())
    span = high - low or 1.0
    dots_x, dots_y = width * 2, height * 4
    n = len(values)
    for column in range(min(dots_x, n)):
        start = column * n // min(dots_x, n)
        stop = max(start + 1, (column + 1) * n // min(dots_x, n))
        chunk = ys[start:stop][finite[start:stop]]
        if not chunk.size:
            continue
        top = int(round((high - float(chunk.max())) / span * (dots_y - 1)))
        bottom = int(round((high - float(chunk.min())) / span * (dots_y - 1)))
        for dot_y in range(top, bottom + 1):
            grid[dot_y // 4][column // 2] |= _DOTS[column % 2][dot_y % 4]
    return ["".join(chr(0x2800 + c) for c in row) for row in grid]


class LossPlot(Widget):
    """The loss of every iteration so far; log scale once it spans two decades."""

    DEFAULT_CSS = """
    LossPlot { height: 1fr; }
    """

    losses: reactive[np.ndarray] = reactive(lambda: np.zeros(0), always_update=True)

    def watch_losses(self, losses: np.ndarray) -> None:
        """Title with the current value and iteration."""
        if not len(losses):
            self.border_title = "loss"
            return
        bad = int(np.count_nonzero(~np.isfinite(losses)))
        title = f"loss {fmt(losses[-1], 6)} · iteration {len(losses)}"
        if bad:
            title += f" · ⚠ {bad} non-finite"
        self.border_title = title

    @property
    def log_scale(self) -> bool:
        """True when the finite positive losses span more than two decades."""
        finite = self.losses[np.isfinite(self.losses) & (self.losses > 0)]
        return bool(finite.size > 1 and finite.max() / finite.min() > 100)

    def render(self) -> Text:
        """Y labels at top and bottom, braille plot to their right."""
        losses = self.losses
        height = self.size.height
        if not len(losses):
            return Text("no loss yet: the loss op is op 2L + 1 of an iteration", style="dim")
        finite = losses[np.isfinite(losses)]
        if not finite.size:
            return Text("every loss so far is NaN or inf", style="bold magenta")
        high, low = float(finite.max()), float(finite.min())
        labels = [fmt(high, 3), fmt(low, 3)]
        gutter = max(map(len, labels)) + 1
        log = self.log_scale
        lines = braille_plot(losses, max(self.size.width - gutter, 1), max(height, 1), log)
        text = Text()
        for row, line in enumerate(lines):
            label = labels[0] if row == 0 else labels[1] if row == len(lines) - 1 else ("log" if log and row == 1 else "")
            text.append(f"{label:>{gutter - 1}} ", style="dim")
            text.append(line, style="yellow")
            if row < len(lines) - 1:
                text.append("\n")
        return text

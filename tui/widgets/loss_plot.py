"""Loss over iterations as a braille line plot, with the current value in the title.

Each character is a 2×4 grid of braille dots; with more iterations than dot
columns, each column draws the span (min to max) of the iterations it covers.
Non-finite losses are skipped and counted in the title.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from nnstep.engine.schedule import Schedule
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

    def dot_y(value: float) -> int:
        return int(round((high - value) / span * (dots_y - 1)))

    def plot(column: int, top: int, bottom: int) -> None:
        for y in range(min(top, bottom), max(top, bottom) + 1):
            grid[y // 4][column // 2] |= _DOTS[column % 2][y % 4]

    if n <= dots_x:
        # Few iterations: spread them over the width and join neighbours with a line.
        previous: tuple[int, int] | None = None
        for i in range(n):
            if not finite[i]:
                previous = None
                continue
            column = int(round(i * (dots_x - 1) / max(n - 1, 1)))
            y = dot_y(float(ys[i]))
            if previous is not None:
                last = previous[1]
                for c in range(previous[0] + 1, column + 1):
                    t = (c - previous[0]) / (column - previous[0])
                    mid = int(round(previous[1] + (y - previous[1]) * t))
                    plot(c, last, mid)  # a vertical run keeps steep segments unbroken
                    last = mid
            plot(column, y, y)
            previous = (column, y)
        return ["".join(chr(0x2800 + c) for c in row) for row in grid]
    for column in range(dots_x):
        start = column * n // dots_x
        stop = max(start + 1, (column + 1) * n // dots_x)
        chunk = ys[start:stop][finite[start:stop]]
        if chunk.size:
            plot(column, dot_y(float(chunk.max())), dot_y(float(chunk.min())))
    return ["".join(chr(0x2800 + c) for c in row) for row in grid]


class LossPlot(Widget):
    """The loss of every iteration so far; log scale once it spans two decades."""

    DEFAULT_CSS = """
    LossPlot { height: 1fr; }
    """

    losses: reactive[np.ndarray] = reactive(lambda: np.zeros(0), always_update=True)

    def __init__(self, schedule: Schedule, **kwargs: object) -> None:
        """`schedule`: the config's, which says where in an iteration the loss op is."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.schedule = schedule

    def watch_losses(self, losses: np.ndarray) -> None:
        """Title with the current value and iteration."""
        if not len(losses):
            self.border_title = "loss"
            return
        bad = int(np.count_nonzero(~np.isfinite(losses)))
        warning = f" · ⚠ {bad} NaN/inf" if bad else ""  # before the iteration: a narrow pane cuts the end
        self.border_title = f"loss {fmt(losses[-1], 6)}{warning} · iteration {len(losses)}"

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
            schedule = self.schedule
            # "op 6 of 12", not an offset: a reader counts ops from 1.
            return Text(f"no loss yet: the loss op is op {schedule.loss_offset + 1} of {len(schedule)} in an iteration",
                        style="dim")
        finite = losses[np.isfinite(losses)]
        if not finite.size:
            return Text("every loss so far is NaN or inf", style="bold magenta")
        if len(losses) == 1:
            return Text.assemble(("one loss so far: ", "dim"), (fmt(losses[0], 9), "bold yellow"),
                                 ("\nthe curve starts with the next iteration (i, r or c)", "dim"))
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

"""Loss over iterations as a braille line plot with axes, and where in it the current op is.

Each character is a 2×4 grid of braille dots. With more iterations than
dot columns, each column draws the span (min to max) of the iterations it
covers, dim, and their mean over it, bright: a smoothed line over the
per-batch points. The plot keeps every loss computed so far: after going
back in time the curve stays, the iterations past the current one dimmed,
and a marker stands at the current iteration. Axes: loss on the left (top,
middle and bottom values; "log" when the scale is), iteration below.
Non-finite losses are skipped and counted in the title.
"""

from __future__ import annotations

import math

import numpy as np
from nnstep.engine.schedule import Schedule
from nnstep.tui.numbers import fmt
from nnstep.tui.widgets.text_lines import TextLines
from rich.text import Text
from textual.reactive import reactive

_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_SPAN, _MEAN, _PAST, _NOW = "yellow dim", "bold yellow", "grey42", "bold reverse yellow"


def braille_plot(values: np.ndarray, width: int, height: int, log: bool) -> list[str]:
    """`height` lines of `width` braille characters plotting finite `values` left to right."""
    spans, means, _ = braille_layers(values, width, height, log)
    return ["".join(chr(0x2800 + (s | m)) for s, m in zip(row_s, row_m)) for row_s, row_m in zip(spans, means)]


def braille_layers(values: np.ndarray, width: int, height: int, log: bool) -> tuple[list[list[int]], list[list[int]], list[int]]:
    """Dot bits per character of the spans and of the line (mean per column), and each character column's
    first iteration (0-based) — for colouring the iterations past the current one."""
    spans = [[0] * width for _ in range(height)]
    means = [[0] * width for _ in range(height)]
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    firsts = [min(n - 1, int(c * n / max(width, 1))) for c in range(width)] if n else [0] * width
    with np.errstate(all="ignore"):
        finite = np.isfinite(values) & ((values > 0) if log else True)
    if width <= 0 or height <= 0 or not finite.any():
        return spans, means, firsts
    with np.errstate(all="ignore"):
        ys = np.log10(values, where=finite, out=np.zeros_like(values)) if log else np.where(finite, values, 0.0)
    low, high = float(ys[finite].min()), float(ys[finite].max())
    span = high - low or 1.0
    dots_x, dots_y = width * 2, height * 4

    def dot_y(value: float) -> int:
        return round((high - value) / span * (dots_y - 1))

    def plot(grid: list[list[int]], column: int, top: int, bottom: int) -> None:
        for y in range(min(top, bottom), max(top, bottom) + 1):
            grid[y // 4][column // 2] |= _DOTS[column % 2][y % 4]

    if n <= dots_x:
        # Few iterations: spread them over the width and join neighbours with a line.
        previous: tuple[int, int] | None = None
        for c in range(width):
            firsts[c] = min(n - 1, round(2 * c * max(n - 1, 1) / max(dots_x - 1, 1)))
        for i in range(n):
            if not finite[i]:
                previous = None
                continue
            column = round(i * (dots_x - 1) / max(n - 1, 1))
            y = dot_y(float(ys[i]))
            if previous is not None:
                last = previous[1]
                for c in range(previous[0] + 1, column + 1):
                    t = (c - previous[0]) / (column - previous[0])
                    mid = round(previous[1] + (y - previous[1]) * t)
                    plot(means, c, last, mid)  # a vertical run keeps steep segments unbroken
                    last = mid
            plot(means, column, y, y)
            previous = (column, y)
        return spans, means, firsts
    previous_mean: int | None = None
    for column in range(dots_x):
        start = column * n // dots_x
        stop = max(start + 1, (column + 1) * n // dots_x)
        chunk = ys[start:stop][finite[start:stop]]
        if chunk.size:
            plot(spans, column, dot_y(float(chunk.max())), dot_y(float(chunk.min())))
            mean = dot_y(float(chunk.mean()))
            plot(means, column, previous_mean if previous_mean is not None else mean, mean)
            previous_mean = mean
        else:
            previous_mean = None
    return spans, means, firsts


class LossPlot(TextLines):
    """Every loss computed so far, the current iteration marked; log scale once it spans two decades."""

    DEFAULT_CSS = """
    LossPlot { height: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    # Arrays do not compare as one bool, so every assignment reaches the watcher, which redraws only
    # when the curve or the current iteration changed (on most ops of an iteration neither did).
    losses: reactive[np.ndarray] = reactive(lambda: np.zeros(0), always_update=True, repaint=False)
    current: reactive[int] = reactive(0, repaint=False)  # losses at or before the position

    def __init__(self, schedule: Schedule, **kwargs: object) -> None:
        """`schedule`: the config's, which says where in an iteration the loss op is."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.schedule = schedule
        self._shown: tuple[int, int, float] | None = None

    def show(self, losses: np.ndarray, current: int) -> None:
        """All the losses known and how many of them are at or before the position."""
        self.set_reactive(LossPlot.current, min(current, len(losses)))
        self.losses = losses  # one watcher call for both

    def watch_losses(self) -> None:
        """The curve changed (or was assigned again)."""
        self._update()

    def watch_current(self) -> None:
        """The position moved to another iteration."""
        self._update()

    def _update(self) -> None:
        losses, current = self.losses, self.current
        last = float(losses[-1]) if len(losses) else math.nan
        key = (len(losses), current, last)
        if key == self._shown:
            return
        self._shown = key
        self.refresh()
        if not current:
            self.border_title = "loss"
            return
        bad = int(np.count_nonzero(~np.isfinite(losses[:current])))
        warning = f" · ⚠ {bad} NaN/inf" if bad else ""  # before the iteration: a narrow pane cuts the end
        ahead = f" of {len(losses)}" if len(losses) > current else ""
        self.border_title = f"loss {fmt(losses[current - 1], 6)}{warning} · iteration {current}{ahead}"

    @property
    def log_scale(self) -> bool:
        """True when the finite positive losses span more than two decades."""
        with np.errstate(all="ignore"):
            finite = self.losses[np.isfinite(self.losses) & (self.losses > 0)]
        return bool(finite.size > 1 and finite.max() / finite.min() > 100)

    def render(self) -> Text:
        """Loss labels on the left, the braille plot, iteration labels below."""
        losses, current = self.losses, self.current
        width, height = self.size.width, self.size.height
        if not len(losses) or not current:
            schedule = self.schedule
            # "op 6 of 12", not an offset: a reader counts ops from 1.
            return self._wrapped(Text(f"no loss yet: the loss op is op {schedule.loss_offset + 1} of {len(schedule)}"
                                      " in an iteration", style="dim"))
        finite = losses[np.isfinite(losses)]
        if not finite.size:
            return self._wrapped(Text("every loss so far is NaN or inf", style="bold magenta"))
        if len(losses) == 1:
            return self._wrapped(Text.assemble(("one loss so far: ", "dim"), (fmt(losses[0], 9), "bold yellow"),
                                               ("\nthe curve starts with the next iteration (i, r or c)", "dim")))
        log = self.log_scale
        high, low = float(finite.max()), float(finite.min())
        axis = height >= 4  # a row of iteration numbers under the plot
        rows = max(height - axis, 1)
        middle = 10 ** ((math.log10(high) + math.log10(low)) / 2) if log and low > 0 else (high + low) / 2
        labels = {0: fmt(high, 3), rows - 1: fmt(low, 3)}
        if rows >= 5:
            labels[(rows - 1) // 2] = fmt(middle, 3)
        if log and rows >= 3:
            labels.setdefault(1, "log")
        gutter = max(map(len, labels.values())) + 1
        plot_width = max(width - gutter, 1)
        spans, means, firsts = braille_layers(losses, plot_width, rows, log)
        now = self._column(current - 1, len(losses), plot_width)
        text = Text()
        for row in range(rows):
            text.append(f"{labels.get(row, ''):>{gutter - 1}} ", style="dim")
            run: list[str] = []
            run_style = ""
            for column, (s, m) in enumerate(zip(spans[row], means[row])):
                past = firsts[column] >= current
                style = _PAST if past else _MEAN if m else _SPAN
                if column == now and (s | m):
                    style = _NOW
                if style != run_style and run:  # one span per run of a style, not one per character
                    text.append("".join(run), style=run_style)
                    run = []
                run_style = style
                run.append(chr(0x2800 + (s | m)))
            if run:
                text.append("".join(run), style=run_style)
            if row < rows - 1 or axis:
                text.append("\n")
        if axis:
            left, right = "1", str(len(losses))
            middle_label = "iteration"
            room = plot_width - len(left) - len(right)
            axis_line = left + (f"{middle_label:^{room}}" if room > len(middle_label) + 2 else " " * max(room, 0)) + right
            text.append(" " * gutter + axis_line[:plot_width], style="dim")
        return text

    def _wrapped(self, text: Text) -> Text:
        """A message in lines as wide as the pane (its lines are drawn whole, never wrapped on screen)."""
        return Text("\n").join(text.wrap(self.app.console, max(self.size.width, 1)))

    @staticmethod
    def _column(iteration: int, count: int, width: int) -> int:
        """The character column of 0-based `iteration` in a plot of `count` losses `width` characters wide."""
        dots = width * 2
        if count <= dots:
            return round(iteration * (dots - 1) / max(count - 1, 1)) // 2
        return min(width - 1, iteration * dots // count // 2)

"""The watches: each one's value at the current op and a sparkline of it over the last iterations.

One line per watch: the expression, its value now, then a sparkline of its
value at the same op of each of the last iterations (the current one at the
right end), scaled from the smallest to the largest finite value in view,
both printed after it. Values spanning more than LOG_SPAN (a gradient
growing geometrically towards an overflow) are scaled by their logarithm,
sign kept, and the range says `log`: on a linear scale every bar but the
last would be the lowest. A value the watch does not have at the op yet comes
from the previous iteration's ops and is dimmed; NaN/±inf are a magenta `!`;
points not computed yet are `·`. The screen assigns `view` (tui/watches.py
computes it); the pane never fetches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nnstep.tui.colours import NON_FINITE_STYLE
from nnstep.tui.numbers import fmt
from nnstep.tui.watches import WatchRow
from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

BARS = "▁▂▃▄▅▆▇█"
LOG_SPAN = 1e3  # largest |value| over the smallest nonzero one, past which the bars follow the logarithm


@dataclass(frozen=True)
class WatchView:
    """What the pane shows: the current op's run index (-1 before the first), the rows, whether
    every point has been computed, where the current iteration starts."""

    index: int
    rows: tuple[WatchRow, ...]
    complete: bool = True
    start: int = 0  # run index of the first op of the current op's iteration


def log_scale(finite: list[float]) -> float | None:
    """The unit of a signed log scale for these values (their smallest nonzero |value|), or None when they
    span less than LOG_SPAN and a linear scale shows them."""
    sizes = [abs(v) for v in finite if v]
    if not sizes or max(sizes) / min(sizes) <= LOG_SPAN:
        return None
    return min(sizes)


def sparkline(series: tuple[float | None, ...], width: int) -> tuple[Text, float | None, float | None]:
    """The last `width` points as bars from the smallest to the largest finite one; that min and max.

    Over more than LOG_SPAN the bars follow sign(v)·log10(1 + |v|/u), u the smallest nonzero |v|
    (monotonic, so the order of the bars is the order of the values).
    """
    shown = series[-width:] if width > 0 else ()
    finite = [v for v in shown if v is not None and math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (None, None)
    unit = log_scale(finite)

    def scaled(value: float) -> float:
        return value if unit is None else math.copysign(math.log10(1.0 + abs(value) / unit), value)

    text = Text()
    for value in shown:
        if value is None:
            text.append("·", style="dim")
        elif not math.isfinite(value):
            text.append("!", style=NON_FINITE_STYLE)
        else:
            assert low is not None and high is not None
            bottom, top = scaled(low), scaled(high)
            level = 0 if top == bottom else round((scaled(value) - bottom) / (top - bottom) * (len(BARS) - 1))
            text.append(BARS[level], style="cyan")
    return text, low, high


class WatchPane(Widget):
    """One line per watch: `norm(dW1)  0.1234  ▁▂▃▅▇  0.01…0.12` (expressions as plain text, never markup)."""

    DEFAULT_CSS = """
    WatchPane { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    view: reactive[WatchView] = reactive(lambda: WatchView(-1, ()))

    def _title(self, view: WatchView, points: int) -> None:
        """The title says which iterations the sparklines show (`points` of them), at which op."""
        rows = view.rows
        title = "watches (a adds, A removes)"
        if rows and view.index >= 0 and rows[0].series and points > 0:
            last = rows[0].first + len(rows[0].series) - 1
            first = max(last - points + 1, rows[0].first)
            span = f"iterations {first}–{last}" if last > first else f"iteration {last}"
            title = f"watches · at op {view.index + 1} · sparkline: this op of {span}"
            if not view.complete:
                title += " · computing…"
        if self.border_title != title:
            self.border_title = title

    def render(self) -> Text:
        """A line per watch that fits in the pane's height; the title says how many more there are."""
        view = self.view
        width = self.size.width or 80
        rows = view.rows
        room = max(self.size.height, 1)
        label = min(max((cell_len(r.text) for r in rows), default=0), 18)
        tail = 26  # "  min…max" after the sparkline: 2 + two numbers of up to 10 + "…"
        points = max(width - label - 14 - tail, 0)  # label, 2 spaces, a value of 10, 2 spaces
        self._title(view, points)
        lines = []
        for row in rows[:room]:
            line = Text(row.text if cell_len(row.text) <= label else row.text[:label - 1] + "…", style="bold")
            line.pad_right(label - line.cell_len)
            line.append("  ")
            if row.value is None:
                line.append(f"{'—':>10}", style="dim")
            else:
                old = row.at is not None and row.at < view.start  # the previous iteration's
                shown = fmt(row.value)
                line.append(f"{shown:>10}", style=NON_FINITE_STYLE if not math.isfinite(row.value)
                            else "dim" if old else "bold green")
            line.append("  ")
            spark, low, high = sparkline(row.series, points)
            line.append_text(spark)
            if low is not None and high is not None:
                finite = [v for v in row.series[-points:] if v is not None and math.isfinite(v)] if points else []
                scale = " log" if log_scale(finite) is not None else ""
                line.append(f"  {fmt(low)}…{fmt(high)}{scale}", style="dim")
            lines.append(line)
        more = f"+{len(rows) - room} more (A lists them)" if len(rows) > room else ""
        if self.border_subtitle != more:
            self.border_subtitle = more
        if not rows:
            return Text("no watches: a adds one, e.g. norm(dW1), max(z2), loss, dead(1)", style="dim")
        return Text("\n").join(lines)


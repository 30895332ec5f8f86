"""The gradient-check and gradient-health reports, as Rich renderables for a Report screen.

Batch rows: δ⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ and ∂L/∂W⁽ˡ⁾ shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nnstep.engine import StepRecord
from nnstep.engine.gradcheck import FINE, WRONG, LayerCheck
from nnstep.engine.health import LayerHealth, layer_health
from nnstep.engine.schedule import STAGES
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

HISTORY = 30  # iterations of history in the health report
NOT_RECORDED = "—"  # a figure a partial trace does not hold (never "nan", which would mean a NaN)
_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None]) -> str:
    """Values as bars on a log scale (norms span decades); non-finite values as ✗, missing ones (None) as ·."""
    logs = [math.log10(v) if v is not None and math.isfinite(v) and v > 0 else None for v in values]
    known = [v for v in logs if v is not None]
    low, high = (min(known), max(known)) if known else (0.0, 0.0)
    span = high - low or 1.0
    return "".join("·" if value is None else "✗" if v is None else _BARS[int((v - low) / span * (len(_BARS) - 1))]
                   for value, v in zip(values, logs))


def recorded_stages(records: Sequence[StepRecord]) -> str:
    """Which stages `records` hold, in words: "forward and loss stages"."""
    stages = [stage for stage in STAGES if any(r.stage == stage for r in records)]
    if not stages:
        return "no ops"
    words = stages[0] if len(stages) == 1 else f"{', '.join(stages[:-1])} and {stages[-1]}"
    return f"{words} stage{'s' if len(stages) > 1 else ''}"


def gradcheck_report(checks: list[LayerCheck], iteration: int, batch: int) -> RenderableType:
    """Per layer: the largest relative error of ∂L/∂W and ∂L/∂b, and PASS/WARN/FAIL."""
    table = Table()
    for column in ("layer", "dW", "db", "verdict"):
        table.add_column(column, justify="right" if column != "verdict" else "left", no_wrap=True)
    style = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red"}
    for check in checks:
        table.add_row(str(check.layer), f"{check.error_W:.2e}", f"{check.error_b:.2e}",
                      Text(check.verdict, style=style[check.verdict]))
    return Group(
        Text(f"Iteration {iteration + 1}, batch of {batch}: largest relative error of the analytic ∂L/∂W, ∂L/∂b\n"
             "against central differences (L(θ+ε) − L(θ−ε)) / 2ε in float64."),
        table,
        Text(f"PASS below {FINE:g} · FAIL above {WRONG:g} · WARN between", style="dim"),
    )


def _why_partial(history: dict[int, Sequence[StepRecord]], current: int) -> str:
    """Why iteration `current` of a trace lacks ops: the trace ends during it (an earlier iteration holds
    more ops), or some stages were left out of the whole trace (--stages)."""
    records = history[current]
    earlier = [len(r) for i, r in history.items() if i != current]
    if records and earlier and max(earlier) > len(records):
        return f"the trace ends during this iteration, after op {records[-1].index + 1}"
    if records and not earlier:
        return f"the trace ends during this iteration after op {records[-1].index + 1}, or was exported with --stages"
    return "a trace exported with --stages"


def health_report(history: dict[int, Sequence[StepRecord]], activations: tuple[str, ...]) -> RenderableType:
    """This iteration's health per layer, and ‖∂L/∂W‖ and ‖ΔW‖/‖W‖ over the iterations in `history`.

    `history` maps 0-based iterations to their records, the current one last.
    """
    per_iteration = {i: layer_health(records, activations) for i, records in sorted(history.items())}
    current = max(per_iteration)
    held = recorded_stages(history[current])
    why = _why_partial(history, current)
    if not per_iteration[current]:
        return Text(f"Iteration {current + 1} of this trace holds only its {held}: gradient health needs the "
                    f"forward, backward or update ops ({why}).", style="yellow")
    table = Table()
    for column in ("layer", "‖W‖", "‖dW‖", "‖δ‖", "‖ΔW‖/‖W‖", "dead", "saturated", "warnings"):
        # no_wrap: the dialog scrolls sideways; a squeezed column would cut its numbers to "0.0…".
        table.add_column(column, justify="left" if column == "warnings" else "right", no_wrap=True)
    missing: set[str] = set()
    for h in per_iteration[current]:
        missing.update(h.missing)

        def cell(figure: str, text: str, h: LayerHealth = h) -> str:
            return text if h.known(figure) else NOT_RECORDED

        warnings = Text(", ".join(h.notes) or "ok", style="bold red" if h.warnings else "green")
        table.add_row(f"{h.layer} {h.activation}", cell("norm_W", f"{h.norm_W:.3g}"), cell("norm_dW", f"{h.norm_dW:.3g}"),
                      cell("norm_delta", f"{h.norm_delta:.3g}"), cell("update_ratio", f"{h.update_ratio:.3g}"),
                      cell("dead", f"{h.dead}/{h.units}"), cell("saturated", f"{h.saturated:.0%}"), warnings)
    parts: list[RenderableType] = [
        Text(f"Iteration {current + 1}: norms of W, ∂L/∂W and δ per layer, the update ratio ‖ΔW‖/‖W‖ "
             "(about 1e-3 is healthy), dead ReLU units, saturated sigmoid/tanh outputs."),
        table,
    ]
    if missing:
        parts.append(Text(f"{NOT_RECORDED} not recorded: iteration {current + 1} of this trace holds only its {held} "
                          f"({why})", style="yellow"))
    if len(per_iteration) > 1:
        first = min(per_iteration)
        trend = Table(title=f"iterations {first + 1}–{current + 1} (log scale, ✗ non-finite, · not recorded)",
                      title_justify="left")
        trend.add_column("layer", min_width=5)
        for column in ("‖dW‖", "‖ΔW‖/‖W‖"):
            trend.add_column(column, no_wrap=True, min_width=len(per_iteration))
        layers: dict[int, list[LayerHealth]] = {}
        for healths in per_iteration.values():
            for h in healths:
                layers.setdefault(h.layer, []).append(h)
        for layer, series in sorted(layers.items()):
            trend.add_row(str(layer), sparkline([h.norm_dW if h.known("norm_dW") else None for h in series]),
                          sparkline([h.update_ratio if h.known("update_ratio") else None for h in series]))
        parts.append(trend)
    return Group(*parts)

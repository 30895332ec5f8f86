"""The gradient-check and gradient-health reports, as Rich renderables for a Report screen.

Batch rows: δ⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ and ∂L/∂W⁽ˡ⁾ shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nnstep.engine import StepRecord
from nnstep.engine.gradcheck import FINE, WRONG, LayerCheck
from nnstep.engine.health import LayerHealth, layer_health
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

HISTORY = 30  # iterations of history in the health report
_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """Values as bars on a log scale (norms span decades); non-finite values as ✗."""
    logs = [math.log10(v) if math.isfinite(v) and v > 0 else None for v in values]
    known = [v for v in logs if v is not None]
    if not known:
        return "✗" * len(values)
    low, high = min(known), max(known)
    span = high - low or 1.0
    return "".join("✗" if v is None else _BARS[int((v - low) / span * (len(_BARS) - 1))] for v in logs)


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


def health_report(history: dict[int, Sequence[StepRecord]], activations: tuple[str, ...]) -> RenderableType:
    """This iteration's health per layer, and ‖∂L/∂W‖ and ‖ΔW‖/‖W‖ over the iterations in `history`.

    `history` maps 0-based iterations to their records, the current one last.
    """
    per_iteration = {i: layer_health(records, activations) for i, records in sorted(history.items())}
    current = max(per_iteration)
    table = Table()
    for column in ("layer", "‖W‖", "‖dW‖", "‖δ‖", "‖ΔW‖/‖W‖", "dead", "saturated", "warnings"):
        # no_wrap: the dialog scrolls sideways; a squeezed column would cut its numbers to "0.0…".
        table.add_column(column, justify="left" if column == "warnings" else "right", no_wrap=True)
    for h in per_iteration[current]:
        warnings = Text(", ".join(h.notes) or "ok", style="bold red" if h.warnings else "green")
        table.add_row(f"{h.layer} {h.activation}", f"{h.norm_W:.3g}", f"{h.norm_dW:.3g}", f"{h.norm_delta:.3g}",
                      f"{h.update_ratio:.3g}", f"{h.dead}/{h.units}", f"{h.saturated:.0%}", warnings)
    parts: list[RenderableType] = [
        Text(f"Iteration {current + 1}: norms of W, ∂L/∂W and δ per layer, the update ratio ‖ΔW‖/‖W‖ "
             "(about 1e-3 is healthy), dead ReLU units, saturated sigmoid/tanh outputs."),
        table,
    ]
    if len(per_iteration) > 1:
        first = min(per_iteration)
        trend = Table(title=f"iterations {first + 1}–{current + 1} (log scale, ✗ non-finite)", title_justify="left")
        trend.add_column("layer", min_width=5)
        for column in ("‖dW‖", "‖ΔW‖/‖W‖"):
            trend.add_column(column, no_wrap=True, min_width=len(per_iteration))
        layers: dict[int, list[LayerHealth]] = {}
        for healths in per_iteration.values():
            for h in healths:
                layers.setdefault(h.layer, []).append(h)
        for layer, series in sorted(layers.items()):
            trend.add_row(str(layer), sparkline([h.norm_dW for h in series]), sparkline([h.update_ratio for h in series]))
        parts.append(trend)
    return Group(*parts)

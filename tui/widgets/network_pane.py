"""The network at a glance: layers as columns, and where the current op sits.

Batch rows: z⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from nnstep.engine import STAGES, StepRecord
from nnstep.engine.functions import SYMBOLS
from nnstep.tui.render import sup

_STAGE_STYLE = {"forward": "green", "loss": "yellow", "backward": "magenta", "update": "cyan"}


class NetworkPane(Widget):
    """Input, layers 1…L and the loss as columns; the current layer and stage lit.

    Below: forward ▸ loss ▸ backward ▸ update, and one mark per op of the
    iteration (● done, ◉ current, · to come).
    """

    DEFAULT_CSS = """
    NetworkPane { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    record: reactive[StepRecord | None] = reactive(None)

    def __init__(self, sizes: tuple[int, ...], activations: tuple[str, ...], loss: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.sizes = sizes
        self.activations = activations
        self.loss = loss

    @property
    def ops_per_iteration(self) -> int:
        """5L + 1 ops: linear and activation per layer, the loss, delta and grad per layer, update per layer."""
        return 5 * (len(self.sizes) - 1) + 1

    def _columns(self) -> list[tuple[str, str]]:
        columns = [(f"x ({self.sizes[0]})", "input")]
        for l, (size, act) in enumerate(zip(self.sizes[1:], self.activations), start=1):
            columns.append((f"[{l}] {size}·{SYMBOLS.get(act, act)}", f"W{sup(l)} {size}×{self.sizes[l - 1]}"))
        columns.append((f"L {self.loss.replace('_', '-')}", "loss"))
        return columns

    def render(self) -> Text:
        """Layers line, units as dots (when tall), weight shapes (when there is room), stages, op marks."""
        record = self.record
        columns = self._columns()
        lit = None
        if record is not None:
            lit = len(columns) - 1 if record.layer is None else record.layer
        backward = record is not None and record.stage in ("backward", "update")
        arrow = " ◂ " if backward else " ▸ "
        stage_style = _STAGE_STYLE[record.stage] if record else ""
        widths = [max(map(len, column)) for column in columns]
        height = self.size.height or 4
        room = height - 4 if height >= 7 else 0
        biggest = max(self.sizes)
        spaced = 2 * biggest - 1 <= room
        units = min(room, 2 * biggest - 1 if spaced else room)
        pad = (room - units) // 2
        lines = [self._row([c[0] for c in columns], widths, arrow, lambda i: "reverse bold" if i == lit else "bold")]
        lines.extend(Text("") for _ in range(pad))
        for row in range(units):
            if spaced:
                cells = [self._spaced(size, row, units) for size in (*self.sizes, 1)]
            else:
                cells = [self._unit(size, row, units) for size in (*self.sizes, 1)]
            cells[-1] = "L" if row == units // 2 else ""
            lines.append(self._row(cells, widths, "   ", lambda i: f"bold {stage_style}" if i == lit else "dim"))
        lines.extend(Text("") for _ in range(room - units - pad))
        if height >= 4:
            lines.append(self._row([c[1] for c in columns], widths, "   ", lambda i: "bold" if i == lit else "dim"))
        lines.append(self._stages(record))
        if height >= 3:
            lines.append(self._ops(record))
        return Text("\n").join(lines)

    @staticmethod
    def _row(cells: list[str], widths: list[int], gap: str, style: Callable[[int], str]) -> Text:
        line = Text(" ")
        for i, (cell, width) in enumerate(zip(cells, widths)):
            if i:
                line.append(gap, style="dim")
            line.append(f"{cell:^{width}}", style=style(i))
        return line

    @staticmethod
    def _spaced(size: int, row: int, rows: int) -> str:
        """Row `row` of `size` dots one blank line apart, centred in `rows` lines."""
        top = (rows - (2 * size - 1)) // 2
        offset = row - top
        return "●" if 0 <= offset < 2 * size - 1 and offset % 2 == 0 else ""

    @staticmethod
    def _unit(size: int, row: int, rows: int) -> str:
        """Row `row` of a column of `size` unit dots centred in `rows` lines (⋮ when they do not fit)."""
        shown = min(size, rows)
        top = (rows - shown) // 2
        if not top <= row < top + shown:
            return ""
        if size > rows and row == top + shown - 2:
            return "⋮"
        if size > rows and row == top + shown - 1:
            return f"● {size}"
        return "●"

    def _stages(self, record: StepRecord | None) -> Text:
        line = Text(" ")
        for i, stage in enumerate(STAGES):
            if i:
                line.append(" ▸ ", style="dim")
            current = record is not None and record.stage == stage
            line.append(stage, style=f"reverse bold {_STAGE_STYLE[stage]}" if current else _STAGE_STYLE[stage])
        return line

    def _ops(self, record: StepRecord | None) -> Text:
        opi = self.ops_per_iteration
        depth = len(self.sizes) - 1
        current = -1 if record is None else record.index % opi
        line = Text(" ")
        for op in range(opi):
            stage = "forward" if op < 2 * depth else "loss" if op == 2 * depth else "backward" if op < 4 * depth + 1 else "update"
            mark = "◉" if op == current else ("●" if op < current else "·")
            line.append(mark, style=("bold " if op == current else "") + _STAGE_STYLE[stage])
        line.append(f"  op {current + 1}/{opi}" if record is not None else f"  before the first op ({opi} per iteration)", style="dim")
        return line

"""The network at a glance: layers as columns, and where the current op sits.

Batch rows: z⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

from nnstep.engine import STAGES, Config, StepRecord
from nnstep.engine.functions import SYMBOLS
from nnstep.tui.render import sup

_STAGE_STYLE = {"forward": "green", "loss": "yellow", "backward": "magenta", "update": "cyan"}


class NetworkPane(Widget):
    """Input, layers 1…L and the loss as columns; the current layer and stage lit.

    Below: forward ▸ loss ▸ backward ▸ update, and one mark per op of the
    iteration as the config's schedule lays it out (● done, ◉ current, · to come).
    The bottom border names what sets this run apart: dropout per layer,
    frozen parameters, the optimizer and the L1 penalty.
    """

    DEFAULT_CSS = """
    NetworkPane { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    record: reactive[StepRecord | None] = reactive(None)

    def __init__(self, config: Config, **kwargs: object) -> None:
        """`config`: the run's config (sizes, activations, loss, schedule, dropout, frozen parameters)."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.config = config
        self.schedule = config.schedule
        self.sizes, self.activations, self.loss = config.sizes, config.activations, config.loss

    def on_mount(self) -> None:
        """Name the run's parts in the border."""
        self._name_parts()

    def on_resize(self) -> None:
        """As many of the parts as the border holds."""
        self._name_parts()

    def _name_parts(self) -> None:
        config = self.config
        parts = [f"dropout [{l}] {p:g}" for l, p in enumerate(config.dropout, start=1) if p]
        frozen = [f"{name[0]}{sup(int(name[1:]))}" for name in sorted(config.freeze, key=lambda n: (int(n[1:]), n[0]))]
        if frozen:
            parts.append(f"frozen {' '.join(frozen)}")
        parts.append(f"{config.optimizer.kind} η {config.lr:g}")
        if config.l1:
            parts.append(f"L1 λ {config.l1:g}")
        room = self.size.width - 2  # the border's corners and a space either side
        shown = ""
        for part in parts:
            if len(shown) + len(part) + 3 > room:
                break
            shown = f"{shown} · {part}" if shown else part
        self.border_subtitle = shown

    @property
    def ops_per_iteration(self) -> int:
        """Ops in one iteration, as the schedule lays them out."""
        return len(self.schedule)

    def _columns(self) -> list[tuple[str, str]]:
        columns = [(f"x ({self.sizes[0]})", "input")]
        for l, (size, act) in enumerate(zip(self.sizes[1:], self.activations), start=1):
            columns.append((f"[{l}] {size}·{SYMBOLS.get(act, act)}", f"W{sup(l)} {size}×{self.sizes[l - 1]}"))
        columns.append((f"L {self.loss.replace('_', '-')}", "loss"))
        return columns

    def get_content_width(self, container: Size, viewport: Size) -> int:
        """As wide as the layers line, the stages and the op marks: `width: auto` asks this."""
        columns = self._columns()
        layers = 1 + sum(max(map(len, column)) for column in columns) + 3 * (len(columns) - 1)
        stages = 1 + sum(map(len, STAGES)) + 3 * (len(STAGES) - 1)
        opi = self.ops_per_iteration
        ops = 1 + opi + max(len(f"  op {opi}/{opi}"), len(f"  {opi} ops per iteration"))
        return max(layers, stages, ops)

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
        schedule = self.schedule
        line = Text(" ")
        opi = len(schedule)
        current = -1 if record is None else schedule.locate(record.index)[1]
        for spec in schedule:
            op = spec.offset
            mark = "◉" if op == current else ("●" if op < current else "·")
            line.append(mark, style=("bold " if op == current else "") + _STAGE_STYLE[spec.stage])
        line.append(f"  op {current + 1}/{opi}" if record is not None else f"  {opi} ops per iteration", style="dim")
        return line

"""The network at a glance: layers as columns, and where the current op sits.

Batch rows: z⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from nnstep.engine import STAGES, Config, StepRecord
from nnstep.engine.functions import SYMBOLS
from nnstep.tui.symbols import sup
from nnstep.tui.widgets.text_lines import TextLines
from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive

_STAGE_STYLE = {"forward": "green", "loss": "yellow", "backward": "magenta", "update": "cyan"}
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))  # braille dot bits by (column, row)
MAX_EDGES = 256  # more weights than this in a W⁽ˡ⁾ would be a blur of lines


def same_arrays(old: tuple[np.ndarray, ...] | None, new: tuple[np.ndarray, ...] | None) -> bool:
    """True when both are None or hold the very same arrays, in order."""
    if old is None or new is None:
        return old is new
    return len(old) == len(new) and all(a is b for a, b in zip(old, new))


class NetworkPane(TextLines):
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
    # W⁽ˡ⁾ at the position. Assigned on every op but new only after an update: compared by identity
    # (arrays are immutable and shared), the pane redraws for new weights alone.
    weights: reactive[tuple[np.ndarray, ...] | None] = reactive(None, always_update=True, repaint=False)

    def __init__(self, config: Config, **kwargs: object) -> None:
        """`config`: the run's config (sizes, activations, loss, schedule, dropout, frozen parameters)."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.config = config
        self.schedule = config.schedule
        self.sizes, self.activations, self.loss = config.sizes, config.activations, config.loss
        self._edges_key: tuple[object, ...] = ()
        self._edges_drawn: dict[int, dict[int, tuple[str, str]]] = {}

    def watch_weights(self, old: tuple[np.ndarray, ...] | None, new: tuple[np.ndarray, ...] | None) -> None:
        """Redraw the edges when the weights are other arrays."""
        if not same_arrays(old, new):
            self.refresh()

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
        ops = 1 + opi + max(len(f"  op 99999 · {opi} of {opi}"), len(f"  {opi} ops per iteration"))
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
        grid: list[list[str]] = []
        for row in range(units):
            if spaced:
                cells = [self._spaced(size, row, units) for size in (*self.sizes, 1)]
            else:
                cells = [self._unit(size, row, units) for size in (*self.sizes, 1)]
            cells[-1] = "L" if row == units // 2 else ""
            grid.append(cells)
        edges: dict[int, dict[int, tuple[str, str]]] = {}
        if spaced and self.weights is not None:
            key = (tuple(id(W) for W in self.weights), tuple(widths), units)
            if self._edges_key != key:  # the lines change only when the weights do (once an iteration)
                self._edges_key, self._edges_drawn = key, self._edges(grid, widths)
            edges = self._edges_drawn
        for row, cells in enumerate(grid):
            line = self._row(cells, widths, "   ", lambda i: f"bold {stage_style}" if i == lit else "dim")
            drawn = edges.get(row)
            if drawn:
                plain = list(line.plain)
                for x, (char, style) in drawn.items():
                    if x < len(plain) and plain[x] == " ":
                        plain[x] = char
                        line.stylize(style, x, x + 1)
                line = Text("".join(plain), spans=line.spans)
            lines.append(line)
        lines.extend(Text("") for _ in range(room - units - pad))
        if height >= 4:
            lines.append(self._row([c[1] for c in columns], widths, "   ", lambda i: "bold" if i == lit else "dim"))
        lines.append(self._stages(record))
        if height >= 3:
            lines.append(self._ops(record))
        return Text("\n").join(lines)

    def _edges(self, grid: list[list[str]], widths: list[int]) -> dict[int, dict[int, tuple[str, str]]]:
        """Braille lines from every unit to every unit of the next layer, as TensorFlow Playground draws
        them: orange for a positive weight, blue for a negative one, brighter for a larger |w|
        (relative to the largest of its W⁽ˡ⁾). Where lines cross, the larger |w| colours the cell.
        Only while every unit of both layers is drawn and W⁽ˡ⁾ has at most MAX_EDGES weights."""
        weights = self.weights or ()
        starts, x = [], 1
        for i, width in enumerate(widths):
            x += 3 if i else 0
            starts.append(x + (width - 1) // 2)  # the dot's column: "●" centred in its column
            x += width
        rows = {i: [r for r, cells in enumerate(grid) if cells[i] == "●"] for i in range(len(widths))}
        canvas: dict[tuple[int, int], tuple[float, int, float]] = {}  # (row, x) -> (|w|, bits, w)
        for l, W in enumerate(weights, start=1):
            if W.size > MAX_EDGES or len(rows[l - 1]) != W.shape[1] or len(rows[l]) != W.shape[0]:
                continue
            scale = float(np.max(np.abs(W))) or 1.0
            x0, x1 = starts[l - 1] + 1, starts[l] - 1  # the character columns between the two dots
            if x1 < x0:
                continue
            dots = (x1 - x0 + 1) * 2
            for j, target in enumerate(rows[l]):
                for k, source in enumerate(rows[l - 1]):
                    w = float(W[j, k])
                    if not np.isfinite(w):
                        continue
                    y0, y1 = source * 4 + 1.5, target * 4 + 1.5
                    for d in range(dots):
                        y = round(y0 + (y1 - y0) * (d + 0.5) / dots)
                        cell = (y // 4, x0 + d // 2)
                        bit = _DOTS[d % 2][y % 4]
                        old = canvas.get(cell)
                        if old is None or abs(w) >= old[0]:
                            canvas[cell] = (abs(w) / scale, (old[1] if old else 0) | bit, w)
                        else:
                            canvas[cell] = (old[0], old[1] | bit, old[2])
        edges: dict[int, dict[int, tuple[str, str]]] = {}
        for (row, x), (size, bits, w) in canvas.items():
            strength = "bold " if size > 0.66 else "" if size > 0.33 else "dim "
            colour = "dark_orange" if w > 0 else "dodger_blue1" if w < 0 else "grey50"
            edges.setdefault(row, {})[x] = (chr(0x2800 + bits), strength + colour)
        return edges

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
        # The op number is the one counter of the whole app (status line, log, breakpoints, `nnstep run`):
        # the run's op, from 1; its place in the iteration comes after it.
        line.append(f"  op {record.index + 1} · {current + 1} of {opi}" if record is not None
                    else f"  {opi} ops per iteration", style="dim")
        return line

"""The formula of the current op in the tutorial's notation, with operand shapes.

Batch rows: the engine computes z = a·Wᵀ + b with z of shape (B, n_l) and W
of shape (n_l, n_{l-1}); the first line is the tutorial's column-vector
formula, the second the batch-rows form with every operand's shape.
"""

from __future__ import annotations

from nnstep.engine import Config, StepRecord
from nnstep.tui.render import clip, wrap_clauses
from nnstep.tui.symbols import operand_shapes
from nnstep.tui.widgets.text_lines import TextLines
from nnstep.tui.worked import read_part, worked_parts
from nnstep.tui.worked_text import fit
from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive


class EquationPane(TextLines):
    """Line 1: the equation (e.g. z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾); line 2: shapes; line 3: one number worked out.

    The title names the op and gives its hint, both from the config's schedule.
    """

    DEFAULT_CSS = """
    EquationPane { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    record: reactive[StepRecord | None] = reactive(None)
    # The number under the cell cursor: (tensor, index, its symbol, written?) — None: unit 1 of sample 1.
    cell: reactive[tuple[str, tuple[int, ...], str, bool] | None] = reactive(None)

    def __init__(self, config: Config, **kwargs: object) -> None:
        """`config`: the run's config (its schedule, optimizer, dropout, penalty and activations)."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.config = config
        self.following: int | None = None  # the sample followed (f), 0-based: `cell` is its number

    @property
    def equation(self) -> str:
        """The plain equation text shown (empty before the first op)."""
        return self.record.equation if self.record else ""

    def watch_record(self, record: StepRecord | None) -> None:
        """Title the pane with where the op is and the schedule's hint for it."""
        self._title()

    def watch_cell(self) -> None:
        """The title says which number is worked out."""
        self._title()

    def _title(self) -> None:
        record = self.record
        if record is None:
            self.border_title = "equation"
            return
        where = "loss" if record.layer is None else f"{record.stage} · layer {record.layer}"
        hint = self.config.schedule.spec(record.index).hint
        title = f"{where} · {record.op} — {hint}"
        if self.cell is not None and self.following is not None:
            title = f"{where} · {record.op} — sample {self.following + 1}, followed (f stops)"
        elif self.cell is not None:
            title = f"{where} · {record.op} — the selected number (esc clears)"
        self.border_title = title

    def render(self) -> Text:
        """The equation, bold, broken between clauses if it needs more than a line; one number
        worked out on the last line; the operand shapes when a line is left over."""
        record = self.record
        if record is None:
            first = self.config.schedule.spec(0).formula
            return Text.assemble(
                ("Before the first op: ", "bold"),
                ("the initial W and b of every layer and the first batch of data, x and y, as the run starts.\n", ""),
                ("n", "bold"), (f" computes the first op, {first} · ", ""), ("i", "bold"), (" a whole iteration · ", ""),
                ("?", "bold"), (" every key", ""),
            )
        config = self.config
        width, height = self.size.width or 80, self.size.height or 3
        cell = self.cell
        if cell is not None and not _holds(record, cell[0], cell[1]):
            cell = None  # chosen on another op (a job's frames move on without re-selecting): unit 1 of sample 1
        if cell is not None and not cell[3]:  # a number the op reads: its value, and where it goes
            worked = [read_part(record, cell[2], (cell[0], cell[1]))]
        else:
            worked = worked_parts(record, config, None if cell is None else (cell[0], cell[1]))
        # The selected number's parts get the lines the shapes would have had.
        room = max(height - 1, 1) if cell is not None else 1
        shown = _lines(worked, width, min(room, 2)) if height >= 2 else []
        formula = wrap_clauses(record.equation, width, max(height - len(shown), 1))
        lines = [Text(line, style="bold") for line in formula]
        if record.op == "loss" and record.loss is not None:
            value = f"   L = {record.loss:.9g}"
            if cell_len(formula[-1]) + len(value) <= width:
                lines[-1].append(value, style="bold yellow")
        if len(lines) + len(shown) < height:
            lines.append(Text(clip(operand_shapes(record, config.optimizer), width)))
        for line in shown:
            lines.append(Text(line, style="italic green" if cell is None else "bold green"))
        return Text("\n").join(lines)


def _holds(record: StepRecord, name: str, index: tuple[int, ...]) -> bool:
    """True when `record` has tensor `name` and `index` is inside it."""
    values = record.tensors.get(name)
    return values is not None and values.ndim == len(index) and all(0 <= i < n for i, n in zip(index, values.shape))


def _lines(parts: list[str], width: int, count: int) -> list[str]:
    """The parts in at most `count` lines of `width`: whole parts per line, the first one shortened if it must be."""
    lines: list[str] = []
    rest = list(parts)
    while rest and len(lines) < count:
        line = fit(rest, width)
        taken = 1 + line.count(";  ") - rest[0].count(";  ")
        lines.append(line)
        rest = rest[max(taken, 1):]
    return lines

"""The formula of the current op in the tutorial's notation, with operand shapes.

Batch rows: the engine computes z = a·Wᵀ + b with z of shape (B, n_l) and W
of shape (n_l, n_{l-1}); the first line is the tutorial's column-vector
formula, the second the batch-rows form with every operand's shape.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from nnstep.engine import Config, StepRecord
from nnstep.tui.render import clip, operand_shapes, wrap_clauses
from nnstep.tui.worked import fit, worked_parts


class EquationPane(Widget):
    """Line 1: the equation (e.g. z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾); line 2: shapes; line 3: one number worked out.

    The title names the op and gives its hint, both from the config's schedule.
    """

    DEFAULT_CSS = """
    EquationPane { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    record: reactive[StepRecord | None] = reactive(None)

    def __init__(self, config: Config, **kwargs: object) -> None:
        """`config`: the run's config (its schedule, optimizer, dropout, penalty and activations)."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.config = config

    @property
    def equation(self) -> str:
        """The plain equation text shown (empty before the first op)."""
        return self.record.equation if self.record else ""

    def watch_record(self, record: StepRecord | None) -> None:
        """Title the pane with where the op is and the schedule's hint for it."""
        if record is None:
            self.border_title = "equation"
            return
        where = "loss" if record.layer is None else f"{record.stage} · layer {record.layer}"
        hint = self.config.schedule.spec(record.index).hint
        self.border_title = f"{where} · {record.op} — {hint}"

    def render(self) -> Text:
        """The equation, bold, broken between clauses if it needs more than a line; one number
        worked out on the last line; the operand shapes when a line is left over."""
        record = self.record
        if record is None:
            return Text.assemble(
                ("Before the first op. ", "bold"),
                ("Press n to compute z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾, ? for all keys.", ""),
            )
        config = self.config
        width, height = self.size.width or 80, self.size.height or 3
        worked = fit(worked_parts(record, config), width) if height >= 2 else ""
        formula = wrap_clauses(record.equation, width, height - (1 if worked else 0))
        lines = [Text(line, style="bold") for line in formula]
        if record.op == "loss" and record.loss is not None:
            value = f"   L = {record.loss:.9g}"
            if cell_len(formula[-1]) + len(value) <= width:
                lines[-1].append(value, style="bold yellow")
        if len(lines) + (1 if worked else 0) < height:
            lines.append(Text(clip(operand_shapes(record, config.lr), width)))
        if worked:
            lines.append(Text(worked, style="italic green"))
        return Text("\n").join(lines)

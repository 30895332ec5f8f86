"""The formula of the current op in the tutorial's notation, with operand shapes.

Batch rows: the engine computes z = a·Wᵀ + b with z of shape (B, n_l) and W
of shape (n_l, n_{l-1}); the first line is the tutorial's column-vector
formula, the second the batch-rows form with every operand's shape.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from nnstep.engine import StepRecord
from nnstep.tui.render import operand_shapes
from nnstep.tui.worked import worked_example

_HINTS = {
    "linear": "weighted sum of the layer's inputs",
    "activation": "non-linearity, element by element",
    "loss": "how far ŷ is from y",
    "delta": "error signal δ = ∂L/∂z, by the chain rule",
    "grad": "gradients of the loss for W and b",
    "update": "gradient descent step",
}


class EquationPane(Widget):
    """Line 1: the equation (e.g. z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾); line 2: shapes; line 3: one number worked out."""

    DEFAULT_CSS = """
    EquationPane { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    record: reactive[StepRecord | None] = reactive(None)

    def __init__(self, lr: float, activations: tuple[str, ...] = (), **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.lr = lr
        self.activations = activations

    @property
    def equation(self) -> str:
        """The plain equation text shown (empty before the first op)."""
        return self.record.equation if self.record else ""

    def watch_record(self, record: StepRecord | None) -> None:
        """Title the pane with where the op is."""
        if record is None:
            self.border_title = "equation"
            return
        where = "loss" if record.layer is None else f"{record.stage} · layer {record.layer}"
        self.border_title = f"{where} · {record.op} — {_HINTS.get(record.op, '')}"

    def render(self) -> Text:
        """The equation, bold; the shapes; a hint when there is a third line."""
        record = self.record
        if record is None:
            return Text.assemble(
                ("Before the first op. ", "bold"),
                ("Press n to compute z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾, ? for all keys.", ""),
            )
        text = Text(record.equation, style="bold")
        if record.op == "update":
            text.append(f"   η = {self.lr:g}", style="bold cyan")
        if record.op == "loss" and record.loss is not None:
            text.append(f"   L = {record.loss:.9g}", style="bold yellow")
        height = self.size.height or 3
        if height >= 2:
            text.append("\n")
            text.append(operand_shapes(record, self.lr), style="")
        if height >= 3:
            text.append("\n")
            text.append(worked_example(record, self.lr, self.activations), style="italic green")
        return text

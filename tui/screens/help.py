"""The help screen: every key of the main screen, and what each pane shows."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

PANES = """\
network    layers as columns (size · activation), the current layer lit; the stages
           forward ▸ loss ▸ backward ▸ update and one mark per op of the iteration
equation   the formula of this op in the tutorial's notation; below it the batch-rows
           form the engine computes, with every operand's shape; then one number of
           the op worked out with the values filled in (unit 1 of sample 1)
tensors    one pane per tensor the op reads (in) or writes (out): shape; in the bottom
           border min, max, mean μ, norm ‖·‖ and NaN/inf count; values on a diverging
           heatmap (blue < 0 < red);
           ▴/▾ mark cells that went up/down since the previous iteration's same op
           (for an update: since before the update). NaN/inf cells are magenta.
           tab focuses a pane; arrows / page keys scroll a large tensor
loss       loss per iteration (braille plot; log scale over two decades)
data       2-D inputs with the current decision boundary (moons, spiral, xor)
log        on a tall terminal with small tensors: every op of this iteration so far,
           each with its number worked out — the whole chain at a glance
status     demo, epoch, iteration, step, loss, breakpoints, a running job, the last message"""


class HelpScreen(ModalScreen[None]):
    """Keys and panes; esc, q or ? closes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, bindings: list[BindingType]) -> None:
        super().__init__()
        self.bindings = [b for b in bindings if isinstance(b, Binding)]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for binding in self.bindings:
            names = {"question_mark": "?", "escape": "esc", "full_stop": "."}
            keys = binding.key_display or ", ".join(names.get(k, k) for k in binding.key.split(","))
            table.add_row(keys, binding.tooltip or binding.description)
        with VerticalScroll(classes="dialog help") as box:
            box.border_title = "nnstep — keys (esc closes)"
            yield Static(table)
            yield Static(Text("\n" + PANES, style=""), markup=False)
            yield Static(Text("\nEvery action is also in the command palette (ctrl+p).", style="dim"))

    def action_close(self) -> None:
        """Back to the main screen."""
        self.dismiss(None)

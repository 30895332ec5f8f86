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
network    layers as columns (size · activation), the current layer lit, lines between the units
           coloured by weight (orange > 0, blue < 0, brighter for larger |w|) when there is room;
           the stages forward ▸ loss ▸ backward ▸ update and one mark per op of the iteration;
           "op 15 · 4 of 11": the op of the run, counted from 1 (as `nnstep run` counts), and
           its place in the iteration
equation   the formula of this op in the tutorial's notation; below it the batch-rows form with
           every operand's shape; then one number worked out with the values filled in — unit 1
           of sample 1, or the number under the cell cursor
tensors    one pane per tensor the op reads or writes (the bottom border says which), sized to
           what it holds: every column with the most significant digits that fit (the title says
           when fewer), never a cut number; indices from 1 (W₂₃ is row 2, column 3); a vector
           wraps (row label + column offset). Bottom border: min, max, mean, norm, NaN/inf count.
           Heatmap: blue < 0 < orange, brighter with |value|; ▴/▾ went up/down since the
           previous iteration's same op (for an update: since before it); NaN/inf magenta.
           When they do not all fit, what the op writes comes first and the status line names
           the panes below (the wheel scrolls to them).
explain    tab (or a click) focuses a pane: arrows or h j k l move a cell cursor, Home/End to the
           first/last column, PageUp/PageDown; the equation pane works that number out, the cells
           it was computed from are underlined with a • in the other panes, and the cursor stays
           on the same weight or unit as you step (W⁽¹⁾₂₃ → ∂L/∂W⁽¹⁾₂₃ → W⁽¹⁾₂₃ :=); esc clears.
           z zooms the focused pane to the whole screen (all of a tensor that fits).
find       C runs back to the latest earlier op where a breakpoint holds (`nan`, or from a NaN: to the
           op that wrote the first NaN/inf); P back to the end of the previous stage; / finds nan,
           max or a number in the focused pane, then in the iteration's other ops; B switches
           breakpoints on/off (space), counts their hits, lets the next N pass (i)
watches    a adds a value (norm(dW1), max(z2), loss, dead(1)): its value at this op (dim: still the
           previous iteration's) and a sparkline of it at this op of the last 100 iterations,
           between the smallest and largest value shown after it (· not computed yet, ! NaN/inf)
follow     f on a batch row (or f and a number): that sample's row lit in every pane with batch
           rows (x, z, a, ŷ, δ) and its numbers worked out in the equation pane; f again stops
Δ view     d: every tensor minus the same op of the previous iteration (or of the run given by
           `nnstep view A --compare B`); the title says against what; d again: the values
loss       every loss computed so far (the mean per column when there are more iterations than
           columns, the span dimmed), the current iteration marked, later ones dimmed; log scale
           over two decades
data       2-D inputs with the decision boundary of ŷ in eval mode (no dropout)
log        on a tall terminal: every op of this iteration so far, each with its number worked out
status     demo, epoch, iteration, op, loss, breakpoints, panes below, a running job, the last message"""


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

"""The tensors of the current step, one pane each, laid out to fit the terminal.

Panes are kept and reused from step to step (hidden when a step has fewer
tensors), so stepping does not mount and unmount widgets. Batch rows: z has
shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import math

from textual.containers import Grid
from textual.message import Message
from textual.reactive import reactive

from nnstep.tui.render import as_matrix, number_width
from nnstep.tui.widgets.tensor_pane import Tensor, TensorPane

MIN_PANE = 24
MAX_PANE = 56
MIN_HEIGHT = 4  # border and two rows of values
RESERVED = 13  # rows the screen keeps for the top panes (6), the equation (5), status and footer


class TensorGrid(Grid):
    """A grid of TensorPanes; the column count follows the width and the tensors' widths."""

    DEFAULT_CSS = """
    TensorGrid { grid-gutter: 0 0; overflow-y: auto; }
    """

    class Fitted(Message):
        """The panes now fit snugly (True) or share the height and scroll (False)."""

        def __init__(self, snug: bool) -> None:
            super().__init__()
            self.snug = snug

    tensors: reactive[tuple[Tensor, ...]] = reactive((), layout=True)
    snug = False
    digits: reactive[int] = reactive(4)
    mode: reactive[str] = reactive("heat")

    def watch_tensors(self, tensors: tuple[Tensor, ...]) -> None:
        """Fill the first panes with the new tensors, hide the rest."""
        panes = list(self.query_children(TensorPane))
        if len(panes) < len(tensors):
            new = [TensorPane() for _ in range(len(tensors) - len(panes))]
            self.mount_all(new)
            panes.extend(new)
        for pane, tensor in zip(panes, tensors):
            pane.digits, pane.mode = self.digits, self.mode
            pane.tensor = tensor
            pane.display = True
        for pane in panes[len(tensors):]:
            pane.display = False
            pane.tensor = None
        self._arrange()

    def watch_digits(self, digits: int) -> None:
        """Precision changed: every pane redraws at the new precision."""
        for pane in self.query_children(TensorPane):
            pane.digits = digits
        self._arrange()

    def watch_mode(self, mode: str) -> None:
        """Display mode changed for every pane."""
        for pane in self.query_children(TensorPane):
            pane.mode = mode
        self._arrange()

    def on_resize(self) -> None:
        """Recount the columns for the new width."""
        self._arrange()

    def _natural_width(self, tensor: Tensor) -> int:
        rows, cols = as_matrix(tensor.values).shape
        cell = 2 if self.mode == "blocks" else number_width(self.digits) + 1
        gutter = len(str(rows - 1)) + 1 if rows > 1 else 0
        return int(gutter + cols * cell + 2)

    def _arrange(self) -> None:
        count = len(self.tensors)
        if not count or not self.size.width:
            return
        target = max(self._natural_width(t) for t in self.tensors)
        target = min(max(target, MIN_PANE), MAX_PANE)
        columns = max(1, min(count, self.size.width // target))
        if math.ceil(count / columns) * MIN_HEIGHT > self.size.height:
            # Too tall to fit: narrower panes (they scroll sideways) beat panes off screen.
            columns = max(columns, min(count, self.size.width // 30))
        rows = math.ceil(count / columns)
        self.styles.grid_size_columns = columns
        self.styles.grid_size_rows = rows
        # Small tensors get snug panes; when they do not all fit, rows share the height (and scroll).
        pane_width = self.size.width // columns
        heights = []
        for row in range(rows):
            group = self.tensors[row * columns : (row + 1) * columns]
            heights.append(max(self._natural_height(t, pane_width) for t in group))
        # Snug when everything fits in the room the screen could give; the panes above take the rest.
        room = self.screen.size.height - RESERVED
        snug = sum(heights) <= room
        # Not snug: rows share the height in proportion to what they hold (a vector needs less than a matrix).
        if snug:
            self.styles.grid_rows = " ".join(map(str, heights))
        elif self.size.height < rows * (MIN_HEIGHT + 1):
            # Too short to share: fixed rows of at least MIN_HEIGHT and the grid scrolls.
            self.styles.grid_rows = " ".join(str(max(MIN_HEIGHT, min(h, self.size.height))) for h in heights)
        else:
            self.styles.grid_rows = " ".join(f"{h}fr" for h in heights)
        self.styles.height = sum(heights) if snug else "3fr"
        if snug != self.snug:
            self.snug = snug
            self.post_message(self.Fitted(snug))

    def _natural_height(self, tensor: Tensor, pane_width: int) -> int:
        """Border (the summary sits in it), the rows, and a scrollbar row if the values are wider than the pane."""
        rows = as_matrix(tensor.values).shape[0]
        scrollbar = 1 if self._natural_width(tensor) > pane_width else 0
        return int(max(MIN_HEIGHT, rows + 2 + scrollbar))

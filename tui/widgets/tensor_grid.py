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


def share(heights: list[int], room: int) -> list[int]:
    """Split `room` rows among grid rows that would like `heights`: each gets at least
    MIN_HEIGHT (or its whole want, if less), the rest goes in proportion to what is still wanted.
    """
    given = [min(h, MIN_HEIGHT) for h in heights]
    wants = [h - g for h, g in zip(heights, given)]
    spare = room - sum(given)
    total = sum(wants)
    if spare > 0 and total:
        extra = [min(w, spare * w // total) for w in wants]
        given = [g + e for g, e in zip(given, extra)]
        leftover = room - sum(given)
        for i in sorted(range(len(heights)), key=lambda i: wants[i] - extra[i], reverse=True):
            if leftover <= 0:
                break
            if given[i] < heights[i]:
                given[i] += 1
                leftover -= 1
    return given


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

    tensors: reactive[tuple[Tensor, ...]] = reactive(())
    digits: reactive[int] = reactive(4)
    mode: reactive[str] = reactive("heat")

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.snug = False
        self.profiles: tuple[tuple[Tensor, ...], ...] = ()
        self._budget: tuple[tuple[object, ...], int | None] | None = None
        self._applied: tuple[object, ...] = ()

    def set_profiles(self, profiles: tuple[tuple[Tensor, ...], ...]) -> None:
        """The tensors of every op of an iteration: panes are snug only if all of them fit.

        Deciding once per iteration keeps the layout still while stepping.
        """
        self.profiles = profiles
        self._budget = None
        self._arrange()

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
            if not pane.display:
                pane.display = True
        for pane in panes[len(tensors):]:
            if pane.display:
                pane.display = False
            pane.tensor = None
        self._arrange()

    def watch_digits(self, digits: int) -> None:
        """Precision changed: every pane redraws at the new precision."""
        for pane in self.query_children(TensorPane):
            pane.digits = digits
        self._budget = None
        self._arrange()

    def watch_mode(self, mode: str) -> None:
        """Display mode changed for every pane."""
        for pane in self.query_children(TensorPane):
            pane.mode = mode
        self._budget = None
        self._arrange()

    def on_resize(self) -> None:
        """Recount the columns for the new width."""
        self._arrange()

    def _natural_width(self, tensor: Tensor) -> int:
        rows, cols = as_matrix(tensor.values).shape
        cell = 2 if self.mode == "blocks" else number_width(self.digits) + 1
        gutter = len(str(rows - 1)) + 1 if rows > 1 else 0
        return int(gutter + cols * cell + 2)

    def _natural_height(self, tensor: Tensor, pane_width: int) -> int:
        """Border (the summary sits in it, the title says what is in view) and the rows."""
        rows = as_matrix(tensor.values).shape[0]
        return int(max(MIN_HEIGHT, rows + 2))

    def _layout(self, tensors: tuple[Tensor, ...], width: int, height: int) -> tuple[int, list[int]]:
        """Columns and the natural height of each grid row for these tensors."""
        count = len(tensors)
        target = min(max(max(self._natural_width(t) for t in tensors), MIN_PANE), MAX_PANE)
        columns = max(1, min(count, width // target))
        if math.ceil(count / columns) * MIN_HEIGHT > height:
            # Too tall to fit: narrower panes (they scroll sideways) beat panes off screen.
            columns = max(columns, min(count, width // 30))
        pane_width = width // columns
        heights = [
            max(self._natural_height(t, pane_width) for t in tensors[row : row + columns])
            for row in range(0, count, columns)
        ]
        return columns, heights

    def _snug_height(self, width: int, room: int) -> int | None:
        """The height every op of the iteration fits in, if they all fit in `room`; else None."""
        key = (width, room, self.digits, self.mode, len(self.profiles))
        if self._budget is None or self._budget[0] != key:
            profiles = [p for p in self.profiles if p] or [self.tensors]
            totals = [sum(self._layout(p, width, room)[1]) for p in profiles]
            self._budget = (key, max(totals) if max(totals) <= room else None)
        return self._budget[1]

    def _reserved(self) -> int:
        """Rows the other widgets of the screen keep at the least: a fixed height, or a fraction's minimum.

        Read from their styles, so a taller top row on a tall terminal (min-height 10, not 6) is
        counted: with a constant, snug panes pushed the status line below the screen.
        """
        reserved = 0
        for widget in self.screen.children:
            if widget is self or not widget.display:
                continue
            height, least = widget.styles.height, widget.styles.min_height
            if height is not None and height.is_cells:
                reserved += int(height.value)
            elif least is not None and least.is_cells:
                reserved += int(least.value)
        return reserved

    def _arrange(self) -> None:
        width, height = self.size.width, self.size.height
        if not self.tensors or not width:
            return
        columns, heights = self._layout(self.tensors, width, height)
        room = self.screen.size.height - self._reserved()
        budget = self._snug_height(width, room)
        if budget is not None and sum(heights) > budget:
            budget = None
        if budget is not None:
            given = heights
        elif height < len(heights) * (MIN_HEIGHT + 1):
            # Too short to share: fixed rows of at least MIN_HEIGHT and the grid scrolls.
            given = [max(MIN_HEIGHT, min(h, height)) for h in heights]
        else:
            given = share(heights, height)
        rows = " ".join(map(str, given))
        # Tell each pane the size it is about to get, so its title (rows and columns in view)
        # is right in the first frame instead of a second one after the resize.
        panes = [p for p in self.query_children(TensorPane) if p.display]
        for i, pane in enumerate(panes):
            pane.expect_size(width // columns - 2, given[i // columns] - 2)
        applied = (columns, len(heights), rows, budget)
        if applied != self._applied:
            self._applied = applied
            self.styles.grid_size_columns = columns
            self.styles.grid_size_rows = len(heights)
            self.styles.grid_rows = rows
            self.styles.height = budget if budget is not None else "3fr"
        snug = budget is not None
        if snug != self.snug:
            self.snug = snug
            self.post_message(self.Fitted(snug))

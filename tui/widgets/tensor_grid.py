"""The tensors of the current step, one pane each, laid out to fit the terminal.

Panes are kept and reused from step to step (hidden when a step has fewer
tensors), so stepping does not mount and unmount widgets. Batch rows: z has
shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from textual.containers import Grid
from textual.message import Message
from textual.reactive import reactive

from nnstep.tui.render import as_matrix, number_width
from nnstep.tui.widgets.tensor_pane import Tensor, TensorPane

MIN_PANE = 24
MIN_HEIGHT = 4  # border and two rows of values
LOG_HEIGHT = 5  # the iteration log under snug panes on a tall screen: border and three ops


Layout = tuple[list[list[int]], list[int]]  # pane widths row by row, natural height of each row
ROW_COST = 0.005  # of a tensor's worth, per row of height a layout uses
MAX_FREE = 9  # up to this many tensors every cut into rows is tried (2⁸ = 256 ways)


def pack(wants: list[int], width: int) -> list[int] | None:
    """Widths for panes sharing a row of `width` cells; they sum to `width` exactly.

    Panes that want less than a fair share get what they want, the rest share what is
    left equally; spare cells go to the panes one by one. None if a pane would be
    narrower than MIN_PANE (a row of one pane is always allowed).
    """
    count = len(wants)
    if count > 1 and width < count * MIN_PANE:
        return None
    given = [0] * count
    open_ = list(range(count))
    left = width
    while open_:
        fair = left // len(open_)
        small = [i for i in open_ if wants[i] <= fair]
        if not small:
            break
        for i in small:
            given[i] = wants[i]
            left -= wants[i]
        open_ = [i for i in open_ if i not in small]
    for n, i in enumerate(open_):
        given[i] = left // len(open_) + (1 if n < left % len(open_) else 0)
    if not open_:
        # Everyone is satisfied: spread the spare cells so the row is filled edge to edge.
        spare = width - sum(given)
        for n in range(count):
            given[n] += spare // count + (1 if n < spare % count else 0)
    return given


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
    """A grid of TensorPanes packed in rows; each pane's width and the rows follow the terminal and the tensors."""

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

    def _natural_height(self, tensor: Tensor) -> int:
        """Border (the summary sits in it, the title says what is in view) and the rows."""
        rows = as_matrix(tensor.values).shape[0]
        return int(max(MIN_HEIGHT, rows + 2))

    def _cell(self) -> int:
        return 2 if self.mode == "blocks" else number_width(self.digits) + 1

    def _natural_width(self, tensor: Tensor) -> int:
        """Border, row-index gutter and every column."""
        rows, cols = as_matrix(tensor.values).shape
        gutter = len(str(rows - 1)) + 1 if rows > 1 else 0
        return int(max(MIN_PANE, gutter + cols * self._cell() + 2))

    def _visible(self, tensor: Tensor, pane_width: int, pane_height: int) -> float:
        """The fraction of the tensor's cells a pane of this size shows (whole columns only)."""
        rows, cols = as_matrix(tensor.values).shape
        if not rows or not cols:
            return 1.0
        gutter = len(str(rows - 1)) + 1 if rows > 1 else 0
        shown_cols = min(cols, max(pane_width - 2 - gutter, 0) // self._cell())
        shown_rows = min(rows, max(pane_height - 2, 0))
        return (shown_rows / rows) * (shown_cols / cols)

    def _layout(self, tensors: tuple[Tensor, ...], width: int, height: int) -> Layout:
        """Which tensors share each grid row, their widths, and each row's natural height.

        The tensors stay in order; every way of cutting them into rows is tried (rows of
        equal counts only, past MAX_FREE tensors), each row's width shared by `pack`. The
        layout that fits in `height` and shows the most of the tensors wins (the sum over
        tensors of the fraction in view), the shorter one on a tie so the rest of the height
        can go to the iteration log. So a large terminal shows a 10×16 matrix whole on a row
        of its own, and a narrow δ beside it takes only the width it needs.
        """
        count = len(tensors)
        wants = [self._natural_width(t) for t in tensors]
        tall = [self._natural_height(t) for t in tensors]
        if count <= MAX_FREE:
            cuts = [[i for i in range(1, count) if mask >> (i - 1) & 1] for mask in range(1 << max(count - 1, 0))]
        else:
            cuts = [list(range(c, count, c)) for c in range(1, count + 1)]
        best: tuple[bool, float, int, int, tuple[int, ...]] | None = None  # fits, score, rows left, evenness, order
        chosen: Layout = ([[width]], [tall[0]])
        for cut in cuts:
            bounds = [0, *cut, count]
            widths: list[list[int]] = []
            for a, b in zip(bounds, bounds[1:]):
                row = pack(wants[a:b], width)
                if row is None:
                    break
                widths.append(row)
            else:
                heights = [max(tall[a:b]) for a, b in zip(bounds, bounds[1:])]
                given = heights if sum(heights) <= height else share(heights, height)
                score = sum(
                    self._visible(tensors[k], w, given[r])
                    for r, (a, row) in enumerate(zip(bounds, widths))
                    for k, w in zip(range(a, a + len(row)), row)
                )
                # A pane pushed below the grid (it scrolls) is worse than any amount cut sideways;
                # each row used costs a little, so a squeeze that shows a sliver more loses to
                # a layout that shows nearly as much and leaves rows to the log.
                used = min(sum(given), height)
                # On a tie, rows as even as can be (wider panes, whole summaries; the update's
                # W and b quartets line up), then reading order: the earlier rows fuller.
                counts = tuple(map(len, widths))
                key = (sum(given) <= height, round(score - ROW_COST * used, 4), -used, -max(counts), counts)
                if best is None or key > best:
                    best, chosen = key, (widths, heights)
        return chosen

    def _snug_height(self, width: int, room: int) -> int | None:
        """The height every op of the iteration fits in, if they all fit in `room`; else None."""
        key = (width, room, self.digits, self.mode, len(self.profiles))
        if self._budget is None or self._budget[0] != key:
            profiles = [p for p in self.profiles if p] or [self.tensors]
            totals = [sum(self._layout(p, width, room)[1]) for p in profiles]  # about 1 ms an op
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
        room = self.screen.size.height - self._reserved()
        widths, heights = self._layout(self.tensors, width, room)
        # On a tall screen snug panes hand the rest to the iteration log (nnstep.tcss): it needs
        # a few rows, or its border alone pushed the status line off the screen (xor at 120×40).
        log = LOG_HEIGHT if self.screen.has_class("tall") else 0
        if log:
            # The log's top edge may move from op to op (the panes stay put, top-aligned), so
            # each op decides for itself: a blank band under small panes helps no one.
            budget = sum(heights) if sum(heights) <= room - log else None
        else:
            # Without the log the top row takes what the grid leaves: one height for the whole
            # iteration keeps the network and loss panes from jumping while stepping.
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
        spans = [(w, given[r]) for r, row in enumerate(widths) for w in row]
        for pane, (w, h) in zip(panes, spans):
            pane.expect_size(w - 2, h - 2)
            if pane.styles.column_span != w:
                pane.styles.column_span = w
        applied = (width, len(heights), rows, budget)
        if applied != self._applied:
            self._applied = applied
            # One grid column per cell: each pane spans its own width, so a row can hold a
            # narrow vector beside a wide matrix (a uniform grid gave both half the width).
            self.styles.grid_size_columns = width
            self.styles.grid_size_rows = len(heights)
            self.styles.grid_rows = rows
            self.styles.height = budget if budget is not None else "3fr"
        snug = budget is not None
        if snug != self.snug:
            self.snug = snug
            self.post_message(self.Fitted(snug))

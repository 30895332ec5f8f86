"""The tensors of the current op, laid out by `arrange` in rows of panes.

One Horizontal per row of panes inside a vertical scroll (a grid of one cell
per terminal column tripled the time from key to frame). Rows and panes are
kept and reused from op to op — hidden when an op has fewer — so stepping
does not mount and unmount widgets, and a pane only redraws when its arrays
changed. Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from nnstep.tui.shown import Tensor
from nnstep.tui.widgets.arrange import Arrangement, arrange
from nnstep.tui.widgets.pane_sides import plain_lines
from nnstep.tui.widgets.tensor_lines import lines
from nnstep.tui.widgets.tensor_pane import TensorPane
from nnstep.tui.widgets.tensor_view import item_of
from textual.containers import Horizontal, VerticalScroll
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget


def _quiet_resize(widget: Widget, size: Size, virtual_size: Size, container_size: Size) -> bool:
    """Take a new size without the second layout pass Textual asks for when a virtual size changes.

    Rows and the grid change height from op to op; the reactive `virtual_size`
    would then request another layout, and a second frame a tick later, for a
    size the layout just computed. Scrollbars are still updated.
    """
    return Widget._size_updated(widget, size, virtual_size, container_size, layout=False)


class TensorRow(Horizontal):
    """One row of tensor panes."""

    DEFAULT_CSS = """
    TensorRow { height: auto; width: 100%; }
    """

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        return _quiet_resize(self, size, virtual_size, container_size)

    def render_lines(self, crop: Region) -> list[Strip]:
        """Its background: one line, for every row (`plain_lines`)."""
        return plain_lines(self, crop, super().render_lines)


class TensorGrid(VerticalScroll, can_focus=False):
    """Rows of TensorPanes sized to what they hold; it scrolls when they do not all fit.

    Without a scrollbar: one that appeared, moved and went from op to op cost each
    such key a second frame. The status line says what is below (`below`).
    """

    DEFAULT_CSS = """
    TensorGrid { overflow-x: hidden; overflow-y: hidden; scrollbar-size-vertical: 0; }
    """

    tensors: reactive[tuple[Tensor, ...]] = reactive((), always_update=True)
    digits: reactive[int] = reactive(4)
    mode: reactive[str] = reactive("heat")

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.room = 0  # rows the screen gives the grid (set by the screen before the tensors)
        self.budget: int | None = None  # rows every op of the iteration fits in, if they all do
        self.overflow = False  # some op of the iteration needs more rows than the room
        self.snug = False  # every op of the iteration fits in `used` rows
        self.need = 0  # rows the most demanding op of the iteration would like
        self.used = 0
        self.arrangement: Arrangement | None = None
        self._profiles: tuple[tuple[Tensor, ...], ...] = ()
        self._budget_key: tuple[object, ...] | None = None

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        return _quiet_resize(self, size, virtual_size, container_size)

    def render_lines(self, crop: Region) -> list[Strip]:
        """Its background: one line, for every row (`plain_lines`)."""
        return plain_lines(self, crop, super().render_lines)

    @property
    def panes(self) -> list[TensorPane]:
        """The panes showing a tensor now, in the op's order of tensors."""
        shown = [p for p in self.query(TensorPane) if p.display and p.tensor is not None]
        order = {id(t): i for i, t in enumerate(self.tensors)}
        return sorted(shown, key=lambda p: order.get(id(p.tensor), len(order)))

    def set_profiles(self, profiles: tuple[tuple[Tensor, ...], ...]) -> None:
        """The tensors of every op of an iteration: the grid keeps one height for all of them when it can.

        Deciding once per iteration keeps the panes above and below still while stepping; once
        for all iterations of the same shapes, in fact (see `_budget`).
        """
        self._profiles = profiles

    def _items(self, tensors: tuple[Tensor, ...]) -> tuple:
        return tuple(item_of(t, self.digits, self.mode) for t in tensors)

    def _budget(self, width: int, room: int) -> int | None:
        """The rows every op of the iteration needs, if all fit in `room`; else None.

        Also mounts the rows and panes the iteration's ops will need, now: a
        widget mounted while stepping costs that key a second frame.
        """
        # By the shapes and roles of the iteration's tensors, not their values: the next iteration
        # has other numbers but the same layout, and working it out again (an arrangement per op)
        # cost the first key of every iteration tens of milliseconds.
        shapes = tuple(tuple((t.values.shape, t.kind) for t in p) for p in self._profiles)
        key = (width, room, self.digits, self.mode, shapes)
        if key != self._budget_key:
            self._budget_key = key
            profiles = [p for p in self._profiles if p] or [self.tensors]
            arrangements = [arrange(self._items(p), width, room) for p in profiles if p]
            needs = [a.natural for a in arrangements]
            self.need = max(needs, default=0)
            self.budget = self.need if needs and self.need <= room else None
            self.overflow = any(sum(a.heights) > room for a in arrangements)
            # One decision per iteration (its ops have the same shapes every iteration): a grid whose
            # scrollability came and went from op to op asked each such key for a second layout.
            overflow = "scroll" if self.overflow else "hidden"
            if self.styles.overflow_y != overflow:
                self.styles.overflow_y = overflow
            counts: list[int] = []
            for arrangement in arrangements:
                for i, count in enumerate(arrangement.rows):
                    if i < len(counts):
                        counts[i] = max(counts[i], count)
                    else:
                        counts.append(count)
            self._pool(counts)
        return self.budget

    def _pool(self, counts: list[int]) -> list[TensorRow]:
        """At least len(counts) rows, row i holding at least counts[i] panes (hidden until used)."""
        rows = list(self.query_children(TensorRow))
        if len(rows) < len(counts):
            new = [TensorRow() for _ in range(len(counts) - len(rows))]
            for row in new:
                row.display = False
            self.mount_all(new)
            rows.extend(new)
        for row, count in zip(rows, counts):
            panes = list(row.query_children(TensorPane))
            if len(panes) < count:
                new_panes = [TensorPane() for _ in range(count - len(panes))]
                for pane in new_panes:
                    pane.digits, pane.mode = self.digits, self.mode
                    pane.display = False
                row.mount_all(new_panes)
        return rows

    def prepare(self, tensors: tuple[Tensor, ...]) -> None:
        """Lay out and draw `tensors` ahead, as `_place` would give them to the panes: an op the user
        may step to next. `arrange`, the statistics (`item_of`) and the panes' lines (`tensor_lines`)
        keep what is worked out here; what the panes end up asking for differently is drawn again."""
        width = self.size.width or self.screen.size.width
        room = self.room or self.size.height
        if not tensors or not width or not room:
            return
        arrangement = arrange(self._items(tensors), width, room)
        slot = 0
        for row, count, height in zip(self.query_children(TensorRow), arrangement.rows, arrangement.heights):
            for pane in list(row.query_children(TensorPane))[:count]:
                where = arrangement.places[slot]
                window = pane.predict(tensors[arrangement.order[slot]], (where.width, height))
                if window is not None:
                    lines(window).filtered(tuple(pane.get_line_filters()), pane.background_colors[1])
                slot += 1

    def refit(self) -> None:
        """The room changed: lay the same tensors out again."""
        self._budget_key = None
        self._place()

    def watch_tensors(self, tensors: tuple[Tensor, ...]) -> None:
        """Lay the new tensors out and hand each pane its tensor."""
        self._place()

    def watch_digits(self, digits: int) -> None:
        """Precision changed: every pane refits."""
        for pane in self.query(TensorPane):
            pane.digits = digits
        self._budget_key = None
        self._place()

    def watch_mode(self, mode: str) -> None:
        """Display mode changed for every pane."""
        for pane in self.query(TensorPane):
            pane.mode = mode
        self._budget_key = None
        self._place()

    def on_resize(self) -> None:
        """Another width: lay out again."""
        self._place()

    def _place(self) -> None:
        tensors = self.tensors
        width = self.size.width or self.screen.size.width
        room = self.room or self.size.height
        if not width or not room:
            return
        if not tensors:
            for row in self.query(TensorRow):
                row.display = False
            self._report(True, 0)
            return
        budget = self._budget(width, room)
        arrangement = arrange(self._items(tensors), width, room)
        self.arrangement = arrangement
        rows = self._pool(list(arrangement.rows))
        slot = 0
        stale: list[TensorPane] = []  # panes whose role changed: their styles, all in one pass below
        for row, count, height in zip(rows, arrangement.rows, arrangement.heights):
            panes = list(row.query_children(TensorPane))
            if row.styles.height is None or row.styles.height.value != height:
                row.styles.height = height
            if not row.display:
                row.display = True
            for k, pane in enumerate(panes):
                if k < count:
                    where = arrangement.places[slot]
                    if pane.show(tensors[arrangement.order[slot]], (where.width, height), restyle=False):
                        stale.append(pane)
                    if pane.styles.width is None or pane.styles.width.value != where.width:
                        pane.styles.width = where.width
                    if not pane.display:
                        pane.display = True
                    slot += 1
                else:
                    if pane.display:
                        pane.display = False
                    if pane.tensor is not None:
                        pane.show(None)
        for row in rows[len(arrangement.rows):]:
            if row.display:
                row.display = False
            for pane in row.query_children(TensorPane):
                if pane.display:
                    pane.display = False
                if pane.tensor is not None:
                    pane.show(None)
        if stale:
            # One stylesheet pass for every pane that changed role: panes of one role share the
            # rules worked out for the first (a pass per pane cost a key milliseconds each).
            self.app.stylesheet.update_nodes(stale, animate=True)
        used = sum(arrangement.heights)
        snug = budget is not None and used <= budget
        self._report(snug, budget if snug and budget is not None else used)

    def _report(self, snug: bool, used: int) -> None:
        self.snug, self.used = snug, used

    @property
    def below(self) -> list[str]:
        """Symbols of the tensors whose panes start below the grid's room (the wheel or tab reaches them)."""
        arrangement = self.arrangement
        if arrangement is None or not self.tensors:
            return []
        hidden, top, slot = [], 0, 0
        for count, height in zip(arrangement.rows, arrangement.heights, strict=True):
            for k in range(slot, slot + count):
                if top + 3 > self.room:  # not even its border and a row of values in view
                    hidden.append(self.tensors[arrangement.order[k]].symbol)
            top += height
            slot += count
        return hidden

"""The main screen's find-the-cause keys: reverse-continue (C), reverse step (P), watches (a, A), find (/),
follow a sample (f), the Δ view (d).

`Finder` is an invisible widget of the main screen, as `Jobs` is: the
screen's one action `find(what)` hands each key to it, so the screen module
does not grow a method per key. Reverse-continue may recompute many
iterations on a live session, so it runs as a job (esc stops it); the words
it reports are tui/find.py's. Watches (tui/watches.py) fill their
sparklines a slice of FILL_SECONDS at a time from a timer, never while a
job owns the timeline, so a long history never holds up a key.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from nnstep.engine import StepRecord
from nnstep.tui.compare import as_delta, counterpart, difference
from nnstep.tui.controller import Controller
from nnstep.tui.find import previous_stage_end, reverse_continue, reverse_progress
from nnstep.tui.operands import quantity
from nnstep.tui.outcome import Outcome, parse_count
from nnstep.tui.screens.dialogs import InputDialog, WatchList
from nnstep.tui.screens.jobs import Jobs, ProgressReport
from nnstep.tui.search import Query, parse_query, search, tensor_index
from nnstep.tui.shown import Tensor
from nnstep.tui.widgets.tensor_grid import TensorGrid
from nnstep.tui.widgets.tensor_pane import TensorPane
from nnstep.tui.widgets.watch_pane import WatchPane, WatchView
from textual.timer import Timer
from textual.widget import Widget

FILL_SECONDS = 0.015  # computing sparkline history per slice, on the UI thread
FILL_EVERY = 0.03  # seconds between slices: keys and frames go first

Stop = Callable[[], bool]


class Finder(Widget):
    """Runs the find keys: `run("reverse")`, `run("stage_back")`."""

    DEFAULT_CSS = "Finder { display: none; }"
    KEYS = ("reverse", "stage_back", "add_watch", "list_watches", "search", "follow", "delta_view")

    def __init__(self, controller: Controller, jobs: Callable[[], Jobs], say: Callable[[Outcome], None],
                 show: Callable[[], None], relayout: Callable[[], None],
                 select: Callable[[str, tuple[int, ...]], bool]) -> None:
        """`jobs` gives the screen's Jobs widget; `say` puts words in the status line; `show` redraws the
        panes; `relayout` shares the rows out again (a watch pane came, went or grew); `select` puts
        the cell cursor on a tensor's cell of the current op."""
        super().__init__()
        self.controller = controller
        self.jobs = jobs
        self.say = say
        self.show = show
        self.relayout = relayout
        self.select = select
        self._timer: Timer | None = None
        self._last = "nan"  # the last search, offered again
        self.sample: int | None = None  # the batch row followed (0-based), f
        self.delta = False  # the Δ view (d): tensors minus the previous iteration's, or the compared run's

    def run(self, what: str) -> None:
        """Do what the key `what` (one of KEYS) asks."""
        if what not in self.KEYS:
            raise ValueError(f"unknown find key {what!r}")
        if self.controller.running:
            return
        getattr(self, what)()

    def reverse(self) -> None:
        """Run back to the most recent earlier op where a breakpoint holds (a job: esc stops it)."""
        controller = self.controller

        def job(stop: Stop, progress: ProgressReport) -> Outcome:
            record = controller.timeline.record
            start = record.iteration if record is not None else 1  # where C started, 1-based

            def looking(iteration: int) -> None:  # once per iteration gone back; the panes stay where C started
                progress(controller.timeline, reverse_progress(start, iteration))

            try:
                text, _ = reverse_continue(controller.timeline, controller.breakpoints, stop, looking)
            except Exception as error:  # noqa: BLE001 - a crash in a worker must reach the user, not kill the app
                return Outcome(f"reverse failed: {error}", error=True)
            return Outcome(text)

        self.jobs().launch("reverse", job)

    def stage_back(self) -> None:
        """Back to the last op of the previous stage (where s would have stopped)."""
        timeline = self.controller.timeline
        if timeline.position < 0:
            self.say(Outcome("already before the first op"))
            return
        timeline.goto(previous_stage_end(timeline))
        self.say(Outcome(""))
        self.show()

    # -- watches -----------------------------------------------------------------

    def add_watch(self) -> None:
        """Ask for a value to watch; a bad one is refused in the dialog, column and all."""
        watches = self.controller.watches

        def add(text: str | None) -> None:
            if text:
                watches.add(text)
                self.say(Outcome(f"watch {len(watches)}: {text} (A lists and removes)"))
                self.relayout()
                self.watch_values(self.controller.record)

        self.app.push_screen(InputDialog("Add watch", "Watch (a value: norm(dW1) · max(z2) · min(a1) · mean(db2) · "
                                         "loss · dead(1) · saturated(2)):", "", watches.check), add)

    def list_watches(self) -> None:
        """List the watches; remove some."""

        def done(_: None) -> None:
            count = len(self.controller.watches)
            self.say(Outcome(f"{count} watch{'es' * (count != 1)}"))
            self.relayout()
            self.watch_values(self.controller.record)

        self.app.push_screen(WatchList(self.controller.watches), done)

    def watch_values(self, record: StepRecord | None) -> None:
        """Show the watches at `record` with what is computed so far; fill in the rest from a timer."""
        pane = self.screen.query_one(WatchPane)
        watches = self.controller.watches
        if not len(watches):
            pane.view = WatchView(-1, ())
            return
        if self.controller.running:  # the job owns the timeline: the values come after it
            return
        complete = watches.fill(record, 0.0)  # the current iteration, at once
        self._assign(record, complete)
        if not complete and self._timer is None:
            self._timer = self.set_interval(FILL_EVERY, self._fill)

    def _assign(self, record: StepRecord | None, complete: bool) -> None:
        watches = self.controller.watches
        start = self.controller.schedule.index(record.iteration - 1, 0) if record is not None else 0
        self.screen.query_one(WatchPane).view = WatchView(record.index if record else -1, watches.rows(record),
                                                          complete, start)

    def _fill(self) -> None:
        """One slice of history; the timer ends when all is known (or a job starts)."""
        controller = self.controller
        if controller.running:
            self._stop_filling()
            return
        record = controller.record
        complete = controller.watches.fill(record, FILL_SECONDS)
        self._assign(record, complete)
        if complete:
            self._stop_filling()

    def _stop_filling(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    # -- search ------------------------------------------------------------------

    def search(self) -> None:
        """Ask for nan, max or a number; put the cell cursor on the next match (another op's if need be)."""
        if self.controller.record is None:
            self.say(Outcome("find: nothing computed yet (n computes the first op)", error=True))
            return

        def check(text: str) -> str | None:
            query = parse_query(text)
            return query if isinstance(query, str) else None

        def find(text: str | None) -> None:
            if text:
                query = parse_query(text)
                assert isinstance(query, Query)
                self.find(query)

        self.app.push_screen(InputDialog("Find in the tensors", "Find nan (NaN or ±inf) · max (largest |value|) · "
                                         "a number (matched at the digits typed):", self._last, check), find)

    def find(self, query: Query) -> None:
        """The next match from the focused pane's cursor (or the current op) within the iteration."""
        controller = self.controller
        focused = self.screen.focused
        name, cursor = None, None
        if isinstance(focused, TensorPane) and focused.tensor is not None and focused.tensor.kind != "start":
            name = focused.tensor.name
            cursor = tensor_index(focused.tensor.values.ndim, focused.cursor) if focused.cursor is not None else None
        short = self.screen.size.height < 40

        def names(record: StepRecord) -> list[str]:
            return [t.name for t in controller.tensors(record, short=short, compare=False)]

        self._last = query.text
        shown = self._delta_values() if self.delta else None
        hit = search(controller.timeline, query, names, name, cursor, shown)
        record = controller.record
        what = {"nan": "NaN or ±inf", "max": "largest |Δ|" if shown else "largest |value|"}.get(query.kind, query.text)
        if shown and query.kind == "value":
            what = f"Δ = {query.text}"
        if hit is None or record is None:
            where = f"iteration {record.iteration}" if record is not None else "this iteration"
            self.say(Outcome(f"find: no {what} in {where}"))
            return
        if hit.position != controller.timeline.position:
            controller.timeline.goto(hit.position)
            self.show()
        symbol = next((t.symbol for t in controller.tensors(hit.record, compare=False) if t.name == hit.name), hit.name)
        cell = f"[{', '.join(str(i + 1) for i in hit.index)}]" if hit.index else ""
        self.select(hit.name, hit.index)
        self.say(Outcome(f"find {what}: {symbol}{cell} = {hit.value:.6g} at op {hit.record.index + 1} "
                         f"(iteration {hit.record.iteration})"))

    # -- follow one sample -----------------------------------------------------------

    def is_batch(self, tensor: Tensor, record: StepRecord | None) -> bool:
        """True for a tensor with one row per sample of the batch (x, z, a, δ, ŷ, y, …; not W, b, ∂L/∂W)."""
        layer = tensor.layer if tensor.kind == "start" else (record.layer if record is not None else None)
        kind = quantity(tensor.name, layer, self.controller.config.depth)[0]
        return kind in ("unit", "y") and tensor.values.ndim == 2

    def follow(self) -> None:
        """f: follow the sample of the cursor's row; again (or with no batch row under the cursor) stop;
        with no cursor, ask which sample."""
        focused = self.screen.focused
        record = self.controller.record
        row = None
        if isinstance(focused, TensorPane) and focused.tensor is not None and focused.cursor is not None \
                and self.is_batch(focused.tensor, record):
            row = focused.cursor[0]
        if self.sample is not None and (row is None or row == self.sample):
            self._set_sample(None)
            return
        if row is not None:
            self._set_sample(row)
            return
        batch = self._batch_size()
        if batch == 0:
            self.say(Outcome("follow: this op has no batch rows to follow", error=True))
            return

        def check(text: str) -> str | None:
            value = parse_count(text, "a sample of the batch", high=batch)
            return value if isinstance(value, str) else None

        def chosen(text: str | None) -> None:
            if text:
                count = parse_count(text, "", high=batch)
                assert isinstance(count, int)
                self._set_sample(count - 1)

        self.app.push_screen(InputDialog("Follow a sample", f"Sample of the batch to follow, 1 to {batch} "
                                         "(or put the cursor on its row and press f):", "1", check), chosen)

    def _batch_size(self) -> int:
        record = self.controller.record
        tensors = self.controller.tensors(record, compare=False)
        return max((t.values.shape[0] for t in tensors if self.is_batch(t, record)), default=0)

    def _set_sample(self, row: int | None) -> None:
        self.sample = row
        self.say(Outcome("follow: off" if row is None else
                         f"follow: sample {row + 1} of the batch, through forward and backward (f again stops)"))
        self.show()

    def mark_sample(self, record: StepRecord | None) -> None:
        """Every pane with batch rows highlights the followed sample's row (the others none)."""
        for pane in self.screen.query_one(TensorGrid).panes:
            tensor = pane.tensor
            pane.set_sample(self.sample if tensor is not None and self.is_batch(tensor, record) else None)

    def sample_cell(self, record: StepRecord | None) -> tuple[str, tuple[int, ...], str, bool] | None:
        """The number the equation pane works out for the followed sample: unit 1 of its row of what the
        op writes (its loss term at the loss op); None when not following or the op sums over the batch."""
        if self.sample is None or record is None:
            return None
        i = self.sample
        if record.op == "loss":
            if "y_hat" in record.tensors and i < record.tensors["y_hat"].shape[0]:
                return ("p", (i, 0), "ℓ", True)
            return None
        for tensor in self.controller.tensors(record, compare=False):
            if tensor.written and self.is_batch(tensor, record) and i < tensor.values.shape[0]:
                return (tensor.name, (i, 0), tensor.symbol, True)
        return None

    # -- the Δ view ---------------------------------------------------------------------

    def delta_view(self) -> None:
        """d: tensors as Δ against the same op of the previous iteration (or of the compared run), or back."""
        self.delta = not self.delta
        other = self.controller.other_name
        against = other or "the previous iteration"
        self.say(Outcome(f"Δ view: each tensor minus the same op of {against} (d: values again)" if self.delta
                         else "values view (d: Δ against " + against + ")"))
        self.show()

    def as_shown(self, record: StepRecord | None, tensors: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """The op's tensors as the view shows them: as they are, or as Δ (see tui/compare.py)."""
        controller = self.controller
        if not self.delta or record is None or not tensors:
            return tensors
        if controller.other is not None:
            return as_delta(tensors, counterpart(controller.other, record), controller.other_name)
        if controller.running and not controller.read_only:  # the job owns the live timeline
            return tensors
        previous = controller.timeline.previous_record(record)
        return as_delta(tensors, previous, f"iteration {record.iteration - 1}" if record.iteration > 1
                        else "a previous iteration")

    def _delta_values(self) -> Callable[[StepRecord, str], np.ndarray] | None:
        """What the Δ view shows of a tensor (for search), or None when it has nothing to compare with."""
        controller = self.controller
        if controller.running and not controller.read_only:
            return None
        references: dict[int, StepRecord | None] = {}

        def values(record: StepRecord, name: str) -> np.ndarray:
            if record.index not in references:
                other = controller.other
                references[record.index] = (counterpart(other, record) if other is not None
                                            else controller.timeline.previous_record(record))
            reference = references[record.index]
            actual = np.asarray(record.tensors[name])
            other_values = reference.tensors.get(name) if reference is not None else None
            if other_values is None or np.shape(other_values) != actual.shape:
                return actual  # shown as it is (its title says so)
            return difference(actual, other_values)

        return values

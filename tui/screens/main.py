"""The main screen: network, loss and data panes, the equation, the tensors, and the stepping keys.

The screen reads what to show from a `Controller` (tui/controller.py), which
owns the timeline — a live Session or a loaded trace — the breakpoints and
the running job, and assigns it to the panes after every move (panes never
fetch). Long jobs go through the `Jobs` widget (screens/jobs.py). Batch
rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import time

import numpy as np
from nnstep.engine import StepRecord
from nnstep.tui.controller import Controller
from nnstep.tui.outcome import Outcome
from nnstep.tui.screens.find import Finder
from nnstep.tui.screens.help import HelpScreen
from nnstep.tui.screens.jobs import JobDone, JobProgress, Jobs
from nnstep.tui.screens.keys import BINDINGS, FOOTER_GIVES_WAY, FOOTER_KEPT, MOVES
from nnstep.tui.screens.rows import LOG_LEAST, MIN_SIZE, share, top_rows
from nnstep.tui.screens.selection import Selection
from nnstep.tui.search import matrix_cell
from nnstep.tui.widgets.data_plot import DataPlot, plots
from nnstep.tui.widgets.equation_pane import EquationPane
from nnstep.tui.widgets.iteration_log import IterationLog
from nnstep.tui.widgets.key_footer import KeyFooter
from nnstep.tui.widgets.loss_plot import LossPlot
from nnstep.tui.widgets.network_pane import NetworkPane
from nnstep.tui.widgets.status_line import StatusLine, status_of
from nnstep.tui.widgets.tensor_grid import TensorGrid
from nnstep.tui.widgets.tensor_pane import MODES, TensorPane
from nnstep.tui.widgets.watch_pane import WatchPane
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

PRECISIONS = (4, 6, 2)
TENSORS_EVERY = 0.5  # seconds between tensor panes redrawn while a job runs

class MainScreen(Screen[None]):
    """Step through training: every pane shows the op at the controller's position."""

    BINDINGS = BINDINGS
    # No pane takes the focus by itself: a focused pane's arrows and h j k l move its cell cursor,
    # and h would no longer switch the heatmap. tab or a click focuses one.
    AUTO_FOCUS = ""

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.config = controller.config
        self.message = Outcome("")
        self.progress = ""  # a job's progress, in words
        self.digits = PRECISIONS[0]
        self.mode = MODES[0]
        self._profiled: tuple[int, object] | None = None
        self._prepared: tuple[object, ...] | None = None  # the position (and look) whose neighbours are ready (`prepare`)
        self._top = 0
        self._tensors_shown = 0.0  # when a job's frame last showed the tensor panes
        self._selection = Selection(self.config.depth)  # the number under the cell cursor, across ops

    @property
    def read_only(self) -> bool:
        """True for a recorded trace (nothing is computed; no export, no run N)."""
        return self.controller.read_only

    def compose(self) -> ComposeResult:
        config = self.config
        with Horizontal(id="top"):
            yield NetworkPane(config, id="network")
            yield LossPlot(config.schedule, id="loss")
            if plots(config):
                yield DataPlot(config, id="data")
        yield EquationPane(config, id="equation")
        yield WatchPane(id="watches")
        yield TensorGrid(id="tensors")
        yield IterationLog(config, id="log")
        yield StatusLine(id="status")
        yield KeyFooter(FOOTER_KEPT, FOOTER_GIVES_WAY)
        yield Static(id="too-small")
        yield Jobs(self.controller, self.say, self.moved)
        yield Finder(self.controller, lambda: self.jobs, self.say, self.show, self.on_resize, self.select)

    @property
    def jobs(self) -> Jobs:
        """The widget that runs long jobs."""
        return self.query_one(Jobs)

    def on_mount(self) -> None:
        """Show the starting position."""
        self.fit()
        self.show()

    def on_resize(self) -> None:
        """Share the rows out again; drop the top row on a tiny terminal."""
        self.fit()
        if self.is_mounted and not self.controller.running:
            self._profile(self.controller.record)
            self.query_one(TensorGrid).tensors = self._tensors(self.controller.record)
            self._heights()

    def on_screen_resume(self) -> None:
        """A resize under a dialog reached only the dialog: fit to the size now."""
        self.on_resize()

    def fit(self) -> None:
        """Rows for the top panes and the equation, the rest for the tensors; tiny and too-small layouts."""
        width, height = self.app.size  # under a dialog this screen's own size lags behind
        rows = share(width, height, len(self.controller.watches))
        self.set_class(rows.tall, "tall")
        self.set_class(rows.tiny, "tiny")
        self.set_class(rows.too_small, "too-small")
        self.app.set_class(rows.too_small, "too-small")  # dialogs and toasts hide too (nnstep.tcss)
        if rows.too_small:
            self.query_one("#too-small", Static).update(
                f"terminal too small — need at least {MIN_SIZE[0]}×{MIN_SIZE[1]} (now {width}×{height}) · q quits"
            )
        self._top = rows.top  # the top row's rows before it gives way to the tensors (see _heights)
        self._set_height(self.query_one("#top"), rows.top)
        self._set_height(self.query_one(EquationPane), rows.equation)
        for plot in self.query(DataPlot):
            plot.display = rows.data
            plot.styles.max_width = rows.data_width
        pane = self.query_one(WatchPane)
        pane.display = bool(rows.watches)
        self._set_height(pane, rows.watches + 2)
        self.query_one(TensorGrid).room = rows.room
        for footer in self.query(Footer):
            if footer.show_command_palette != rows.palette:
                footer.show_command_palette = rows.palette
                footer.refresh(recompose=True)  # the reactive alone leaves the old keys in place

    @staticmethod
    def _set_height(widget: Widget, rows: int) -> None:
        if widget.styles.height is None or widget.styles.height.value != rows:
            widget.styles.height = rows

    def _heights(self) -> None:
        """The grid takes what its panes use when the whole iteration fits; the iteration log the rest.

        When a few rows more would let every op of the iteration show its tensors whole, the
        network and loss panes give them up (down to their least, TOP_LEAST).
        """
        grid = self.query_one(TensorGrid)
        log = self.query_one(IterationLog)
        top = self.query_one("#top")
        current = int(top.styles.height.value) if top.styles.height is not None else 0
        rows = top_rows(current, self._top, grid.need, grid.room)
        if rows != current:
            grid.room += current - rows
            self._set_height(top, rows)
            grid.refit()
        spare = grid.room - grid.used if grid.snug else 0
        show_log = spare >= LOG_LEAST
        self._set_height(grid, grid.used if show_log else grid.room)
        if show_log:
            self._set_height(log, spare)
        if log.display != show_log:
            log.display = show_log

    # -- what the panes show ---------------------------------------------------

    def show(self, record: StepRecord | None = None, losses: np.ndarray | None = None, *, tensors: bool = True) -> None:
        """Assign the current record to every pane (the controller's, unless a job hands one over).

        One batched update: the panes change together in a single frame.
        """
        with self.app.batch_update():
            self._show(record, losses, tensors)

    def _show(self, record: StepRecord | None, losses: np.ndarray | None, tensors: bool = True) -> None:
        controller = self.controller
        running = bool(controller.running)
        if record is None and not running:
            record = controller.record
        if losses is None:
            losses = controller.losses()
        self.query_one(NetworkPane).record = record
        self.query_one(EquationPane).record = record
        self.query_one(LossPlot).show(*controller.curve(losses))
        if not running:
            self._profile(record)  # before the tensors, so the grid arranges them once
        if tensors:
            self.query_one(TensorGrid).tensors = self._tensors(record)
            self._heights()
        if not running:
            self.query_one(Finder).watch_values(record)
            self.query_one(IterationLog).records = controller.so_far(record)
            params = controller.state_params()
            self.query_one(NetworkPane).weights = params[0]
            for plot in self.query(DataPlot):
                plot.params = params
        self.update_status(record, losses)
        if not running:
            finder = self.query_one(Finder)
            finder.mark_sample(record)
            if self.selection is not None or finder.sample is not None:
                self._explain()

    def prepare(self) -> None:
        """While the user reads: lay out and draw the ops `n` and `p` would show, so that their keys
        find it done (TensorGrid.prepare).

        An update op's eight tensors took 5-10 ms of layout search and as much drawing at every key,
        new every iteration (the numbers, and so their widths, change). Once per position; not while a
        job runs (it owns the timeline), nor in the Δ view (its arrays are made anew for each key).
        """
        controller = self.controller
        timeline = controller.timeline
        grid = self.query_one(TensorGrid)
        done = (timeline.position, self.size, grid.digits, grid.mode)
        if controller.running or self.query_one(Finder).delta or self._prepared == done:
            return
        self._prepared = done
        position = timeline.position
        for index in (position + 1, position - 1):
            if index >= 0 and not (index > position and timeline.at_end):
                grid.prepare(self._tensors(timeline.record_at(index)))

    def _tensors(self, record: StepRecord | None, compare: bool = True) -> tuple:
        tensors = self.controller.tensors(record, short=self.size.height < 40, compare=compare)
        return self.query_one(Finder).as_shown(record, tensors) if compare else tensors

    def _profile(self, record: StepRecord | None) -> None:
        """Once per iteration: tell the tensor grid what every op of it will show."""
        iteration = record.iteration - 1 if record else 0
        if self._profiled == (iteration, self.size):
            return
        self._profiled = (iteration, self.size)
        grid = self.query_one(TensorGrid)
        records = self.controller.timeline.iteration_records(iteration)
        grid.set_profiles(tuple(self._tensors(r, compare=False) for r in records))

    def update_status(self, record: StepRecord | None = None, losses: np.ndarray | None = None) -> None:
        """Refresh the status line (position, loss, breakpoints, job, message)."""
        controller = self.controller
        if record is None and not controller.running:
            record = controller.record
        self.query_one(StatusLine).status = status_of(controller, record, losses, self.progress, self.message,
                                                      tuple(self.query_one(TensorGrid).below))

    def moved(self, outcome: Outcome) -> None:
        """The position changed other than by a move key (G to a near iteration): show it and say how."""
        self.message = outcome
        if outcome.error:
            self.notify(outcome.text, severity="error", timeout=8, markup=False)
        self.show()

    def say(self, outcome: Outcome) -> None:
        """Put a message in the status line (and a toast for errors)."""
        self.message = outcome
        if outcome.error:
            self.notify(outcome.text, severity="error", timeout=8, markup=False)
        running = bool(self.controller.running)
        self.update_status(losses=None if running else self.controller.losses())

    # -- explain this number ---------------------------------------------------

    def on_tensor_pane_selected(self, message: TensorPane.Selected) -> None:
        """The cell cursor moved: remember what it is on, across ops (W⁽²⁾₁₃ stays W⁽²⁾₁₃ through
        forward, backward and update), and explain it."""
        tensor = message.pane.tensor
        if tensor is None:
            return
        self._selection.choose(tensor, message.cell, self.controller.record if not self.controller.running else None)
        self._explain(message.pane)

    @property
    def selection(self) -> tuple[tuple[str, int], tuple[int, ...]] | None:
        """The selected number: what it is across ops, and where in it (None: none)."""
        return self._selection.chosen

    def _explain(self, prefer: TensorPane | None = None) -> None:
        """Put the cursor on the selected number in this op's panes, work it out in the equation
        pane and mark the cells it came from (screens/selection.py)."""
        finder = self.query_one(Finder)
        self._selection.explain(self.query_one(TensorGrid).panes, self.query_one(EquationPane), finder.sample,
                                finder.sample_cell, prefer)

    def select(self, name: str, index: tuple[int, ...]) -> bool:
        """Put the cell cursor on tensor `name` at `index` in this op's panes (a search hit), focus
        that pane and explain the number; False when no pane shows that tensor."""
        pane = next((p for p in self.query_one(TensorGrid).panes if p.tensor is not None and p.tensor.name == name), None)
        if pane is None:
            return False
        pane.focus()
        pane.cursor = None  # announce even when the cursor was already there (another op)
        pane.set_cursor(matrix_cell(index), announce=True)
        return True

    def clear_selection(self) -> None:
        """No number selected: the equation pane works out unit 1 of sample 1 again."""
        self._selection.chosen = None
        self._explain()
        self.set_focus(None)

    def on_job_progress(self, message: JobProgress) -> None:
        """A frame of a running job: position, loss and status every time; the tensor panes, the
        costly part of a frame, at most every TENSORS_EVERY seconds (the run gets the time)."""
        if self.controller.running:
            self.progress = message.text
            now = time.monotonic()
            tensors = now - self._tensors_shown >= TENSORS_EVERY
            if tensors:
                self._tensors_shown = now
            self.show(message.record, message.losses, tensors=tensors)
        self.app.call_after_refresh(self.controller.screen_done)  # the job waits for this frame (Controller)

    def on_job_done(self, message: JobDone) -> None:
        """The job ended (Jobs has tidied up): show where it stopped and what happened."""
        self.progress = ""
        self.message = message.outcome
        self.refresh_bindings()
        self.show()

    # -- moving ----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a job runs, moves are shown disabled; esc (stop) only then."""
        running = bool(self.controller.running)
        if action == "stop":  # esc: stops a job; else clears the selected number
            return running or self.selection is not None or isinstance(self.focused, TensorPane)
        if running and action in MOVES:
            return None
        return True  # in a trace, x and r say why they do nothing (a key that is silently off looks broken)

    def _move(self, move: str) -> None:
        controller = self.controller
        if controller.running:
            return
        if controller.far(move):
            self.jobs.far_move(move)
            self.refresh_bindings()
            return
        outcome = controller.move(move)
        if outcome.text:
            self.say(outcome)
            return
        self.message = outcome
        self.show()

    def action_next_op(self) -> None:
        """Compute the next op."""
        self._move("next")

    def action_previous_op(self) -> None:
        """Step back one op."""
        self._move("back")

    def action_next_stage(self) -> None:
        """Finish the current stage (or the next one)."""
        self._move("stage")

    def action_finish_iteration(self) -> None:
        """Finish the current iteration (or the next one)."""
        self._move("iteration")

    def action_finish_epoch(self) -> None:
        """Finish the current epoch (or the next one)."""
        self._move("epoch")

    def action_reset(self) -> None:
        """Back to before the first op."""
        if not self.controller.running:
            self.message = self.controller.reset()
            self.show()

    def action_goto_iteration(self) -> None:
        """Ask for an iteration, then jump to its first op."""
        if not self.controller.running:
            self.jobs.goto_iteration()

    def action_continue(self) -> None:
        """Run until a breakpoint hits (or a NaN loss, or esc)."""
        if not self.controller.running:
            self.jobs.continue_()
            self.refresh_bindings()

    def action_run_iterations(self) -> None:
        """Ask for N, then run N whole iterations."""
        if self.read_only:
            self.say(Outcome("a trace is read-only: nothing to train (c replays it to a breakpoint or its end)"))
        elif not self.controller.running:
            self.jobs.run_iterations()

    def action_stop(self) -> None:
        """Ask the running job to stop at the next op; with none, clear the selected number."""
        if self.controller.running:
            self.controller.stop()
        else:
            self.clear_selection()

    def action_find(self, what: str) -> None:
        """Reverse-continue, reverse step, watches, find in the tensors, follow a sample, Δ view (screens/find.py)."""
        self.query_one(Finder).run(what)

    def action_add_breakpoint(self) -> None:
        """Ask for a breakpoint expression."""
        self.jobs.add_breakpoint()

    def action_list_breakpoints(self) -> None:
        """List the breakpoints; remove some."""
        self.jobs.list_breakpoints()

    def action_export(self) -> None:
        """Ask where, then write the trace so far."""
        if self.read_only:
            self.say(Outcome("a trace is read-only: it is already a file (nnstep run --export writes new ones)"))
        elif not self.controller.running:
            self.jobs.export()

    def action_grad_check(self) -> None:
        """Check the gradients of this batch against finite differences."""
        if not self.controller.running:
            self.jobs.grad_check()

    def action_health(self) -> None:
        """Gradient health per layer."""
        if not self.controller.running:
            self.jobs.health()

    # -- how the tensors look --------------------------------------------------

    def action_toggle_mode(self) -> None:
        """Cycle heatmap+numbers → numbers → blocks."""
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        self.query_one(TensorGrid).mode = self.mode
        self.say(Outcome(f"tensor panes: {self.mode}"))

    def action_precision(self) -> None:
        """Cycle 4 → 6 → 2 significant digits."""
        self.digits = PRECISIONS[(PRECISIONS.index(self.digits) + 1) % len(PRECISIONS)]
        self.query_one(TensorGrid).digits = self.digits
        self.say(Outcome(f"tensor panes: {self.digits} significant digits"))

    def action_zoom(self) -> None:
        """Maximize the focused tensor pane (the first one if none has focus), or restore."""
        if self.maximized is not None:
            zoomed = self.maximized
            self.minimize()
            if isinstance(zoomed, TensorPane):
                self.call_after_refresh(zoomed.refit)
            return
        panes = [pane for pane in self.query(TensorPane) if pane.display]
        if not panes:
            self.say(Outcome("nothing to zoom", error=True))
            return
        focused = self.focused
        pane = focused if isinstance(focused, TensorPane) and focused in panes else panes[0]
        self.maximize(pane, container=False)
        pane.focus()
        self.call_after_refresh(pane.refit)  # a zoom brings no Resize event: the whole tensor, if it fits

    def action_help(self) -> None:
        """Show every key and what the panes mean."""
        self.app.push_screen(HelpScreen(self.BINDINGS))

    async def action_quit(self) -> None:
        """Stop any job, then quit with status 0."""
        self.controller.stop()
        self.app.exit()


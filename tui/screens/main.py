"""The main screen: network, equation, tensors, loss and data panes, and the stepping keys.

The screen owns a timeline — a live Session or a loaded trace, through the
one `Timeline` protocol (engine/timeline.py), never asking which — and
assigns what the panes show after every move (panes never fetch). Long runs
(continue, run N, export, gradient check) live in `jobs.JobsMixin`, in
worker threads. Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import threading

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Static

from nnstep.engine import Config, StepRecord
from nnstep.engine.schedule import PARAMETERS as WEIGHTS
from nnstep.engine.schedule import state_key
from nnstep.engine.timeline import Timeline
from nnstep.tui.render import symbol
from nnstep.tui.screens.dialogs import InputDialog
from nnstep.tui.screens.help import HelpScreen
from nnstep.tui.screens.jobs import JobsMixin
from nnstep.tui.widgets.data_plot import DataPlot
from nnstep.tui.widgets.equation_pane import EquationPane
from nnstep.tui.widgets.iteration_log import IterationLog
from nnstep.tui.widgets.loss_plot import LossPlot
from nnstep.tui.widgets.network_pane import NetworkPane
from nnstep.tui.widgets.status_line import Status, StatusLine
from nnstep.tui.widgets.tensor_grid import TensorGrid
from nnstep.tui.widgets.tensor_pane import Tensor, TensorPane
from nnstep.tui.widgets.tensor_view import MODES

PRECISIONS = (4, 6, 2)
MIN_SIZE = (40, 10)  # columns, rows: the equation, one tensor pane, status and footer (the `tiny` layout)

# Keys follow pudb/gdb where they fit (n next, c continue, b break); none is a ctrl key.
BINDINGS: list[BindingType] = [
    Binding("n", "next_op", "Next", tooltip="Compute the next op (forward, loss, backward or update)"),
    Binding("p", "previous_op", "Back", tooltip="Step back one op (time travel; recomputed, bit-identical)"),
    Binding("s", "next_stage", "Stage", tooltip="Run to the end of this stage (step over), or of the next"),
    Binding("i", "finish_iteration", "Iter", tooltip="Run to the last op of this iteration, or of the next"),
    Binding("e", "finish_epoch", "Epoch", show=False, tooltip="Run to the last op of this epoch, or of the next"),
    Binding("c", "continue", "Continue", tooltip="Run until a breakpoint hits (or a NaN loss, or esc)"),
    Binding("r", "run_iterations", "Run N", show=False, tooltip="Run N whole iterations (stops early at a breakpoint)"),
    Binding("escape", "stop", "Stop", key_display="esc", tooltip="Stop a running continue / run N"),
    Binding("b", "add_breakpoint", "Break", tooltip="Add a breakpoint, e.g. `loss < 0.01`, `nan`, `norm(dW1) > 100`"),
    Binding("B", "list_breakpoints", "Breakpoints", key_display="B", show=False, tooltip="List and remove breakpoints"),
    Binding("g", "grad_check", "Grad check", show=False, tooltip="Check dW, db of this batch against finite differences"),
    Binding("w", "health", "Health", show=False, tooltip="Gradient health per layer: norms, update ratio, dead/saturated units"),
    Binding("x", "export", "Export", tooltip="Export the trace so far to JSON"),
    Binding("h", "toggle_mode", "Heat/num", show=False, tooltip="Tensor panes: heatmap+numbers, numbers, heat blocks"),
    Binding("full_stop", "precision", "Digits", key_display=".", show=False, tooltip="Tensor panes: 4, 6 or 2 decimals"),
    Binding("z", "zoom", "Zoom", show=False, tooltip="Zoom the focused tensor pane to the whole screen (tab focuses; z again)"),
    Binding("G", "goto_iteration", "Go to", key_display="G", show=False,
            tooltip="Jump to the first op of any iteration, earlier or later (time travel)"),
    Binding("0", "reset", "Reset", show=False, tooltip="Back to before the first op (history is kept)"),
    Binding("question_mark", "help", "Help", key_display="?", tooltip="Keys and what each pane shows"),
    Binding("q", "quit", "Quit", tooltip="Quit nnstep"),
]
MOVES = {"next_op", "previous_op", "goto_iteration", "next_stage", "finish_iteration", "finish_epoch", "reset", "continue",
         "run_iterations", "grad_check", "health", "export", "add_breakpoint", "list_breakpoints"}


class MainScreen(JobsMixin, Screen[None]):
    """Step through training: every pane shows the op at the session's position."""

    BINDINGS = BINDINGS

    def __init__(self, session: Timeline, *, read_only: bool = False) -> None:
        super().__init__()
        self.session = session
        self.config = session.config
        self.read_only = read_only or session.read_only
        self._carried = carried(self.config)
        self.breakpoints: list[str] = []
        self.message = ""
        self.message_error = False
        self.running = ""
        self.digits = PRECISIONS[0]
        self.mode = MODES[0]
        self.stop_event = threading.Event()
        self._profiled: tuple[int, object] | None = None

    def compose(self) -> ComposeResult:
        config = self.config
        with Horizontal(id="top"):
            yield NetworkPane(config, id="network")
            yield LossPlot(config.schedule, id="loss")
            if config.sizes[0] == 2 and len(config.x) >= 4:
                yield DataPlot(config, id="data")
        yield EquationPane(config, id="equation")
        yield TensorGrid(id="tensors")
        yield IterationLog(config, id="log")
        yield StatusLine(id="status")
        yield Footer(compact=True)
        yield Static(id="too-small")

    def on_mount(self) -> None:
        """Show the starting position."""
        self.fit()
        self.show()

    def on_resize(self) -> None:
        """Give the tensors the room on a tall terminal; drop the top row on a tiny one."""
        self.fit()
        if self.is_mounted and not self.running:
            self._profile(self.session.record)
            self.query_one(TensorGrid).tensors = self.tensors_of(self.session.record)

    def on_screen_resume(self) -> None:
        """A resize under a dialog reached only the dialog: fit to the size now."""
        self.on_resize()

    def fit(self) -> None:
        """Layout classes for the screen size: tall, tiny, or too small for any layout."""
        width, height = self.app.size  # under a dialog this screen's own size lags behind
        self.set_class(height >= 40, "tall")
        self.set_class(height < 20, "tiny")
        # Below the tiny layout's size the panes would be cut mid-border: say so instead.
        too_small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        self.set_class(too_small, "too-small")
        self.app.set_class(too_small, "too-small")  # dialogs and toasts hide too (nnstep.tcss)
        if too_small:
            self.query_one("#too-small", Static).update(
                f"terminal too small — need at least {MIN_SIZE[0]}×{MIN_SIZE[1]} (now {width}×{height}) · q quits"
            )
        palette = width >= 100
        for footer in self.query(Footer):
            if footer.show_command_palette != palette:
                footer.show_command_palette = palette
                footer.refresh(recompose=True)  # the reactive alone leaves the old keys in place

    # -- what the panes show ---------------------------------------------------

    def show(self, record: StepRecord | None = None, losses: np.ndarray | None = None) -> None:
        """Assign the current record to every pane (the session's, unless a run hands one over).

        One batched update: the panes change together in a single frame.
        """
        with self.app.batch_update():
            self._show(record, losses)

    def _show(self, record: StepRecord | None, losses: np.ndarray | None) -> None:
        session = self.session
        if record is None and not self.running:
            record = session.record
        if losses is None:
            losses = session.losses()
        self.query_one(NetworkPane).record = record
        self.query_one(EquationPane).record = record
        self.query_one(LossPlot).losses = losses
        if not self.running:
            self._profile(record)  # before the tensors, so the grid arranges them once
        self.query_one(TensorGrid).tensors = self.tensors_of(record)
        if not self.running:
            self.query_one(IterationLog).records = self._so_far(record)
            for plot in self.query(DataPlot):
                state = session.state
                plot.params = (state.W, state.b)
        self.update_status(record, losses)

    def _profile(self, record: StepRecord | None) -> None:
        """Once per iteration: tell the tensor grid what every op of it will show."""
        iteration = record.iteration - 1 if record else 0
        if self._profiled == (iteration, self.size):
            return
        self._profiled = (iteration, self.size)
        grid = self.query_one(TensorGrid)
        grid.set_profiles(tuple(self.tensors_of(r, compare=False) for r in self.session.iteration_records(iteration)))

    def _so_far(self, record: StepRecord | None) -> tuple[StepRecord, ...]:
        if record is None:
            return ()
        return tuple(r for r in self.session.iteration_records(record.iteration - 1) if r.index <= record.index)

    def on_tensor_grid_fitted(self, message: TensorGrid.Fitted) -> None:
        """Snug tensor panes leave room: the iteration log takes it (on a tall terminal)."""
        self.set_class(message.snug, "snug")

    def update_status(self, record: StepRecord | None = None, losses: np.ndarray | None = None) -> None:
        """Refresh the status line (position, loss, breakpoints, job, message)."""
        if record is None and not self.running:
            record = self.session.record
        finite_loss = None
        if losses is not None and len(losses):
            finite_loss = float(losses[-1])
        self.query_one(StatusLine).status = Status(
            name=self.config.name,
            epoch=record.epoch if record else 0,
            iteration=record.iteration if record else 0,
            index=record.index if record else -1,
            loss=finite_loss,
            breakpoints=len(self.breakpoints),
            running=self.running,
            message=self.message,
            error=self.message_error,
            read_only=self.read_only,
            note=getattr(self.config, "parity_text", ""),
        )

    def say(self, message: str, *, error: bool = False) -> None:
        """Put a message in the status line (and a toast for errors)."""
        self.message, self.message_error = message, error
        if error:
            self.notify(message, severity="error", timeout=8)
        self.update_status(losses=None if self.running else self.session.losses())

    def tensors_of(self, record: StepRecord | None, compare: bool = True) -> tuple[Tensor, ...]:
        """The record's tensors with their symbols and what each is compared with."""
        if record is None:
            return ()
        previous = self._previous(record) if compare else None
        depth = self.config.depth
        result = []
        # Plain SGD's ΔW is just −η·∂L/∂W (the equation says so): on a short terminal it makes room.
        same_batch = self.config.batches_per_epoch == 1
        plain_sgd = not (self.config.optimizer.state_names() or self.config.optimizer.weight_decay)
        skip = ("step_W", "step_b") if plain_sgd and self.size.height < 40 else ()
        for name, values in record.tensors.items():
            if name in skip or name == "rows":  # the batch's row numbers: data, not a tensor to study
                continue
            if record.op == "update" and name in ("W", "b"):
                reference = record.tensors.get(f"{name}_before")
            elif previous is not None and (same_batch or name in self._carried):
                reference = previous.tensors.get(name)
            else:
                reference = None  # another batch: its rows are other samples, changes would mean nothing
            result.append(Tensor(name, symbol(name, record, depth, self.config.schedule), values, name in record.writes, reference))
        return tuple(result)

    def _previous(self, record: StepRecord) -> StepRecord | None:
        """The same op of the previous iteration, if known (for the ▴/▾ change marks).

        During a run the worker owns a live timeline: nothing is computed on the
        UI thread then. A read-only one only looks records up.
        """
        if self.running and not self.session.read_only:
            return None
        return self.session.previous_record(record)

    # -- moving ----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a run is going, moves are shown disabled; esc (stop) only then."""
        if action == "stop":
            return bool(self.running)
        if self.running and action in MOVES:
            return None
        if self.read_only and action in ("export", "run_iterations"):
            return None
        return True

    def _move(self, move: str) -> None:
        if self.running:
            return
        session = self.session
        if move == "next":
            if session.at_end:
                self.say("end of the trace")
                return
            session.step()
        elif move == "back":
            if session.position < 0:
                self.say("already before the first op")
                return
            session.back()
        else:
            before = session.position
            session.finish(move)
            if session.position == before:
                self.say("end of the trace")
                return
        self.message = ""
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

    def action_goto_iteration(self) -> None:
        """Ask for an iteration, then jump to its first op."""
        if self.running:
            return

        def check(text: str) -> str | None:
            return None if text.isdigit() and int(text) >= 1 else "an iteration number, 1 or more"

        def go(text: str | None) -> None:
            if not text:
                return
            iteration = int(text)
            if self.session.goto_iteration(iteration) is None:  # only a trace ends
                self.say(f"the trace has no iteration {iteration}", error=True)
                return
            self.message = f"at the first op of iteration {iteration}"
            self.show()

        record = self.session.record
        current = str(record.iteration) if record else "1"
        self.app.push_screen(InputDialog("Go to iteration", "Iteration (its first op):", current, check), go)

    def action_reset(self) -> None:
        """Back to before the first op."""
        if not self.running:
            self.session.reset()
            self.message = "reset: before the first op"
            self.show()

    def action_toggle_mode(self) -> None:
        """Cycle heatmap+numbers → numbers → blocks."""
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        self.query_one(TensorGrid).mode = self.mode
        self.say(f"tensor panes: {self.mode}")

    def action_precision(self) -> None:
        """Cycle 4 → 6 → 2 decimals."""
        self.digits = PRECISIONS[(PRECISIONS.index(self.digits) + 1) % len(PRECISIONS)]
        self.query_one(TensorGrid).digits = self.digits
        self.say(f"tensor panes: {self.digits} decimals")

    def action_zoom(self) -> None:
        """Maximize the focused tensor pane (the first one if none has focus), or restore."""
        if self.maximized is not None:
            self.minimize()
            return
        panes = [pane for pane in self.query(TensorPane) if pane.display]
        if not panes:
            self.say("nothing to zoom before the first op", error=True)
            return
        focused = self.focused
        pane = focused if isinstance(focused, TensorPane) and focused in panes else panes[0]
        self.maximize(pane, container=False)
        pane.focus()

    def action_help(self) -> None:
        """Show every key and what the panes mean."""
        self.app.push_screen(HelpScreen(self.BINDINGS))

    async def action_quit(self) -> None:
        """Stop any run, then quit with status 0."""
        self.stop_event.set()
        self.app.exit()


def carried(config: Config) -> frozenset[str]:
    """Tensors that carry over from batch to batch: W, b (before, after, the next layer's) and the optimizer's state.

    Compared with the previous iteration even when its batch held other samples.
    """
    state = {state_key(name, P) for name in config.optimizer.state_names() for P in WEIGHTS}
    return frozenset({*WEIGHTS, "W_next", "W_before", "b_before", *state})

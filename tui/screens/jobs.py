"""The main screen's longer jobs: continue, run N, export, gradient check, health, breakpoints.

Runs are the engine's run loop (engine/run.py) in a worker thread that alone
touches the session until it is done; it reports at most every ~100 ms with
a `Progress` message that can replace an unhandled one, so the screen never
renders every iteration. This module only words what the loop reports.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
from rich.console import RenderableType
from textual import work
from textual.worker import get_current_worker
from textual.message import Message

from nnstep.engine import NnstepError, Params, StepRecord
from nnstep.engine.breakpoints import Breakpoint, parse_breakpoint
from nnstep.engine.gradcheck import check_gradients
from nnstep.engine.run import RunResult, run
from nnstep.engine.timeline import Timeline, batch_of
from nnstep.engine.trace import write_trace
from nnstep.tui.render import fmt
from nnstep.tui.screens.dialogs import BreakpointList, InputDialog, Report
from nnstep.tui.screens.reports import HISTORY, gradcheck_report, health_report

if TYPE_CHECKING:
    from nnstep.tui.screens.main import MainScreen

REPORT_EVERY = 0.1  # seconds between progress frames during a run
CHUNK_SECONDS = 0.01  # fast-path training between two pauses for the UI thread
YIELD_SECONDS = 0.001
CHECK_LIMIT = 20_000  # parameters: above this an in-app finite-difference check takes too long
FOREVER = 10**9


class _Cancelled(Exception):
    """The user stopped an export; write_trace removes its temporary file."""


class Progress(Message):
    """A run's latest position; a newer one replaces an older one still queued."""

    def __init__(self, record: StepRecord | None, losses: np.ndarray) -> None:
        super().__init__()
        self.record = record
        self.losses = losses

    def can_replace(self, message: Message) -> bool:
        """Bursts collapse to the newest frame."""
        return isinstance(message, Progress)


class JobDone(Message):
    """A worker finished: what to tell the user, and maybe a report to open."""

    def __init__(self, text: str, error: bool = False, report: tuple[str, RenderableType] | None = None) -> None:
        super().__init__()
        self.text = text
        self.error = error
        self.report = report


class JobsMixin:
    """Worker-thread jobs of MainScreen; relies on its session, show(), say()."""

    stop_event: threading.Event

    def _start(self: MainScreen, label: str) -> None:
        self.stop_event = threading.Event()
        self.running = label
        self.message = ""
        self.refresh_bindings()
        self.update_status(self.session.record, self.session.losses())

    def _parsed(self: MainScreen) -> list[Breakpoint]:
        return [parse_breakpoint(text, self.config.activations) for text in self.breakpoints]

    # -- runs ------------------------------------------------------------------

    def action_continue(self: MainScreen) -> None:
        """Run op by op until a breakpoint hits; without breakpoints until a NaN loss or esc."""
        if self.running:
            return
        self._start("continue")
        if not self.breakpoints and self.session.can_train:
            self.say("no breakpoints (b adds one): training until esc or a NaN/inf loss")
        self._run(self._parsed(), FOREVER)

    def action_run_iterations(self: MainScreen) -> None:
        """Ask for N, then run N whole iterations (stopping at a breakpoint)."""
        if self.running:
            return

        def check(text: str) -> str | None:
            return None if text.isdigit() and 0 < int(text) <= FOREVER else "a whole number of iterations, at least 1"

        def start(text: str | None) -> None:
            if text:
                self._start(f"run {int(text)}")
                self._run(self._parsed(), int(text))

        self.app.push_screen(InputDialog("Run N iterations", "Iterations to run:", "100", check), start)

    def action_stop(self: MainScreen) -> None:
        """Ask the running job to stop at the next op."""
        if getattr(self, "stop_event", None) is not None:
            self.stop_event.set()

    @work(thread=True, exclusive=True, group="run")
    def _run(self: MainScreen, breakpoints: list[Breakpoint], iterations: int) -> None:
        worker = get_current_worker()
        last = [time.monotonic()]

        def stop() -> bool:
            # The app cancels its workers when it quits by any way (q, ctrl+q, the palette, a crash):
            # a thread that kept training would keep the process alive after the screen is gone.
            return self.stop_event.is_set() or worker.is_cancelled

        def progress(timeline: Timeline) -> None:
            now = time.monotonic()
            if now - last[0] >= REPORT_EVERY:
                last[0] = now
                self.post_message(Progress(timeline.record, timeline.losses()))

        try:
            # Fast-path chunks of about CHUNK_SECONDS, then a short sleep: the UI
            # thread gets the GIL at once instead of waiting out Python's switch
            # interval many times per frame, so keys stay quick during a run.
            result = run(self.session, iterations=iterations, breakpoints=breakpoints, stop=stop, progress=progress,
                         chunk_seconds=CHUNK_SECONDS, pause=YIELD_SECONDS)
        except Exception as error:  # noqa: BLE001 - a crash in a worker must reach the user, not kill the app
            self.post_message(JobDone(f"run failed: {error}", error=True))
            return
        self.post_message(JobDone(said(result, iterations, bool(breakpoints))))

    def on_progress(self: MainScreen, message: Progress) -> None:
        """A frame of a running job."""
        if self.running:
            self.show(message.record, message.losses)

    def on_job_done(self: MainScreen, message: JobDone) -> None:
        """The worker finished: show where it stopped, what happened, and any report."""
        self.running = ""
        self.refresh_bindings()
        self.message, self.message_error = message.text, message.error
        self.show()
        self.notify(message.text, severity="error" if message.error else "information", timeout=8 if message.error else 4)
        if message.report is not None:
            self.app.push_screen(Report(*message.report))

    # -- breakpoints -----------------------------------------------------------

    def action_add_breakpoint(self: MainScreen) -> None:
        """Ask for a breakpoint expression; a bad one is reported in the dialog, column and all."""

        def check(text: str) -> str | None:
            try:
                parse_breakpoint(text, self.config.activations)
            except NnstepError as error:
                return str(error)
            return None

        def add(text: str | None) -> None:
            if text:
                self.breakpoints.append(text)
                self.say(f"breakpoint {len(self.breakpoints)}: {text} (c continues to it)")

        self.app.push_screen(
            InputDialog("Add breakpoint", "Stop when (e.g. nan · loss < 0.01 · loss increased · norm(dW1) > 100 · "
                        "iteration == 50 · dead(1) > 0.5):", "", check),
            add,
        )

    def action_list_breakpoints(self: MainScreen) -> None:
        """List the breakpoints; remove some."""

        def keep(texts: list[str] | None) -> None:
            if texts is not None:
                self.breakpoints = texts
                self.say(f"{len(texts)} breakpoint{'s' if len(texts) != 1 else ''}")

        self.app.push_screen(BreakpointList(self.breakpoints), keep)

    # -- export ----------------------------------------------------------------

    def action_export(self: MainScreen) -> None:
        """Ask where, then write the trace up to the current op (atomically)."""
        if self.running or self.read_only:
            return
        record = self.session.record
        if record is None:
            self.say("nothing to export yet: press n to compute the first op", error=True)
            return
        default = f"nnstep-trace-{self.config.name}-{record.iteration}.json"
        per_iteration = sum(t.size for r in self.session.iteration_records(record.iteration - 1) for t in r.tensors.values())
        megabytes = per_iteration * 20 * record.iteration / 1e6  # ~20 characters per number in JSON
        size = f", about {megabytes:,.0f} MB" if megabytes >= 1 else ""
        self.app.push_screen(
            InputDialog("Export trace", f"Write {record.index + 1} step{'s' if record.index else ''}{size} as JSON (.gz compresses; esc cancels "
                        "while writing) to:", default),
            lambda path: self._export(path) if path else None,
        )

    def _export(self: MainScreen, path: str) -> None:
        self._start("export")
        self._write(path)

    @work(thread=True, exclusive=True, group="run")
    def _write(self: MainScreen, path: str) -> None:
        session = self.session
        target = Path(path).expanduser()
        worker = get_current_worker()

        def records() -> Iterator[StepRecord]:
            for record in session.iter_records():
                if self.stop_event.is_set() or worker.is_cancelled:
                    raise _Cancelled
                yield record

        try:
            count = write_trace(target, self.config.to_dict(), records())
        except _Cancelled:
            self.post_message(JobDone(f"export cancelled; {target} not written"))
            return
        except NnstepError as error:
            self.post_message(JobDone(str(error), error=True))
            return
        except Exception as error:  # noqa: BLE001 - never crash the app over an export
            self.post_message(JobDone(f"{target}: cannot export ({error})", error=True))
            return
        self.post_message(JobDone(f"exported {count} steps to {target.resolve()}"))

    # -- gradient check and health ---------------------------------------------

    def _iteration(self: MainScreen) -> int:
        record = self.session.record
        return record.iteration - 1 if record else 0

    def action_grad_check(self: MainScreen) -> None:
        """Finite differences against dW, db for the current iteration's parameters and batch."""
        if self.running:
            return
        iteration = self._iteration()
        batch = batch_of(self.session, iteration)
        if batch is None:
            self.say("gradient check: this trace lacks the forward and loss steps of the iteration", error=True)
            return
        params = batch[0]
        count = sum(w.size + b.size for w, b in zip(params.W, params.b))
        if count > CHECK_LIMIT:
            self.say(f"gradient check: {count} parameters is too many in the app; use `nnstep check`", error=True)
            return
        self._start("gradient check")
        self._check(iteration, *batch)

    @work(thread=True, exclusive=True, group="run")
    def _check(self: MainScreen, iteration: int, params: Params, x: np.ndarray, y: np.ndarray) -> None:
        try:
            checks = check_gradients(self.config, params, x, y)
        except Exception as error:  # noqa: BLE001
            self.post_message(JobDone(f"gradient check failed: {error}", error=True))
            return
        body = gradcheck_report(checks, iteration, len(x))
        verdicts = ", ".join(f"layer {c.layer} {c.verdict}" for c in checks)
        self.post_message(JobDone(f"gradient check: {verdicts}", report=("Gradient check", body)))

    def action_health(self: MainScreen) -> None:
        """Per-layer gradient health of the current iteration, with its history over recent iterations."""
        if self.running:
            return
        iteration = self._iteration()
        first = max(0, iteration - HISTORY + 1)
        timeline = self.session
        streamed: dict[int, list[StepRecord]] = {}
        # Streamed, not iteration_records() thirty times: a live session replays them in one pass.
        for record in timeline.iter_records(timeline.first_position(first), timeline.first_position(iteration + 1)):
            if first <= record.iteration - 1 <= iteration:
                streamed.setdefault(record.iteration - 1, []).append(record)
        history: dict[int, Sequence[StepRecord]] = dict(streamed)
        if not history:
            self.say("gradient health: no records of this iteration", error=True)
            return
        self.app.push_screen(Report("Gradient health", health_report(history, self.config.activations)))


def said(result: RunResult, iterations: int, breakpoints: bool) -> str:
    """The status line's words for how a run of `iterations` ended (steps counted from 1)."""
    record = result.record
    if result.reason == "breakpoint" and result.breakpoint is not None and record is not None:
        return f"breakpoint `{result.breakpoint.text}` hit at iteration {record.iteration}, step {record.index + 1}"
    if result.reason == "non-finite" and record is not None and result.loss is not None:
        return f"stopped: the loss is {fmt(result.loss)} at iteration {record.iteration} (its loss op)"
    if result.reason == "stopped":
        return f"stopped after {result.iterations} iteration{'s' * (result.iterations != 1)}"
    if result.reason == "end":
        return "end of the trace"
    if iterations >= FOREVER:
        return "stopped"
    return f"ran {iterations} iterations" + (", no breakpoint hit" if breakpoints else "")

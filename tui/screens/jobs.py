"""The main screen's longer jobs: continue, run N, export, gradient check, health, breakpoints.

Runs happen in a worker thread that alone touches the session until it is
done; it reports at most every ~100 ms with a `Progress` message that can
replace an unhandled one, so the screen never renders every iteration.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.worker import get_current_worker
from textual.message import Message

from nnstep.engine import NnstepError, Params, StepRecord
from nnstep.engine.breakpoints import Breakpoint, parse_breakpoint
from nnstep.engine.gradcheck import check_gradients
from nnstep.engine.trace import write_trace
from nnstep.tui.render import fmt
from nnstep.tui.screens.dialogs import BreakpointList, InputDialog, Report
from nnstep.tui.screens.reports import HISTORY, gradcheck_report, health_report
from nnstep.tui.source import TraceSession, batch_of

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
        if not self.breakpoints and not isinstance(self.session, TraceSession):
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
        session = self.session
        last = [time.monotonic()]
        worker = get_current_worker()

        def report() -> bool:
            # The app cancels its workers when it quits by any way (q, ctrl+q, the palette, a crash):
            # a thread that kept training would keep the process alive after the screen is gone.
            if self.stop_event.is_set() or worker.is_cancelled:
                return True
            now = time.monotonic()
            if now - last[0] >= REPORT_EVERY:
                last[0] = now
                self.post_message(Progress(session.record, session.losses()))
            return False

        try:
            if breakpoints or isinstance(session, TraceSession):
                text = self._run_stepping(breakpoints, iterations, report)
            else:
                text = self._run_fast(iterations, report)
        except Exception as error:  # noqa: BLE001 - a crash in a worker must reach the user, not kill the app
            self.post_message(JobDone(f"run failed: {error}", error=True))
            return
        self.post_message(JobDone(text))

    def _run_stepping(self: MainScreen, breakpoints: list[Breakpoint], iterations: int, report: Callable[[], bool]) -> str:
        session = self.session
        losses = session.losses()
        previous = [float(losses[-1]) if len(losses) else None]
        which: list[str] = []

        def hit(record: StepRecord) -> bool:
            for bp in breakpoints:
                if bp.hits(record, previous[0]):
                    which.append(bp.text)
                    return True
            if record.op == "loss":
                previous[0] = record.loss
            return False

        record = session.run_until(hit, iterations, stop=report)
        if record is not None:
            return f"breakpoint `{which[0]}` hit at iteration {record.iteration}, step {record.index + 1}"
        if self.stop_event.is_set():
            return "stopped"
        return "end of the trace" if isinstance(session, TraceSession) else f"ran {iterations} iterations, no breakpoint hit"

    def _run_fast(self: MainScreen, iterations: int, report: Callable[[], bool]) -> str:
        session = self.session
        done, chunk = 0, 1
        while done < iterations:
            if report():
                return f"stopped after {done} iterations"
            n = min(chunk, iterations - done)
            started = time.monotonic()
            session.train(n)
            done += n
            chunk_losses = session.losses()[-n:]
            bad = np.flatnonzero(~np.isfinite(chunk_losses))
            if bad.size:  # a chunk may run past the first inf into NaN: stop where it first went
                iteration = session.iterations_done - n + int(bad[0]) + 1
                session.goto((iteration - 1) * session.ops_per_iteration + 2 * self.config.depth)  # its loss op
                return f"stopped: the loss is {fmt(chunk_losses[bad[0]])} at iteration {iteration} (its loss op)"
            elapsed = time.monotonic() - started
            # Chunks of about CHUNK_SECONDS, then a short sleep: the UI thread
            # gets the GIL at once instead of waiting out Python's switch
            # interval many times per frame, so keys stay quick during a run.
            chunk = max(1, min(chunk * 2, int(n * CHUNK_SECONDS / max(elapsed, 1e-6)) or 1))
            time.sleep(YIELD_SECONDS)
        return f"ran {iterations} iterations" if iterations < FOREVER else "stopped"

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
            for record in session.iter_records(0, session.position + 1):
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
        history: dict[int, Sequence[StepRecord]] = {}
        if isinstance(self.session, TraceSession):
            for i in range(first, iteration + 1):
                if records := self.session.iteration_records(i):
                    history[i] = records
        else:
            opi = self.session.ops_per_iteration
            streamed: dict[int, list[StepRecord]] = {}
            for record in self.session.iter_records(first * opi, (iteration + 1) * opi):
                streamed.setdefault(record.iteration - 1, []).append(record)
            history.update(streamed)
        if not history:
            self.say("gradient health: no records of this iteration", error=True)
            return
        self.app.push_screen(Report("Gradient health", health_report(history, self.config.activations)))

"""The main screen's longer jobs: continue, run N, long jumps, export, gradient check, health, breakpoints.

`Jobs` is an invisible widget of the main screen. It asks what a job needs
(the dialogs), runs the controller's job in a worker thread — which alone
touches the timeline until it is done — and reports: a `JobProgress` at most
every ~100 ms, which replaces an older one still queued, so the screen never
renders every iteration; a `JobDone` at the end. Both bubble up to the
screen, which shows them. The words are the controller's.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np
from nnstep.engine import StepRecord
from nnstep.engine.timeline import Timeline, TraceTimeline
from nnstep.tui.boundary import failure_line
from nnstep.tui.controller import Controller
from nnstep.tui.outcome import FOREVER, MAX_ITERATIONS, Outcome, parse_count
from nnstep.tui.screens.dialogs import BreakpointList, InputDialog, Report
from nnstep.tui.screens.reports import HISTORY, gradcheck_report, health_report
from nnstep.tui.serve import download_name, download_type
from textual.message import Message
from textual.widget import Widget
from textual.worker import get_current_worker

REPORT_EVERY = 0.1  # seconds between progress frames during a job


class ProgressReport(Protocol):
    """A job's progress: where the timeline is and, if the job words it itself, how far it has got
    (else `launch` counts the iterations done of its `total`)."""

    def __call__(self, timeline: Timeline, text: str = "") -> None: ...


class JobProgress(Message):
    """A job's latest position; a newer one replaces an older one still queued."""

    def __init__(self, record: StepRecord | None, losses: np.ndarray, text: str = "") -> None:
        super().__init__()
        self.record = record
        self.losses = losses
        self.text = text

    def can_replace(self, message: Message) -> bool:
        """Bursts collapse to the newest frame."""
        return isinstance(message, JobProgress)


class JobDone(Message):
    """A job finished: what to tell the user."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__()
        self.outcome = outcome


class Jobs(Widget):
    """Starts the controller's jobs in a worker thread and opens the dialogs they need."""

    DEFAULT_CSS = "Jobs { display: none; }"

    def __init__(self, controller: Controller, say: Callable[[Outcome], None],
                 moved: Callable[[Outcome], None]) -> None:
        """`say` puts an outcome in the status line (the screen's); `moved` shows a new position and its outcome."""
        super().__init__()
        self.controller = controller
        self.say = say
        self.moved = moved

    # -- the worker ------------------------------------------------------------

    def launch(self, label: str, job: Callable[[Callable[[], bool], ProgressReport], Outcome], total: int = 0) -> None:
        """Run `job(stop, progress)` in a worker thread; `total` iterations make the progress a percentage
        (a job that goes back, say, words its own: `progress(timeline, text)`)."""
        controller = self.controller
        controller.start(label)
        self.say(Outcome(""))
        start = controller.timeline.iterations_done

        def work() -> None:
            worker = get_current_worker()
            last = [time.monotonic()]

            def stop() -> bool:
                # Asked between chunks of training: the screen's frame first (Controller.screen_busy).
                controller.wait_for_screen()
                # The app cancels its workers when it quits by any way (q, ctrl+q, the palette, a crash):
                # a thread that kept training would keep the process alive after the screen is gone.
                return controller.stopped() or worker.is_cancelled

            def progress(timeline: Timeline, text: str = "") -> None:
                now = time.monotonic()
                if now - last[0] >= REPORT_EVERY:
                    last[0] = now
                    if total and not text:
                        done = timeline.iterations_done - start
                        text = f"{done:,} of {total:,} iterations ({done / total:.0%})"
                    controller.screen_busy()  # the screen's handler says when the frame is out
                    self.post_message(JobProgress(timeline.record, timeline.losses(), text))

            try:
                outcome = job(stop, progress)
            except Exception as error:  # noqa: BLE001 - logged by the app's boundary; the job must still end
                outcome = Outcome(failure_line(self.app, error, label), error=True)
            self.post_message(JobDone(outcome))

        self.run_worker(work, thread=True, exclusive=True, group="run", name=label)
        self.screen.refresh_bindings()  # esc (stop) shows, the moves dim: whichever key started the job

    def on_job_done(self, message: JobDone) -> None:
        """The worker finished: moves are back on; a gradient check opens its report (the screen shows the rest)."""
        self.controller.done()
        self.controller.screen_done()
        outcome = message.outcome
        self.notify(outcome.text, severity="error" if outcome.error else "information", timeout=8 if outcome.error else 4, markup=False)
        if outcome.checks:
            body = gradcheck_report(list(outcome.checks), outcome.iteration, outcome.batch)
            self.app.push_screen(Report("Gradient check", body))

    # -- runs and jumps --------------------------------------------------------

    def continue_(self) -> None:
        """Run op by op until a breakpoint hits; without breakpoints until a NaN loss or esc."""
        controller = self.controller
        self.launch("continue", lambda stop, progress: controller.run_job(FOREVER, stop, progress))
        if not controller.breakpoints.enabled() and controller.timeline.can_train:
            off = " on (B switches them on)" if len(controller.breakpoints) else " (b adds one)"
            self.say(Outcome(f"no breakpoints{off}: training until esc or a NaN/inf loss"))

    def run_iterations(self) -> None:
        """Ask for N, then run N whole iterations (stopping at a breakpoint)."""

        def check(text: str) -> str | None:
            value = parse_count(text, "a number of iterations")
            return value if isinstance(value, str) else None

        def start(text: str | None) -> None:
            if not text:
                return
            count = parse_count(text, "")
            assert isinstance(count, int)
            self.launch(f"run {count:,}", lambda stop, progress: self.controller.run_job(count, stop, progress), count)

        self.app.push_screen(InputDialog("Run N iterations", "Iterations to run:", "100", check), start)

    def goto_iteration(self) -> None:
        """Ask for an iteration, then jump to its first op (in the background when it is far)."""
        controller = self.controller
        timeline = controller.timeline
        # A trace ends: ask only for the iterations it holds (a live session goes on to MAX_ITERATIONS).
        last = timeline.record_at(len(timeline) - 1).iteration if isinstance(timeline, TraceTimeline) and len(timeline) \
            else MAX_ITERATIONS

        def check(text: str) -> str | None:
            value = parse_count(text, "an iteration", high=last)
            return value if isinstance(value, str) else None

        def go(text: str | None) -> None:
            if not text:
                return
            iteration = parse_count(text, "", high=last)
            assert isinstance(iteration, int)
            if not controller.goto_far(iteration):
                self.moved(controller.goto(iteration))
                return
            position = controller.schedule.index(iteration - 1, 0)
            total = iteration - 1 - controller.timeline.iterations_done
            what = f"the first op of iteration {iteration:,}"
            self.launch(f"go to iteration {iteration:,}",
                         lambda stop, progress: controller.jump_job(position, stop, progress, what=what), total)

        record = controller.record if not controller.running else None
        current = str(record.iteration) if record else "1"
        self.app.push_screen(InputDialog("Go to iteration", f"Iteration (its first op), 1 to {last:,}:",
                                         current, check), go)

    def far_move(self, move: str) -> None:
        """A stage, iteration or epoch that ends many iterations away: in the background (esc stops)."""
        controller = self.controller
        position = controller.target(move)
        total = controller.schedule.locate(position)[0] - controller.timeline.iterations_done
        what = f"the end of the {move}"
        self.launch(f"to the end of the {move}",
                     lambda stop, progress: controller.jump_job(position, stop, progress, what=what), total)

    # -- breakpoints -----------------------------------------------------------

    def add_breakpoint(self) -> None:
        """Ask for a breakpoint expression; a bad one is reported in the dialog, column and all."""
        controller = self.controller

        def add(text: str | None) -> None:
            if text:
                self.say(controller.add_breakpoint(text))

        self.app.push_screen(
            InputDialog("Add breakpoint", "Stop when (e.g. nan · loss < 0.01 · loss increased · norm(dW1) > 100 · "
                        "iteration == 50 · dead(1) > 0.5):", "", controller.check_breakpoint),
            add,
        )

    def list_breakpoints(self) -> None:
        """List the breakpoints: switch on/off, set ignore counts, remove (changes apply at once)."""
        self.app.push_screen(BreakpointList(self.controller.breakpoints),
                             lambda _: self.say(self.controller.counted()))

    # -- export ----------------------------------------------------------------

    def export(self) -> None:
        """Ask where, then write the trace up to the current op (atomically; esc cancels)."""
        controller = self.controller
        record = controller.record
        if record is None:
            self.say(Outcome("nothing to export yet: press n to compute the first op", error=True))
            return
        # A name is any text (nnstep.debug's, a config file's stem): the default must be one file name here.
        name = re.sub(r"[^\w.+-]+", "_", controller.config.name).strip("._") or "config"
        default = f"nnstep-trace-{name}-{record.iteration}.json"
        count = record.index + 1
        size = controller.export_size()
        # In a browser (`nnstep serve`) the visitor downloads the trace: what they type is a file name, never a path.
        web = self.app.is_web
        prompt = (f"{'Download' if web else 'Write'} {count} op{'s' if count != 1 else ''}{size} as JSON (.gz compresses; "
                  f"esc cancels while writing) {'named' if web else 'to'}:")

        def write(path: str | None) -> None:
            if path and web:
                self.launch("export", lambda stop, progress: self._download(download_name(path, default), stop))
            elif path:
                self.launch("export", lambda stop, progress: controller.export_job(path, stop))

        self.app.push_screen(InputDialog("Export trace", prompt, default), write)

    def _download(self, name: str, stop: Callable[[], bool]) -> Outcome:
        """In the worker: the trace built in memory, then handed to the browser as a download named `name`."""
        outcome, data = self.controller.download_job(name, stop)
        if data is not None:
            self.app.call_from_thread(self.app.deliver_binary, io.BytesIO(data), save_filename=name,
                                      mime_type=download_type(name))
        return outcome

    # -- gradient check and health ---------------------------------------------

    def grad_check(self) -> None:
        """Finite differences against dW, db for the current iteration's parameters and batch."""
        controller = self.controller
        found = controller.check_batch()
        if isinstance(found, Outcome):
            self.say(found)
            return
        iteration, batch = found
        self.launch("gradient check", lambda stop, progress: controller.check_job(iteration, batch))

    def health(self) -> None:
        """Per-layer gradient health of the current iteration, with its history over recent iterations."""
        history = self.controller.history(HISTORY)
        if not history:
            self.say(Outcome("gradient health: no records of this iteration", error=True))
            return
        self.app.push_screen(Report("Gradient health", health_report(dict(history), self.controller.config.activations)))

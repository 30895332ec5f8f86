"""The main screen's find-the-cause keys: reverse-continue (C) and reverse step (P).

`Finder` is an invisible widget of the main screen, as `Jobs` is: the
screen's one action `find(what)` hands each key to it, so the screen module
does not grow a method per key. Reverse-continue may recompute many
iterations on a live session, so it runs as a job (esc stops it); the words
it reports are tui/find.py's.
"""

from __future__ import annotations

from collections.abc import Callable

from nnstep.tui.controller import Controller, Outcome
from nnstep.tui.find import previous_stage_end, reverse_continue
from nnstep.tui.screens.jobs import Jobs
from textual.widget import Widget

Stop = Callable[[], bool]


class Finder(Widget):
    """Runs the find keys: `run("reverse")`, `run("stage_back")`."""

    DEFAULT_CSS = "Finder { display: none; }"
    KEYS = ("reverse", "stage_back")

    def __init__(self, controller: Controller, jobs: Callable[[], Jobs], say: Callable[[Outcome], None],
                 show: Callable[[], None]) -> None:
        """`jobs` gives the screen's Jobs widget; `say` puts words in the status line; `show` redraws the panes."""
        super().__init__()
        self.controller = controller
        self.jobs = jobs
        self.say = say
        self.show = show

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

        def job(stop: Stop, progress: object) -> Outcome:
            try:
                text, _ = reverse_continue(controller.timeline, controller.breakpoints, stop)
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

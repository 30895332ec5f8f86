"""The Textual app of nnstep: one factory for the live debugger, one for trace replay.

`make_app(config)` is what `nnstep` and the tests run; `make_viewer(trace,
path)` opens an exported trace read-only with the same screen and keys.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nnstep.engine import Config, Session
from nnstep.engine.config import build_config
from nnstep.engine.diff import check_same_network
from nnstep.engine.timeline import Timeline, TraceTimeline
from nnstep.tui.boundary import BoundaryApp
from nnstep.tui.collector import QUIET, SETTLE, Collector
from nnstep.tui.controller import Controller
from nnstep.tui.outcome import Outcome
from nnstep.tui.screens.main import MainScreen
from textual import events
from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen


class NnstepApp(BoundaryApp):
    """Step-through debugger of neural-network training (the main screen does the work).

    An unexpected exception anywhere is one line in the status line, never the
    end of the session (BoundaryApp, tui/boundary.py).
    """

    CSS_PATH = "nnstep.tcss"
    TITLE = "nnstep"

    def __init__(self, session: Timeline, *, read_only: bool = False, title: str = "nnstep",
                 other: tuple[Timeline, str] | None = None) -> None:
        """`other`: a second run and its name, to compare with (the Δ view, d)."""
        super().__init__()
        self.session = session
        self.other = other
        self.read_only = read_only
        self.title = title
        self.collector = Collector()

    def on_mount(self) -> None:
        """Open the main screen on the session."""
        other, name = self.other if self.other is not None else (None, "")
        self.push_screen(MainScreen(Controller(self.session, read_only=self.read_only, other=other, other_name=name)))
        # Full garbage collections when nobody waits for a frame (tui/collector.py).
        self.call_after_refresh(self.collector.start)
        self.set_interval(0.1, self._collect)

    def _collect(self, quiet: float = QUIET) -> None:
        main = self._main_screen()
        self.collector.tick(busy=main is not None and bool(main.controller.running), quiet=quiet)

    def _main_screen(self) -> MainScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, MainScreen)), None)

    def on_unmount(self) -> None:
        """Python's own collection schedule again."""
        self.collector.stop()

    async def on_event(self, event: events.Event) -> None:
        """A key or a click: the user waits for a frame (no collection, and a running job lets the screen go first)."""
        if isinstance(event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)):
            self.collector.input()
            main = self._main_screen()
            if main is not None and main.controller.running:
                main.controller.screen_busy()
                self.call_after_refresh(main.controller.screen_done)
            self.call_after_refresh(self._collect_after_frame)
        await super().on_event(event)

    def _collect_after_frame(self) -> None:
        """The key's frame is out: a little later, if no other key came, lay out the next and the
        previous op ahead and collect (tui/collector.py)."""
        self.set_timer(SETTLE, self._after_frame)

    def _after_frame(self) -> None:
        main = self._main_screen()
        if main is not None and main.is_mounted and time.monotonic() - self.collector.last_input >= SETTLE:
            main.prepare()
        self._collect(SETTLE)

    def on_resize(self) -> None:
        """Under a dialog the main screen gets no resize event: fit it here, so a terminal
        too small for any dialog shows the 'too small' message behind it."""
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen) and screen is not self.screen and screen.is_mounted:
                screen.fit()

    def session_shown(self) -> bool:
        """The main screen is up: an error from here on is shown in it, not fatal."""
        return any(isinstance(s, MainScreen) and s.is_mounted for s in self.screen_stack)

    def show_error(self, line: str) -> None:
        """In the status line and a toast, as plain text."""
        self.main.say(Outcome(line, error=True))

    @property
    def main(self) -> MainScreen:
        """The main screen (under any dialog)."""
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """The palette's Screenshot: an SVG in the working directory (Textual's default, ~/Downloads, may
        not exist: it failed without a reason), its path said; in a browser, a download as before."""
        if self.is_web:
            return super().deliver_screenshot(filename, path, time_format)
        try:
            saved = self.save_screenshot(filename, path or str(Path.cwd()), time_format)
        except OSError as error:
            self.main.say(Outcome(f"screenshot not saved: {error.strerror or error}", error=True))
            return None
        self.main.say(Outcome(f"screenshot saved to {saved}"))
        return saved

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every key of the main screen is also a command in the palette."""
        yield from super().get_system_commands(screen)
        main = self.main
        for binding in MainScreen.BINDINGS:
            if isinstance(binding, Binding) and binding.action not in ("quit", "stop"):
                yield SystemCommand(binding.description, binding.tooltip, self._runner(main, binding.action))

    @staticmethod
    def _runner(main: MainScreen, action: str) -> Any:
        async def run() -> None:
            await main.run_action(action)

        return run


def make_app(config: Config) -> NnstepApp:
    """The step-through app on a fresh Session of `config` (used by `nnstep` and the tests)."""
    return NnstepApp(Session(config), title=f"nnstep · {config.name}")


def make_viewer(trace: dict[str, Any], path: str | Path, compare: tuple[dict[str, Any], str | Path] | None = None
                ) -> NnstepApp:
    """The app over an exported trace (from `read_trace`), read-only: step, back, finish, continue.

    `compare`: a second trace (and its path) of the same network; d shows each op's tensors as Δ
    against it. Raises NnstepError when it is a run of another network.
    """
    config = build_config(trace["config"], str(path), name=Path(path).name)
    session = TraceTimeline(config, trace["records"])
    if compare is None:
        return NnstepApp(session, read_only=True, title=f"nnstep view · {Path(path).name}")
    second, second_path = compare
    config_b = build_config(second["config"], str(second_path), name=Path(second_path).name)
    check_same_network(config, config_b, str(path), str(second_path))
    other = TraceTimeline(config_b, second["records"])
    return NnstepApp(session, read_only=True, title=f"nnstep view · {Path(path).name} vs {Path(second_path).name}",
                     other=(other, Path(second_path).name))

"""The app's error boundary: an unexpected exception costs one line, never the session.

Textual ends the app on any exception that escapes a key action, a message
handler, a worker or a render (`App._handle_exception`), and an exception in
a handler also stops that widget's message loop for good. A bug in a pane,
or a number edited into a trace opened with `nnstep view --unverified`,
would so throw away a session the user spent an hour stepping through.

`Boundary` is mixed into the app (tui/app.py) and catches at each of those
places instead: the action or message that failed is abandoned, the
position stays where it was, one plain-text line says what happened and
where the traceback went, and every other key — export included — keeps
working. A pane whose drawing fails shows that line in its place until it
draws again. Only what cannot be recovered ends the app, with one line
and status 1 instead of Textual's traceback: an error while the screen is
being built, and the same failure repeating many times a second (a broken
layout would otherwise report itself on every frame).

Tracebacks go to `ErrorLog.directory()`: `$XDG_STATE_HOME/nnstep/` (by
default `~/.local/state/nnstep/`), else a private folder in the temporary
directory — never the working directory, which may be a student's project
folder or read-only. One file per app session, created at the first error,
capped in size; only the newest KEEP_LOGS files are kept.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnstep.engine.errors import NnstepError, one_line
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import App
from textual.geometry import Region
from textual.strip import Strip
from textual.worker import WorkerFailed

KEEP_LOGS = 20  # log files kept in the folder (the oldest go first)
LOG_BYTES = 1_000_000  # per session: a repeating error must not fill the disk
LINE_CHARACTERS = 200  # of an error's own message in the one line
STORM = (50, 5.0)  # this many non-key failures within these seconds: the app cannot recover


def describe(error: BaseException) -> str:
    """An exception as one short plain line: a user error's own message, else its type and message."""
    text = str(error) if isinstance(error, NnstepError) else f"{type(error).__name__}: {error}".rstrip(": ")
    text = " ".join(one_line(text).split())
    return text if len(text) <= LINE_CHARACTERS else text[: LINE_CHARACTERS - 1] + "…"


class ErrorLog:
    """Where this session's tracebacks are written (lazily: no error, no file)."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.failed = False  # the folder could not be written: say so instead of a path
        self._written = 0
        self._lock = threading.Lock()  # workers report from their threads

    @staticmethod
    def directory() -> Path:
        """$XDG_STATE_HOME/nnstep (default ~/.local/state/nnstep): the XDG place for logs."""
        state = os.environ.get("XDG_STATE_HOME", "").strip()
        base = Path(state) if state and os.path.isabs(state) else Path.home() / ".local" / "state"
        return base / "nnstep"

    @staticmethod
    def fallback() -> Path:
        """A private folder in the temporary directory, for a home that cannot be written."""
        return Path(tempfile.gettempdir()) / f"nnstep-{os.getuid() if hasattr(os, 'getuid') else 'user'}"

    def _open(self) -> Path | None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for folder in (self.directory(), self.fallback()):
            try:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                info = os.lstat(folder)
                if stat.S_ISLNK(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
                    continue  # a shared temporary folder: someone else's folder (or link) must not get our tracebacks
                path = folder / f"nnstep-{stamp}-{os.getpid()}.log"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), 0o600)
                os.close(fd)
            except OSError:
                continue
            self._prune(folder, keep=path)
            return path
        return None

    @staticmethod
    def _prune(folder: Path, keep: Path) -> None:
        try:
            logs = sorted(folder.glob("nnstep-*.log"), key=lambda p: p.stat().st_mtime)
            for old in logs[: max(len(logs) - KEEP_LOGS, 0)]:
                if old != keep:
                    old.unlink(missing_ok=True)
        except OSError:
            pass

    def write(self, error: BaseException, where: str) -> Path | None:
        """Append `error`'s traceback (and where it happened) to the log; its path, or None if none can be written."""
        with self._lock:
            if self.path is None and not self.failed:
                self.path = self._open()
                self.failed = self.path is None
            if self.path is None or self._written >= LOG_BYTES:
                return self.path
            text = (f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} in {where}\n"
                    + "".join(traceback.format_exception(type(error), error, error.__traceback__)) + "\n")
            data = text.encode("utf-8", "backslashreplace")[: LOG_BYTES - self._written]
            try:
                with open(self.path, "ab") as file:
                    file.write(data)
                self._written += len(data)
            except OSError:
                self.failed = True
            return self.path

    def line(self, error: BaseException, where: str, *, web: bool = False, kept: bool = True) -> str:
        """Log `error` and return the one line the user reads: what failed, where, where the details are."""
        path = self.write(error, where)
        if web:  # a visitor of `nnstep serve` has no business with the server's file names
            details = "details in the server's log" if path else "no log could be written"
        else:
            details = f"traceback in {path}" if path else "no log could be written"
        state = "the session keeps its place; " if kept else ""
        if isinstance(error, NnstepError):
            return f"{describe(error)} ({state}{details})"
        return f"internal error in {where}: {describe(error)} ({state}{details})"


class Storm:
    """Counts failures not caused by a key: STORM[0] of them within STORM[1] seconds means the app cannot recover."""

    def __init__(self, limit: int = STORM[0], seconds: float = STORM[1]) -> None:
        self.limit = limit
        self.seconds = seconds
        self._times: deque[float] = deque(maxlen=limit)

    def hit(self) -> bool:
        """One more failure; True when they come too fast to go on."""
        now = time.monotonic()
        self._times.append(now)
        return len(self._times) == self.limit and now - self._times[0] < self.seconds


# Textual's own functions that draw the whole screen: a failure raised through one of them, outside
# any pane's render_lines (guard_render catches those), means nothing can be shown any more.
DRAWING = frozenset({"_refresh_layout", "_compositor_refresh", "_display", "render_update", "render_full_update",
                     "render_partial_update", "_arrange_root"})


def drawing(error: BaseException) -> bool:
    """True when `error` was raised while Textual drew or laid out the whole screen."""
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name in DRAWING:
            return True
        tb = tb.tb_next
    return False


def guard_dispatch(pump: Any, report: Callable[[BaseException, str], None], fatal: tuple[type, ...]) -> None:
    """Make `pump` (a widget or screen) survive an exception in one of its message handlers.

    Textual's message loop stops for good after one (the widget would never
    handle a message again): the message is abandoned and reported instead.
    Messages of a `fatal` type (Compose: a widget half built) still end the app.
    """
    if getattr(pump, "_nnstep_guarded", False):
        return
    dispatch = pump._dispatch_message

    async def guarded(message: Any) -> None:
        try:
            await dispatch(message)
        except Exception as error:
            if isinstance(message, fatal):
                raise
            report(error, f"{type(pump).__name__}.{getattr(message, 'handler_name', 'handler')}")

    pump._dispatch_message = guarded
    pump._nnstep_guarded = True


def guard_render(widget: Any, report: Callable[[BaseException, str], None]) -> None:
    """Make a failure to draw `widget` show one line in its place (reported once) instead of ending the app."""
    if getattr(widget, "_nnstep_render_guarded", False):
        return
    render_lines = widget.render_lines
    failed: list[str] = []  # the failure on show, until the widget draws again

    def guarded(crop: Region) -> list[Strip]:
        try:
            lines = render_lines(crop)
        except Exception as error:  # noqa: BLE001 - the boundary: any failure to draw a pane
            text = describe(error)
            if failed != [text]:
                failed[:] = [text]
                report(error, f"drawing {type(widget).__name__}")
            return placeholder(crop, f"⚠ this pane could not be drawn: {text}")
        failed.clear()
        return lines

    widget.render_lines = guarded
    widget._nnstep_render_guarded = True


def placeholder(crop: Region, text: str) -> list[Strip]:
    """`crop`'s lines, blank but for `text` in red on the widget's first line."""
    lines = []
    for y in range(crop.y, crop.y + crop.height):
        segments = [Segment(text, Style(color="red", bold=True))] if y == 0 else []
        lines.append(Strip(segments).adjust_cell_length(crop.width))
    return lines


def failure_line(app: Any, error: BaseException, where: str) -> str:
    """For a worker thread: log `error` in `app`'s log and return the line to show (see BoundaryApp.report)."""
    if isinstance(app, BoundaryApp):
        return app.record(error, where)
    return describe(error)


class BoundaryApp(App[None]):
    """An App whose key actions, message handlers, workers and panes cannot end it by raising.

    Textual's own places are overridden (Textual 8.2, pinned in pyproject.toml;
    tests/tui/test_boundary.py injects a failure into each): `run_action` for
    keys and the command palette, each widget's message dispatch as it is
    registered, each widget's `render_lines`, and `_handle_exception` for the
    rest (workers, callbacks, timers, layout). Subclasses say how to show a
    line (`show_error`) and when the session is on screen (`session_shown`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.errors = ErrorLog()
        self.reported: list[str] = []  # every line shown for an error, oldest first (tests read it)
        self._storm = Storm()
        self._reporting = False
        self._fatal_text = ""

    # -- what subclasses say ---------------------------------------------------

    def session_shown(self) -> bool:
        """True once the session is on screen: from then on an error is shown, not fatal."""
        return True

    def show_error(self, line: str) -> None:
        """Put an error line where the user reads it (a toast by default)."""
        self.notify(line, severity="error", timeout=12, markup=False)

    # -- reporting --------------------------------------------------------------

    def record(self, error: BaseException, where: str, *, kept: bool = True) -> str:
        """Log `error`'s traceback and return the one line for it (safe from any thread)."""
        line = self.errors.line(error, where, web=self.is_web, kept=kept)
        self.reported.append(line)
        return line

    def report(self, error: BaseException, where: str) -> None:
        """Log `error`, show one line; the app goes on. An error while showing it is only logged."""
        if self._reporting:
            self.errors.write(error, f"{where} (while showing an earlier error)")
            return
        self._reporting = True
        try:
            line = self.record(error, where)
            if len(self.reported) > 1 and self.reported[-2] == line:
                return  # a pane that failed over the same thing the key did: shown once
            try:
                self.show_error(line)
            except Exception as again:  # noqa: BLE001 - the status line itself may be what is broken
                self.errors.write(again, "showing an error in the status line")
                self.notify(line, severity="error", timeout=12, markup=False)
        finally:
            self._reporting = False

    def _report_soon(self, error: BaseException, where: str) -> None:
        """From inside a render: show the line after this frame, not during it."""
        self.call_later(self.report, error, where)

    def _background(self, error: BaseException, where: str) -> None:
        """A failure no key caused (a handler, a worker): shown, unless the screen itself cannot be
        drawn (a pane that cannot is handled by guard_render) or failures come in a storm."""
        if drawing(error):
            self._fatal(error, f"{where}, drawing the screen")
        elif self._storm.hit():
            self._fatal(error, f"{where}, repeated {self._storm.limit} times within {self._storm.seconds:g} s")
        else:
            self.report(error, where)

    def _fatal(self, error: BaseException, where: str) -> None:
        """The app cannot go on: log, then let Textual end it, with one line instead of its traceback."""
        line = self.record(error, where, kept=False)
        self._fatal_text = f"nnstep: the app stopped: {line}"
        super()._handle_exception(error if isinstance(error, Exception) else RuntimeError(str(error)))

    # -- Textual's places -------------------------------------------------------

    async def run_action(self, action: Any, default_namespace: Any = None, namespaces: Any = None) -> bool:
        """A key, a palette command or a click's action: an exception in it is reported; the app goes on."""
        try:
            return await super().run_action(action, default_namespace, namespaces)
        except Exception as error:  # noqa: BLE001 - the boundary: any bug in an action
            name = action if isinstance(action, str) else "an action"
            self.report(error, f"the action {name.rsplit('.', 1)[-1]}")
            return True

    def _register_child(self, parent: Any, child: Any, before: int | None, after: int | None) -> None:
        super()._register_child(parent, child, before, after)
        # A widget that failed to compose is half built: fatal. One whose on_mount failed (showing
        # a step whose numbers a trace got wrong) is whole: reported like any handler.
        guard_dispatch(child, self._background, (events.Compose,))
        guard_render(child, self._report_soon)

    async def _dispatch_message(self, message: Any) -> None:
        try:
            await super()._dispatch_message(message)
        except Exception as error:
            if isinstance(message, (events.Compose, events.Mount)) or not self.session_shown():
                raise
            self._background(error, f"{type(self).__name__}.{getattr(message, 'handler_name', 'handler')}")

    def _handle_exception(self, error: Exception) -> None:
        """Everything else that Textual would end the app for: a worker, a callback, a timer, the layout."""
        where = "a background job" if isinstance(error, WorkerFailed) else "the app"
        cause = error.error if isinstance(error, WorkerFailed) else error
        if self._exit_renderables or self._closing or self._closed:
            self.errors.write(cause, f"{where}, while closing")  # already on the way out: nothing left to save
            return
        if not self.session_shown():
            self._fatal(cause, f"{where}, before the session was on screen")
            return
        self._background(cause, where)

    def _fatal_error(self) -> None:
        """One line naming the log instead of Textual's traceback with locals (which is in the log)."""
        if not self._fatal_text:
            super()._fatal_error()
            return
        self.bell()
        self._exit_renderables.append(Text(self._fatal_text, style="bold red"))
        self._close_messages_no_wait()

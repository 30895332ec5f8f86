"""The error boundary: an exception in a key, a job, a pane or a handler costs one line, not the session.

Each test injects a failure where a bug could be and checks what the user
would lose without the boundary: the app (it used to exit 1 with a
traceback), the position, the message, the traceback for a bug report, and
the export that saves the work. Batch rows: z has shape (B, n_l).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from nnstep.engine import Session, load_demo
from nnstep.engine.trace import read_trace, write_trace
from nnstep.tui.app import make_app, make_viewer
from nnstep.tui.controller import Controller
from nnstep.tui.screens.main import MainScreen
from nnstep.tui.widgets.equation_pane import EquationPane
from nnstep.tui.widgets.network_pane import NetworkPane
from nnstep.tui.widgets.status_line import StatusLine
from textual._compositor import Compositor

from .test_app import same_record, settle


class Boom(RuntimeError):
    """The injected bug."""


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Logs go to $XDG_STATE_HOME/nnstep; the working directory is elsewhere and must stay empty."""
    home = tmp_path / "state"
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    monkeypatch.chdir(work)
    return home / "nnstep"


def message(app) -> str:
    return app.main.query_one(StatusLine).status.message


def logged(state: Path) -> str:
    logs = list(state.glob("nnstep-*.log"))
    assert len(logs) == 1, logs
    return logs[0].read_text()


async def export_works(app, pilot, path: Path) -> None:
    """x writes a trace that reads back with one step per op up to the position."""
    position = app.main.controller.timeline.position
    await pilot.press("x")
    await pilot.pause()
    app.screen.query_one("Input").value = str(path)
    await pilot.press("enter")
    await settle(app, pilot)
    records = read_trace(path)["records"]
    assert len(records) == position + 1
    same_record(records[-1], app.main.controller.timeline.record)


async def test_a_key_that_raises_keeps_the_app_the_position_and_export(state: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in `n` used to end the app with exit 1 and a traceback: an hour of stepping lost."""
    config = load_demo("mazur")
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n", "n")
        move = Controller.move

        def broken(self, what):
            raise Boom("injected into move")

        monkeypatch.setattr(Controller, "move", broken)
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, MainScreen)
        assert app.main.controller.timeline.position == 2
        shown = message(app)
        assert shown.startswith("internal error in the action next_op: Boom: injected into move")
        assert str(state) in shown and "\n" not in shown
        assert app.main.query_one(StatusLine).status.error
        log = logged(state)
        assert "Traceback" in log and "injected into move" in log and "def broken" not in log and "in broken" in log
        monkeypatch.setattr(Controller, "move", move)
        await pilot.press("n")
        reference = Session(config)
        reference.goto(3)
        same_record(app.main.controller.timeline.record, reference.record)
        await export_works(app, pilot, tmp_path / "after.json")
        await pilot.press("q")
    assert app.return_code == 0
    assert list((tmp_path / "work").iterdir()) == []  # nothing in the working directory


async def test_a_job_that_raises_ends_the_job_and_moves_come_back(state: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's exception killed the app (WorkerFailed); had it not, `running` would stay set
    and every move stay disabled for good."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n")

        def broken(self, iterations, stop, progress=None):
            raise Boom("injected into run_job")

        monkeypatch.setattr(Controller, "run_job", broken)
        await pilot.press("c")
        await settle(app, pilot)
        assert app.is_running and app.main.controller.running == ""
        assert app.main.controller.timeline.position == 1
        assert message(app).startswith("internal error in continue: Boom: injected into run_job")
        assert "injected into run_job" in logged(state)
        await pilot.press("n")
        assert app.main.controller.timeline.position == 2
        await export_works(app, pilot, tmp_path / "after-job.json")


async def test_a_pane_that_cannot_draw_says_so_in_its_place(state: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch, screen_text) -> None:
    """A render bug in one pane must not take the screen down: the pane shows one line, the rest draws."""
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        render = NetworkPane.render

        def broken(self):
            raise Boom("injected into NetworkPane.render")

        monkeypatch.setattr(NetworkPane, "render", broken)
        await pilot.press("n")
        await pilot.pause()
        await pilot.pause()
        assert app.is_running
        shown = screen_text(app)
        assert "⚠ this pane could not be drawn: Boom" in shown  # cut at the pane's width
        assert "op 2" in shown and "a⁽¹⁾ = σ(z⁽¹⁾)" in shown  # the status line and the other panes still draw
        assert "internal error in drawing NetworkPane" in message(app)
        assert "injected into NetworkPane.render" in logged(state)
        monkeypatch.setattr(NetworkPane, "render", render)
        await pilot.press("n")
        await pilot.pause()
        shown = screen_text(app)
        assert "could not be drawn" not in shown and "z⁽²⁾ = W⁽²⁾a⁽¹⁾ + b⁽²⁾" in shown and "op 3" in shown
        await export_works(app, pilot, tmp_path / "after-render.json")


async def test_a_watch_method_that_raises(state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pane's watch_ method runs inside the key's action: reported, and p, n go on from the step reached."""
    config = load_demo("mazur")
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        watch = EquationPane.watch_record

        def broken(self, *args):
            raise Boom("injected into EquationPane.watch_record")

        monkeypatch.setattr(EquationPane, "watch_record", broken)
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running
        assert app.main.controller.timeline.position == 1  # the step was taken; showing it failed
        assert "Boom: injected into EquationPane.watch_record" in message(app)
        monkeypatch.setattr(EquationPane, "watch_record", watch)
        await pilot.press("p")
        same_record(app.main.query_one(EquationPane).record, Session(config).step())
        await export_works(app, pilot, tmp_path / "after-watch.json")


async def test_a_message_handler_that_raises_does_not_silence_the_screen(state: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual stops a widget's message loop after an exception in a handler: the main screen would
    never hear of a job's end again. The next job's end must still reach it."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(120, 40)) as pilot:
        done = MainScreen.on_job_done

        def broken(self, message):
            raise Boom("injected into MainScreen.on_job_done")

        monkeypatch.setattr(MainScreen, "on_job_done", broken)
        await pilot.press("c")
        await pilot.pause(0.2)
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.pause()
        assert "MainScreen.on_job_done" in message(app) and "Boom" in message(app)
        monkeypatch.setattr(MainScreen, "on_job_done", done)
        await pilot.press("c")
        await pilot.pause(0.2)
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.pause()
        assert message(app).startswith("stopped after")
        assert app.is_running


async def test_an_edited_number_found_while_viewing(state: Path, tmp_path: Path) -> None:
    """`nnstep view --unverified` lets a trace with a word where a number was: showing that step
    ended the app; now it is one line naming the file and the step, and p goes back."""
    config = load_demo("mazur")
    session = Session(config)
    session.goto(11)
    path = tmp_path / "edited.json"
    write_trace(path, config.to_dict(), session.iter_records())
    lines = path.read_text().split("\n")
    last = max(i for i, line in enumerate(lines) if line.startswith("[["))
    lines[last] = lines[last].replace("[[", '[["seven",', 1)
    path.write_text("\n".join(lines))
    app = make_viewer(read_trace(path), path)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(12):
            await pilot.press("n")
        await pilot.pause()
        assert app.is_running
        failures = [line for line in app.reported if "is not an array of numbers" in line]
        assert failures and failures[0].startswith(f"{path}: steps[")
        assert "keeps its place" in failures[0]
        position = app.main.controller.timeline.position
        await pilot.press("0")
        assert app.main.controller.timeline.position == -1
        await pilot.press("n")
        assert app.main.controller.timeline.position == 0 and position > 0


async def test_a_screen_that_cannot_be_drawn_ends_cleanly_with_one_line(state: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """When the screen as a whole cannot be drawn, nothing can be shown: the app must end (not spin
    reporting the same failure every frame), with status 1 and one line naming the log."""
    app = make_app(load_demo("mazur"))
    update = Compositor.render_update

    def broken(self, *args, **kwargs):
        if app.is_running and app.main.controller.timeline.position >= 0:
            raise Boom("injected into Compositor.render_update")
        return update(self, *args, **kwargs)

    monkeypatch.setattr(Compositor, "render_update", broken)
    with pytest.raises(Boom):
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("n")
            for _ in range(20):
                await pilot.pause(0.05)
    assert app.return_code == 1
    assert app._fatal_text.startswith("nnstep: the app stopped: internal error in ")
    assert "Boom: injected into Compositor.render_update" in app._fatal_text and str(state) in app._fatal_text
    assert "injected into Compositor.render_update" in logged(state)


def test_the_log_falls_back_prunes_and_stays_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unwritable state folder falls back to a private temporary one (never the working directory);
    old logs beyond KEEP_LOGS go; a failure repeating forever stops growing the file at LOG_BYTES."""
    from nnstep.tui import boundary

    blocked = tmp_path / "state"
    blocked.write_text("a file where the folder should be")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocked))
    monkeypatch.setattr(boundary.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    folder = boundary.ErrorLog.fallback()
    folder.mkdir(parents=True, mode=0o700)
    for i in range(boundary.KEEP_LOGS + 5):
        (folder / f"nnstep-old-{i:02}.log").write_text("old")
    log = boundary.ErrorLog()
    try:
        raise Boom("x" * 10_000)
    except Boom as error:
        for _ in range(200):
            line = log.line(error, "a test")
    assert log.path is not None and log.path.parent == folder
    assert str(log.path) in line and line.startswith("internal error in a test: Boom: xxx") and len(line) < 400
    assert log.path.stat().st_size == boundary.LOG_BYTES
    assert len(list(folder.glob("nnstep-*.log"))) == boundary.KEEP_LOGS
    assert list(work.iterdir()) == []


async def test_a_dialog_answer_that_raises(state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dialog's answer runs as a callback after it closes (Textual's call_next), outside any key:
    a bug there went straight to Textual's exit."""
    config = load_demo("mazur")
    session = Session(config)
    session.goto(32)
    path = tmp_path / "t.json"
    write_trace(path, config.to_dict(), session.iter_records())
    app = make_viewer(read_trace(path), path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n")

        def broken(self, iteration):
            raise Boom("injected into goto")

        monkeypatch.setattr(Controller, "goto", broken)
        await pilot.press("G")
        await pilot.pause()
        app.screen.query_one("Input").value = "2"
        await pilot.press("enter")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, MainScreen)
        assert app.main.controller.timeline.position == 1
        assert "Boom: injected into goto" in message(app)
        await pilot.press("n")
        assert app.main.controller.timeline.position == 2

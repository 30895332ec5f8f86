"""Random keys and hostile dialog text through Textual's Pilot: the app never dies, the session stays whole.

Seeded (the same keys every run), on a live session and on replayed traces,
whole and partial. Every key of the main screen, and into every dialog text
a user could paste: Rich markup, Unicode digits, a 10,000-digit number,
control characters, an escape sequence, 1e400, a lone surrogate, nothing.
Pilot re-raises any exception that reached Textual; the app's boundary
would catch the rest, so `app.reported` must stay empty too: a bug the
boundary hid is still a bug. Batch rows: x has shape (B, n_0).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from nnstep.engine import load_demo
from nnstep.engine.trace import read_trace
from nnstep.tui.app import make_app, make_viewer
from nnstep.tui.cli import main
from nnstep.tui.screens.dialogs import BreakpointList, InputDialog, Report
from nnstep.tui.screens.help import HelpScreen
from nnstep.tui.screens.main import MainScreen
from nnstep.tui.widgets.equation_pane import EquationPane
from nnstep.tui.widgets.status_line import StatusLine

from .test_app import same_record

KEYS = ["n", "n", "n", "p", "p", "s", "i", "e", "c", "r", "escape", "b", "B", "g", "w", "x", "h", "full_stop",
        "z", "G", "0", "question_mark", "tab", "up", "down", "left", "right", "j", "k"]
TEXTS = ["[bold]", "[/]", "[link=https://example.com]y[/link]", "²", "³", "١٢", "1" * 10_000, "\x00\x01\x7f",
         "\x1b[31m", "1e400", "", "   ", "\t", "-1", "0", "3", "7", "1,000", "1_0", "9" * 20, "1000000000",
         "loss < [/]", "nan", "loss < 0.25", "norm(dW1) > 1", "dead(1) > 0.5", "loss <", "__import__('os')",
         "x.json", "[red]t[/].json", "../", "/", "/dev/null", "a" * 300 + ".json", "\ud800", "🙂", "t.json.gz",
         "t.npz"]
# Per run; the suite keeps it short (about 5 s a run on a quiet machine). More, to hunt:
#   NNSTEP_FUZZ_KEYS=2000 NNSTEP_FUZZ_SEED=5 pytest tests/tui/test_fuzz_app.py
KEYS_PER_RUN = int(os.environ.get("NNSTEP_FUZZ_KEYS", "75"))
SEED = int(os.environ.get("NNSTEP_FUZZ_SEED", "0"))


async def fuzz(app, pilot, seed: int) -> None:
    """Press KEYS_PER_RUN random keys, answering every dialog with random hostile text or keys."""
    rng = random.Random(seed + SEED)
    main_screen = app.main
    controller = main_screen.controller
    for _ in range(KEYS_PER_RUN):
        screen = app.screen
        if isinstance(screen, InputDialog):
            screen.query_one("Input").value = rng.choice(TEXTS)
            await pilot.press(rng.choice(["enter", "enter", "enter", "escape"]))
        elif isinstance(screen, BreakpointList):
            await pilot.press(rng.choice(["d", "D", "a", "down", "escape", "escape"]))
        elif isinstance(screen, (Report, HelpScreen)):
            await pilot.press(rng.choice(["down", "escape", "escape", "q"]))
        else:
            await pilot.press(rng.choice(KEYS))
        if controller.running and rng.random() < 0.5:
            await pilot.pause(0.02)
            await pilot.press("escape")
        assert app.is_running, "the app exited"
        assert app.reported == [], app.reported
        if isinstance(app.screen, MainScreen) and not controller.running:
            record = controller.record
            assert main_screen.query_one(StatusLine).status.index == (record.index if record else -1)
    # Stop whatever runs, close dialogs; the screen must show the position the session is at.
    for _ in range(4):
        await pilot.press("escape")
    await app.workers.wait_for_complete()
    for _ in range(20):
        await pilot.pause()
        if not controller.running:
            break
    assert not controller.running and isinstance(app.screen, MainScreen)
    main_screen.show()
    await pilot.pause()
    same_record(main_screen.query_one(EquationPane).record, controller.record)
    assert app.reported == []


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # the export dialog's hostile names land here
    return tmp_path


async def test_random_keys_on_a_live_session(place: Path) -> None:
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(100, 30)) as pilot:
        await fuzz(app, pilot, 2)
        await pilot.press("q")
    assert app.return_code == 0


@pytest.mark.parametrize("options", [[], ["--stages", "update"], ["--every", "3", "--stages", "forward,loss"]],
                         ids=["whole", "stages-update", "every-3-forward-loss"])
async def test_random_keys_on_a_replayed_trace(options: list[str], place: Path) -> None:
    path = place / "trace.json"
    assert main(["run", "--demo", "mazur", "-n", "15", "-q", "--export", str(path), *options]) == 0
    app = make_viewer(read_trace(path), path)
    async with app.run_test(size=(100, 30)) as pilot:
        await fuzz(app, pilot, 7)
        await pilot.press("q")
    assert app.return_code == 0


async def test_a_number_selected_on_one_op_and_a_job_frame_of_another(place: Path, screen_text) -> None:
    """Found by the fuzz: a number selected on a linear op (its input a⁽⁰⁾), then a job's frame showing
    an activation op, which has no a_prev: the equation pane raised KeyError while drawing."""
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n")
        equation = app.main.query_one(EquationPane)
        record = equation.record
        assert record is not None and "a_prev" not in record.tensors
        equation.cell = ("a_prev", (0, 1), "x", False)
        await pilot.pause()
        assert record.equation in screen_text(app)
        assert app.reported == []

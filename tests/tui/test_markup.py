"""User text that looks like Rich markup or holds control characters is shown literally (issue 14, class 6).

A config name, a trace's file name, an export path, a breakpoint expression
or a trace field reaching Textual as markup either crashed the app (`[/]`
closes a tag never opened: MarkupError) or silently changed what the user
reads (`[bold]x` shows as a bold "x"); an ESC in it could drive the terminal.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from nnstep.engine import Session, build_config, load_demo
from nnstep.engine.trace import read_trace, write_trace
from nnstep.tui.app import make_app, make_viewer
from nnstep.tui.screens.dialogs import BreakpointList, InputDialog
from nnstep.tui.widgets.status_line import StatusLine
from textual.geometry import Region

from .test_app import settle

NAME = "[bold]x[/]"


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def toasts(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def type_into(app, pilot, text: str) -> None:
    await pilot.pause()
    assert isinstance(app.screen, InputDialog)
    app.screen.query_one("Input").value = text
    await pilot.press("enter")
    await pilot.pause()


async def test_markup_in_a_name_an_export_path_and_a_breakpoint_is_shown_literally(place: Path, screen_text) -> None:
    config = build_config(load_demo("mazur").to_dict(), "debug", name=NAME)
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        assert f" {NAME} │ epoch 1 │ iteration 1 │ op 1" in screen_text(app)
        # The default export name is one file name, whatever the config's name holds.
        await pilot.press("x")
        await pilot.pause()
        default = app.screen.query_one("Input").value
        assert "/" not in default and default.endswith("-1.json")
        await pilot.press("enter")
        await settle(app, pilot)
        assert (place / default).is_file()
        # A file name made of markup is written and named literally.
        await pilot.press("x")
        await type_into(app, pilot, "[red]out[i].json")
        await settle(app, pilot)
        assert (place / "[red]out[i].json").is_file()
        assert any(t.startswith("exported 1 ops to ") and t.endswith("[red]out[i].json") for t in toasts(app))
        # A failing export names the path literally too.
        await pilot.press("x")
        await type_into(app, pilot, "[/]missing/t.json")
        await settle(app, pilot)
        status = app.main.query_one(StatusLine).status
        assert status.error and "[/]missing" in status.message
        assert "[/]missing" in " ".join(screen_text(app).split())
        # A breakpoint the parser refuses: the dialog quotes it as typed.
        await pilot.press("b")
        await type_into(app, pilot, "loss < [/]")
        assert isinstance(app.screen, InputDialog)
        assert "breakpoint 'loss < [/]': column 8" in screen_text(app)
        await pilot.press("escape")
        # A listed breakpoint whose text looks like markup (a string literal of the grammar) is not markup either.
        app.main.controller.breakpoints.add("'[/]x [link=https://example.com]y[/link]' == 'a' or nan")
        await pilot.press("B")
        await pilot.pause()
        assert isinstance(app.screen, BreakpointList)
        assert "'[/]x [link=https://example.com]y[/link]'" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and app.reported == []


async def test_an_escape_sequence_in_a_name_never_reaches_the_terminal(place: Path) -> None:
    """ESC [31m in a name must not be written raw: the terminal would obey it."""
    config = build_config(load_demo("mazur").to_dict(), "debug", name="\x1b[31mred\x07")
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        line = app.main.query_one(StatusLine).render_lines(Region(0, 0, 120, 1))[0]
        text = "".join(segment.text for segment in line)
        assert "\\x1b[31mred\\x07 │ epoch 1" in text and "\x1b" not in text and "\x07" not in text


async def test_a_trace_whose_path_is_markup_and_whose_number_is_a_word(place: Path, screen_text) -> None:
    """The viewer of `[/]x.json` (a folder `[` holding `]x.json`) with an edited number: the error
    names the path as typed; nothing is parsed as markup and the app stays."""
    config = load_demo("mazur")
    session = Session(config)
    session.goto(10)
    (place / "[").mkdir()
    path = "[/]x.json"
    write_trace(path, config.to_dict(), session.iter_records())
    lines = Path(path).read_text().split("\n")
    last = max(i for i, line in enumerate(lines) if line.startswith("[["))
    lines[last] = lines[last].replace("[[", '[["[/]",', 1)
    Path(path).write_text("\n".join(lines))
    app = make_viewer(read_trace(path), path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert " ]x.json (trace, read-only)" in screen_text(app)
        for _ in range(11):
            await pilot.press("n")
        await pilot.pause()
        assert app.is_running and app.main.controller.timeline.position == 10
        assert any(line.startswith("[/]x.json: steps[") for line in app.reported)
        assert any(t.startswith("[/]x.json: steps[") for t in toasts(app))
        await pilot.press("w", "escape", "question_mark", "escape", "0")
        assert app.main.controller.timeline.position == -1

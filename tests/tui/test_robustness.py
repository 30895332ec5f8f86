"""The app under abuse: tiny terminals, a key held down, a diverging run, quitting mid-run, a failed export.

Each test says what the user would see go wrong if it failed. Batch rows:
z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from nnstep.engine import Session, build_config, load_demo
from nnstep.tui.app import make_app
from nnstep.tui.screens.dialogs import InputDialog
from nnstep.tui.screens.help import HelpScreen
from nnstep.tui.screens.main import MIN_SIZE
from nnstep.tui.widgets.equation_pane import EquationPane
from nnstep.tui.widgets.loss_plot import LossPlot
from nnstep.tui.widgets.network_pane import NetworkPane
from nnstep.tui.widgets.status_line import StatusLine
from nnstep.tui.widgets.tensor_pane import TensorPane
from textual import events
from textual.worker import WorkerState

from .test_app import same_record, settle

TOO_SMALL = f"terminal too small — need at least {MIN_SIZE[0]}×{MIN_SIZE[1]}"


def diverging_config():
    """mse on identity layers, N(0, 3²) weights, η = 50: the loss is inf by iteration 5, NaN after."""
    raw = {
        "seed": 1,
        "model": {"sizes": [2, 8, 1], "activations": ["identity", "identity"], "init": "normal", "std": 3.0},
        "loss": {"kind": "mse"},
        "optimizer": {"kind": "sgd", "lr": 50},
        "data": {"dataset": "xor"},
    }
    return build_config(raw, "diverging.toml", name="diverging")


def flat(text: str) -> str:
    """The screen's words with the line breaks of a narrow terminal taken out."""
    return " ".join(text.split())


# -- resizing -------------------------------------------------------------------


async def test_20x5_says_too_small_and_120x40_is_whole_again(screen_text) -> None:
    """At 20×5 the panes would be cut mid-border into noise; the user must read what size is needed,
    keys must still work, and growing the terminal must bring back every pane at the same step."""
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n", "n")
        await pilot.resize_terminal(20, 5)
        await pilot.pause()
        shown = screen_text(app)
        assert TOO_SMALL in flat(shown) and "(now 20×5)" in shown
        assert "╭" not in shown and "Next" not in shown  # no pane or footer fragments
        await pilot.press("n")
        assert app.main.controller.timeline.position == 3
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        shown = screen_text(app)
        assert "too small" not in shown
        assert app.main.query_one(NetworkPane).display and app.main.query_one(LossPlot).display
        assert "ŷ = a⁽²⁾ = σ(z⁽²⁾)" in shown  # op 4, the sigmoid of layer 2
        assert "op 4" in shown and "q Quit" in shown
        assert [p.tensor.name for p in app.main.query(TensorPane) if p.display] == ["z", "a"]


async def test_every_size_from_1x1_up_renders_without_error(screen_text) -> None:
    """Dragging a window corner passes through every size; none may raise (the app would die with a traceback)."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n")
        for width, height in [(1, 1), (5, 2), (20, 5), (39, 30), (200, 9), (40, 10), (41, 11), (80, 24), (250, 70)]:
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            shown = screen_text(app)
            small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
            assert app.main.has_class("too-small") == small, (width, height)
            if not small:
                assert "op 2" in shown, (width, height)
        assert app.main.controller.timeline.position == 1


async def test_resize_while_a_dialog_is_open_fits_on_return(screen_text) -> None:
    """A resize under the help screen reaches only the help screen: at 20×5 the help box was a
    mangled strip over the panes, and closing it left the main screen laid out for the old size."""
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.resize_terminal(20, 5)
        await pilot.pause()
        shown = screen_text(app)
        assert TOO_SMALL in flat(shown) and "▀" not in shown  # the message, no piece of the help box
        await pilot.press("escape")
        await pilot.pause()
        assert TOO_SMALL in flat(screen_text(app))
        await pilot.press("question_mark")
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert not app.main.has_class("too-small")
        assert "z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾" in screen_text(app)


async def test_shrinking_drops_the_palette_key_from_the_footer(screen_text) -> None:
    """Started wide then shrunk to 80 columns, the footer kept `^p palette` drawn over `q Quit`."""
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        assert "palette" in screen_text(app)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        assert "q Quit" in footer and "palette" not in footer


# -- a key held down ------------------------------------------------------------


async def hold(app, pilot, key: str, character: str, repeats: int) -> None:
    """Key repeat as a terminal delivers it to an app slower than the repeat rate: every event
    queued at once (not `pilot.press`, which waits for a frame after each key and made this
    test take two minutes), then the app left to work through them."""
    for _ in range(repeats):
        event = events.Key(key, character)
        event.set_sender(app)
        app.post_message(event)
    for _ in range(200):
        await pilot.pause()
        if app._message_queue.empty() and app.screen._message_queue.empty():
            break
    await pilot.pause()


async def test_a_key_held_down_for_1000_repeats(screen_text) -> None:
    """Holding n (then p) for 1,000 repeats must neither crash, nor drop or double a step,
    nor leave the screen showing an older step than the engine is at."""
    config = load_demo("mazur")
    app = make_app(config)
    reference = Session(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await hold(app, pilot, "n", "n", 1000)
        reference.goto(999)
        assert app.main.controller.timeline.position == reference.position == 999
        same_record(app.main.controller.timeline.record, reference.record)
        same_record(app.main.query_one(EquationPane).record, reference.record)
        shown = screen_text(app)
        assert f"iteration {reference.record.iteration} │ op 1000" in shown
        assert reference.record.equation in shown
        await hold(app, pilot, "p", "p", 1000)
        assert app.main.controller.timeline.position == -1
        assert "not started" in screen_text(app)
        await pilot.press("n")
        same_record(app.main.controller.timeline.record, Session(config).step())


# -- continue on a diverging run ------------------------------------------------


async def test_continue_on_a_diverging_run_stops_at_the_non_finite_loss(screen_text) -> None:
    """Without breakpoints, c trains until the loss is not finite: it must stop there (not run
    forever on NaN or crash), show the inf/NaN highlighted, and n must still step."""
    config = diverging_config()
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await settle(app, pilot)
        session = app.main.controller.timeline
        losses = session.losses()
        assert not np.isfinite(losses[-1]) and np.isfinite(losses[:-1]).all()
        assert len(losses) < 20
        status = app.main.query_one(StatusLine).status
        assert status.message == f"stopped: the loss is +inf at iteration {len(losses)} (its loss op)"
        assert session.record.op == "loss" and session.record.iteration == len(losses)  # the first, not a later NaN
        shown = screen_text(app)
        assert "loss +inf · ⚠ 1 NaN/inf · iter" in shown  # the loss pane's title: the warning is never cut off
        await pilot.press("i", "n", "n")  # into the next iteration: NaN from here on
        await pilot.pause()
        assert session.position == session.schedule.index(len(losses), 1)  # op 2 of the next iteration
        z = next(p for p in app.main.query(TensorPane) if p.display and p.tensor.name == "z")
        assert z.has_class("non-finite") and "⚠" in z.summary
        assert "NaN" in screen_text(app) or "inf" in screen_text(app)


async def test_continue_with_a_nan_breakpoint_then_stepping_on(screen_text) -> None:
    """The stepping path (breakpoints set): `nan` stops on the first non-finite tensor; stepping
    past it, and a second c, must keep working on NaN values."""
    app = make_app(diverging_config())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await pilot.pause()
        app.screen.query_one("Input").value = "nan"
        await pilot.press("enter", "c")
        await settle(app, pilot)
        record = app.main.controller.timeline.record
        assert record is not None and any(not np.isfinite(t).all() for t in record.tensors.values())
        assert "breakpoint `nan` hit" in app.main.query_one(StatusLine).status.message
        assert any(p.has_class("non-finite") for p in app.main.query(TensorPane) if p.display)
        before = app.main.controller.timeline.position
        await pilot.press("n", "n", "p")
        assert app.main.controller.timeline.position == before + 1
        await pilot.press("c")
        await settle(app, pilot)
        assert app.main.controller.timeline.position > before + 1


async def test_esc_stops_a_continue_that_would_run_forever() -> None:
    """A converging run never hits NaN: esc must stop it, and the screen must land on a real step."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause(0.3)
        assert app.main.controller.running == "continue"
        await pilot.press("escape")
        await settle(app, pilot)
        assert "stopped after" in app.main.query_one(StatusLine).status.message
        position = app.main.controller.timeline.position
        assert position > 0
        await pilot.press("n")
        assert app.main.controller.timeline.position == position + 1


# -- quitting mid-run -----------------------------------------------------------


async def still_training(session: Session) -> bool:
    """Does a worker still move the session, after the app is gone?"""
    before = session.iterations_done
    await asyncio.sleep(0.4)
    return session.iterations_done != before


@pytest.mark.parametrize("how", ["q", "app.exit"])
@pytest.mark.parametrize("breakpoint", [None, "loss < 0"])
async def test_quitting_during_continue_ends_the_run(how: str, breakpoint: str | None) -> None:
    """q (or Textual's own quit, ctrl+q) while continue trains an endless run: the app must exit
    with status 0, and the worker thread must stop — else the process hangs after the screen is gone."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(120, 40)) as pilot:
        main = app.main
        if breakpoint:
            main.controller.breakpoints.add(breakpoint)  # never true: the stepping path runs forever
        await pilot.press("c")
        await pilot.pause(0.3)
        assert main.controller.running == "continue"
        worker = next(w for w in app.workers if w.group == "run")
        if how == "q":
            await pilot.press("q")
        else:
            app.exit()
    assert app.return_code == 0
    await asyncio.sleep(0.1)
    training = await still_training(main.controller.timeline)
    main.controller.stop()  # release a runaway thread, so that this fails instead of hanging the suite
    assert not training
    assert worker.state in (WorkerState.CANCELLED, WorkerState.SUCCESS)


# -- export failure -------------------------------------------------------------


async def test_export_to_a_missing_folder_is_shown_and_nothing_moves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mistyped folder: the user must see why in red, stay on the same step with the same
    tensors, and be able to export again to a good path."""
    monkeypatch.chdir(tmp_path)
    config = load_demo("mazur")
    app = make_app(config)
    toasts: list[tuple[str, str]] = []
    notify = app.notify

    def spy(message: str, **kwargs):
        toasts.append((message, kwargs.get("severity", "information")))
        return notify(message, **kwargs)

    monkeypatch.setattr(app, "notify", spy)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("i", "n", "n", "x")
        await pilot.pause()
        assert isinstance(app.screen, InputDialog)
        app.screen.query_one("Input").value = "missing/trace.json"
        await pilot.press("enter")
        await settle(app, pilot)
        status = app.main.query_one(StatusLine).status
        assert status.error and "missing" in status.message and "does not exist" in status.message
        assert any(severity == "error" and "does not exist" in text for text, severity in toasts)
        reference = Session(config)
        reference.goto(12)
        assert app.main.controller.timeline.position == 12
        same_record(app.main.controller.timeline.record, reference.record)
        same_record(app.main.query_one(EquationPane).record, reference.record)
        assert not (tmp_path / "missing").exists() and list(tmp_path.iterdir()) == []
        await pilot.press("x")
        await pilot.pause()
        app.screen.query_one("Input").value = "ok.json"
        await pilot.press("enter")
        await settle(app, pilot)
        assert (tmp_path / "ok.json").is_file()
        assert not app.main.query_one(StatusLine).status.error
        assert app.main.controller.timeline.position == 12


# -- the layout fits --------------------------------------------------------------


@pytest.mark.parametrize("demo", ["mazur", "tutorial", "xor", "moons", "spiral", "sine"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_status_line_and_footer_stay_on_screen(demo: str, size: tuple[int, int]) -> None:
    """At every op of an iteration the status line and the keys must be on the bottom rows: when the
    tensor panes asked for more rows than the screen had (xor at 120×40), both scrolled off screen."""
    app = make_app(load_demo(demo))
    async with app.run_test(size=size) as pilot:
        for _ in range(len(app.main.controller.timeline.schedule) + 1):
            await pilot.press("n")
            await pilot.pause()
            status = app.main.query_one(StatusLine)
            assert status.region.y == size[1] - 2, (app.main.controller.timeline.position, status.region)
            assert app.main.scroll_offset.y == 0 and app.main.max_scroll_y == 0

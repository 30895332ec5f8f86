"""The app drives the engine exactly as the engine API does, and shows it.

Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from nnstep.engine import Session, StepRecord, build_config, load_demo
from nnstep.engine.trace import read_trace
from nnstep.tui.app import make_app, make_viewer
from nnstep.tui.screens.dialogs import InputDialog, Report
from nnstep.tui.screens.help import HelpScreen
from nnstep.tui.widgets.equation_pane import EquationPane
from nnstep.tui.widgets.loss_plot import LossPlot
from nnstep.tui.widgets.network_pane import NetworkPane
from nnstep.tui.widgets.status_line import StatusLine
from nnstep.tui.widgets.tensor_pane import TensorPane

from tests.engine.test_config_errors import run_main
from tests.tui.conftest import mazur_trace

MAZUR_EQUATIONS = [
    "z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾",
    "a⁽¹⁾ = σ(z⁽¹⁾)",
    "z⁽²⁾ = W⁽²⁾a⁽¹⁾ + b⁽²⁾",
    "ŷ = a⁽²⁾ = σ(z⁽²⁾)",
    "L = (1/n) Σ (ŷᵢ − yᵢ)²",
    "δ⁽²⁾ = ∂L/∂z⁽²⁾ = ∂L/∂ŷ ∘ σ′(z⁽²⁾)",
    "∂L/∂W⁽²⁾ = δ⁽²⁾(a⁽¹⁾)ᵀ,  ∂L/∂b⁽²⁾ = δ⁽²⁾  (summed over the batch)",
    "δ⁽¹⁾ = (W⁽²⁾)ᵀδ⁽²⁾ ∘ σ′(z⁽¹⁾)",
    "∂L/∂W⁽¹⁾ = δ⁽¹⁾(x)ᵀ,  ∂L/∂b⁽¹⁾ = δ⁽¹⁾  (summed over the batch)",
    "W⁽¹⁾ := W⁽¹⁾ − 0.5·∂L/∂W⁽¹⁾  (b⁽¹⁾ frozen: unchanged)",
    "W⁽²⁾ := W⁽²⁾ − 0.5·∂L/∂W⁽²⁾  (b⁽²⁾ frozen: unchanged)",
]


def same_record(shown: StepRecord | None, expected: StepRecord | None) -> None:
    """The app's record is the engine's, tensor for tensor, bit for bit."""
    assert (shown is None) == (expected is None)
    if shown is None or expected is None:
        return
    assert (shown.index, shown.op, shown.layer, shown.equation) == (expected.index, expected.op, expected.layer, expected.equation)
    assert shown.tensors.keys() == expected.tensors.keys()
    for name in shown.tensors:
        np.testing.assert_array_equal(shown.tensors[name], expected.tensors[name], err_msg=name)


async def settle(app, pilot) -> None:
    """Wait for the job's worker, then for its JobDone message to be handled."""
    await app.workers.wait_for_complete()
    for _ in range(50):
        await pilot.pause()
        if not app.main.controller.running:
            return
    raise AssertionError("the job never reported back")


def diverging_config():
    """Identity layers with weights of 1e200: the second linear op overflows to inf, then NaN follows."""
    layer = {"W": [[1e200, 1e200], [1e200, 1e200]], "b": [0.0, 0.0]}
    raw = {
        "model": {"sizes": [2, 2, 2], "activations": ["identity", "identity"], "init": "explicit", "layers": [layer, layer]},
        "loss": {"kind": "mse"},
        "optimizer": {"kind": "sgd", "lr": 0.5},
        "data": {"x": [[0.05, 0.1]], "y": [[0.01, 0.99]]},
    }
    return build_config(raw, "diverging.toml", name="diverging")


async def test_keys_move_the_engine_exactly_as_the_api_does() -> None:
    """Otherwise the screen would show a different step than the one the user asked for."""
    config = load_demo("tutorial")
    app = make_app(config)
    reference = Session(config)
    moves = [("n", reference.step), ("n", reference.step), ("s", lambda: reference.finish("stage")),
             ("s", lambda: reference.finish("stage")), ("i", lambda: reference.finish("iteration")),
             ("p", reference.back), ("e", lambda: reference.finish("epoch")), ("n", reference.step),
             ("0", reference.reset), ("n", reference.step), ("i", lambda: reference.finish("iteration")),
             ("i", lambda: reference.finish("iteration"))]
    async with app.run_test(size=(120, 40)) as pilot:
        for key, move in moves:
            await pilot.press(key)
            move()
            assert app.main.controller.timeline.position == reference.position, key
            same_record(app.main.controller.timeline.record, reference.record)
            same_record(app.main.query_one(EquationPane).record, reference.record)
        np.testing.assert_array_equal(app.main.controller.timeline.losses(), reference.losses())


async def test_equation_pane_shows_each_op_of_a_mazur_iteration(screen_text) -> None:
    """Otherwise a student checking Mazur's worked example by hand would read the wrong formula."""
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.main.query_one(EquationPane)
        assert pane.equation == ""
        for expected in MAZUR_EQUATIONS:
            await pilot.press("n")
            await pilot.pause()
            assert pane.equation == expected
            assert expected in screen_text(app)
        await pilot.press("n")
        assert pane.equation == MAZUR_EQUATIONS[0]


async def test_equation_pane_gives_operand_shapes_and_eta(screen_text) -> None:
    """The shapes line is how a learner sees why W is transposed in the batch-rows form."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        assert "(10×16) = (10×5)·(16×5)ᵀ + (16)" in screen_text(app)
        await pilot.press("i")
        await pilot.pause()
        assert "η = 0.01" in screen_text(app)


async def test_p_goes_back_one_op() -> None:
    """Time travel: p after three steps shows the second op again, identical."""
    app = make_app(load_demo("mazur"))
    reference = Session(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n", "n", "p")
        reference.step(), reference.step()
        same_record(app.main.controller.timeline.record, reference.record)
        assert app.main.query_one(EquationPane).equation == MAZUR_EQUATIONS[1]
        await pilot.press("p", "p", "p")
        assert app.main.controller.timeline.position == -1
        assert "before the first op" in app.main.query_one(StatusLine).status.message


async def test_tensor_panes_show_inputs_writes_and_changes() -> None:
    """The update pane must say which W is new and mark the cells the step changed."""
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        panes = [p for p in app.main.query(TensorPane) if p.display]
        assert [(p.tensor.name, p.tensor.written) for p in panes] == [("a_prev", False), ("W", False), ("b", False), ("z", True)]
        assert panes[0].border_title.startswith("x  1×2")
        for _ in range(9):
            await pilot.press("n")
        await pilot.pause()
        after = next(p for p in app.main.query(TensorPane) if p.display and p.tensor.name == "W")
        assert after.border_title.startswith("W⁽¹⁾ after")
        assert after.render_line(0).text.split() == ["1", "2"]  # column indices, from 1
        assert "▾" in after.render_line(1).text


async def test_nan_is_shown_and_stepping_goes_on(screen_text) -> None:
    """An overflow must be visible (magenta, counted) and must not stop the debugger."""
    app = make_app(diverging_config())
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(3):
            await pilot.press("n")
        await pilot.pause()
        z = next(p for p in app.main.query(TensorPane) if p.display and p.tensor.name == "z")
        assert z.has_class("non-finite")
        assert "⚠ 0 NaN 2 inf" in screen_text(app)
        for _ in range(11):
            await pilot.press("n")
        await pilot.pause()
        assert app.main.controller.timeline.record.op == "linear" and np.isnan(app.main.controller.timeline.record.tensors["z"]).all()
        z = next(p for p in app.main.query(TensorPane) if p.display and p.tensor.name == "z")
        assert z.has_class("non-finite") and z.summary.startswith("⚠ 2 NaN")
        assert "NaN" in z.render_line(1).text
        for _ in range(19):
            await pilot.press("n")
        await pilot.pause()
        assert app.main.controller.timeline.position == 32
        assert any(not np.isfinite(t).all() for t in app.main.controller.timeline.record.tensors.values())
        await pilot.press("h", "h", "full_stop")
        await pilot.pause()
        assert "NaN" in screen_text(app) or "inf" in screen_text(app)


async def test_resize_to_tiny_and_back() -> None:
    """A 40×12 terminal must not crash the app; back at 120×40 every pane is there again."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n", "n")
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        assert app.main.has_class("tiny")
        await pilot.press("n")
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not app.main.has_class("tiny")
        assert app.main.query_one(NetworkPane).display
        assert app.main.controller.timeline.position == 3


async def test_export_writes_a_valid_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """x then enter writes nnstep-trace-mazur-1.json in the current folder, the steps so far."""
    monkeypatch.chdir(tmp_path)
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n", "n", "x")
        await pilot.pause()
        assert isinstance(app.screen, InputDialog)
        await pilot.press("enter")
        await settle(app, pilot)
        path = tmp_path / "nnstep-trace-mazur-1.json"
        assert path.is_file()
        assert str(path) in app.main.query_one(StatusLine).status.message
        trace = read_trace(path)
        reference = Session(load_demo("mazur"))
        assert len(trace["records"]) == 3
        for record in trace["records"]:
            same_record(record, reference.step())


async def test_export_error_is_shown_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder that does not exist: a clear message in the app, and the app goes on."""
    monkeypatch.chdir(tmp_path)
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "x")
        await pilot.pause()
        app.screen.query_one("Input").value = "no/such/folder/trace.json"
        await pilot.press("enter")
        await settle(app, pilot)
        status = app.main.query_one(StatusLine).status
        assert status.error and "does not exist" in status.message
        await pilot.press("n")
        assert app.main.controller.timeline.position == 1


async def test_continue_stops_at_a_breakpoint() -> None:
    """b adds `iteration == 3 and stage == 'loss'`; c runs to exactly where run_until stops."""
    config = load_demo("tutorial")
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await pilot.pause()
        app.screen.query_one("Input").value = "iteration == 3 and stage == loss"
        await pilot.press("enter")
        await pilot.pause()
        assert app.main.controller.breakpoints.texts == ["iteration == 3 and stage == loss"]
        await pilot.press("c")
        await settle(app, pilot)
        record = app.main.controller.timeline.record
        assert (record.iteration, record.stage) == (3, "loss")
        assert "hit" in app.main.query_one(StatusLine).status.message


async def test_the_cli_and_the_app_number_a_breakpoint_op_alike(screen_text, capsys: pytest.CaptureFixture[str]) -> None:
    """`nnstep run --break` and c number the op they stop on alike, counted from 1 in both:
    otherwise a user checking one against the other looks one op off."""
    text = "iteration == 3 and stage == backward"
    assert run_main(["run", "--demo", "mazur", "-n", "50", "--break", text]) == 0
    found = re.search(r"hit at op (\d+) \(iteration 3,", capsys.readouterr().out)
    assert found is not None
    step = int(found.group(1))
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        app.main.controller.breakpoints.add(text)
        await pilot.press("c")
        await settle(app, pilot)
        status = app.main.query_one(StatusLine).status
        assert status.message == f"breakpoint `{text}` hit at op {step} (iteration 3)"
        assert status.index + 1 == step and f"│ op {step} │" in screen_text(app)
        assert app.main.controller.timeline.schedule.spec(step - 1).stage == "backward"


async def test_the_cli_and_the_app_count_and_ignore_hits_alike(capsys: pytest.CaptureFixture[str]) -> None:
    """`nnstep run --break … --ignore 2` and c with the B list's ignore count 2 stop at the same op, with
    the same hit count: both evaluate breakpoints through the engine's BreakpointSet."""
    text = "loss < 0.05"
    assert run_main(["run", "--demo", "xor", "-n", "5000", "--break", text, "--ignore", "2"]) == 0
    out = capsys.readouterr().out
    found = re.search(r"hit at op (\d+) \(iteration (\d+),", out)
    assert found is not None and "   1. on  · 3 hits" in out
    app = make_app(load_demo("xor"))
    async with app.run_test(size=(120, 40)) as pilot:
        breakpoints = app.main.controller.breakpoints
        breakpoints.add(text)
        breakpoints.set_ignore(1, 2)
        await pilot.press("c")
        await settle(app, pilot)
        status = app.main.query_one(StatusLine).status
        assert status.message == f"breakpoint `{text}` hit at op {found.group(1)} (iteration {found.group(2)})"
        assert breakpoints.entries[0].describe() == "on  · 3 hits"


async def test_bad_breakpoint_is_refused_in_the_dialog() -> None:
    """A typo points at the column in the dialog; nothing is added."""
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await pilot.pause()
        app.screen.query_one("Input").value = "__import__('os')"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, InputDialog)
        await pilot.press("escape")
        assert app.main.controller.breakpoints.texts == []


async def test_run_n_iterations_uses_the_fast_path() -> None:
    """r 25 ends at the last op of iteration 25 with the losses train(25) gives."""
    config = load_demo("tutorial")
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await pilot.pause()
        app.screen.query_one("Input").value = "25"
        await pilot.press("enter")
        await settle(app, pilot)
        reference = Session(config)
        reference.train(25)
        assert app.main.controller.timeline.position == reference.position
        np.testing.assert_array_equal(app.main.controller.timeline.losses(), reference.losses())


async def test_gradient_check_and_health_reports() -> None:
    """g reports PASS per layer for the correct engine; w opens the health table."""
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "g")
        await settle(app, pilot)
        assert isinstance(app.screen, Report)
        assert "layer 1 PASS, layer 2 PASS" in app.main.query_one(StatusLine).status.message
        await pilot.press("escape", "w")
        await pilot.pause()
        assert isinstance(app.screen, Report)
        await pilot.press("escape")


async def test_help_and_command_palette_list_every_action() -> None:
    """? shows every key; the palette offers every action of the main screen."""
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        commands = {command.title: command for command in app.get_system_commands(app.main)}
        assert {"Next", "Back", "Stage", "Iter", "Epoch", "Continue", "Run N", "Break", "Export", "Grad check", "Reset"} <= set(commands)
        await commands["Iter"].callback()
        await pilot.pause()
        assert app.main.controller.timeline.position == 10
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_viewer_replays_a_trace_like_the_session(tmp_path: Path, screen_text) -> None:
    """`nnstep view` shows the same tensors as the live session at the same index, forward and back."""
    path = mazur_trace(tmp_path, 2)
    live = Session(load_demo("mazur"))
    live.train(2)
    app = make_viewer(read_trace(path), path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n", "n", "i", "n", "p")
        same_record(app.main.controller.timeline.record, live.record_at(10))
        await pilot.press("i", "n")
        assert "end of the trace" in app.main.query_one(StatusLine).status.message
        await pilot.press("x")
        assert not isinstance(app.screen, InputDialog)
        assert app.main.message.text.startswith("a trace is read-only: it is already a file")
        await pilot.press("r")
        assert not isinstance(app.screen, InputDialog)
        assert app.main.message.text.startswith("a trace is read-only: nothing to train")
        # Go to asks only for the iterations the trace holds.
        await pilot.press("G")
        await pilot.pause()
        assert "Iteration (its first op), 1 to 2:" in screen_text(app)
        app.screen.query_one("Input").value = "3"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, InputDialog) and "3 is out of range: type an iteration from 1 to 2" in screen_text(app)
        await pilot.press("escape")


async def test_viewer_of_a_partial_trace_jumps_runs_and_reports(tmp_path: Path) -> None:
    """A trace of every 2nd iteration: G to a missing iteration lands on the next recorded one,
    G past the end says so and stays, w reports health from the records, c runs to the end."""
    from nnstep.engine.trace import select, write_trace

    config = load_demo("mazur")
    live = Session(config)
    live.train(6)
    path = tmp_path / "t.json"
    write_trace(path, config.to_dict(), select(live.iter_records(), every=2))
    app = make_viewer(read_trace(path), path)
    async with app.run_test(size=(120, 40)) as pilot:
        main = app.main
        await pilot.press("G")
        await pilot.pause()
        app.screen.query_one("Input").value = "2"
        await pilot.press("enter")
        await pilot.pause()
        assert main.controller.timeline.record.iteration == 3 and main.controller.timeline.record.op == "linear"
        assert main.query_one(StatusLine).status.message == "the trace has no iteration 2: at iteration 3, the next it holds"
        # Past the end: the dialog says how far the trace goes, and the position stays.
        await pilot.press("G")
        await pilot.pause()
        app.screen.query_one("Input").value = "99"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, InputDialog)
        assert "99 is out of range: type an iteration from 1 to 5" in str(app.screen.query_one(".error").render())
        await pilot.press("escape")
        await pilot.pause()
        assert main.controller.timeline.record.iteration == 3
        same_record(main.controller.timeline.record, live.record_at(main.controller.timeline.record.index))
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, Report)
        await pilot.press("escape", "c")
        await settle(app, pilot)
        assert main.controller.timeline.at_end and main.query_one(StatusLine).status.message == "end of the trace"
        np.testing.assert_array_equal(main.controller.timeline.losses(), live.losses()[::2])


async def test_command_palette_runs_an_action() -> None:
    """Typing `Iter` in the palette finishes the iteration, as the i key does."""
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"Iter")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.main.controller.timeline.position == 10


async def test_goto_iteration_jumps_back_and_forth() -> None:
    """G 50 lands on the first op of iteration 50; G 3 goes back; records match the engine's."""
    config = load_demo("tutorial")
    app = make_app(config)
    reference = Session(config)
    async with app.run_test(size=(120, 40)) as pilot:
        for target in (50, 3):
            await pilot.press("G")
            await pilot.pause()
            app.screen.query_one("Input").value = str(target)
            await pilot.press("enter")
            await pilot.pause()
            if app.main.controller.running:
                await settle(app, pilot)
            same_record(app.main.controller.timeline.record, reference.goto(reference.schedule.index(target - 1, 0)))
            assert app.main.controller.timeline.record.iteration == target
            # Every pane shows the new position (a near jump left the network and equation panes on the old op).
            record = app.main.controller.timeline.record
            assert app.main.query_one(NetworkPane).record is record
            assert app.main.query_one(EquationPane).record is record
            assert f"iteration {target - 1}" in app.main.query_one(LossPlot).border_title  # the loss known there


async def test_goto_a_far_iteration_runs_in_the_background_and_esc_stops_it() -> None:
    """G 1,000,000 used to freeze the screen for minutes with the dialog drawn and esc ignored: the
    jump must run as a job with progress in the status line, keys must answer, esc must stop it."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("G")
        await pilot.pause()
        app.screen.query_one("Input").value = "1000000"
        await pilot.press("enter")
        await pilot.pause(0.5)
        main = app.main
        assert main.controller.running == "go to iteration 1,000,000" and app.screen is main
        status = main.query_one(StatusLine).status
        assert status.running.startswith("go to iteration 1,000,000: ") and "of 999,999 iterations" in status.running
        await pilot.press("escape")
        await settle(app, pilot)
        message = main.query_one(StatusLine).status.message
        assert message.startswith("stopped at iteration ") and "iteration 1,000,000" in message
        position = main.controller.timeline.position
        await pilot.press("n")
        assert main.controller.timeline.position == position + 1


async def test_the_dialogs_refuse_unicode_digits_and_huge_pastes() -> None:
    """'²' passes str.isdigit(); a 10,000-digit paste passes it too: both are refused in the dialog."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(120, 40)) as pilot:
        for key, text, says in (("G", "²", "is not a digit 0-9"), ("r", "9" * 10_000, "10,000 digits is too many")):
            await pilot.press(key)
            await pilot.pause()
            app.screen.query_one("Input").value = text
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, InputDialog)
            assert says in str(app.screen.query_one(".error").render())
            await pilot.press("escape")
            await pilot.pause()
        assert app.main.controller.timeline.position == -1 and not app.main.controller.running


async def test_zoom_shows_a_whole_tensor_and_end_moves_by_whole_columns() -> None:
    """z fills the screen with one tensor, all of it when it fits (at fewer digits: the title says
    so); End takes the cursor to the last column; every number in view is whole; z restores.
    100 columns hold its 16 columns at 3 digits, not at 4 (and 0.0075 keeps 2 decimals: never 0.0)."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.press("n", "n", "z")
        await pilot.pause()
        pane = app.main.maximized
        assert isinstance(pane, TensorPane) and app.focused is pane and pane.tensor.name == "a"
        assert pane.border_title == "a⁽¹⁾  10×16  (3 digits)"  # every row and column of it
        await pilot.press("end")
        await pilot.pause()
        assert pane.cursor == (0, 15)
        header = pane.render_line(0).text.split()
        assert header == [str(c) for c in range(1, 17)]
        values = pane.tensor.values
        for y in range(1, 11):
            cells = pane.render_line(y).text.replace("▴", " ").replace("▾", " ").split()
            assert int(cells[0]) == y
            np.testing.assert_allclose([float(c) for c in cells[1:]], values[y - 1], atol=0.051)
        await pilot.press("z")
        await pilot.pause()
        assert app.main.maximized is None and pane.view.rows_in_view < 10


async def test_explain_this_number_follows_one_weight_through_the_iteration() -> None:
    """A cursor on W⁽¹⁾₂₃ in the forward pass must stay on it: the equation pane works out
    ∂L/∂W⁽¹⁾₂₃ in the backward pass and W⁽¹⁾₂₃ := … in the update, with the operands marked."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        grid = app.main.query_one("#tensors")
        pane = next(p for p in grid.panes if p.tensor.name == "W")
        pane.focus()
        pane.set_cursor((1, 2), announce=True)
        await pilot.pause()
        equation = app.main.query_one(EquationPane)
        assert equation.cell[:2] == ("W", (1, 2)) and not equation.cell[3]
        z = next(p for p in grid.panes if p.tensor.name == "z")
        assert z.marks is not None and z.marks[:, 1].all() and z.marks.sum() == 10  # column 2 of every sample
        for _ in range(8):  # to ∂L/∂W⁽¹⁾ (op 9)
            await pilot.press("n")
            await pilot.pause()
        dW = next(p for p in grid.panes if p.tensor.name == "dW")
        assert dW.cursor == (1, 2) and equation.cell[:2] == ("dW", (1, 2))
        record = app.main.controller.record
        text = str(equation.render())
        assert "∂L/∂W⁽¹⁾₂₃ = " in text and f"{record.tensors['dW'][1, 2]:.4g}".replace("-", "−") in text
        delta = next(p for p in grid.panes if p.tensor.name == "delta")
        assert delta.marks[:, 1].all() and delta.marks.sum() == 10  # δ⁽¹⁾ column 2, every sample
        await pilot.press("n")
        await pilot.pause()
        after = next(p for p in grid.panes if p.tensor.name == "W")
        assert after.cursor == (1, 2) and "W⁽¹⁾₂₃ := " in str(equation.render())
        await pilot.press("escape")
        await pilot.pause()
        assert equation.cell is None and after.cursor is None and "W⁽¹⁾₁₁ := " in str(equation.render())


async def test_a_click_selects_a_cell_and_the_unit_follows_into_the_next_op() -> None:
    """Clicking z⁽¹⁾ of sample 3, unit 4 explains it; stepping on, the cursor moves to a⁽¹⁾ there."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        z = next(p for p in app.main.query_one("#tensors").panes if p.tensor.name == "z")
        view = z.view
        x = z.content_region.x - z.region.x + view.gutter + 3 * view.cell + 1
        y = z.content_region.y - z.region.y + view.header + 2
        await pilot.click(z, offset=(x, y))
        await pilot.pause()
        assert z.cursor == (2, 3)
        text = str(app.main.query_one(EquationPane).render())
        assert "z⁽¹⁾₄ = " in text and "(sample 3)" in text
        await pilot.press("n")
        await pilot.pause()
        a = next(p for p in app.main.query_one("#tensors").panes if p.tensor.name == "a")
        assert a.cursor == (2, 3) and "a⁽¹⁾₄ = ReLU(" in str(app.main.query_one(EquationPane).render())


async def test_the_palette_screenshot_lands_in_the_working_directory(tmp_path, monkeypatch) -> None:
    """Textual's default folder (~/Downloads) may not exist; the screenshot goes where exports go."""
    monkeypatch.chdir(tmp_path)
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        saved = app.deliver_screenshot()
        await pilot.pause()
        assert saved is not None and Path(saved).parent == tmp_path and Path(saved).suffix == ".svg"
        assert "<svg" in Path(saved).read_text(encoding="utf-8")
        assert app.main.message.text == f"screenshot saved to {saved}"


async def test_selecting_the_scalar_loss_works_it_out_and_marks_what_it_came_from() -> None:
    """The cell cursor on L (a scalar: its index is ()) failed with an internal error, on that key and on
    every later move onto a loss op."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"nnnnn")
        await pilot.pause()
        main = app.main
        assert main.controller.record.op == "loss"
        pane = next(p for p in main.query(TensorPane) if p.display and p.tensor is not None and p.tensor.name == "loss")
        pane.focus()
        await pilot.press("right")
        await pilot.pause()
        assert "internal error" not in main.query_one(StatusLine).status.message
        assert main.selection is not None and main.selection[1] == ()
        marked = {p.tensor.name for p in main.query(TensorPane) if p.display and p.tensor is not None and p.marks is not None}
        assert {"y_hat", "y"} <= marked
        await pilot.press("escape", "n", "p", "p", "n")
        await pilot.pause()
        assert "internal error" not in main.query_one(StatusLine).status.message

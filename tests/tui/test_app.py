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
from nnstep.tui.widgets.network_pane import NetworkPane
from nnstep.tui.widgets.status_line import StatusLine
from nnstep.tui.widgets.tensor_pane import TensorPane
from tests.engine.test_config_errors import run_main

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
        if not app.main.running:
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
            assert app.main.session.position == reference.position, key
            same_record(app.main.session.record, reference.record)
            same_record(app.main.query_one(EquationPane).record, reference.record)
        np.testing.assert_array_equal(app.main.session.losses(), reference.losses())


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
        same_record(app.main.session.record, reference.record)
        assert app.main.query_one(EquationPane).equation == MAZUR_EQUATIONS[1]
        await pilot.press("p", "p", "p")
        assert app.main.session.position == -1
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
        assert "▾" in after.render_line(0).text


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
        assert app.main.session.record.op == "linear" and np.isnan(app.main.session.record.tensors["z"]).all()
        z = next(p for p in app.main.query(TensorPane) if p.display and p.tensor.name == "z")
        assert z.has_class("non-finite") and z.summary.startswith("⚠ 2 NaN")
        assert "NaN" in z.render_line(0).text
        for _ in range(19):
            await pilot.press("n")
        await pilot.pause()
        assert app.main.session.position == 32
        assert any(not np.isfinite(t).all() for t in app.main.session.record.tensors.values())
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
        assert app.main.session.position == 3


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
        assert app.main.session.position == 1


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
        assert app.main.breakpoints == ["iteration == 3 and stage == loss"]
        await pilot.press("c")
        await settle(app, pilot)
        record = app.main.session.record
        assert (record.iteration, record.stage) == (3, "loss")
        assert "hit" in app.main.query_one(StatusLine).status.message


async def test_the_cli_and_the_app_number_a_breakpoint_step_alike(screen_text, capsys: pytest.CaptureFixture[str]) -> None:
    """`nnstep run --break` and c name the op they stop on "step N", counted from 1 in both:
    otherwise a user checking one against the other looks one op off."""
    text = "iteration == 3 and stage == backward"
    assert run_main(["run", "--demo", "mazur", "-n", "50", "--break", text]) == 0
    found = re.search(r"hit at step (\d+) \(iteration 3,", capsys.readouterr().out)
    assert found is not None
    step = int(found.group(1))
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        app.main.breakpoints.append(text)
        await pilot.press("c")
        await settle(app, pilot)
        status = app.main.query_one(StatusLine).status
        assert status.message == f"breakpoint `{text}` hit at iteration 3, step {step}"
        assert status.index + 1 == step and f"│ step {step} │" in screen_text(app)
        assert app.main.session.schedule.spec(step - 1).stage == "backward"


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
        assert app.main.breakpoints == []


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
        assert app.main.session.position == reference.position
        np.testing.assert_array_equal(app.main.session.losses(), reference.losses())


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
        assert app.main.session.position == 10
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_viewer_replays_a_trace_like_the_session(tmp_path: Path) -> None:
    """`nnstep view` shows the same tensors as the live session at the same index, forward and back."""
    from nnstep.engine.trace import write_trace

    config = load_demo("mazur")
    live = Session(config)
    live.train(2)
    path = tmp_path / "t.json"
    write_trace(path, config.to_dict(), live.iter_records(0, live.position + 1))
    app = make_viewer(read_trace(path), path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n", "n", "i", "n", "p")
        same_record(app.main.session.record, live.record_at(10))
        await pilot.press("i", "n")
        assert "end of the trace" in app.main.query_one(StatusLine).status.message
        await pilot.press("x")
        assert not isinstance(app.screen, InputDialog)


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
        for target, expected in (("2", 3), ("99", 3)):
            await pilot.press("G")
            await pilot.pause()
            app.screen.query_one("Input").value = target
            await pilot.press("enter")
            await pilot.pause()
            assert main.session.record.iteration == expected and main.session.record.op == "linear"
        assert "the trace has no iteration 99" in main.query_one(StatusLine).status.message
        same_record(main.session.record, live.record_at(main.session.record.index))
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, Report)
        await pilot.press("escape", "c")
        await settle(app, pilot)
        assert main.session.at_end and main.query_one(StatusLine).status.message == "end of the trace"
        np.testing.assert_array_equal(main.session.losses(), live.losses()[::2])


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
        assert app.main.session.position == 10


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
            same_record(app.main.session.record, reference.goto(reference.schedule.index(target - 1, 0)))
            assert app.main.session.record.iteration == target


async def test_zoom_and_scroll_a_large_tensor() -> None:
    """z fills the screen with one tensor; arrow keys scroll it (there are no scrollbars); z restores."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "n", "z")
        await pilot.pause()
        pane = app.main.maximized
        assert isinstance(pane, TensorPane) and app.focused is pane
        await pilot.press("right", "right")
        await pilot.pause()
        assert pane.scroll_offset.x > 0  # 16 columns do not fit in 80
        assert "cols" in pane.border_title
        await pilot.press("z")
        assert app.main.maximized is None

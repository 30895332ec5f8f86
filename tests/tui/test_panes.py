"""The panes on their own and on other demos: data plot, large tensors, loss plot, trace replay.

Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnstep.engine import Session, build_config, load_config, load_demo
from nnstep.tui.app import make_app
from nnstep.engine.timeline import TraceTimeline, batch_of
from nnstep.tui.widgets.data_plot import DataPlot, predict
from nnstep.tui.widgets.equation_pane import EquationPane
from nnstep.tui.widgets.loss_plot import LossPlot, braille_plot
from nnstep.tui.widgets.network_pane import NetworkPane
from nnstep.tui.widgets.tensor_pane import TensorPane
from nnstep.tui.render import finite_summary, fmt, number_width, sup, symbol


async def test_moons_data_pane_follows_the_parameters() -> None:
    """On a 2-D demo the decision boundary is redrawn from the parameters at the position."""
    config = load_demo("moons")
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        plot = app.main.query_one(DataPlot)
        await pilot.press("i", "i")
        await pilot.pause()
        state = app.main.session.state
        assert plot.params is not None
        np.testing.assert_array_equal(plot.params[0][0], state.W[0])
        lines = [plot.render_line(y).text for y in range(plot.size.height)]
        assert all(set(line) <= {"▀"} for line in lines) and lines[0]


def test_predict_thresholds_one_output_and_argmaxes_many() -> None:
    """A 2-class net predicts argmax; the boundary must not depend on a NaN row."""
    config = load_demo("moons")
    session = Session(config)
    W, b = session.state.W, session.state.b
    classes = predict(config, W, b, np.array([[0.0, 0.0], [1.0, 0.5], [np.nan, 0.0]]))
    assert classes.shape == (3,) and set(classes) <= {0, 1}


async def test_a_784_128_10_network_renders_only_what_is_visible() -> None:
    """A 128×784 weight matrix must draw in a pane without building 100,000 cells per frame."""
    raw = {"seed": 0, "model": {"sizes": [784, 128, 10], "activations": ["relu", "identity"], "init": "he"},
           "loss": {"kind": "cross_entropy"}, "optimizer": {"kind": "sgd", "lr": 0.01},
           "data": {"dataset": "random", "n": 64}}
    app = make_app(build_config(raw, "big.toml", name="big"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        view = next(p for p in app.main.query(TensorPane) if p.display and p.tensor.name == "W")
        assert view.virtual_size.height == 128
        assert 0 < view.formatted_cells < 2000, view.formatted_cells
        view.scroll_to(x=5000, y=100, animate=False)
        await pilot.pause()
        assert view.render_line(0).text.startswith("100")


def test_braille_plot_draws_a_falling_loss_and_survives_nan() -> None:
    """The first column is at the top, the last at the bottom; a NaN is a gap, not a crash."""
    lines = braille_plot(np.array([1.0, 0.5, np.nan, 0.1]), 10, 3, log=False)
    assert len(lines) == 3 and all(len(line) == 10 for line in lines)
    assert lines[0][0] != "\u2800" and lines[-1][-1] != "\u2800"
    many = braille_plot(np.linspace(1, 0, 1000), 10, 3, log=True)
    assert many[0][0] != "\u2800"


def test_numbers_fit_their_cells_and_non_finite_is_counted() -> None:
    """Every number fits the cell width at each precision; the summary counts NaN and inf."""
    for digits in (2, 4, 6):
        for value in (0.0, 1e-12, -3.14159, 12345.678, -9.99999e8, 1e300, np.nan, -np.inf):
            assert len(fmt(value, digits)) <= number_width(digits), (value, digits)
    text = finite_summary(np.array([1.0, np.nan, np.inf, -2.0]))
    assert text.startswith("⚠ 1 NaN 1 inf") and "min -2" in text
    assert finite_summary(np.array([np.nan])) == "⚠ 1 NaN 0 inf · no finite values"


def test_trace_session_moves_like_a_session() -> None:
    """Over a full trace, step/back/finish land where Session lands; batch_of gives the right batch."""
    config = load_demo("mazur")
    live = Session(config)
    live.train(3)
    trace = TraceTimeline(config, list(live.iter_records(0, live.position + 1)))
    reference = Session(config)
    for move in ("step", "step", "stage", "iteration", "back", "iteration", "stage", "epoch"):
        if move in ("step", "back"):
            getattr(trace, move)(), getattr(reference, move)()
        else:
            trace.finish(move), reference.finish(move)
        assert trace.record.index == reference.record.index, move
    params, x, y = batch_of(trace, 1)
    np.testing.assert_array_equal(x, config.x)
    np.testing.assert_array_equal(params.W[0], live.iteration_records(1)[0].tensors["W"])
    trace.goto(10**6)
    assert trace.at_end and trace.step() is trace.record


async def test_change_marks_skip_tensors_of_another_batch() -> None:
    """With mini-batches, x of iteration 2 holds other samples: no ▴/▾ there, but W is compared."""
    app = make_app(load_demo("moons"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("i", "n")
        await pilot.pause()
        panes = {p.tensor.name: p.tensor for p in app.main.query(TensorPane) if p.display}
        assert panes["a_prev"].reference is None and panes["z"].reference is None
        assert panes["W"].reference is not None


ADAM_DROPOUT = Path(__file__).parent / "configs" / "adam_dropout.toml"


async def test_panes_count_the_ops_the_schedule_lays_out() -> None:
    """With dropout an iteration has 12 ops, not 5L + 1 = 11: the op marks and the loss hint must say 12."""
    config = load_config(ADAM_DROPOUT)
    assert len(config.schedule) == 12
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        loss = app.main.query_one(LossPlot)
        assert "the loss op is op 6 of 12" in str(loss.render())
        network = app.main.query_one(NetworkPane)
        await pilot.press("n", "n", "n")
        await pilot.pause()
        ops = str(network.render()).splitlines()[-1]
        assert ops.strip().startswith("●●◉·········") and ops.endswith("op 3/12"), ops
        equation = app.main.query_one(EquationPane)
        assert equation.border_title.endswith(config.schedule.spec(2).hint) and "dropout" in equation.border_title
        assert "dropout [1] 0.5" in network.border_subtitle and "frozen b⁽¹⁾" in network.border_subtitle


@pytest.mark.parametrize("optimizer", [
    {"kind": "adam", "lr": 0.01, "amsgrad": True},
    {"kind": "sgd", "lr": 0.1, "momentum": 0.9},
    {"kind": "rmsprop", "lr": 0.01, "centered": True, "momentum": 0.5},
])
def test_every_engine_v2_tensor_has_its_tutorial_symbol_and_role(optimizer: dict) -> None:
    """A pane titled `m_W` or `v_max_b` would not say what it holds; a state pane marked `in` would lie."""
    raw = {"seed": 0, "model": {"sizes": [2, 3, 1], "activations": ["tanh", "sigmoid"], "init": "xavier",
                                "dropout": [0.5, 0.0], "freeze": ["b1"]},
           "loss": {"kind": "bce", "l1": 0.01}, "optimizer": optimizer, "data": {"dataset": "random", "n": 4}}
    config = build_config(raw, "parts.toml", name="parts")
    session = Session(config)
    for _ in range(len(config.schedule)):
        session.step()
        record = session.record
        spec = config.schedule.spec(record.index)
        assert record.writes == spec.writes
        for name in record.tensors:
            shown = symbol(name, record, config.depth, config.schedule)
            assert shown != name or name in ("y", "rows"), f"{record.op}: {name} has no symbol"
            assert "_" not in shown.replace("L_data", ""), f"{record.op}: {name} shown as {shown}"
            if record.op == "update" and name.endswith(("_W", "_b")) and not name.startswith(("step", "W_", "b_")):
                assert name in record.writes and shown.endswith(f"({name[-1]}{sup(record.layer)})"), (name, shown)
        if record.op == "update" and record.layer == 1:
            assert symbol("b", record, config.depth, config.schedule) == "b⁽¹⁾ (frozen)" and "b" not in record.writes
            assert symbol("W", record, config.depth, config.schedule) == "W⁽¹⁾ after" and "W" in record.writes
        if record.op == "linear" and record.layer == 2:
            assert symbol("a_prev", record, config.depth, config.schedule) == "ã⁽¹⁾"  # the dropped-out a⁽¹⁾
        if record.op == "dropout":
            assert [symbol(n, record, config.depth) for n in ("a", "mask", "a_drop")] == ["a⁽¹⁾", "r⁽¹⁾", "ã⁽¹⁾"]
            assert record.writes == ("mask", "a_drop")
        if record.op == "loss":
            assert symbol("data_loss", record, config.depth) == "L_data" and "penalty" in record.writes

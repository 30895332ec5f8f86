"""The panes on their own and on other demos: data plot, large tensors, loss plot, trace replay.

Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from nnstep.engine import Session, build_config, load_config, load_demo
from nnstep.engine.timeline import TraceTimeline, batch_of
from nnstep.tui.app import make_app
from nnstep.tui.numbers import finite_summary, fmt, number_format, number_width, stats
from nnstep.tui.shown import Tensor
from nnstep.tui.symbols import sup, symbol
from nnstep.tui.widgets import tensor_lines
from nnstep.tui.widgets.arrange import arrange, cell_width, gutter
from nnstep.tui.widgets.data_plot import CURVE, DataPlot, predict
from nnstep.tui.widgets.equation_pane import EquationPane
from nnstep.tui.widgets.loss_plot import LossPlot, braille_plot
from nnstep.tui.widgets.network_pane import NetworkPane
from nnstep.tui.widgets.tensor_lines import Window, lines
from nnstep.tui.widgets.tensor_pane import TensorPane
from nnstep.tui.widgets.tensor_view import item_of
from rich.style import Style

from tests.tui.conftest import mazur_trace


async def test_moons_data_pane_follows_the_parameters() -> None:
    """On a 2-D demo the decision boundary is redrawn from the parameters at the position."""
    config = load_demo("moons")
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        plot = app.main.query_one(DataPlot)
        await pilot.press("i", "i")
        await pilot.pause()
        state = app.main.controller.timeline.state
        assert plot.params is not None
        np.testing.assert_array_equal(plot.params[0][0], state.W[0])
        lines = [plot.render_line(y).text for y in range(plot.size.height)]
        assert all(set(line) <= {"▀"} for line in lines) and lines[0]


async def test_sine_data_pane_draws_y_hat_against_x() -> None:
    """One input, one output: the pane plots the network's ŷ(x) at the position over the data points."""
    from nnstep.engine.network import forward

    config = load_demo("sine")
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        plot = app.main.query_one(DataPlot)
        await pilot.press("i", "i", "i")
        await pilot.pause()
        assert plot.border_title == "data · ŷ(x)"
        pixels = plot._grid()
        height, width = pixels.shape
        state = app.main.controller.timeline.state
        xs = np.linspace(plot.low[0], plot.high[0], width)
        y_hat = forward(config, state.W, state.b, xs[:, None])[:, 0]
        rows = ((plot.high[1] - y_hat) / (plot.high[1] - plot.low[1]) * (height - 1)).round().astype(int)
        inside = (rows >= 0) & (rows < height)
        assert inside.sum() > width // 2
        for col in np.flatnonzero(inside):  # every column's ŷ is lit (unless a data point sits on it)
            assert pixels[rows[col], col] in (CURVE, 0)
        # and the data points are where (x, y) puts them
        x, y = config.x[:, 0], config.y[:, 0]
        cols = ((x - plot.low[0]) / (plot.high[0] - plot.low[0]) * (width - 1)).round().astype(int)
        point_rows = ((plot.high[1] - y) / (plot.high[1] - plot.low[1]) * (height - 1)).round().astype(int)
        assert (pixels[point_rows, cols] == 0).all()


def test_predict_thresholds_one_output_and_argmaxes_many() -> None:
    """A 2-class net predicts argmax; the boundary must not depend on a NaN row."""
    config = load_demo("moons")
    session = Session(config)
    W, b = session.state.W, session.state.b
    classes = predict(config, W, b, np.array([[0.0, 0.0], [1.0, 0.5], [np.nan, 0.0]]))
    assert classes.shape == (3,) and set(classes) <= {0, 1}


BIG = {"seed": 0, "model": {"sizes": [784, 128, 10], "activations": ["relu", "identity"], "init": "he"},
       "loss": {"kind": "cross_entropy"}, "optimizer": {"kind": "sgd", "lr": 0.01},
       "data": {"dataset": "random", "n": 64}}  # 784→128→10 on 64 random samples


async def test_a_784_128_10_network_renders_only_what_is_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 128×784 weight matrix must draw in a pane without formatting 100,000 numbers per frame."""
    from nnstep.tui.numbers import NumberFormat

    app = make_app(build_config(BIG, "big.toml", name="big"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        pane = next(p for p in app.main.query(TensorPane) if p.display and p.tensor.name == "W")
        assert pane.view.lines == 128 and pane.view.columns == 784
        formatted = []
        write = NumberFormat.write
        monkeypatch.setattr(NumberFormat, "write", lambda self, values: formatted.append(len(values)) or write(self, values))
        lines = [pane.render_line(y).text for y in range(pane.size.height)]
        assert 0 < sum(formatted) <= pane.view.rows_in_view * pane.view.columns_in_view < 2000
        assert all(len(line) == pane.size.width for line in lines)
        pane.set_cursor((100, 700))
        await pilot.pause()
        assert pane.render_line(1).text.lstrip().startswith("10")  # row indices from 1: rows 101… or so
        assert f"{pane.cursor[0] + 1}" in pane.border_title or "rows" in pane.border_title


async def test_a_wide_written_tensor_is_not_pushed_below_the_screen_by_what_the_op_reads() -> None:
    """784→128→10 at 120×40, the first op: z⁽¹⁾ (64×128) shows a few hundredths of itself either way;
    laying x, W⁽¹⁾, b⁽¹⁾ above it pushed its last rows and border below the screen."""
    app = make_app(build_config(BIG, "big.toml", name="big"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        grid = app.main.query_one("#tensors")
        z = next(p for p in grid.panes if p.tensor.name == "z")
        assert grid.region.y <= z.region.y and z.region.bottom <= grid.region.bottom, (z.region, grid.region)


OVERFLOW = Path(__file__).parent / "configs" / "overflow.toml"
TOUCHING = re.compile(r"[▴▾•][^\s│┃]")  # a mark, then at once the next cell's number


def test_marks_of_wide_numbers_stand_apart_from_the_next_number() -> None:
    """A row of full-width numbers, every one changed: `-5.188e+148▾-5.188e+148▾` read as one number;
    each mark must be followed by a blank (or the end of the line)."""
    values = np.array([[-5.188e148, -5.188e148, 5.188e148, 5.188e148, -5.188e148]])
    reference = values / 3.0
    form = number_format(stats(values), 4)
    item = item_of(Tensor("W", "W", values, False, reference), 4, "numbers")
    cell = cell_width(item, form.width)
    for mode in ("numbers", "heat"):
        window = Window(values, reference, None, False, form, cell, gutter(item), 1, 1, 5, 1, 5, (0, 0), mode,
                        gutter(item) + 5 * cell, 2, Style(), None, None, float(np.abs(values).max()), True)
        text = lines(window).text(1)
        assert text.count("▾") + text.count("▴") == 5 and "e+148" in text
        assert not TOUCHING.search(text), text
        assert text.split() == ["1", *[f"{v:.3e}{m}" for v, m in zip(values[0], "▾▾▴▴▾")]], text


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_no_change_mark_touches_a_number_on_screen(size: tuple[int, int]) -> None:
    """η = 3 overflows the weights (1e+150 and more) and the tutorial's W⁽¹⁾ after its update:
    in every pane on screen, each ▴/▾ is followed by a blank, a border or nothing."""
    for config, iteration in ((load_config(OVERFLOW, name="overflow"), 89), (load_demo("tutorial"), 2)):
        app = make_app(config)
        async with app.run_test(size=size) as pilot:
            timeline = app.main.controller.timeline
            marked = 0
            for offset in range(len(config.schedule) - config.depth, len(config.schedule)):  # the updates
                timeline.goto(config.schedule.index(iteration - 1, offset))
                app.main.show()
                await pilot.pause()
                for pane in app.main.query_one("#tensors").panes:
                    for y in range(pane.size.height):
                        text = pane.render_line(y).text
                        marked += text.count("▴") + text.count("▾")
                        assert not TOUCHING.search(text), (config.name, offset, pane.tensor.name, text)
            assert marked > 0


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
    params, x, _y = batch_of(trace, 1)
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
        assert "the loss op is op 6 of 12" in " ".join(str(loss.render()).split())  # wrapped to the pane
        network = app.main.query_one(NetworkPane)
        await pilot.press("n", "n", "n")
        await pilot.pause()
        ops = str(network.render()).splitlines()[-1]
        assert ops.strip().startswith("●●◉·········") and ops.endswith("op 3 · 3 of 12"), ops
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


def _in_view(pane: TensorPane) -> tuple[int, int]:
    """Values of the pane's tensor in view before any scrolling: (rows or lines, columns)."""
    view = pane.view
    return min(view.rows_in_view, view.lines), min(view.columns_in_view, view.columns)


async def test_at_200x60_every_tensor_of_every_tutorial_op_is_whole() -> None:
    """At 200×60 nothing of the tutorial should need scrolling: every row and column of every tensor
    of every op (and of the start screen) in view, each pane wholly on screen."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(200, 60)) as pilot:
        for step in range(len(app.main.controller.schedule) + 1):
            if step:
                await pilot.press("n")
            await pilot.pause()
            grid = app.main.query_one("#tensors")
            for pane in app.main.query_one("#tensors").panes:
                assert _in_view(pane) == (pane.view.lines, pane.view.columns), (step, pane.tensor.name, pane.border_title)
                assert pane.region.bottom <= grid.region.bottom and pane.region.right <= 200, (step, pane.tensor.name)


async def test_at_120x40_a_10x16_tensor_shows_at_least_10_columns() -> None:
    """The tutorial's z⁽¹⁾, a⁽¹⁾ and δ⁽¹⁾ (10×16) at 120×40: ten columns or more in view."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(len(app.main.controller.schedule)):
            await pilot.press("n")
            await pilot.pause()
            for pane in app.main.query_one("#tensors").panes:
                if pane.tensor.values.shape == (10, 16):
                    assert _in_view(pane)[1] >= 10, (pane.tensor.name, pane.border_title)


@pytest.mark.parametrize("demo", ["mazur", "tutorial", "xor", "moons", "spiral", "sine"])
async def test_at_80x24_what_an_op_writes_is_on_screen_and_the_loss_too(demo: str) -> None:
    """At 80×24 the tensors an op writes must be in view (what it reads gives way first), with at
    least a row of values each, and the loss pane must show its plot, not collapse."""
    app = make_app(load_demo(demo))
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(len(app.main.controller.schedule) + 1):
            await pilot.press("n")
            await pilot.pause()
            grid = app.main.query_one("#tensors")
            for pane in grid.panes:
                if pane.tensor.written:
                    assert pane.region.y + 3 <= grid.region.bottom, (app.main.controller.record.op, pane.tensor.name)
                    assert _in_view(pane)[0] >= 1 and _in_view(pane)[1] >= 1
            loss = app.main.query_one(LossPlot)
            assert loss.size.width >= 20 and loss.size.height >= 3


def test_a_border_says_the_norm_of_huge_values_not_inf() -> None:
    """A tensor of 1e200s holds no infinity: its border must not say `norm inf` (the squares overflow)."""
    text = finite_summary(np.full((3, 3), 1e200))
    assert "inf" not in text and "norm 3e+200" in text and "mean 1e+200" in text


async def test_the_next_and_the_previous_op_are_laid_out_while_the_user_reads() -> None:
    """After a key's frame the app lays out what `n` and `p` would show (`MainScreen.prepare`): the
    keys that follow find their layout done. Without it, a key after the cache is emptied misses."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(120, 40)) as pilot:
        app._after_frame = lambda: None  # prepare only where the test says
        main = app.main
        for key in "n" * 14 + "p" * 4:
            arrange.cache_clear()
            main.prepare()
            before = arrange.cache_info().misses
            await pilot.press(key)
            await pilot.pause()
            assert arrange.cache_info().misses == before, (key, main.controller.timeline.position)
        arrange.cache_clear()
        before = arrange.cache_info().misses
        await pilot.press("n")
        await pilot.pause()
        assert arrange.cache_info().misses > before


@pytest.mark.parametrize(("demo", "size"), [("tutorial", (120, 40)), ("tutorial", (200, 60)), ("spiral", (80, 24))])
async def test_the_next_op_is_drawn_while_the_user_reads(demo, size, monkeypatch) -> None:
    """`prepare` also draws the panes' lines of the op `n` would show: that key draws none itself."""
    drawn: list[tuple[int, ...]] = []
    draw = tensor_lines._draw
    monkeypatch.setattr(tensor_lines, "_draw", lambda window: drawn.append(window.values.shape) or draw(window))
    app = make_app(load_demo(demo))
    async with app.run_test(size=size) as pilot:
        app._after_frame = lambda: None  # prepare only where the test says
        main = app.main
        await pilot.press("n")
        await pilot.pause()
        for _ in range(25):
            main.prepare()
            drawn.clear()
            await pilot.press("n")
            await pilot.pause()
            assert not drawn, (main.controller.timeline.position, drawn)
        main.prepare()
        tensor_lines._KEPT.clear()  # without what was drawn ahead, the key draws
        await pilot.press("n")
        await pilot.pause()
        assert drawn


async def test_a_trace_viewer_draws_ahead_up_to_its_last_record(tmp_path: Path) -> None:
    """A read-only timeline has no op after its last: `prepare` stops there, and keys after it draw nothing new."""
    from nnstep.engine.trace import read_trace
    from nnstep.tui.app import make_viewer

    path = mazur_trace(tmp_path, 1)
    app = make_viewer(read_trace(path), path)
    async with app.run_test(size=(120, 40)) as pilot:
        app._after_frame = lambda: None
        main = app.main
        timeline = main.controller.timeline
        while not timeline.at_end:
            main.prepare()
            await pilot.press("n")
            await pilot.pause()
        main.prepare()  # at the last record: only the previous op is drawn ahead
        assert timeline.position == len(timeline.records) - 1
        await pilot.press("p")
        await pilot.pause()
        assert timeline.position == len(timeline.records) - 2

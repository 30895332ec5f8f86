"""Watches: a value of the breakpoint grammar followed as you step, now and over the last iterations.

If these fail, the watch pane would show a number the op does not have, a
sparkline of other ops or other iterations than it says, or hold a key up
while it computes history. Expected values come from an independent scan of
the session's records with NumPy. Batch rows: z has shape (B, n_l); W has
shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from nnstep.engine import Session, TraceTimeline, load_demo
from nnstep.engine.trace import select
from nnstep.tui.app import make_app
from nnstep.tui.screens.dialogs import InputDialog, WatchList
from nnstep.tui.watches import HISTORY, Watches
from nnstep.tui.widgets.equation_pane import EquationPane
from nnstep.tui.widgets.status_line import StatusLine
from nnstep.tui.widgets.tensor_grid import TensorGrid
from nnstep.tui.widgets.watch_pane import WatchPane, sparkline


def fill(watches: Watches, record) -> None:
    for _ in range(10_000):
        if watches.fill(record, 0.05):
            return
    raise AssertionError("the history never completed")


def expected_series(config, index: int, first: int, last: int) -> list[tuple[float, float, float]]:
    """(norm(dW1), loss, max(z2)) as of op `index`'s place in each iteration first..last (1-based), from a scan:
    the latest op at or before that place within an iteration's worth of ops that holds each value."""
    per = len(config.schedule)
    offset = index % per
    records = list(Session(config).iter_records(0, last * per))
    out = []
    for k in range(first, last + 1):
        at = (k - 1) * per + offset
        window = [r for r in records if at - per < r.index <= at]
        dW1 = [float(np.linalg.norm(r.tensors["dW"])) for r in window if r.layer == 1 and "dW" in r.tensors]
        loss = [r.loss for r in window if r.loss is not None]
        z2 = [float(np.max(r.tensors["z"])) for r in window if r.layer == 2 and "z" in r.tensors]
        out.append((dW1[-1], loss[-1], z2[-1]))
    return out


@pytest.mark.parametrize("offset_op", ["linear", "grad"])
def test_watch_values_and_history_match_a_scan(offset_op: str) -> None:
    """At a forward op norm(dW1) is the previous iteration's; after the grad op this one's. The series
    is that value at the same op of each iteration, the current one last."""
    config = load_demo("tutorial")
    session = Session(config)
    spec = config.schedule.find(offset_op, 1)
    index = config.schedule.index(29, spec.offset)  # iteration 30
    session.goto(index)
    watches = Watches(session)
    for text in ("norm(dW1)", "loss", "max(z2)"):
        watches.add(text)
    assert not watches.fill(session.record, 0.0)  # only the current iteration at once
    fill(watches, session.record)
    rows = watches.rows(session.record)
    expected = expected_series(config, index, 2, 30)  # iteration 1 at a forward op has no earlier dW1
    for which, row in enumerate(rows):
        assert row.first == 1 and len(row.series) == 30
        np.testing.assert_allclose([v for v in row.series[1:]], [e[which] for e in expected], rtol=0, atol=0)
        assert row.value == expected[-1][which]
    if offset_op == "grad":
        assert rows[0].at == index
    else:  # read at an op of iteration 29
        assert config.schedule.index(28, 0) <= rows[0].at < config.schedule.index(29, 0)
    if offset_op == "linear":
        assert rows[0].series[0] is None  # before the first grad op there is no ∂L/∂W⁽¹⁾


def test_history_is_bounded_and_a_slice_is_short() -> None:
    """At iteration 150 the sparkline holds the last HISTORY iterations; a fill slice keeps to its budget."""
    config = load_demo("tutorial")
    session = Session(config)
    session.goto(config.schedule.index(149, 0))
    watches = Watches(session)
    watches.add("loss")
    started = time.perf_counter()
    watches.fill(session.record, 0.01)
    assert time.perf_counter() - started < 0.25
    fill(watches, session.record)
    row = watches.rows(session.record)[0]
    assert len(row.series) == HISTORY and row.first == 150 - HISTORY + 1
    losses = Session(config)
    losses.train(150)
    np.testing.assert_array_equal(np.array(row.series[1:], dtype=float), losses.losses()[150 - HISTORY:149])


def test_watches_on_a_partial_trace_leave_gaps() -> None:
    """A trace of every 2nd iteration: the missing iterations are gaps (None), the kept ones the trace's."""
    config = load_demo("mazur")
    live = Session(config)
    live.train(10)
    trace = TraceTimeline(config, list(select(live.iter_records(), every=2)))
    trace.goto(len(trace) - 1)
    watches = Watches(trace)
    watches.add("loss")
    fill(watches, trace.record)
    row = watches.rows(trace.record)[0]
    assert row.series[::2] == tuple(float(v) for v in live.losses()[::2]) and set(row.series[1::2]) == {None}


def test_sparkline_scales_from_min_to_max() -> None:
    text, low, high = sparkline((1.0, None, 3.0, float("inf"), 2.0), 10)
    assert (text.plain, low, high) == ("▁·█!▅", 1.0, 3.0)


def test_sparkline_of_a_geometric_growth_follows_the_logarithm() -> None:
    """×10 per iteration over 9 decades: on a linear scale all but the last bar would be the lowest."""
    series = tuple(10.0 ** k for k in range(9))
    text, low, high = sparkline(series, 20)
    levels = ["▁▂▃▄▅▆▇█".index(c) for c in text.plain]
    assert levels == sorted(levels) and levels[0] == 0 and levels[-1] == 7 and len(set(levels)) >= 7
    assert (low, high) == (1.0, 1e8)
    # Signs are kept: the order of the bars is the order of the values.
    text, _, _ = sparkline((-1e6, -1.0, 0.0, 1.0, 1e6), 10)
    assert text.plain[0] == "▁" and text.plain[-1] == "█" and text.plain[2] in "▄▅"


async def test_add_and_remove_watches_in_the_app_at_three_sizes(screen_text) -> None:
    """a adds (a bad one and one holding markup are refused in the dialog), the pane shows each watch
    between the equation and the tensors at every size, A removes; the status line keeps its place."""
    config = load_demo("tutorial")
    for size in ((80, 24), (120, 40), (200, 60)):
        app = make_app(config)
        async with app.run_test(size=size) as pilot:
            await pilot.press("i", "n")
            for text in ("[bold]", "norm(dW9)", "max(z2) [/]"):
                await pilot.press("a")
                await pilot.pause()
                app.screen.query_one("Input").value = text
                await pilot.press("enter")
                await pilot.pause()
                assert isinstance(app.screen, InputDialog)
                error = str(app.screen.query_one(".error").render())
                assert error.startswith(f"watch '{text}': column") and "\n" not in error
                await pilot.press("escape")
            for text in ("norm(dW1)", "loss", "max(z2)"):
                await pilot.press("a")
                await pilot.pause()
                app.screen.query_one("Input").value = text
                await pilot.press("enter")
                await pilot.pause()
            await pilot.pause(0.3)
            main = app.main
            pane = main.query_one(WatchPane)
            shown = screen_text(app)
            assert pane.display and main.controller.watches.texts == ["norm(dW1)", "loss", "max(z2)"]
            lines = pane.render().plain.splitlines()
            visible = 2 if size[1] < 30 else 3
            assert len(lines) == visible and lines[0].startswith("norm(dW1)")
            assert (pane.border_subtitle == "+1 more (A lists them)") == (visible == 2)
            loss = main.controller.record  # op 12: iteration 2's first op; the loss is iteration 1's
            assert f"{Session(config).record_at(config.schedule.loss_offset).loss:.4f}" in lines[1]
            equation, grid = main.query_one(EquationPane).region, main.query_one(TensorGrid).region
            assert equation.bottom <= pane.region.y and pane.region.bottom <= grid.y
            assert grid.bottom <= main.query_one(StatusLine).region.y == size[1] - 2
            assert "watches · at op 12" in shown and loss.index == 11
            await pilot.press("A")
            await pilot.pause()
            assert isinstance(app.screen, WatchList)
            await pilot.press("d", "d", "escape")
            await pilot.pause()
            assert main.controller.watches.texts == ["max(z2)"]
            await pilot.press("A", "a")  # a adds in the main screen, never clears here
            await pilot.pause()
            assert main.controller.watches.texts == ["max(z2)"]
            await pilot.press("D", "escape")
            await pilot.pause()
            assert not main.controller.watches.texts and not pane.display

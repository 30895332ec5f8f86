"""Find in the tensors (/): the next NaN/inf, the largest |value|, a typed number.

If these fail, / would put the cursor on a cell that does not hold what was
asked for, or skip the first one that does. Every expected cell comes from
a brute-force scan of the records with NumPy. Batch rows: z has shape
(B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import numpy as np
import pytest
from nnstep.engine import Session, load_demo
from nnstep.tui.app import make_app
from nnstep.tui.controller import Controller
from nnstep.tui.screens.dialogs import InputDialog
from nnstep.tui.search import Query, parse_query, search
from nnstep.tui.widgets.equation_pane import EquationPane
from nnstep.tui.widgets.status_line import StatusLine
from nnstep.tui.widgets.tensor_pane import TensorPane

from tests.tui.test_app import diverging_config


def shown_names(controller: Controller):
    return lambda record: [t.name for t in controller.tensors(record, compare=False)]


@pytest.mark.parametrize("text, kind, value, tolerance", [
    ("nan", "nan", 0.0, 0.0), (" INF ", "nan", 0.0, 0.0), ("max", "max", 0.0, 0.0),
    ("0.0123", "value", 0.0123, 0.00005), ("-1.5e-3", "value", -0.0015, 0.00005), ("2", "value", 2.0, 0.5),
    ("−0.25", "value", -0.25, 0.005),
])
def test_queries(text: str, kind: str, value: float, tolerance: float) -> None:
    query = parse_query(text)
    assert isinstance(query, Query) and query.kind == kind
    assert query.value == pytest.approx(value) and query.tolerance == pytest.approx(tolerance)


@pytest.mark.parametrize("text", ["abc", "[/]", "[bold]x", "1e999999", "9" * 50])
def test_bad_queries_are_one_line(text: str) -> None:
    message = parse_query(text)
    assert isinstance(message, str) and "\n" not in message


def test_nan_search_finds_the_first_non_finite_cell_from_the_current_op() -> None:
    """From the first op of the iteration where inf appears: the op, tensor and cell a scan finds first."""
    config = diverging_config()
    controller = Controller(Session(config))
    timeline = controller.timeline
    names = shown_names(controller)
    with np.errstate(all="ignore"):
        timeline.goto(0)
        hit = search(timeline, parse_query("nan"), names)
        expected = None
        for record in timeline.iteration_records(0):
            for name in names(record):
                bad = np.argwhere(~np.isfinite(record.tensors[name]))
                if bad.size:
                    expected = (record.index, name, tuple(int(i) for i in bad[0]))
                    break
            if expected:
                break
    assert expected is not None and hit is not None
    assert (hit.record.index, hit.name, hit.index) == expected and not np.isfinite(hit.value)
    # There, from the focused tensor after that cell: the next non-finite cell of the same tensor.
    timeline.goto(hit.position)
    again = search(timeline, parse_query("nan"), names, hit.name, hit.index)
    values = hit.record.tensors[hit.name]
    flat = np.flatnonzero(~np.isfinite(values).ravel())
    assert again is not None and again.position == hit.position
    assert np.ravel_multi_index(again.index, values.shape) == flat[1]


def test_max_is_the_largest_value_of_the_iteration_or_of_the_focused_tensor() -> None:
    config = load_demo("tutorial")
    controller = Controller(Session(config))
    controller.timeline.goto(config.schedule.index(4, 3))
    names = shown_names(controller)
    hit = search(controller.timeline, parse_query("max"), names)
    largest = max(float(np.max(np.abs(r.tensors[n]))) for r in controller.timeline.iteration_records(4) for n in names(r))
    assert hit is not None and abs(hit.value) == largest
    record = controller.record
    name = names(record)[0]
    focused = search(controller.timeline, parse_query("max"), names, name, (0, 0))
    values = record.tensors[name]
    assert focused is not None and focused.position == controller.timeline.position
    assert abs(focused.value) == float(np.max(np.abs(values)))


def test_a_typed_number_matches_at_the_digits_typed() -> None:
    """A value of another op, typed with 4 significant digits, is found there (the first cell rounding to it)."""
    config = load_demo("tutorial")
    controller = Controller(Session(config))
    timeline = controller.timeline
    timeline.goto(config.schedule.index(2, 0))
    target = timeline.iteration_records(2)[8]
    value = float(target.tensors["dW"][3, 2])
    text = f"{value:.4g}"
    query = parse_query(text)
    assert isinstance(query, Query)
    hit = search(timeline, query, shown_names(controller))
    assert hit is not None and abs(hit.value - float(text)) <= query.tolerance
    assert f"{hit.value:.4g}" == text or abs(hit.value - float(text)) <= query.tolerance
    # nothing earlier in the search order rounds to it
    for record in timeline.iteration_records(2):
        if record.index >= hit.record.index:
            break
        for name in shown_names(controller)(record):
            assert not (np.abs(record.tensors[name] - float(text)) <= query.tolerance * (1 + 1e-9)).any()


async def test_slash_puts_the_cursor_on_the_nan_and_explains_it() -> None:
    """/ nan at the start of the diverging run: the op with the first inf is shown, its pane focused,
    the cursor on the cell, the equation works it out, the status line says where."""
    config = diverging_config()
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "slash")
        await pilot.pause()
        assert isinstance(app.screen, InputDialog)
        app.screen.query_one("Input").value = "[/]"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, InputDialog) and "is not nan, max or a number" in str(
            app.screen.query_one(".error").render())
        app.screen.query_one("Input").value = "nan"
        await pilot.press("enter")
        await pilot.pause()
        main = app.main
        record = main.controller.record
        focused = app.focused
        assert isinstance(focused, TensorPane) and focused.cursor is not None
        cell = focused.tensor.values[focused.cursor] if focused.tensor.values.ndim == 2 else focused.tensor.values[focused.cursor[1]]
        assert not np.isfinite(cell)
        message = main.query_one(StatusLine).status.message
        assert message.startswith("find NaN or ±inf: ") and f"at op {record.index + 1} (iteration 1)" in message
        assert main.query_one(EquationPane).cell is not None
        assert focused.tensor.name == "z" and not np.isfinite(focused.tensor.values).any()
        await pilot.press("slash")
        await pilot.pause()
        app.screen.query_one("Input").value = "max"
        await pilot.press("enter")
        await pilot.pause()
        # z is all inf: the largest finite |value| of the whole iteration, by a brute-force scan
        with np.errstate(all="ignore"):
            largest = max(float(np.max(np.where(np.isfinite(t.values), np.abs(t.values), -np.inf)))
                          for r in main.controller.timeline.iteration_records(0)
                          for t in main.controller.tensors(r, compare=False))
        pane = app.focused
        assert isinstance(pane, TensorPane) and pane.cursor is not None
        cell = pane.tensor.values[pane.cursor] if pane.tensor.values.ndim == 2 else pane.tensor.values[pane.cursor[1]]
        assert abs(float(cell)) == largest == 1e200
        assert f"= {largest:.6g} at op" in main.query_one(StatusLine).status.message

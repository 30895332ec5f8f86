"""The Δ view (d) and `nnstep view A --compare B`.

If these fail, the Δ a pane shows would not be what changed: for plain SGD
W⁽ˡ⁾ of iteration k+1 minus W⁽ˡ⁾ of iteration k is exactly −η·∂L/∂W⁽ˡ⁾ of
iteration k, so the view is checked against the gradient records; against a
second trace, against the two traces' own numbers. Batch rows: z has shape
(B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nnstep.engine import Session, build_config, load_demo
from nnstep.engine.errors import NnstepError
from nnstep.engine.trace import read_trace, write_trace
from nnstep.tui.app import make_app, make_viewer
from nnstep.tui.compare import difference
from nnstep.tui.widgets.status_line import StatusLine
from textual.markup import escape

from tests.engine.test_config_errors import assert_one_line, run_main


def test_difference_counts_equal_non_finite_values_as_zero() -> None:
    a = np.array([1.0, np.nan, np.inf, -np.inf, np.inf, 2.0])
    b = np.array([0.5, np.nan, np.inf, -np.inf, 1.0, np.nan])
    delta = difference(a, b)
    assert delta[:4].tolist() == [0.5, 0.0, 0.0, 0.0] and delta[4] == np.inf and np.isnan(delta[5])


def panes(app) -> dict:
    return {p.tensor.name: p.tensor for p in app.main.query_one("#tensors").panes}


async def test_d_shows_the_change_since_the_previous_iteration() -> None:
    """At iteration 3's first op, ΔW⁽¹⁾ = −η·∂L/∂W⁽¹⁾ of iteration 2 (plain SGD), and z's Δ is z − z of iteration 2."""
    config = load_demo("tutorial")
    app = make_app(config)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("i", "i", "n", "d")
        await pilot.pause()
        record = app.main.controller.record
        assert (record.iteration, record.op, record.layer) == (3, "linear", 1)
        grad = next(r for r in Session(config).iter_records(0, 2 * len(config.schedule))
                    if r.iteration == 2 and r.op == "grad" and r.layer == 1)
        shown = panes(app)
        assert shown["W"].symbol == "W⁽¹⁾ − iteration 2"
        np.testing.assert_allclose(shown["W"].values, -config.lr * grad.tensors["dW"], rtol=1e-9, atol=1e-15)
        previous = Session(config).record_at(record.index - len(config.schedule))
        np.testing.assert_array_equal(shown["z"].values, record.tensors["z"] - previous.tensors["z"])
        assert "Δ view" in app.main.query_one(StatusLine).status.message
        await pilot.press("d")
        await pilot.pause()
        assert panes(app)["W"].values is record.tensors["W"]


def traces(tmp_path: Path, lr: float, sizes: list[int] | None = None) -> Path:
    raw = load_demo("mazur").to_dict()
    raw["optimizer"]["lr"] = lr
    if sizes is not None:
        raw["model"] = {"sizes": sizes, "activations": ["sigmoid"] * (len(sizes) - 1), "init": "xavier"}
        raw["data"] = {"x": [[0.05, 0.1]], "y": [[0.01] * sizes[-1]]}
    config = build_config(raw, "variant.toml", name="variant")
    session = Session(config)
    session.train(3)
    path = tmp_path / f"lr{lr}-{len(sizes or [])}.json"
    write_trace(path, config.to_dict(), session.iter_records(0, session.position + 1))
    return path


async def test_view_compare_shows_the_difference_between_two_runs(tmp_path: Path, screen_text) -> None:
    """Two runs of mazur with η 0.5 and 0.25: at iteration 2, z⁽¹⁾ differs by exactly z_A − z_B."""
    a, b = traces(tmp_path, 0.5), traces(tmp_path, 0.25)
    b = b.rename(b.with_name("[bold]B [red]run.json"))  # a file name is user text: never markup
    trace_a, trace_b = read_trace(a), read_trace(b)
    app = make_viewer(trace_a, a, (trace_b, b))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("i", "n", "d")
        await pilot.pause()
        record = app.main.controller.record
        other = next(r for r in trace_b["records"] if r.index == record.index)
        z = panes(app)["z"]
        assert z.symbol == f"z⁽¹⁾ − {b.name}"
        np.testing.assert_array_equal(z.values, record.tensors["z"] - other.tensors["z"])
        assert np.abs(z.values).max() > 0  # the runs differ from the second iteration on
        pane = next(p for p in app.main.query_one("#tensors").panes if p.tensor.name == "z")
        assert "z⁽¹⁾ − [bold]B [red" in screen_text(app) and pane.border_title == escape(f"z⁽¹⁾ − {b.name}  1×2")
        assert app.title.endswith(f"{a.name} vs {b.name}")
        assert f"(vs {b.name}: d shows Δ)" in str(app.main.query_one(StatusLine).render())


def test_compare_refuses_another_network(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`nnstep view A --compare B` of a 2-3-2 and a 2-2-2 network: check_same_network's one line, exit 2."""
    a, c = traces(tmp_path, 0.5), traces(tmp_path, 0.5, [2, 3, 2])
    assert run_main(["view", str(a), "--compare", str(c)]) == 2
    assert_one_line(capsys.readouterr().err, f"nnstep: {a} and {c} are runs of different networks (2→2→2 sigmoid/sigmoid, "
                    "mse vs 2→3→2 sigmoid/sigmoid, mse): nothing to compare op by op")
    with pytest.raises(NnstepError):
        make_viewer(read_trace(a), a, (read_trace(c), c))


async def test_find_in_the_delta_view_searches_the_differences() -> None:
    """/ max with d on: the largest |Δ| against the previous iteration over the iteration's ops, by brute force."""
    from nnstep.tui.controller import Controller

    config = load_demo("tutorial")
    app = make_app(config)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("i", "i", "n", "d", "slash")
        await pilot.pause()
        app.screen.query_one("Input").value = "max"
        await pilot.press("enter")
        await pilot.pause()
        reference = Controller(Session(config))
        largest = 0.0
        for record in reference.timeline.iteration_records(2):
            previous = reference.timeline.record_at(record.index - len(config.schedule))
            for tensor in reference.tensors(record, compare=False):
                if tensor.name in previous.tensors and previous.tensors[tensor.name].shape == tensor.values.shape:
                    largest = max(largest, float(np.max(np.abs(tensor.values - previous.tensors[tensor.name]))))
        message = app.main.query_one(StatusLine).status.message
        assert message.startswith("find largest |Δ|: ") and f"= {largest:.6g} at op" in message.replace("= -", "= "), message
        focused = app.focused
        cell = focused.tensor.values[focused.cursor] if focused.tensor.values.ndim == 2 else focused.tensor.values[focused.cursor[1]]
        assert abs(float(cell)) == largest  # the pane shows Δ and the cursor is on the largest

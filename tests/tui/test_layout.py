"""Tensor panes on a large terminal: the room is used, columns are whole, summaries fit.

Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import numpy as np

from nnstep.engine import load_demo
from nnstep.tui.app import make_app
from nnstep.tui.render import fitted_summary
from nnstep.tui.widgets.tensor_grid import MIN_PANE, pack
from nnstep.tui.widgets.tensor_pane import TensorPane


def test_summary_shortens_but_never_drops_the_non_finite_count() -> None:
    """A narrow pane cut the summary with '…'; the NaN/inf count must always be read whole."""
    values = np.array([[1.0, np.nan], [np.inf, -2.0]])
    for room in range(14, 70):
        text = fitted_summary(values, "out", room)
        assert len(text) <= room, (room, text)
        assert text.startswith("⚠ 1 NaN 1 inf"), (room, text)
    assert fitted_summary(values, "out", 60) == "⚠ 1 NaN 1 inf · out · min -2 max 1 μ -0.5 ‖·‖ 2.24"
    assert fitted_summary(values, "out", 4) == "⚠2"  # the bad count, at least, whatever the width
    finite = np.array([-0.0631, 0.0631, 0.05])
    assert fitted_summary(finite, "in", 40) == "in ↓-0.0631 ↑0.0631 μ0.0167 ‖0.102‖"
    assert fitted_summary(finite, "in", 20) == "↓-0.0631 ↑0.0631"  # min and max stay last


def test_pack_fills_the_row_and_keeps_panes_readable() -> None:
    """Panes of a row must cover it edge to edge (a gap showed the grid's background)."""
    assert sum(pack([24, 164], 160) or []) == 160
    assert pack([24, 164], 160) == [24, 136]  # the narrow vector takes only what it needs
    assert pack([30, 30, 30, 30], 90) is None  # four panes under MIN_PANE wide: not a layout
    assert min(pack([24, 24, 24], 80) or [0]) >= MIN_PANE


async def test_large_terminal_shows_more_of_a_wide_tensor_in_whole_columns(screen_text) -> None:
    """At 160×48 the 10×16 a⁽¹⁾ showed 7 columns over 15 blank rows, the 8th cut to '0.3'."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("i", "i", *["n"] * 7)
        await pilot.pause()
        assert app.main.session.record.op == "grad"
        panes = {p.tensor.name: p for p in app.main.query(TensorPane) if p.display}
        a = panes["a_prev"]
        (r0, r1, rows), (c0, c1, cols) = a.in_view
        assert (r1 - r0, rows) == (10, 10) and c1 - c0 >= 13, a.in_view
        gutter = len(str(rows - 1)) + 1
        for y in range(rows):
            line = a.render_line(y).text
            assert line[gutter + (c1 - c0) * a.cell_width :].strip() == "", line  # no cut-off number
        dW = panes["dW"]
        assert dW.in_view[1][1] - dW.in_view[1][0] >= 13
        assert "this iteration so far" in screen_text(app)  # the rows under the panes go to the log

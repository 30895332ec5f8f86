"""Follow one sample (f): its batch row lit in every pane that has batch rows, its numbers worked out.

If these fail, a student following sample 3 would see another sample's row
lit, a weight matrix striped as if it had samples, or the equation pane
working out sample 1 while saying sample 3. Expected numbers are computed
here with NumPy from the records. Batch rows: z has shape (B, n_l); W has
shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import numpy as np
from nnstep.engine import load_demo
from nnstep.tui.app import make_app
from nnstep.tui.screens.dialogs import InputDialog
from nnstep.tui.screens.find import Finder
from nnstep.tui.widgets.equation_pane import EquationPane
from nnstep.tui.worked_text import _n


def lit(app) -> dict[str, int | None]:
    return {p.tensor.name: p.sample for p in app.main.query_one("#tensors").panes}


async def test_f_follows_the_cursor_row_through_forward_loss_and_backward() -> None:
    config = load_demo("tutorial")
    app = make_app(config)
    async with app.run_test(size=(160, 48)) as pilot:
        main = app.main
        await pilot.press("n")
        await pilot.pause()
        z = next(p for p in main.query_one("#tensors").panes if p.tensor.name == "z")
        z.focus()
        z.set_cursor((2, 3), announce=True)
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        assert main.query_one(Finder).sample == 2
        assert lit(app) == {"a_prev": 2, "W": None, "b": None, "z": 2}
        assert "sample 3" in z.border_title and "follow: sample 3" in main.query_one("StatusLine").status.message
        await pilot.press("escape")  # the selected number goes; the sample stays
        await pilot.pause()
        equation = main.query_one(EquationPane)
        record = main.controller.record
        text = str(equation.render())
        assert equation.cell[:2] == ("z", (2, 0)) and "(sample 3)" in text
        assert f"= {_n(record.tensors['z'][2, 0])}" in text and "sample 3, followed" in equation.border_title
        for _ in range(4):  # to the loss op
            await pilot.press("n")
        await pilot.pause()
        record = main.controller.record
        assert record.op == "loss"
        p = record.tensors["p"]
        c = int(np.argmax(record.tensors["y"][2]))
        term = -np.log(p[2, c])
        assert "ℓ₃ = −log(softmax(ŷ₃)" in str(equation.render()) and _n(term) in str(equation.render())
        assert all(row == 2 for name, row in lit(app).items() if name != "loss")
        await pilot.press("n", "n")  # δ⁽²⁾... then ∂L/∂W⁽²⁾
        await pilot.pause()
        record = main.controller.record
        assert record.op == "grad"
        shown = lit(app)
        assert shown["delta"] == 2 and shown["a_prev"] == 2 and shown["dW"] is None and shown["db"] is None
        await pilot.press("f")  # no cursor: stop following
        await pilot.pause()
        assert main.query_one(Finder).sample is None and set(lit(app).values()) == {None}
        await pilot.press("f")  # no cursor, not following: ask
        await pilot.pause()
        assert isinstance(app.screen, InputDialog)
        app.screen.query_one("Input").value = "11"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, InputDialog) and "out of range" in str(app.screen.query_one(".error").render())
        app.screen.query_one("Input").value = "4"
        await pilot.press("enter")
        await pilot.pause()
        assert main.query_one(Finder).sample == 3 and lit(app)["delta"] == 3

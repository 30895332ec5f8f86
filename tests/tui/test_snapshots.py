"""Text snapshots of the main screen: the mazur, tutorial and spiral demos at a few ops at 80×24,
120×40 and 200×60, and a config with Adam, dropout, an L1 penalty and a frozen b⁽¹⁾ at its
dropout and update ops.

A snapshot is Textual's own screenshot of the whole screen, as plain text
(see conftest.screen_text). After an intended change of the layout,
regenerate them with `NNSTEP_UPDATE_SNAPSHOTS=1 pytest tests/tui/test_snapshots.py`
and read the diff before committing.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from nnstep.engine import load_config, load_demo
from nnstep.tui.app import make_app

SNAPSHOTS = Path(__file__).parent / "snapshots"
ADAM_DROPOUT = Path(__file__).parent / "configs" / "adam_dropout.toml"
UPDATE = os.environ.get("NNSTEP_UPDATE_SNAPSHOTS") == "1"


def compare(shown: str, name: str) -> None:
    """Fail with a diff unless `shown` is the snapshot `name` (or write it when updating)."""
    path = SNAPSHOTS / name
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(shown, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no snapshot {path.name}; create it with NNSTEP_UPDATE_SNAPSHOTS=1")
    expected = path.read_text(encoding="utf-8")
    if shown != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), shown.splitlines(True), "snapshot", "now"))
        pytest.fail(f"the screen changed from {path.name}:\n{diff}")


SIZES = [(80, 24), (120, 40), (200, 60)]
# The start screen, then ops a student reads closely: mazur's forward, loss, backward and update;
# the tutorial's first linear op, its δ⁽¹⁾ and gradient, its update; the spiral's 64-row batch.
OPS = {"mazur": [0, 3, 5, 7, 11], "tutorial": [0, 1, 8, 9, 10], "spiral": [0, 5, 16]}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("demo, steps", [(demo, steps) for demo, ops in OPS.items() for steps in ops],
                         ids=lambda v: str(v))
async def test_main_screen(demo: str, steps: int, size: tuple[int, int], screen_text) -> None:
    """If this fails, the main screen looks different: read the diff, then regenerate if it is meant."""
    app = make_app(load_demo(demo))
    async with app.run_test(size=size) as pilot:
        for _ in range(steps):
            await pilot.press("n")
        await pilot.pause()
        shown = screen_text(app)
    compare(shown, f"{demo}-{size[0]}x{size[1]}-step{steps:02d}.txt")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("steps", [3, 11], ids=["dropout", "update"])
async def test_adam_dropout_main_screen(size: tuple[int, int], steps: int, screen_text) -> None:
    """The dropout op (a, m, ã) and layer 1's Adam update (m, v, m̂, v̂, frozen b⁽¹⁾), as a user sees them."""
    app = make_app(load_config(ADAM_DROPOUT, name="adam_dropout"))
    async with app.run_test(size=size) as pilot:
        for _ in range(steps):
            await pilot.press("n")
        await pilot.pause()
        assert app.main.controller.timeline.record.op == ("dropout" if steps == 3 else "update")
        shown = screen_text(app)
    compare(shown, f"adam_dropout-{size[0]}x{size[1]}-step{steps:02d}.txt")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_watch_pane_and_followed_sample(size: tuple[int, int], screen_text) -> None:
    """Three watches with their sparklines over 30 iterations, sample 3 followed, as a user sees them."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=size) as pilot:
        for text in ("norm(dW1)", "loss", "max(z2)"):
            app.main.controller.watches.add(text)
        await pilot.press("G")
        await pilot.pause()
        app.screen.query_one("Input").value = "30"
        await pilot.press("enter", "s", "f")
        await pilot.pause()
        app.screen.query_one("Input").value = "3"
        await pilot.press("enter")
        for _ in range(100):  # the sparklines fill from a timer
            await pilot.pause(0.05)
            if app.main.controller.watches.fill(app.main.controller.record, 0.0):
                break
        app.main.show()
        await pilot.pause()
        shown = screen_text(app)
    assert "computing" not in shown
    compare(shown, f"watches-tutorial-{size[0]}x{size[1]}.txt")

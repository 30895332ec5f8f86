"""Text snapshots of the main screen at a few steps of the mazur demo, small and large.

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

from nnstep.engine import load_demo
from nnstep.tui.app import make_app

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("NNSTEP_UPDATE_SNAPSHOTS") == "1"


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("steps", [0, 3, 5, 7, 11])
async def test_mazur_main_screen(size: tuple[int, int], steps: int, screen_text) -> None:
    """If this fails, the main screen looks different: read the diff, then regenerate if it is meant."""
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=size) as pilot:
        for _ in range(steps):
            await pilot.press("n")
        await pilot.pause()
        shown = screen_text(app)
    path = SNAPSHOTS / f"mazur-{size[0]}x{size[1]}-step{steps:02d}.txt"
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

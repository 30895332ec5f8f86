"""The footer of keys: how to get help and how to quit are always on screen, at any width.

Textual's Footer let the keys run off the right edge; at 80 columns `esc Stop/clear`
pushed `? Help` and `q Quit` out of view.
"""

from __future__ import annotations

import pytest
from nnstep.engine import load_demo
from nnstep.tui.app import make_app
from nnstep.tui.widgets.key_footer import fit
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


def footer_line(app) -> str:
    """The footer's keys as they stand on screen, left to right, whole ones only."""
    footer = app.main.query_one(Footer)
    keys = sorted(footer.query(FooterKey), key=lambda key: key.region.x)
    # The command palette's key is docked at the right: a key beneath it is as hidden as one past the edge.
    edge = min([app.size.width] + [key.region.x for key in keys if key.has_class("-command-palette")])
    assert all(key.region.right <= edge for key in keys if not key.has_class("-command-palette")), \
        [(k.key_display, k.region) for k in keys]
    return " ".join(f"{key.key_display} {key.description}" for key in keys)


def test_fit_drops_the_others_before_the_kept_ones() -> None:
    """Kept keys stay however narrow the room; the named ones go first, then the last ones."""
    keys = [("next", 7), ("back", 7), ("stop", 15), ("export", 9), ("help", 7), ("quit", 7)]
    kept = frozenset({"stop", "help", "quit"})
    assert fit(keys, 100, kept) == [0, 1, 2, 3, 4, 5]
    assert fit(keys, 51, kept, ("export",)) == [0, 1, 2, 3, 4, 5]  # 52 columns, the last margin not needed
    assert fit(keys, 50, kept, ("export",)) == [0, 1, 2, 4, 5]
    assert fit(keys, 40, kept, ("export",)) == [0, 2, 4, 5]
    assert fit(keys, 10, kept, ("export",)) == [2, 4, 5]


@pytest.mark.parametrize("size", [(80, 24), (40, 12), (100, 30), (120, 40), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_help_and_quit_stay_in_view_when_esc_shows(size: tuple[int, int]) -> None:
    """A tensor pane focused (esc clears its cursor): `esc Stop/clear`, `? Help` and `q Quit` all in view."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=size) as pilot:
        await pilot.press("n")
        await pilot.pause()
        line = footer_line(app)
        assert "? Help" in line and "q Quit" in line and "esc" not in line
        await pilot.press("tab")
        await pilot.pause()
        line = footer_line(app)
        assert "esc Stop/clear" in line and "? Help" in line and "q Quit" in line, line
        if size[0] >= 120:
            assert "x Export" in line and "n Next" in line  # room for every key
        await pilot.press("escape", "escape")
        await pilot.pause()
        line = footer_line(app)
        assert "? Help q Quit" in line and "esc" not in line


async def test_help_and_quit_stay_in_view_while_a_job_runs_and_after_a_resize() -> None:
    """During continue (esc stops it) at 80 columns, and after the terminal narrows to 60."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await pilot.pause(0.3)
        assert app.main.controller.running
        line = footer_line(app)
        assert "esc Stop/clear" in line and "? Help" in line and "q Quit" in line, line
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.resize_terminal(60, 24)
        await pilot.pause()
        await pilot.press("tab")
        await pilot.pause()
        line = footer_line(app)
        assert "esc Stop/clear" in line and "? Help" in line and "q Quit" in line and "n Next" in line, line

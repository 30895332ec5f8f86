"""Panes that draw their lines themselves draw what Textual's general path draws.

A tensor pane puts its kept lines of values between side segments worked out
from Textual's own formula (tui/widgets/pane_sides.py); the network and
equation panes and the status line turn their Text into strips themselves
(tui/widgets/text_lines.py). Both lean on Textual internals pinned at 8.2.8:
these tests compare every line, segment by segment (text and style), with
Textual's general path, so a Textual that draws otherwise fails here first.
"""

from __future__ import annotations

import asyncio

import pytest
from nnstep.engine import load_demo
from nnstep.tui.app import make_app
from nnstep.tui.widgets.equation_pane import EquationPane
from nnstep.tui.widgets.loss_plot import LossPlot
from nnstep.tui.widgets.network_pane import NetworkPane
from nnstep.tui.widgets.pane_sides import EdgedLines
from nnstep.tui.widgets.status_line import StatusLine
from nnstep.tui.widgets.tensor_grid import TensorGrid, TensorRow
from nnstep.tui.widgets.tensor_pane import TensorPane
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


def _segments(strips: list[Strip]) -> list[list[tuple[str, object]]]:
    """Text and style of every segment (the network pane's general path adds mouse offsets as meta: dropped)."""
    return [[(s.text, s.style.clear_meta_and_links() if s.style else None) for s in strip] for strip in strips]


def _general(pane: Widget, crop: Region) -> list[Strip]:
    pane._styles_cache.clear()
    return Widget.render_lines(pane, crop)


async def _compare_tensor_panes(demo: str, size: tuple[int, int], keys: str, theme: str | None = None) -> int:
    app = make_app(load_demo(demo))
    compared = 0
    async with app.run_test(size=size) as pilot:
        if theme:
            app.theme = theme
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
        for pane in app.main.query(TensorPane):
            if not pane.display or pane.tensor is None:
                continue
            width, height = pane.outer_size
            for crop in (Region(0, 0, width, height), Region(3, 1, max(width - 5, 1), max(height - 2, 1))):
                pane._edged = EdgedLines()
                ours = pane.render_lines(crop)
                assert _segments(ours) == _segments(_general(pane, crop)), (pane.tensor.symbol, crop)
                compared += 1
    return compared


@pytest.mark.parametrize(
    ("demo", "size", "keys", "theme"),
    [
        ("tutorial", (120, 40), "nnn", None),
        ("tutorial", (80, 24), "nnnnnnnnn", None),  # the update op: written panes (their own border colour)
        ("spiral", (200, 60), "nnnn\t", None),  # tab: a focused pane (another border and background)
        ("tutorial", (120, 40), "nnnnnn", "textual-light"),
    ],
)
def test_tensor_pane_lines_equal_textuals_general_path(demo, size, keys, theme) -> None:
    assert asyncio.run(_compare_tensor_panes(demo, size, keys, theme)) >= 2


def test_a_non_finite_pane_equals_the_general_path_too() -> None:
    """A heavy magenta border (a NaN or inf in the tensor)."""

    async def run() -> int:
        app = make_app(load_demo("tutorial"))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("n")
            await pilot.pause()
            pane = next(p for p in app.main.query(TensorPane) if p.display and p.tensor is not None)
            pane.set_class(True, "non-finite")
            await pilot.pause()
            width, height = pane.outer_size
            pane._edged = EdgedLines()
            crop = Region(0, 0, width, height)
            assert _segments(pane.render_lines(crop)) == _segments(_general(pane, crop))
            return 1

    assert asyncio.run(run()) == 1


@pytest.mark.parametrize("pane_type", [NetworkPane, EquationPane, StatusLine, LossPlot])
@pytest.mark.parametrize(("demo", "size", "keys"), [("tutorial", (120, 40), "nnn"), ("spiral", (200, 60), "nnnnnnnnnnnnnn"),
                                                    ("mazur", (80, 24), "nnnnnnnnnnnnnnn"), ("tutorial", (60, 20), "nnnnnnnnnn"),
                                                    ("tutorial", (120, 40), "iiiiiinp")])  # a loss curve, gone back
def test_text_pane_lines_equal_textuals_general_path(pane_type, demo, size, keys) -> None:
    async def run() -> None:
        app = make_app(load_demo(demo))
        async with app.run_test(size=size) as pilot:
            for key in keys:
                await pilot.press(key)
            await pilot.pause()
            pane = app.main.query_one(pane_type)
            width, height = pane.outer_size
            crop = Region(0, 0, width, height)
            pane._lines_key = None
            ours = pane.render_lines(crop)
            original = pane_type.render_line
            pane_type.render_line = Widget.render_line  # Textual's own path from render()'s Text
            try:
                general = _general(pane, crop)
            finally:
                pane_type.render_line = original
            assert [s.text for s in ours] == [s.text for s in general]
            assert _segments(ours) == _segments(general)

    asyncio.run(run())


@pytest.mark.parametrize(("demo", "size", "keys"), [("tutorial", (120, 40), "nnnnnnnnn"), ("spiral", (200, 60), "nnnn")])
def test_container_lines_equal_textuals_general_path(demo, size, keys) -> None:
    """The tensor grid and its rows hand out one background line for every row (`plain_lines`)."""

    async def run() -> int:
        app = make_app(load_demo(demo))
        compared = 0
        async with app.run_test(size=size) as pilot:
            for key in keys:
                await pilot.press(key)
            await pilot.pause()
            for widget in [app.main.query_one(TensorGrid), *app.main.query(TensorRow)]:
                width, height = widget.outer_size
                if not widget.display or not height:
                    continue
                for crop in (Region(0, 0, width, height), Region(5, 2, max(width - 9, 1), max(height - 3, 1))):
                    ours = widget.render_lines(crop)
                    assert len(ours) == crop.height
                    assert _segments(ours) == _segments(_general(widget, crop)), (type(widget).__name__, crop)
                    compared += 1
        return compared

    assert asyncio.run(run()) >= 4


def test_a_text_pane_renders_its_text_again_only_after_a_repaint_was_asked_for(monkeypatch) -> None:
    """The compositor asks every pane on screen for its lines when the layout changes; a text pane
    keeps its lines until a refresh (or another size or style) says they changed."""

    async def run() -> None:
        app = make_app(load_demo("tutorial"))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("n")
            await pilot.pause()
            pane = app.main.query_one(NetworkPane)
            calls: list[int] = []
            render = NetworkPane.render
            monkeypatch.setattr(NetworkPane, "render", lambda self: calls.append(1) or render(self))
            width, height = pane.outer_size
            crop = Region(0, 0, width, height)
            before = [s.text for s in pane.render_lines(crop)]
            assert not calls
            await pilot.press("n")  # another op: the pane refreshes, its text is new
            await pilot.pause()
            calls.clear()
            after = [s.text for s in pane.render_lines(crop)]
            assert after != before
            pane.refresh()
            pane.render_lines(crop)
            assert calls == [1]

    asyncio.run(run())

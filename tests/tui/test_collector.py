"""The app's schedule of full garbage collections (tui/collector.py)."""

from __future__ import annotations

import asyncio
import gc

import pytest
from nnstep.engine import load_demo
from nnstep.tui import collector as collector_module
from nnstep.tui.app import make_app
from nnstep.tui.collector import DUE, RARE, Collector


@pytest.fixture
def restored():
    threshold = gc.get_threshold()
    yield
    gc.set_threshold(*threshold)
    gc.unfreeze()


def test_start_makes_full_passes_rare_and_stop_restores_them(restored) -> None:
    before = gc.get_threshold()
    collector = Collector()
    collector.start()
    assert gc.get_threshold() == (before[0], before[1], RARE)
    assert collector._seen in gc.callbacks
    collector.stop()
    assert gc.get_threshold() == before
    assert collector._seen not in gc.callbacks


def test_counts_middle_passes_and_a_full_pass_resets_them(restored) -> None:
    collector = Collector()
    collector.start()
    try:
        gc.collect(1)
        gc.collect(1)
        assert collector.middle == 2
        gc.collect()
        assert collector.middle == 0 and collector.full == 1
    finally:
        collector.stop()


def test_collects_only_when_due_quiet_and_not_busy(restored, monkeypatch) -> None:
    collector = Collector()
    collector.start()
    now = [1000.0]
    monkeypatch.setattr(collector_module.time, "monotonic", lambda: now[0])
    try:
        collector.input()
        collector.middle = DUE
        assert not collector.tick(busy=False)  # a key just now: the user waits for its frame
        now[0] += collector_module.QUIET
        assert not collector.tick(busy=True)  # a job is running
        assert collector.tick(busy=False)
        assert collector.middle == 0  # the pass it ran was seen
        assert not collector.tick(busy=False)  # nothing due any more
        collector.middle = DUE
        collector.input()
        now[0] += 2 * collector_module.SETTLE
        assert not collector.tick(busy=False)  # the periodic look waits for a longer quiet
        assert collector.tick(busy=False, quiet=collector_module.SETTLE)  # the look after a key's frame does not
    finally:
        collector.stop()


def test_the_app_collects_after_a_keys_frame_not_during_it() -> None:
    """Keys pressed like a fast typist (a pause after each frame): the full passes that come due run in
    the pauses, so a key's own time never holds one."""
    async def run() -> int:
        app = make_app(load_demo("tutorial"))
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            for _ in range(40):
                await pilot.press("n")
                await pilot.pause(0.08)
            return app.collector.collected

    try:
        assert asyncio.run(run()) >= 1  # the app's own passes came (40 keys of garbage make several due)
    finally:
        gc.unfreeze()


def test_the_app_restores_pythons_schedule_when_it_closes() -> None:
    before = gc.get_threshold()

    async def run() -> tuple[int, int, int]:
        app = make_app(load_demo("tutorial"))
        async with app.run_test() as pilot:
            await pilot.pause()
            await pilot.pause()
            return gc.get_threshold()

    try:
        inside = asyncio.run(run())
        assert inside == (before[0], before[1], RARE)
        assert gc.get_threshold() == before
    finally:
        gc.unfreeze()

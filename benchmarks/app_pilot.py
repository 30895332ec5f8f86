"""Item 3 measured with Textual's Pilot: key press → frame, and "continue" throughput.

A frame is what the screen hands to the driver after a key's work is done
(`App._display` with a compositor update). The headless driver used by
`run_test` throws that update away without turning it into terminal text, so
the probe does that conversion itself: the figure includes everything but
the terminal's own drawing. Latency is from just before the key is sent to
the last frame produced while handling it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import Any

from nnstep.engine import Config, Session
from nnstep.tui.app import make_app
from textual import events

from .common import Row, Section, fmt_time, median, nets, p95

SIZE = (120, 40)  # app start, back and continue
SIZES = ((80, 24), (160, 48), (250, 70))  # next op: key → settled frame at each terminal size
GOAL = 0.033  # p95 key → settled frame, every size (issue 11)


def _probe(app: Any) -> list[float]:
    """Record the time of every frame the app produces (instrumentation only)."""
    from textual._compositor import CompositorUpdate

    frames: list[float] = []
    display = app._display

    def timed_display(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if renderable is not None:
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)
            frames.append(time.perf_counter())

    app._display = timed_display
    return frames


@dataclass
class KeyTimes:
    """What one key press cost: its first frame, its last (the screen settled), how many."""

    first: float
    settled: float
    frames: int


async def _press_to_frame(pilot: Any, frames: list[float], key: str) -> KeyTimes:
    """Time from sending `key` to the first and the last frame it caused.

    Not `pilot.pause()`: that forces one more frame once the app is idle,
    which would time the pilot's idle detection. Frames come from the app's
    own refresh timer; the key's work is over once no frame has come for 60 ms.
    """
    seen = len(frames)
    start = time.perf_counter()
    await pilot.press(key)
    while True:
        count = len(frames)
        await asyncio.sleep(0.06)
        if len(frames) == count and count > seen:
            return KeyTimes(frames[seen] - start, frames[-1] - start, count - seen)
        if time.perf_counter() - start > 5.0:
            return KeyTimes(float("inf"), float("inf"), count - seen)


async def _key_latency(config: Config, key: str, presses: int, size: tuple[int, int] = SIZE) -> list[KeyTimes]:
    app = make_app(config)
    latencies = []
    async with app.run_test(size=size) as pilot:
        frames = _probe(app)
        await pilot.pause()
        for _ in range(presses):
            latencies.append(await _press_to_frame(pilot, frames, key))
    return latencies


async def _first_frame(config: Config) -> float:
    start = time.perf_counter()
    app = make_app(config)
    async with app.run_test(size=SIZE) as pilot:
        frames = _probe(app)
        await pilot.pause()
        return (frames[0] if frames else time.perf_counter()) - start


async def _continue(config: Config, seconds: float) -> tuple[float, float, float, list[float]]:
    """Iterations/s of the app's continue, the largest gap between frames, and key latencies meanwhile."""
    app = make_app(config)
    async with app.run_test(size=SIZE) as pilot:
        frames = _probe(app)
        await pilot.pause()
        session = app.main.controller.timeline
        latencies = []
        await pilot.press("c")
        begin_frames = len(frames)
        start, done0 = time.perf_counter(), session.iterations_done
        while time.perf_counter() - start < seconds:
            await asyncio.sleep(0.25)
            seen = len(frames)
            t0 = time.perf_counter()
            # "." cycles the digits shown: a key the user may press mid-run. Posted
            # directly: pilot.press waits for the process to go idle, which a
            # busy run never does.
            key = events.Key("full_stop", ".")
            key.set_sender(app)
            app.post_message(key)
            while len(frames) == seen and time.perf_counter() - t0 < 2.0:
                await asyncio.sleep(0.001)
            latencies.append((frames[-1] if len(frames) > seen else time.perf_counter()) - t0)
        elapsed = time.perf_counter() - start
        done = session.iterations_done - done0
        run_frames = frames[begin_frames:]
        gaps = [b - a for a, b in itertools.pairwise(run_frames)]
        await pilot.press("escape")
        await pilot.pause()
    return done / elapsed, max(gaps, default=float("nan")), len(run_frames) / elapsed, latencies


def _headless_rate(config: Config, seconds: float) -> float:
    session = Session(config)
    start, done = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        session.train(50)
        done += 50
    return done / (time.perf_counter() - start)


def measure(section: Section, quick: bool) -> Section:
    """Fill the item 3 section."""
    presses = 30 if quick else 120
    section.detail += [
        "Headless driver; a frame includes turning the update into terminal text. Next op (n) at "
        + ", ".join(f"{w}×{h}" for w, h in SIZES) + f"; back (p) and app start at {SIZE[0]}×{SIZE[1]}.",
        "",
        "A key's work can take more than one frame (when the tensor panes are laid out again after they",
        "get their tensors); *settled* is the last of them, the figure held to the goal; *first* is when",
        "the screen starts to change.",
        "",
        "| net | size | next op (n) settled: median | p95 | slowest | first frame: median | p95 | frames per key |",
        "|---|---|---|---|---|---|---|---|",
    ]
    goals = {"tutorial": GOAL, "784-128-10": GOAL}
    for name, config in nets().items():
        if name not in goals:
            continue
        for size in SIZES:
            forward = asyncio.run(_key_latency(config, "n", presses, size))
            settled = [k.settled for k in forward]
            first_frames = [k.first for k in forward]
            section.detail.append(
                f"| {name} | {size[0]}×{size[1]} | {fmt_time(median(settled))} | {fmt_time(p95(settled))} | "
                f"{fmt_time(max(settled))} | {fmt_time(median(first_frames))} | {fmt_time(p95(first_frames))} | "
                f"{median([k.frames for k in forward]):.0f} |"
            )
            section.rows.append(
                Row("3", f"next op, key → settled frame, {name}, {size[0]}×{size[1]} (p95)", fmt_time(p95(settled)),
                    f"≤ {goals[name] * 1e3:.0f} ms", p95(settled) <= goals[name],
                    note=f"median {fmt_time(median(settled))}; first frame p95 {fmt_time(p95(first_frames))}")
            )
    section.detail += ["", "| net | back (p) settled: median | p95 | slowest | app start → first frame |", "|---|---|---|---|---|"]
    for name, config in nets().items():
        if name not in goals:
            continue
        first = asyncio.run(_first_frame(config))
        # Back from the end of a forward walk: step forward first, then time "p".
        back = asyncio.run(_back_latency(config, presses))
        back_settled = [k.settled for k in back]
        section.detail.append(f"| {name} | {fmt_time(median(back_settled))} | {fmt_time(p95(back_settled))} | "
                              f"{fmt_time(max(back_settled))} | {fmt_time(first)} |")
        section.rows.append(Row("3", f"back op, key → settled frame, {name}, {SIZE[0]}×{SIZE[1]} (p95)",
                                fmt_time(p95(back_settled)), f"≤ {goals[name] * 1e3:.0f} ms",
                                p95(back_settled) <= goals[name]))
        section.rows.append(Row("6", f"app first frame, {name}", fmt_time(first)))
    seconds = 2.0 if quick else 3.0
    section.detail += [
        "",
        ("| net | continue in the app | headless fast path | app / headless | frames/s during the run | "
        "largest gap between frames | key → frame during the run (p95) |"),
        "|---|---|---|---|---|---|---|",
    ]
    for name, config in nets().items():
        if name not in goals:
            continue
        # Interleaved: headless, app, headless, app …
        app_rates, headless_rates, gaps, fps, keys = [], [], [], [], []
        for _ in range(2 if quick else 5):
            headless_rates.append(_headless_rate(config, seconds))
            rate, gap, frames_per_s, latencies = asyncio.run(_continue(config, seconds))
            app_rates.append(rate)
            gaps.append(gap)
            fps.append(frames_per_s)
            keys += latencies
        # Paired: the machine's load drifts, and each app run is compared with the headless run just before it.
        ratio = median([a / h for a, h in zip(app_rates, headless_rates)])
        section.detail.append(
            f"| {name} | {median(app_rates):,.0f} it/s | {median(headless_rates):,.0f} it/s | {ratio:.0%} | "
            f"{median(fps):.1f} | {fmt_time(max(gaps))} | {fmt_time(p95(keys))} |"
        )
        section.rows.append(
            Row("3", f"continue in the app / headless fast path, {name}", f"{ratio:.0%}", "≥ 60 %", ratio >= 0.6,
                note=f"key → frame meanwhile p95 {fmt_time(p95(keys))}, goal ≤ 50 ms")
        )
    return section


async def _back_latency(config: Config, presses: int) -> list[KeyTimes]:
    app = make_app(config)
    latencies = []
    async with app.run_test(size=SIZE) as pilot:
        session = app.main.controller.timeline
        session.goto(presses + 5 * session.ops_per_iteration)
        await pilot.press("n")
        await pilot.pause()
        frames = _probe(app)
        for _ in range(presses):
            latencies.append(await _press_to_frame(pilot, frames, "p"))
    return latencies

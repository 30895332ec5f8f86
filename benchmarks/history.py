"""Item 5 of issue 5: time travel after 10,000 iterations, and what history costs in memory.

After `train(10_000)` no records exist: the session holds parameter
checkpoints, the parameters remembered near the end, and the losses.
Stepping back one op from there recomputes the last iteration's records
(timed 25 times with the record cache emptied each time, "cold"). Walking
back 1,000 ops then crosses ~90 iteration boundaries, each a replay from the
nearest remembered parameters. Stepping back within an iteration already
recorded is a cache hit, timed too.
"""

from __future__ import annotations

import time

from nnstep.engine import Config, Session

from .common import Row, Section, fmt_bytes, fmt_time, median, nets, p95

ITERATIONS = 10_000


def _trained(config: Config) -> Session:
    session = Session(config)
    session.train(ITERATIONS)
    return session


def _back_cold(config: Config, session: Session) -> float:
    """One back() from the last op of iteration 10,000 with no records cached."""
    session.goto(ITERATIONS * session.ops_per_iteration - 1)
    session._cache.clear()  # the state right after train(): no records of the last iteration
    start = time.perf_counter()
    session.back()
    return time.perf_counter() - start


def run(quick: bool = False) -> Section:
    """Back-step timings and history memory for the tutorial net and 784→128→10."""
    section = Section("Time travel (item 5)")
    section.detail += [
        "| net | back() after 10,000 iterations, cold (median / p95) | back() within a recorded iteration | "
        "back() across 1,000 ops (p95) | history after 10,000 iterations | of which checkpoints |",
        "|---|---|---|---|---|---|",
    ]
    for name, config in nets().items():
        if name == "xor":
            continue
        session = _trained(config)
        cold = [_back_cold(config, session) for _ in range(5 if quick else 25)]
        # Warm: the iteration is recorded now, so back() is a cache look-up.
        warm = []
        for _ in range(200):
            session.step()
            start = time.perf_counter()
            session.back()
            warm.append(time.perf_counter() - start)
        # Walk back 1,000 ops: a cold recompute at every iteration boundary.
        walk = []
        for _ in range(100 if quick else 1000):
            start = time.perf_counter()
            session.back()
            walk.append(time.perf_counter() - start)
        history = session.history_bytes
        checkpoints = sum(p.nbytes for p in session._checkpoints.in_memory())  # private: a breakdown only
        section.detail.append(
            f"| {name} | {fmt_time(median(cold))} / {fmt_time(p95(cold))} | {fmt_time(median(warm))} | "
            f"{fmt_time(p95(walk))} (max {fmt_time(max(walk))}) | {fmt_bytes(history)} | {fmt_bytes(checkpoints)} |"
        )
        worst = max(p95(cold), p95(walk))
        section.rows.append(
            Row("5", f"back one op after 10,000 iterations, {name}", fmt_time(worst), "≤ 50 ms", worst <= 0.050,
                note="p95, the worse of: right after train(), and each op of a 1,000-op walk back")
        )
        section.rows.append(Row("5", f"history memory after 10,000 iterations, {name}", fmt_bytes(history)))
    section.detail += [
        "",
        "History is `Session.history_bytes`: checkpoints in memory (W, b and the optimizer's state every "
        "100 iterations; past 64 MiB the older ones spill to a temporary folder, up to 2 GiB, and only then "
        "does the spacing double), the parameters remembered every √spacing iterations near where the "
        "session has been, the cached records (at most 8 iterations and 16 MiB), and one float64 loss per "
        "iteration.",
    ]
    section.detail += _far_gotos(quick)
    return section


FAR = 100_000  # iterations trained before the random gotos


def _far_gotos(quick: bool) -> list[str]:
    """Random gotos after FAR iterations of 784→128→10 (issue 15's goal: p95 ≤ 150 ms)."""
    import random

    config = nets()["784-128-10"]
    far = FAR // 10 if quick else FAR
    session = Session(config)
    started = time.perf_counter()
    session.train(far)
    trained = time.perf_counter() - started
    rng = random.Random(0)
    times = []
    for _ in range(20 if quick else 100):
        target = rng.randrange(far) * session.ops_per_iteration + rng.randrange(session.ops_per_iteration)
        session._cache.clear()
        start = time.perf_counter()
        session.goto(target)
        times.append(time.perf_counter() - start)
    store = session._checkpoints
    ok = p95(times) <= 0.150
    return [
        "",
        f"Random gotos after {far:,} iterations of 784→128→10 (trained in {trained:.0f} s): median "
        f"{fmt_time(median(times))}, p95 {fmt_time(p95(times))} (goal ≤ 150 ms: {'met' if ok else 'MISSED'}); "
        f"{len(store)} checkpoints, spacing {session.checkpoint_every}, {len(store.in_memory())} in memory, "
        f"{fmt_bytes(store.on_disk())} on disk.",
    ]

"""Item 7 of issue 5: iteration time and history memory as the net grows wider and deeper.

Nets: 64 inputs, ReLU hidden layers, 10 logits, cross-entropy, batch 64.
Width: one hidden layer of 16 … 1024 units. Depth: L = 2 … 8 layers of
128 hidden units. Engine fast path and the tight NumPy loop interleaved per net;
history is `Session.history_bytes` after 10,000 iterations.
"""

from __future__ import annotations

from collections.abc import Callable

from nnstep.engine import Session

from .common import Row, Section, fmt_bytes, fmt_time, interleaved, median, paired_ratio, per_call, wide_net
from .loops import TightLoop, check_same_math

HISTORY_ITERATIONS = 10_000


def _row(label: str, sizes: list[int], rounds: int, measure_history: bool) -> tuple[str, float]:
    config = wide_net(sizes)
    check_same_math(config, iterations=5)
    bare = TightLoop(config)
    k = max(2, 4000 // (sum(a * b for a, b in zip(sizes, sizes[1:])) // 1000 + 10))
    holder = {"session": Session(config)}

    def fast() -> None:
        if holder["session"].iterations_done > 5000:
            holder["session"] = Session(config)
        holder["session"].train(k)

    stepping_session = Session(config)

    def stepping() -> None:
        for _ in range(k * stepping_session.ops_per_iteration):
            stepping_session.step()

    def per_iteration(fn: Callable[[], None]) -> Callable[[], float]:
        timed = per_call(fn, 1)
        return lambda: timed() / k

    times = interleaved(
        {"fast": per_iteration(fast), "stepping": per_iteration(stepping), "bare": per_call(bare.step, k)}, rounds
    )
    fast_t, step_t, bare_t = median(times["fast"]), median(times["stepping"]), median(times["bare"])
    fast_ratio = paired_ratio(times, "fast", "bare")
    if measure_history:
        session = Session(config)
        session.train(HISTORY_ITERATIONS)
        session.step()  # records of one iteration in the cache, as when stepping
        history = fmt_bytes(session.history_bytes)
    else:
        history = "not measured (--quick)"
    params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    line = (
        f"| {label} | {'→'.join(map(str, sizes))} | {params:,} | {fmt_time(fast_t)} | {fmt_time(bare_t)} | "
        f"{fast_ratio:.2f}× | {fmt_time(step_t)} | {paired_ratio(times, 'stepping', 'bare'):.2f}× | {history} |"
    )
    return line, fast_ratio


def run(quick: bool = False) -> Section:
    """The width and depth tables."""
    rounds = 5 if quick else 25
    section = Section("Scaling (item 7)")
    section.detail += [
        "| grows | sizes | parameters | fast path / iteration | tight loop | fast / tight | stepping / iteration | stepping / tight | history after 10,000 iterations |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    worst = 0.0
    for width in (16, 64, 256, 1024):
        line, ratio = _row("width", [64, width, 10], rounds, not quick)
        section.detail.append(line)
        worst = max(worst, ratio)
    for depth in (2, 4, 8):
        line, ratio = _row("depth", [64] + [128] * (depth - 1) + [10], rounds, not quick)
        section.detail.append(line)
        worst = max(worst, ratio)
    section.rows.append(Row("7", "worst fast path / tight loop over the scaling nets", f"{worst:.2f}×"))
    return section

"""Items 1 and 2 of issue 5 (goals tightened by issue 15): a training iteration on the fast path and on the stepping path.

Fast path: `Session.train(k)` (no record per op; what `nnstep run` and the
app's "continue" use). Stepping path: `Session.step()` op after op (one
immutable record per op, 5L + 1 per iteration). Both against the tight
NumPy loop (preallocated, `out=`, in place: the yardstick), the plain NumPy
loop (the yardstick before issue 15, shown for comparison) and PyTorch
eager, interleaved in one process.
"""

from __future__ import annotations

from collections.abc import Callable

from nnstep.engine import Config, Session

from .common import Row, Section, adam_tutorial, fmt_time, interleaved, median, nets, paired_ratio, per_call
from .loops import BareLoop, TightLoop, TorchLoop, check_same_math

# Iterations per timed call, so one call lasts a few milliseconds.
_CALL_ITERATIONS = {"tutorial": 200, "tutorial-adam": 200, "xor": 200, "784-128-10": 20}
# name: (figure, goal, threshold) for fast path / tight loop.
_GOALS = {"tutorial": ("fast path / tight loop, tutorial 5→16→2", "≤ 1.25×", 1.25),
          "784-128-10": ("fast path / tight loop, 784→128→10 B=64", "≤ 1.08×", 1.08),
          "tutorial-adam": ("Adam fast path / tight in-place NumPy Adam loop, tutorial", "≤ 1.3×", 1.3)}
FAST, STEPPING, TIGHT, PLAIN, TORCH = ("engine fast path", "engine stepping path", "tight NumPy loop",
                                       "plain NumPy loop", "PyTorch eager")


def _variants(config: Config, k: int, with_torch: bool) -> dict:
    # Sessions are rebuilt when their history would grow large, so that a
    # long run does not time the growth of the loss list and checkpoints.
    fast = {"session": Session(config)}
    stepping = {"session": Session(config)}

    def engine_fast() -> None:
        if fast["session"].iterations_done > 20_000:
            fast["session"] = Session(config)
        fast["session"].train(k)

    def engine_stepping() -> None:
        session = stepping["session"]
        if session.iterations_done > 20_000:
            session = stepping["session"] = Session(config)
        for _ in range(k * session.ops_per_iteration):
            session.step()

    def per_iteration(fn: Callable[[], None]) -> Callable[[], float]:
        timed = per_call(fn, 1)
        return lambda: timed() / k

    variants = {
        FAST: per_iteration(engine_fast),
        STEPPING: per_iteration(engine_stepping),
        TIGHT: per_call(TightLoop(config).step, k),
        PLAIN: per_call(BareLoop(config).step, k),
    }
    if with_torch:
        variants[TORCH] = per_call(TorchLoop(config).step, k)
    return variants


def run(rounds: int = 40, quick: bool = False) -> Section:
    """Time all four nets; return the rows for items 1 and 2."""
    try:
        import torch  # noqa: F401

        with_torch = True
    except ImportError:
        with_torch = False
    section = Section("Training iteration (items 1 and 2)")
    section.detail += [
        "Times are medians per iteration; ratios are medians of the per-round ratios (each round times every variant back to back).",
        "The yardstick is the tight NumPy loop (preallocated buffers, `out=`, updates in place); the plain loop is the yardstick used before issue 15.",
        "",
        ("| net | engine fast path | engine stepping path (per op) | tight NumPy loop | plain NumPy loop | PyTorch eager "
         "| fast / tight | plain / tight | PyTorch / fast | stepping / tight |"),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, config in {**nets(), "tutorial-adam": adam_tutorial()}.items():
        check_same_math(config)
        check_same_math(config, loop=BareLoop)
        if with_torch:
            check_same_math(config, torch_loop=True)
        k = _CALL_ITERATIONS[name] // (4 if quick else 1)
        times = interleaved(_variants(config, k, with_torch), 10 if quick else rounds)
        m = {variant: median(values) for variant, values in times.items()}
        torch_t = m.get(TORCH)
        fast_tight = paired_ratio(times, FAST, TIGHT)
        stepping_tight = paired_ratio(times, STEPPING, TIGHT)
        torch_fast = paired_ratio(times, TORCH, FAST) if torch_t else None
        opi = len(config.schedule)
        section.detail.append(
            f"| {name} | {fmt_time(m[FAST])} | {fmt_time(m[STEPPING])} ({fmt_time(m[STEPPING] / opi)}) | "
            f"{fmt_time(m[TIGHT])} | {fmt_time(m[PLAIN])} | {fmt_time(torch_t) if torch_t else 'n/a'} | "
            f"{fast_tight:.2f}× | {paired_ratio(times, PLAIN, TIGHT):.2f}× | "
            f"{f'{torch_fast:.2f}×' if torch_fast else 'n/a'} | {stepping_tight:.2f}× |"
        )
        if name in _GOALS:
            what, goal, threshold = _GOALS[name]
            section.rows.append(Row("1", what, f"{fast_tight:.2f}×", goal, fast_tight <= threshold))
        else:
            section.rows.append(Row("1", f"fast path / tight loop, {name}", f"{fast_tight:.2f}×"))
        if name == "tutorial":
            if torch_fast:
                section.rows.append(
                    Row("1", "PyTorch / fast path, tutorial", f"{torch_fast:.2f}×", "≥ 4×", torch_fast >= 4.0)
                )
            else:
                section.rows.append(Row("1", "PyTorch / fast path, tutorial", "torch not importable", "≥ 4×"))
            section.rows.append(Row("2", "stepping path / tight loop, tutorial (per iteration)", f"{stepping_tight:.2f}×",
                                    "≤ 3×", stepping_tight <= 3.0))
            section.rows.append(Row("2", "stepping path, tutorial, per op", fmt_time(m[STEPPING] / opi)))
    section.detail.append("")
    section.detail.append(
        "Before timing, each net is trained 20 iterations by engine, both NumPy loops and PyTorch: "
        "the NumPy loops' parameters are bit-identical to the engine's, PyTorch's within 1e-10."
    )
    return section

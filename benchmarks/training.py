"""Items 1 and 2 of issue 5: a training iteration on the fast path and on the stepping path.

Fast path: `Session.train(k)` (no record per op; what `nnstep run` and the
app's "continue" use). Stepping path: `Session.step()` op after op (one
immutable record per op, 5L + 1 per iteration). Both against the bare NumPy
loop and PyTorch eager, interleaved in one process.
"""

from __future__ import annotations

from typing import Callable

from nnstep.engine import Config, Session

from .common import Row, Section, adam_tutorial, fmt_time, interleaved, median, nets, paired_ratio, per_call
from .loops import BareLoop, TorchLoop, check_same_math

# Iterations per timed call, so one call lasts a few milliseconds.
_CALL_ITERATIONS = {"tutorial": 200, "tutorial-adam": 200, "xor": 200, "784-128-10": 20}


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

    bare = BareLoop(config)
    variants = {
        "engine fast path": per_iteration(engine_fast),
        "engine stepping path": per_iteration(engine_stepping),
        "bare NumPy loop": per_call(bare.step, k),
    }
    if with_torch:
        variants["PyTorch eager"] = per_call(TorchLoop(config).step, k)
    return variants


def run(rounds: int = 40, quick: bool = False) -> Section:
    """Time all three nets; return the rows for items 1 and 2."""
    try:
        import torch  # noqa: F401

        with_torch = True
    except ImportError:
        with_torch = False
    section = Section("Training iteration (items 1 and 2)")
    section.detail += [
        "Times are medians per iteration; ratios are medians of the per-round ratios (each round times every variant back to back).",
        "",
        "| net | engine fast path | engine stepping path (per op) | bare NumPy loop | PyTorch eager | fast / bare | PyTorch / fast | stepping / bare |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, config in {**nets(), "tutorial-adam": adam_tutorial()}.items():
        check_same_math(config)
        if with_torch:
            check_same_math(config, torch_loop=True)
        k = _CALL_ITERATIONS[name] // (4 if quick else 1)
        times = interleaved(_variants(config, k, with_torch), 10 if quick else rounds)
        m = {variant: median(values) for variant, values in times.items()}
        fast, stepping, bare = m["engine fast path"], m["engine stepping path"], m["bare NumPy loop"]
        torch_t = m.get("PyTorch eager")
        fast_bare = paired_ratio(times, "engine fast path", "bare NumPy loop")
        stepping_bare = paired_ratio(times, "engine stepping path", "bare NumPy loop")
        torch_fast = paired_ratio(times, "PyTorch eager", "engine fast path") if torch_t else None
        opi = len(config.schedule)
        section.detail.append(
            f"| {name} | {fmt_time(fast)} | {fmt_time(stepping)} ({fmt_time(stepping / opi)}) | {fmt_time(bare)} | "
            f"{fmt_time(torch_t) if torch_t else 'n/a'} | {fast_bare:.2f}× | "
            f"{f'{torch_fast:.2f}×' if torch_fast else 'n/a'} | {stepping_bare:.2f}× |"
        )
        if name == "tutorial":
            section.rows.append(Row("1", "fast path / bare loop, tutorial", f"{fast_bare:.2f}×", "≤ 1.3×", fast_bare <= 1.3))
            if torch_fast:
                section.rows.append(
                    Row("1", "PyTorch / fast path, tutorial", f"{torch_fast:.2f}×", "≥ 4×", torch_fast >= 4.0)
                )
            else:
                section.rows.append(Row("1", "PyTorch / fast path, tutorial", "torch not importable", "≥ 4×"))
            section.rows.append(
                Row("2", "stepping path / bare loop, tutorial (per iteration)", f"{stepping_bare:.2f}×", "≤ 3×", stepping_bare <= 3.0)
            )
            section.rows.append(Row("2", "stepping path, tutorial, per op", fmt_time(stepping / opi)))
        elif name == "tutorial-adam":
            section.rows.append(Row("1", "Adam fast path / bare NumPy Adam loop, tutorial", f"{fast_bare:.2f}×", "≤ 1.3×",
                                    fast_bare <= 1.3))
        elif name == "784-128-10":
            section.rows.append(Row("1", "fast path / bare loop, 784→128→10 B=64", f"{fast_bare:.2f}×", "≤ 1.1×", fast_bare <= 1.1))
        else:
            section.rows.append(Row("1", f"fast path / bare loop, {name}", f"{fast_bare:.2f}×"))
    section.detail.append("")
    section.detail.append(
        "Before timing, each net is trained 20 iterations by engine, bare loop and PyTorch: "
        "the bare loop's parameters are bit-identical to the engine's, PyTorch's within 1e-10."
    )
    return section

"""Shared pieces of the benchmarks: the nets, interleaved timing, the machine, result rows.

Every goal is a ratio of two figures measured side by side in one run
(variants interleaved A B A B …, medians), because the machines are noisy.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from nnstep.engine import Config, build_config, load_demo


def wide_net(sizes: list[int], batch: int = 64, seed: int = 0) -> Config:
    """A ReLU net with an identity output and cross-entropy, on `batch` random rows (one batch)."""
    raw: dict[str, Any] = {
        "seed": seed,
        "model": {"sizes": sizes, "activations": ["relu"] * (len(sizes) - 2) + ["identity"], "init": "torch"},
        "loss": {"kind": "cross_entropy"},
        "optimizer": {"kind": "sgd", "lr": 0.01},
        "data": {"dataset": "random", "n": batch, "batch_size": batch},
    }
    return build_config(raw, "benchmark", name="x".join(map(str, sizes)))


def adam_tutorial() -> Config:
    """The tutorial net trained by Adam (lr 0.01, torch's other defaults): the optimizer goal's net."""
    from dataclasses import replace

    from nnstep.engine.optim import Adam

    return replace(load_demo("tutorial"), optimizer=Adam(lr=0.01), name="tutorial-adam")


def nets() -> dict[str, Config]:
    """The three nets issue 5 names: tutorial, xor and 784→128→10 with batch 64."""
    return {"tutorial": load_demo("tutorial"), "xor": load_demo("xor"), "784-128-10": wide_net([784, 128, 10])}


def interleaved(variants: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Call each variant once per round, A B C A B C …; each call returns seconds per unit.

    The order rotates every round so no variant always runs right after another.
    A first round is run untimed: the first calls pay for allocations, caches
    and buffers that every later call reuses.
    """
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for name in names:
        variants[name]()
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(variants[name]())
    return times


def per_call(fn: Callable[[], Any], calls: int) -> Callable[[], float]:
    """A variant for `interleaved`: run `fn` `calls` times, return seconds per call."""

    def run() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - start) / calls

    return run


def paired_ratio(times: dict[str, list[float]], numerator: str, denominator: str) -> float:
    """Median over rounds of numerator/denominator, each ratio taken within one round.

    Both were timed back to back, so a burst of load on the machine moves
    both; pairing them cancels most of it, where a ratio of medians does not.
    """
    return statistics.median(a / b for a, b in zip(times[numerator], times[denominator]))


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def one_thread() -> str:
    """Limit BLAS (and torch) to one thread; say what was done."""
    notes = []
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        threadpool_limits(1)
        notes.append("NumPy BLAS limited to 1 thread (threadpoolctl)")
    except ImportError:
        blas = os.environ.get("OPENBLAS_NUM_THREADS")
        notes.append(f"NumPy BLAS threads: OPENBLAS_NUM_THREADS={blas} (threadpoolctl not installed)" if blas
                     else "threadpoolctl not installed: NumPy BLAS threads left at their default")
    try:
        import torch

        torch.set_num_threads(1)
        notes.append("torch.set_num_threads(1)")
    except ImportError:
        pass
    return "; ".join(notes)


def machine() -> dict[str, str]:
    """CPU model, core count, Python, NumPy and torch versions, and the date."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import torch

        torch_version = str(torch.__version__)
    except ImportError:
        torch_version = "not installed"
    blas = "unknown"
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]  # type: ignore[index]
    except Exception:  # noqa: BLE001 - only informative
        pass
    try:
        import textual

        textual_version = str(textual.__version__)
    except (ImportError, AttributeError):
        textual_version = "unknown"
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu} ({os.cpu_count()} logical cores)",
        "python": platform.python_version(),
        "numpy": f"{np.__version__} ({blas})",
        "torch": torch_version,
        "textual": textual_version,
        "load": load(),
    }


def load() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


@dataclass
class Row:
    """One line of the results table: a figure, and the goal it is held to (if any)."""

    item: str
    what: str
    measured: str
    goal: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("met" if self.met else "**MISSED**")


@dataclass
class Section:
    """The rows of one benchmark item, plus free-form detail tables (markdown lines)."""

    title: str
    rows: list[Row] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)


def fmt_time(seconds: float) -> str:
    if abs(seconds) >= 1.0:
        return f"{seconds:.2f} s"
    if abs(seconds) >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"

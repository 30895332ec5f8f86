"""Start-up time of the `nnstep` command against a bare `python -c pass`.

Each command is a fresh process; they are interleaved and the medians
compared. The goal (issue 15) is the difference: `--version` and `--help`
may add at most 25 ms to starting Python at all (they import neither NumPy
nor Textual). `import numpy` is timed beside them for scale.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .common import Row, Section, fmt_time, interleaved, median


def _timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _runner(argv: list[str]) -> Callable[[], float]:
    return lambda: _timed(argv)


def _nnstep() -> list[str]:
    script = Path(sys.executable).with_name("nnstep")
    if script.exists():
        return [str(script)]
    found = shutil.which("nnstep")
    return [found] if found else [sys.executable, "-m", "nnstep.tui.cli"]


def run(rounds: int = 21, quick: bool = False) -> Section:
    """Median wall time of the three commands, interleaved."""
    nnstep = _nnstep()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        'python -c "import numpy"': [sys.executable, "-c", "import numpy"],
        "nnstep --version": [*nnstep, "--version"],
        "nnstep run --help": [*nnstep, "run", "--help"],
    }
    for argv in commands.values():  # warm the file cache
        _timed(argv)
    times = interleaved({name: _runner(argv) for name, argv in commands.items()}, 5 if quick else rounds)
    m = {name: median(values) for name, values in times.items()}
    base = m["python -c pass"]
    section = Section("Start-up")
    section.detail += ["| command | median wall time | beyond `python -c pass` |", "|---|---|---|"]
    for name, value in m.items():
        section.detail.append(f"| `{name}` | {fmt_time(value)} | {fmt_time(value - base) if value != base else ''} |")
    for name in ("nnstep --version", "nnstep run --help"):
        extra = m[name] - base
        section.rows.append(Row("15", f"`{name}` beyond `python -c pass`", fmt_time(extra), "≤ 25 ms", extra <= 0.025))
    return section

"""Item 6 of issue 5: start-up time of the `nnstep` command against `python -c "import numpy"`.

Each command is a fresh process; the three are interleaved and the medians
compared. The goal is the difference: nnstep may add at most 300 ms to
what importing NumPy costs anyway.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

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
        'python -c "import numpy"': [sys.executable, "-c", "import numpy"],
        "nnstep --version": [*nnstep, "--version"],
        "nnstep run --help": [*nnstep, "run", "--help"],
    }
    for argv in commands.values():  # warm the file cache
        _timed(argv)
    times = interleaved({name: _runner(argv) for name, argv in commands.items()}, 5 if quick else rounds)
    m = {name: median(values) for name, values in times.items()}
    base = m['python -c "import numpy"']
    section = Section("Start-up (item 6)")
    section.detail += ["| command | median wall time | minus `import numpy` |", "|---|---|---|"]
    for name, value in m.items():
        section.detail.append(f"| `{name}` | {fmt_time(value)} | {fmt_time(value - base) if value != base else ''} |")
    for name in ("nnstep --version", "nnstep run --help"):
        extra = m[name] - base
        section.rows.append(Row("6", f"`{name}` minus `import numpy`", fmt_time(extra), "≤ 300 ms", extra <= 0.300))
    return section

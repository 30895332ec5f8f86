"""Run every benchmark of issue 5, print the table and write benchmarks/RESULTS.md.

    /work/venv/bin/python -m benchmarks            # everything (a few minutes)
    /work/venv/bin/python -m benchmarks --quick    # fewer rounds, for a smoke run
    /work/venv/bin/python -m benchmarks --only training,trace

Run from the repository root. Not part of the pytest run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from .common import Section, load, machine, one_thread

ITEMS = ("training", "app", "trace", "history", "startup", "scaling")
RESULTS = Path(__file__).with_name("RESULTS.md")
NOTES = Path(__file__).with_name("NOTES.md")


def _table(sections: list[Section]) -> list[str]:
    lines = ["| item | figure | measured | goal | verdict |", "|---|---|---|---|---|"]
    for section in sections:
        for row in section.rows:
            what = f"{row.what} ({row.note})" if row.note else row.what
            lines.append(f"| {row.item} | {what} | {row.measured} | {row.goal} | {row.verdict} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a smoke run, figures are rough")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(ITEMS)}")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    options = parser.parse_args(argv)
    chosen = ITEMS if not options.only else tuple(options.only.split(","))
    threads = one_thread()
    info = machine()
    sections: list[Section] = []
    started = time.perf_counter()
    for item in chosen:
        module = importlib.import_module(f"benchmarks.{item}")
        print(f"running {item} …", file=sys.stderr, flush=True)
        section = module.run(quick=options.quick)
        sections.append(section)
        print("\n".join([f"\n## {section.title}", *section.detail]), flush=True)
    summary = _table(sections)
    print("\n## Summary\n" + "\n".join(summary))
    print(f"\n({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if options.no_write:
        return 0
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m benchmarks` (see benchmarks/README.md). Every goal is a ratio of figures",
        "measured side by side in one run: variants interleaved, medians of many repetitions.",
        "",
        f"- date: {info['date']}",
        f"- CPU: {info['cpu']}",
        f"- Python {info['python']}, NumPy {info['numpy']}, torch {info['torch']}, Textual {info['textual']}",
        f"- load average (1 / 5 / 15 min) at the start: {info['load']}; at the end: {load()}",
        f"- threads: {threads}",
        f"- run: {'--quick (rough figures)' if options.quick else 'full'}; items: {', '.join(chosen)}",
        "",
        "## Summary",
        "",
        *summary,
    ]
    for section in sections:
        lines += ["", f"## {section.title}", "", *section.detail]
    if NOTES.exists():
        lines += ["", NOTES.read_text(encoding="utf-8").rstrip()]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

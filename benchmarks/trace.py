"""Issue 15, trace encoding: export speed against json.dumps, bytes per step, and viewing a large trace.

Export: the same records, already in memory, written three ways in each
round — `write_trace` (orjson when installed), `write_trace` with the
standard-library encoder, and the plainest exporter there is:
`json.dumps([record.to_dict() for record in records])` written to a file
(every tensor converted each time it appears, as version 2 did). The goal
is the ratio of their times, ≥ 8×.

Bytes per step: arrays and step lines, without the header (the config and
its inline data, written once), for the tutorial and 784→128→10 (batch 64),
as JSON, gzip and .npz.

Viewing: large traces — 784→128→10 as JSON and .npz, and a tutorial one of
many small steps — written to the system's temporary folder, then opened in
a fresh process as `nnstep view` does: read_trace, verify_trace (a sample),
and the Textual app's first frame (run_test, 120×40; if the app does not
start, TraceTimeline, the first record's tensors and the state instead).
Peak memory is that process's VmHWM, its interpreter and imports included.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from functools import partial
from pathlib import Path

from nnstep.engine import Session, load_demo
from nnstep.engine.trace import write_trace
from nnstep.engine.trace_encode import fast_encoder

from .common import (
    Row,
    Section,
    fmt_bytes,
    fmt_time,
    interleaved,
    median,
    paired_ratio,
    wide_net,
)

EXPORT_GOAL = 8.0  # write_trace vs json.dumps of the same records, time ratio
STEP_GOAL = 0.7e6  # bytes per step, 784→128→10
FRAME_GOAL, MEMORY_GOAL = 5.0, 1.5  # `nnstep view` of a large trace: first frame (s), peak memory / file


def _plain_dumps(path: Path, meta: dict, records: list) -> float:
    """The plainest exporter: the header and every record as plain data, one json.dumps, one write."""
    start = time.perf_counter()
    steps = [record.to_dict() for record in records]
    path.write_text(json.dumps({"format": "nnstep-trace", "version": 2, "config": meta, "steps": steps}), encoding="ascii")
    return time.perf_counter() - start


def _export(path: Path, meta: dict, records: list, encode: str) -> float:
    start = time.perf_counter()
    write_trace(path, meta, iter(records), encode=encode)
    return time.perf_counter() - start


def _header_bytes(path: Path) -> int:
    with open(path, "rb") as handle:
        return len(handle.readline())


_VIEW = textwrap.dedent('''
    import asyncio, json, resource, sys, time

    def peak() -> int:
        """This process's peak resident set: VmHWM (ru_maxrss keeps the parent's peak across fork and exec)."""
        try:
            with open("/proc/self/status") as status:
                return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
        except (OSError, StopIteration):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    start = time.perf_counter()
    from nnstep.engine import build_config
    from nnstep.engine.timeline import TraceTimeline
    from nnstep.engine.trace import read_trace, verify_trace
    path = sys.argv[1]
    result = {"imported": peak()}
    t0 = time.perf_counter()
    trace = read_trace(path)
    result["read"] = time.perf_counter() - t0
    config = build_config(trace["config"], path)
    wrong = verify_trace(config, trace["records"])
    assert wrong is None, wrong
    result["verify"] = time.perf_counter() - t0 - result["read"]
    result["steps"] = len(trace["records"])
    try:
        from nnstep.tui.app import make_viewer

        async def first_frame() -> float:
            app = make_viewer(trace, path)
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.pause()
                return time.perf_counter() - t0
        result["app"] = asyncio.run(first_frame())
    except Exception as error:  # the app is being changed by others: say so, keep the engine figures
        result["app_error"] = f"{type(error).__name__}: {error}"[:160]
        timeline = TraceTimeline(config, trace["records"])
        timeline.state, timeline.losses(), [t.size for t in timeline.step().tensors.values()]
    result["engine"] = result["read"] + result["verify"]
    result["imports"] = t0 - start
    result["rss"] = peak()
    print(json.dumps(result))
''')


def _view(path: Path) -> dict:
    """Open `path` as `nnstep view` does, in a fresh process; its times and peak memory."""
    done = subprocess.run([sys.executable, "-c", _VIEW, str(path)], capture_output=True, text=True, timeout=900,
                          check=False)
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "view failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _large(folder: Path, config, iterations: int, name: str) -> Path:  # type: ignore[no-untyped-def]
    path = folder / name
    session = Session(config)
    write_trace(path, config.to_dict(), session.iter_records(0, iterations * session.ops_per_iteration))
    return path


def run(rounds: int = 5, quick: bool = False) -> Section:
    """Export speed, bytes per step and viewing a large trace; return the rows of issue 15's trace goals."""
    rounds = 3 if quick else rounds
    folder = Path(tempfile.mkdtemp(prefix="nnstep-bench-trace-"))
    section = Section("Trace encoding (issue 15)")
    fast = "orjson" if fast_encoder() is not None else "stdlib"
    try:
        nets = {"tutorial": (load_demo("tutorial"), 1000), "784-128-10": (wide_net([784, 128, 10]), 3 if quick else 5)}
        export_rows, size_rows, ratios, per_step = [], [], {}, {}
        for name, (config, iterations) in nets.items():
            session = Session(config)
            records = list(session.iter_records(0, iterations * session.ops_per_iteration))
            meta = config.to_dict()
            paths = {kind: folder / f"{name}.{kind}" for kind in ("json", "stdlib.json", "dumps.json", "json.gz", "npz")}
            times = interleaved({
                f"write_trace ({fast})": partial(_export, paths["json"], meta, records, "auto"),
                "write_trace (stdlib)": partial(_export, paths["stdlib.json"], meta, records, "stdlib"),
                "json.dumps": partial(_plain_dumps, paths["dumps.json"], meta, records),
            }, rounds)
            assert paths["json"].read_bytes() == paths["stdlib.json"].read_bytes(), "encoders disagree"
            write_trace(paths["json.gz"], meta, iter(records))
            write_trace(paths["npz"], meta, iter(records))
            steps = len(records)
            ratios[name] = paired_ratio(times, "json.dumps", f"write_trace ({fast})")
            stdlib_ratio = paired_ratio(times, "json.dumps", "write_trace (stdlib)")
            dumps_size, ours = paths["dumps.json"].stat().st_size, paths["json"].stat().st_size
            for label, key, size in ((f"write_trace ({fast})", f"write_trace ({fast})", ours),
                                     ("write_trace (stdlib)", "write_trace (stdlib)", ours),
                                     ("json.dumps of the records (to_dict)", "json.dumps", dumps_size)):
                seconds = median(times[key])
                export_rows.append(f"| {name} | {label} | {fmt_time(seconds)} | {size / seconds / 1e6:.0f} | "
                                   f"{fmt_bytes(size)} |")
            export_rows.append(f"| {name} | json.dumps time / write_trace time | {ratios[name]:.1f}× ({fast}), "
                               f"{stdlib_ratio:.1f}× (stdlib) | | |")
            header = _header_bytes(paths["json"])
            for kind in ("json", "json.gz", "npz"):
                size = paths[kind].stat().st_size
                body = size - header if kind == "json" else size
                size_rows.append(f"| {name} | {kind} | {fmt_bytes(size)} | {body / steps:,.0f} |")
            size_rows.append(f"| {name} | every tensor inline, as json.dumps writes it (version 2) | "
                             f"{fmt_bytes(dumps_size)} | {(dumps_size - len(json.dumps(meta))) / steps:,.0f} |")
            per_step[name] = (ours - header) / steps
            per_step[name + ".npz"] = paths["npz"].stat().st_size / steps
            for path in paths.values():
                path.unlink(missing_ok=True)

        # Viewing: large traces written once, opened in fresh processes.
        wide_iterations = 30 if quick else 66
        views = {}
        for name, config, iterations, kind in (
            ("784-128-10", wide_net([784, 128, 10]), wide_iterations, "json"),
            ("784-128-10 .npz", wide_net([784, 128, 10]), wide_iterations, "npz"),
            ("tutorial", load_demo("tutorial"), 5000 if quick else 25000, "json"),
        ):
            started = time.perf_counter()
            path = _large(folder, config, iterations, f"large-{name.split()[0]}.{kind}")
            written = time.perf_counter() - started
            size = path.stat().st_size
            result = _view(path)
            header = _header_bytes(path) if kind == "json" else 0
            result.update(size=size, written=written, iterations=iterations, per_step=(size - header) / result["steps"])
            views[name] = result
            path.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    section.detail += [
        (f"Encoder: {fast} (orjson {'installed' if fast == 'orjson' else 'not installed: the standard library'}); "
         "both write the same bytes (checked every run). Records already in memory; medians of "
         f"{rounds} interleaved rounds; tutorial 1,000 iterations, 784→128→10 {nets['784-128-10'][1]} iterations. "
         "The json.dumps exporter writes the header and every record as plain data (to_dict: tolist), every "
         "tensor each time it appears; the goal is its time over write_trace's, paired per round."),
        "",
        "| net | export | time | MB/s of its own output | output |",
        "|---|---|---|---|---|",
        *export_rows,
        "",
        "Bytes per step: arrays and steps, without the header line (config and inline data, once) for JSON;",
        "whole files for gzip and .npz. Over these few iterations the first one's extra arrays (the initial W,",
        "also in the config) weigh more than in a long run: the summary takes the large traces below.",
        "",
        "| net | kind | file | bytes per step |",
        "|---|---|---|---|",
        *size_rows,
        "",
        "`nnstep view` of large traces, each in a fresh process: read_trace, verify_trace (a sample, replaying the",
        "run to its last step), then the Textual app's first frame (run_test at 120×40; the time is from the start of",
        "reading, imports not included: they are listed). Peak RSS is the process's VmHWM (its own peak;",
        "getrusage's ru_maxrss would report the benchmark's), interpreter, NumPy and Textual included.",
        "",
        "| trace | file | steps | read | verify | first frame | imports | peak RSS | / file |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, v in views.items():
        frame = fmt_time(v["app"]) if "app" in v else f"engine only, {fmt_time(v['engine'])} ({v.get('app_error', '?')})"
        section.detail.append(
            f"| {name}, {v['iterations']:,} iterations (written in {v['written']:.0f} s) | {fmt_bytes(v['size'])} | "
            f"{v['steps']:,} | {fmt_time(v['read'])} | {fmt_time(v['verify'])} | {frame} | {fmt_time(v['imports'])} | "
            f"{fmt_bytes(v['rss'])} | {v['rss'] / v['size']:.2f}× |")
    wide = views["784-128-10"]
    frame = wide.get("app", wide["engine"])
    section.rows += [
        Row("15", f"export, plain JSON, json.dumps time / write_trace time, tutorial ({fast})",
            f"{ratios['tutorial']:.1f}×", f"≥ {EXPORT_GOAL:g}×", ratios["tutorial"] >= EXPORT_GOAL),
        Row("15", f"export, plain JSON, json.dumps time / write_trace time, 784→128→10 ({fast})",
            f"{ratios['784-128-10']:.1f}×", f"≥ {EXPORT_GOAL:g}×", ratios["784-128-10"] >= EXPORT_GOAL),
        Row("15", f"trace bytes per step, 784→128→10, JSON ({wide['iterations']} iterations; "
            f"{per_step['784-128-10'] / 1e6:.3f} MB over the first {nets['784-128-10'][1]})",
            f"{wide['per_step'] / 1e6:.3f} MB", "≤ 0.7 MB", wide["per_step"] <= STEP_GOAL),
        Row("15", f"trace bytes per step, 784→128→10, .npz ({wide['iterations']} iterations)",
            f"{views['784-128-10 .npz']['per_step'] / 1e6:.3f} MB"),
        Row("15", "trace bytes per step, tutorial, JSON / .npz",
            f"{per_step['tutorial']:,.0f} B / {per_step['tutorial.npz']:,.0f} B"),
        Row("15", f"`nnstep view` of a {fmt_bytes(wide['size'])} trace (784→128→10): first frame"
            + ("" if "app" in wide else " (engine only: the app did not start)"),
            fmt_time(frame), f"≤ {FRAME_GOAL:g} s", frame <= FRAME_GOAL),
        Row("15", f"`nnstep view` of a {fmt_bytes(wide['size'])} trace (784→128→10): peak memory / file",
            f"{wide['rss'] / wide['size']:.2f}×", f"≤ {MEMORY_GOAL:g}×", wide["rss"] / wide["size"] <= MEMORY_GOAL),
        Row("15", f"`nnstep view` of a {fmt_bytes(views['tutorial']['size'])} tutorial trace "
            f"({views['tutorial']['steps']:,} steps): first frame / peak memory ÷ file",
            f"{fmt_time(views['tutorial'].get('app', views['tutorial']['engine']))} / "
            f"{views['tutorial']['rss'] / views['tutorial']['size']:.2f}×"),
    ]
    return section

"""`nnstep run` and `nnstep check`: training and gradient checks without the app.

Prints plain lines to stdout (a rich progress bar on stderr for long runs
at a terminal). Imports neither textual nor, unless it draws a bar, rich.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from nnstep.engine import NnstepError, Session, StepRecord
from nnstep.engine.breakpoint_set import BreakpointSet
from nnstep.engine.breakpoints import Watch, parse_watch
from nnstep.engine.config import Config
from nnstep.engine.diagnose import first_non_finite
from nnstep.engine.gradcheck import FINE, WRONG, check_gradients
from nnstep.engine.health import layer_health
from nnstep.engine.network import batch_rows
from nnstep.engine.run import Run
from nnstep.engine.schedule import STAGES
from nnstep.engine.trace import select, write_trace

SCAN_ALL = 20_000  # iterations replayed from the start to find the first non-finite op
SCAN_BACK = 1_000  # in a longer run, iterations replayed before its first non-finite loss
PROGRESS_AT = 20_000  # iterations from which a progress bar is worth drawing
MAX_ITERATIONS = 10**9  # losses past the latest 4M spill to disk (engine/checkpoints.py): 8 GB there at this limit


class _Interrupt:
    """The first Ctrl-C (or SIGTERM, SIGHUP) asks the run to stop after the current op; a second one aborts.

    Either way an export in progress ends with the steps computed so far,
    written atomically; the exit status is 128 + the signal's number
    (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).
    """

    def __init__(self) -> None:
        self.requested = False
        self.signal = signal.SIGINT

    def __call__(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.signal = signal.Signals(signum)

    @property
    def status(self) -> int:
        """The exit status of a run stopped by this signal."""
        return 128 + int(self.signal)


STOPPING = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextmanager
def _catch_sigint(flag: _Interrupt) -> Iterator[None]:
    """Route every way of asking the process to stop (STOPPING) to `flag` while a run is on."""
    try:
        previous = {signum: signal.signal(signum, flag) for signum in STOPPING}
    except ValueError:  # not the main thread (tests): no handler
        yield
        return
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _options(options: argparse.Namespace, config: Config) -> tuple[BreakpointSet, tuple[str, ...]]:
    if not 1 <= options.iterations <= MAX_ITERATIONS:
        raise NnstepError(f"--iterations must be from 1 to {MAX_ITERATIONS:,}, got {options.iterations}")
    if options.every < 1:
        raise NnstepError(f"--every must be >= 1, got {options.every}")
    if options.export is not None and not options.export.strip():  # --export "" would export nothing, silently
        raise NnstepError("--export: give a file path, e.g. --export trace.json")
    stages = STAGES
    if options.stages:
        stages = tuple(s.strip() for s in options.stages.split(",") if s.strip())
        for stage in stages:
            if stage not in STAGES:
                raise NnstepError(f"--stages: unknown stage '{stage}' (stages: {', '.join(STAGES)})")
        if not stages:  # "--stages ," would export a trace with no steps
            raise NnstepError(f"--stages: name at least one stage ({', '.join(STAGES)})")
    # The app's breakpoints (engine/breakpoint_set.py): evaluated, counted and ignored as its c, r and C do.
    breaks = BreakpointSet(config.activations)
    for text in options.breaks:
        breaks.add(text)
    for number, count in (getattr(options, "ignores", None) or {}).items():
        breaks.set_ignore(number, count)
    return breaks, stages


def _where(record: StepRecord) -> str:
    layer = "" if record.layer is None else f" layer {record.layer}"
    return f"op {record.index + 1} (iteration {record.iteration}, epoch {record.epoch}, {record.stage}{layer}, {record.op})"


class _Reporter:
    """Prints a loss line every so often and calls out a non-finite loss once."""

    def __init__(self, total: int, quiet: bool, health: Callable[[int], None] | None = None,
                 watches: Sequence[Watch] = ()) -> None:
        self.total = total
        self.quiet = quiet
        self.health = health
        self.watches = tuple(watches)
        self.values: list[float | None] = [None] * len(self.watches)  # each watch's latest value
        self.pending: tuple[int, str] | None = None  # with watches: a loss line waiting for its iteration's end
        self.every = max(1, total // 10)
        self.first: float | None = None
        self.last: float | None = None
        self.warned = False

    def loss(self, iteration: int, epoch: int, loss: float) -> None:
        if self.first is None:
            self.first = loss
        self.last = loss
        if not math.isfinite(loss) and not self.warned:
            self.warned = True
            print(f"warning: the loss is {loss} at iteration {iteration}: the network diverged "
                  "(non-finite values; try a smaller optimizer.lr)")
        if not self.quiet and (iteration % self.every == 0 or iteration == 1 or iteration == self.total):
            line = f"iteration {iteration:>{len(str(self.total))}}/{self.total}  epoch {epoch:>4}  loss {loss:.9g}"
            if self.watches:  # the backward and update ops still to come hold values to watch
                self.pending = (iteration, line)
                return
            print(line)
            if self.health:
                self.health(iteration)

    def watch(self, record: StepRecord, last_op: bool) -> None:
        """Note what the watches see at `record`; at the last op of an iteration, print its line."""
        for i, watch in enumerate(self.watches):
            value = watch.value(record)
            if value is not None:
                self.values[i] = value
        if last_op and self.pending is not None:
            self.flush()

    def flush(self) -> None:
        """Print a loss line still waiting (a run may stop before its iteration's end)."""
        if self.pending is None:
            return
        iteration, line = self.pending
        self.pending = None
        columns = "".join(f"  {w.text} {'?' if v is None else f'{v:.6g}'}" for w, v in zip(self.watches, self.values))
        print(line + columns)
        if self.health:
            self.health(iteration)


def run(config: Config, options: argparse.Namespace) -> int:
    """Train for --iterations; export, stop at breakpoints, print health. Returns the exit status.

    The engine's run loop (engine/run.py) does the running; this prints what it reports.
    """
    breaks, stages = _options(options, config)
    watches = [parse_watch(text, config.activations) for text in getattr(options, "watches", [])]
    session = Session(config)
    total = options.iterations
    report = _Reporter(total, options.quiet, (lambda i: _health_lines(session, i)) if options.health else None,
                       watches)
    flag = _Interrupt()

    with _catch_sigint(flag), _progress(total) as advance:
        # A diverging run is reported (the warning line), not stopped: it trains the
        # iterations asked for, as it always has.
        job = Run(session, iterations=total, breakpoints=breaks.active(), stop=lambda: flag.requested,
                  progress=lambda timeline: advance(timeline.iterations_done), on_loss=report.loss,
                  stop_at_non_finite=False)
        records = job.records()
        if watches:  # values live in the records: step op by op, and look at each
            last_offset = len(session.schedule) - 1
            records = _watched(records, report, last_offset)
        if options.export:
            count = write_trace(options.export, config.to_dict(), select(records, options.every, stages))
            result = job.result
        elif watches:
            for _ in records:
                pass
            result = job.result
        else:
            result = job.run()
        report.flush()

    assert result is not None  # write_trace reads the records to the end
    hit = result.record if result.breakpoint is not None else None
    if result.breakpoint is not None and hit is not None:
        print(f"breakpoint '{result.breakpoint.text}' hit at {_where(hit)}")
    if len(breaks) and not options.quiet:
        _print_breakpoints(breaks)
    if report.warned or (hit is not None and any(t.dtype.kind == "f" and not np.isfinite(t).all()
                                                for t in hit.tensors.values())):
        _root_cause(session, flag)
    if options.health:
        _print_health(session)
    done = session.iterations_done
    summary = f"{'stopped' if flag.requested or hit is not None else 'done'}: {done} iteration{'s' * (done != 1)} complete"
    if hit is not None and hit.iteration > done:
        summary += f", stopped in iteration {hit.iteration}"
    if report.first is not None:
        summary += f", loss {report.first:.6g} → {report.last:.6g}"
    print(summary)
    if options.export:
        print(f"trace: {options.export} ({count} steps)")
    if flag.requested:
        name = {signal.SIGINT: "interrupted"}.get(flag.signal, f"stopped by {flag.signal.name}")
        print(f"nnstep: {name}", file=sys.stderr)
        return flag.status
    return 0


def _print_breakpoints(breaks: BreakpointSet) -> None:
    """Each breakpoint with its hits and what is left of its ignore count, in the words of the app's B list."""
    print("breakpoints:")
    for number, entry in enumerate(breaks.entries, start=1):
        print(f"  {number:>2}. {entry.describe():<28}  {entry.text}")


def _watched(records: Iterator[StepRecord], report: _Reporter, last_offset: int) -> Iterator[StepRecord]:
    for record in records:
        report.watch(record, record.index % (last_offset + 1) == last_offset)
        yield record


def _root_cause(session: Session, flag: _Interrupt) -> None:
    """Where the run first went non-finite, replayed from the start (or from SCAN_BACK iterations
    before the first non-finite loss, in a long run), and why."""
    losses = session.losses()
    bad = np.flatnonzero(~np.isfinite(losses))
    last = int(bad[0]) + 1 if bad.size else session.iterations_done + 1  # iterations to look through
    first = 0 if last <= SCAN_ALL else last - SCAN_BACK
    schedule = session.schedule
    stop = schedule.index(min(last, session.iterations_done + 1), 0)
    found = first_non_finite(session.iter_records(schedule.index(first, 0), stop), stop=lambda: flag.requested)
    if found is None:
        return
    for line in found.lines():
        print(line)
    if first:
        print(f"  (looked from iteration {first + 1} on: a long run is not replayed from its start)")


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """A function of the iterations done that moves a progress bar (on stderr, for long runs at a terminal)."""
    if total < PROGRESS_AT or not sys.stderr.isatty():
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import Progress

    shown = [-1]

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("training", total=total)

        def advance(done: int) -> None:
            if done != shown[0]:  # called after every op when stepping: redraw once per iteration
                shown[0] = done
                progress.update(task, completed=done)

        yield advance


def _health_lines(session: Session, iteration: int) -> None:
    """One compact line per layer under a loss line: the health history of the run."""
    for h in layer_health(session.iteration_records(iteration - 1), session.config.activations):
        dead = f"  dead {h.dead}/{h.units}" if h.activation in ("relu", "leaky_relu") else ""
        warn = f"  ⚠ {', '.join(h.warnings)}" if h.warnings else ""
        frozen = "  W frozen" if h.frozen else ""
        print(f"    layer {h.layer}: ‖W‖ {h.norm_W:.4g}  ‖dW‖ {h.norm_dW:.3g}  ‖δ‖ {h.norm_delta:.3g}"
              f"  ‖ΔW‖/‖W‖ {h.update_ratio:.2g}{dead}  saturated {h.saturated:.0%}{frozen}{warn}")


def _print_health(session: Session) -> None:
    if session.iterations_done == 0:
        return
    records = session.iteration_records(session.iterations_done - 1)
    print(f"health at iteration {session.iterations_done}:")
    print(f"  {'layer':<7}{'‖W‖':>11}{'‖dW‖':>11}{'‖δ‖':>11}{'‖ΔW‖/‖W‖':>11}{'dead':>8}{'saturated':>11}  warnings")
    for h in layer_health(records, session.config.activations):
        dead = f"{h.dead}/{h.units}" if h.activation in ("relu", "leaky_relu") else "-"
        print(f"  {h.layer:<7}{h.norm_W:>11.4g}{h.norm_dW:>11.4g}{h.norm_delta:>11.4g}{h.update_ratio:>11.3g}"
              f"{dead:>8}{h.saturated:>11.1%}  {', '.join(h.notes) or 'ok'}")


def check(config: Config) -> int:
    """Print the gradient check of the first batch; 0 when every layer passes, 1 otherwise."""
    session = Session(config)
    params = session.iteration_params(0)
    rows = batch_rows(config, 0)
    results = check_gradients(config, params, config.x[rows], config.y[rows])
    print(f"gradient check of {config.name}: analytic dW, db vs central differences (float64)")
    for result in results:
        print(f"  layer {result.layer}: relative error dW {result.error_W:.2e}, db {result.error_b:.2e}  {result.verdict}")
    failed = [r for r in results if r.verdict == "FAIL"]
    kinked = [r for r in results if r.kinks and r.verdict != "PASS"]
    if kinked:
        units = sum(r.kinks for r in kinked[:1])
        print(f"note: the ReLU kink is the likely cause: {units} pre-activation{'s' * (units != 1)} from layer "
              f"{kinked[0].layer} on lie{'s' * (units == 1)} so close to 0 that ±ε crosses it, where finite differences "
              "average the two slopes while the analytic gradient follows autograd's relu′(0) = 0 "
              "(with b = 0, a sample whose inputs to a layer are all 0 sits exactly on it)")
    print(f"{'FAIL' if failed else 'PASS'}: fine below {FINE:g}, wrong above {WRONG:g}")
    return 1 if failed else 0

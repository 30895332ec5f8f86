"""`nnstep run` and `nnstep check`: training and gradient checks without the app.

Prints plain lines to stdout (a rich progress bar on stderr for long runs
at a terminal). Imports neither textual nor, unless it draws a bar, rich.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from nnstep.engine import NnstepError, Session, StepRecord
from nnstep.engine.breakpoints import Breakpoint, parse_breakpoint
from nnstep.engine.config import Config
from nnstep.engine.gradcheck import FINE, WRONG, check_gradients
from nnstep.engine.health import layer_health
from nnstep.engine.network import batch_rows
from nnstep.engine.records import STAGES
from nnstep.engine.trace import select, write_trace

PROGRESS_AT = 20_000  # iterations from which a progress bar is worth drawing
MAX_ITERATIONS = 10**9  # the loss history alone would need 8 GB past this
CHUNK = 250  # fast-path iterations between checks for Ctrl-C and progress


class _Interrupt:
    """The first Ctrl-C asks the run to stop after the current op; a second one aborts."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


@contextmanager
def _catch_sigint(flag: _Interrupt) -> Iterator[None]:
    try:
        previous = signal.signal(signal.SIGINT, flag)
    except ValueError:  # not the main thread (tests): no handler
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _options(options: argparse.Namespace, config: Config) -> tuple[list[Breakpoint], tuple[str, ...]]:
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
    breaks = [parse_breakpoint(text, config.activations) for text in options.breaks]
    return breaks, stages


def _where(record: StepRecord) -> str:
    layer = "" if record.layer is None else f" layer {record.layer}"
    return f"step {record.index} (iteration {record.iteration}, epoch {record.epoch}, {record.stage}{layer}, {record.op})"


class _Reporter:
    """Prints a loss line every so often and calls out a non-finite loss once."""

    def __init__(self, total: int, quiet: bool, health: Callable[[int], None] | None = None) -> None:
        self.total = total
        self.quiet = quiet
        self.health = health
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
            print(f"iteration {iteration:>{len(str(self.total))}}/{self.total}  epoch {epoch:>4}  loss {loss:.9g}")
            if self.health:
                self.health(iteration)


def run(config: Config, options: argparse.Namespace) -> int:
    """Train for --iterations; export, stop at breakpoints, print health. Returns the exit status."""
    breaks, stages = _options(options, config)
    session = Session(config)
    total = options.iterations
    report = _Reporter(total, options.quiet, (lambda i: _health_lines(session, i)) if options.health else None)
    flag = _Interrupt()
    hit: list[tuple[Breakpoint, StepRecord]] = []

    def stepped() -> Iterator[StepRecord]:
        previous: float | None = None
        while session.iterations_done < total and not flag.requested:
            record = session.step()
            if record.op == "loss":
                loss = record.loss
                report.loss(record.iteration, record.epoch, loss)  # type: ignore[arg-type]
            yield record
            for bp in breaks:
                if bp.hits(record, previous):
                    hit.append((bp, record))
                    return
            if record.op == "loss":
                previous = loss

    with _catch_sigint(flag), _progress(total, session) as advance:
        if options.export:
            count = write_trace(options.export, config.to_dict(), select(_ticking(stepped(), advance, session), options.every, stages))
        elif breaks:
            for _ in _ticking(stepped(), advance, session):
                pass
        else:
            _fast(session, total, report, flag, advance)

    if hit:
        bp, record = hit[0]
        print(f"breakpoint '{bp.text}' hit at {_where(record)}")
    if options.health:
        _print_health(session)
    done = session.iterations_done
    summary = f"{'stopped' if flag.requested or hit else 'done'}: {done} iteration{'s' * (done != 1)} complete"
    if hit and hit[0][1].iteration > done:
        summary += f", stopped in iteration {hit[0][1].iteration}"
    if report.first is not None:
        summary += f", loss {report.first:.6g} → {report.last:.6g}"
    print(summary)
    if options.export:
        print(f"trace: {options.export} ({count} steps)")
    if flag.requested:
        print("nnstep: interrupted", file=sys.stderr)
        return 130
    return 0


def _fast(session: Session, total: int, report: _Reporter, flag: _Interrupt, advance) -> None:  # type: ignore[no-untyped-def]
    per_epoch = session.config.batches_per_epoch
    while session.iterations_done < total and not flag.requested:
        start = session.iterations_done
        n = min(CHUNK, total - start)
        session.train(n)
        losses = session.losses()
        for i in range(start, start + n):
            iteration = i + 1
            if iteration % report.every == 0 or iteration in (1, total) or not math.isfinite(losses[i]) and not report.warned:
                report.loss(iteration, i // per_epoch + 1, float(losses[i]))
        report.last = float(losses[-1])
        if report.first is None:
            report.first = float(losses[0])
        advance(session.iterations_done)


def _ticking(records: Iterator[StepRecord], advance, session: Session) -> Iterator[StepRecord]:  # type: ignore[no-untyped-def]
    for record in records:
        if record.op == "loss" and record.iteration % CHUNK == 0:
            advance(record.iteration)
        yield record


@contextmanager
def _progress(total: int, session: Session) -> Iterator:  # type: ignore[type-arg]
    if total < PROGRESS_AT or not sys.stderr.isatty():
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("training", total=total)
        yield lambda done: progress.update(task, completed=done)


def _health_lines(session: Session, iteration: int) -> None:
    """One compact line per layer under a loss line: the health history of the run."""
    for h in layer_health(session.iteration_records(iteration - 1), session.config.activations):
        dead = f"  dead {h.dead}/{h.units}" if h.activation in ("relu", "leaky_relu") else ""
        warn = f"  ⚠ {', '.join(h.warnings)}" if h.warnings else ""
        print(f"    layer {h.layer}: ‖W‖ {h.norm_W:.4g}  ‖dW‖ {h.norm_dW:.3g}  ‖δ‖ {h.norm_delta:.3g}"
              f"  ‖ΔW‖/‖W‖ {h.update_ratio:.2g}{dead}  saturated {h.saturated:.0%}{warn}")


def _print_health(session: Session) -> None:
    if session.iterations_done == 0:
        return
    records = session.iteration_records(session.iterations_done - 1)
    print(f"health at iteration {session.iterations_done}:")
    print(f"  {'layer':<7}{'‖W‖':>11}{'‖dW‖':>11}{'‖δ‖':>11}{'‖ΔW‖/‖W‖':>11}{'dead':>8}{'saturated':>11}  warnings")
    for h in layer_health(records, session.config.activations):
        dead = f"{h.dead}/{h.units}" if h.activation in ("relu", "leaky_relu") else "-"
        print(f"  {h.layer:<7}{h.norm_W:>11.4g}{h.norm_dW:>11.4g}{h.norm_delta:>11.4g}{h.update_ratio:>11.3g}"
              f"{dead:>8}{h.saturated:>11.1%}  {', '.join(h.warnings) or 'ok'}")


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
    if any(r.kinks and r.verdict != "PASS" for r in results):
        print("note: some ReLU pre-activations lie within 1e-4 of the kink at 0, where finite differences"
              " are unreliable (with b = 0, a sample whose inputs to a layer are all 0 sits exactly on it)")
    print(f"{'FAIL' if failed else 'PASS'}: fine below {FINE:g}, wrong above {WRONG:g}")
    return 1 if failed else 0

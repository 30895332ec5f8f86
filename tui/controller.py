"""The debugger without a screen: the timeline, the breakpoints, the running job.

The main screen sends intents (step, back, finish a stage, go to an
iteration, run N, continue, stop) and reads what to show: the record, the
losses, and the tensors of the op with their symbols and roles. Work that may
take long — a run, a jump to an iteration not computed yet, an export, a
gradient check — is a `job`: a plain method taking a `stop()` flag and a
`progress(timeline)` callback, run by the screen in a worker thread (tests
call it directly). While a job runs it alone touches the timeline.

Nothing here imports textual or rich: tests/tui/test_controller.py drives it
without a screen. Batch rows: z⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape
(n_l, n_{l-1}).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from nnstep.engine import NnstepError, StepRecord
from nnstep.engine.breakpoint_set import BreakpointSet
from nnstep.engine.breakpoints import parse_breakpoint
from nnstep.engine.gradcheck import check_gradients
from nnstep.engine.run import run
from nnstep.engine.schedule import STAGES
from nnstep.engine.timeline import Timeline, batch_of
from nnstep.engine.trace import write_trace
from nnstep.tui.outcome import (
    FOREVER,
    MAX_ITERATIONS,
    Cancelled,
    Outcome,
    parse_count,
    said,
)
from nnstep.tui.serve import trace_bytes
from nnstep.tui.shown import Tensor, carried, op_tensors, start_tensors
from nnstep.tui.watches import Watches

FAR = 20  # iterations: a move computing more than this runs as a job (esc stops it)
CHECK_LIMIT = 20_000  # parameters: above this an in-app finite-difference check takes too long
CHUNK_SECONDS = 0.005  # fast-path training between two looks at the screen (a key waits at most this for the job)
HOLD_SECONDS = 0.25  # the longest a job waits for the screen to finish a frame (it is only ever a wait, never a stop)
MOVES = ("next", "back", "stage", "iteration", "epoch")

Stop = Callable[[], bool]
Progress = Callable[[Timeline], None]


class Controller:
    """Owns a timeline (a live Session or a trace), the breakpoints and the job that is running.

    Moves that finish at once change the position and return an Outcome;
    `far(move)` says when a move should run as a job instead (`jump_job`).
    """

    def __init__(self, timeline: Timeline, *, read_only: bool = False, other: Timeline | None = None,
                 other_name: str = "") -> None:
        """`other`: a second run of the same network to compare with (`nnstep view A --compare B`)."""
        self.timeline = timeline
        self.other = other
        self.other_name = other_name
        self.config = timeline.config
        self.schedule = timeline.schedule
        self.read_only = read_only or timeline.read_only
        self.breakpoints = BreakpointSet(self.config.activations)
        self.watches = Watches(timeline)
        self.running = ""  # what the running job is called ("" when none)
        self.stop_event = threading.Event()
        self._screen_free = threading.Event()  # clear while the screen makes a frame someone waits for
        self._screen_free.set()
        self._carried = carried(self.config)
        self._known: np.ndarray = np.zeros(0)  # the longest run of losses seen (see `curve`)

    # -- what there is to show (tui/shown.py words a record's tensors) ---------------------------------------------------

    @property
    def record(self) -> StepRecord | None:
        """The record at the position (do not call while a job runs: the job owns the timeline)."""
        return self.timeline.record

    def losses(self) -> np.ndarray:
        """Every loss seen up to the position."""
        return self.timeline.losses()

    def curve(self, losses: np.ndarray) -> tuple[np.ndarray, int]:
        """Every loss computed so far and how many of them are at or before the position (`losses`).

        Training is deterministic, so after going back in time the losses up to
        the position are a prefix of the longest seen: the loss pane keeps that
        curve and marks where the position is in it.
        """
        known = self._known
        count = len(losses)
        if count <= len(known) and (not count or known[count - 1] == losses[-1]
                                    or (np.isnan(known[count - 1]) and np.isnan(losses[-1]))):
            return known, count
        self._known = losses
        return losses, count

    def so_far(self, record: StepRecord | None) -> tuple[StepRecord, ...]:
        """The ops of `record`'s iteration up to and including it."""
        if record is None:
            return ()
        return tuple(r for r in self.timeline.iteration_records(record.iteration - 1) if r.index <= record.index)

    def tensors(self, record: StepRecord | None, *, short: bool = False, compare: bool = True) -> tuple[Tensor, ...]:
        """The op's tensors with their symbols, roles and what each is compared with (▴/▾).

        Before the first op: the initial W⁽ˡ⁾, b⁽ˡ⁾ and the first batch (`start_tensors`).
        `short`: a short terminal, where plain SGD's ΔW = −η·∂L/∂W (the equation says so) makes room.
        """
        if record is None:
            return self.start_tensors() if not self.running else ()
        previous = self._previous(record) if compare else None
        return op_tensors(record, self.config, previous, short=short, kept=self._carried)

    def start_tensors(self) -> tuple[Tensor, ...]:
        """Before the first op: the first batch x, y and the initial W⁽ˡ⁾, b⁽ˡ⁾ of every layer."""
        return start_tensors(self.config, self.timeline.state)

    def _previous(self, record: StepRecord) -> StepRecord | None:
        """The same op of the previous iteration, if known (for the ▴/▾ change marks).

        During a job the worker owns a live timeline: nothing is computed on the
        UI thread then. A read-only one only looks records up.
        """
        if self.running and not self.read_only:
            return None
        return self.timeline.previous_record(record)

    def state_params(self) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """W⁽ˡ⁾ and b⁽ˡ⁾ as they stand at the position (for the data pane)."""
        state = self.timeline.state
        return state.W, state.b

    # -- moves that finish at once --------------------------------------------------

    def target(self, move: str) -> int:
        """The position `move` leads to on a live session (the one `Session.finish` would reach)."""
        position = self.timeline.position
        if move == "next":
            return position + 1
        if move == "back":
            return max(-1, position - 1)
        per_epoch = self.config.batches_per_epoch
        end = self.schedule.end_of(move, position, per_epoch)
        return end if end != position else self.schedule.end_of(move, position + 1, per_epoch)

    def far(self, move: str) -> bool:
        """True when `move` would compute more than FAR iterations: run it as a job (esc stops it)."""
        if self.read_only or move not in ("stage", "iteration", "epoch"):
            return False
        here = self.schedule.locate(max(self.timeline.position, 0))[0]
        return self.schedule.locate(self.target(move))[0] - here > FAR

    def move(self, move: str) -> Outcome:
        """next, back, stage, iteration or epoch: move the position and say what happened ('' when all is well)."""
        if move not in MOVES:
            raise ValueError(f"unknown move {move!r}; one of {MOVES}")
        timeline = self.timeline
        if move == "next":
            if timeline.at_end:
                return Outcome("end of the trace")
            timeline.step()
        elif move == "back":
            if timeline.position < 0:
                return Outcome("already before the first op")
            timeline.back()
        else:
            before = timeline.position
            timeline.finish(move)
            if timeline.position == before:
                return Outcome("end of the trace")
        return Outcome("")

    def reset(self) -> Outcome:
        """Back to before the first op (history is kept)."""
        self.timeline.reset()
        return Outcome("reset: before the first op")

    def goto_far(self, iteration: int) -> bool:
        """True when going to 1-based `iteration` should run as a job (a live session more than FAR iterations on)."""
        return not self.read_only and iteration - 1 - self.timeline.iterations_done > FAR

    def goto(self, iteration: int) -> Outcome:
        """To the first op of 1-based `iteration` at once (a trace, or a live session near it)."""
        record = self.timeline.goto_iteration(iteration)
        if record is None:  # only a trace ends
            return Outcome(f"the trace has no iteration {iteration:,} (it ends before)", error=True)
        if record.iteration != iteration:  # a trace exported with --every
            return Outcome(f"the trace has no iteration {iteration:,}: at iteration {record.iteration:,}, the next it holds")
        if record.index != self.schedule.index(iteration - 1, 0):  # a trace exported with --stages
            what = record.op if record.layer is None else f"{record.op} of layer {record.layer}"
            return Outcome(f"at iteration {iteration:,}'s first op in this trace, the {what} (it holds only some stages)")
        return Outcome(f"at the first op of iteration {iteration:,}")

    # -- breakpoints --------------------------------------------------------------------

    def check_breakpoint(self, text: str) -> str | None:
        """The parser's message for a bad breakpoint expression, None for a good one."""
        try:
            parse_breakpoint(text, self.config.activations)
        except NnstepError as error:
            return str(error)
        return None

    def add_breakpoint(self, text: str) -> Outcome:
        """Add a breakpoint (already checked)."""
        self.breakpoints.add(text)
        return Outcome(f"breakpoint {len(self.breakpoints)}: {text} (c continues to it, C runs back to it)")

    def set_breakpoints(self, texts: Sequence[str]) -> Outcome:
        """Keep only these breakpoints (new ones on, with no hits)."""
        self.breakpoints.clear()
        for text in texts:
            self.breakpoints.add(text)
        return self.counted()

    def counted(self) -> Outcome:
        """`3 breakpoints (1 off)`."""
        count, off = len(self.breakpoints), len(self.breakpoints) - self.breakpoints.enabled()
        return Outcome(f"{count} breakpoint{'s' if count != 1 else ''}" + (f" ({off} off)" if off else ""))

    # -- jobs -------------------------------------------------------------------------

    def start(self, label: str) -> None:
        """A job begins: moves are off until `done`, and `stop` asks it to end."""
        self.stop_event = threading.Event()
        self.running = label

    def done(self) -> None:
        """The job has ended."""
        self.running = ""

    def stop(self) -> None:
        """Ask the running job to stop at the next op or chunk."""
        self.stop_event.set()

    def stopped(self) -> bool:
        """True once `stop` was asked."""
        return self.stop_event.is_set()

    # The screen first. Python runs one thread at a time: a job training in its worker thread took
    # the interpreter back every few milliseconds while the screen made a frame, so a key pressed
    # during a run waited two or three times the frame's own work. The screen says when it has a
    # frame to make (a key's, a job's progress) and when it is out; the worker, between two chunks
    # of training, waits for it. Measured: the job's throughput is the same as when the two shared
    # the interpreter, and keys answer in about the frame's own time (benchmarks/NOTES.md).

    def screen_busy(self) -> None:
        """The screen is making a frame someone waits for (a key's; a job's progress)."""
        self._screen_free.clear()

    def screen_done(self) -> None:
        """The frame is out: the job may go on."""
        self._screen_free.set()

    def wait_for_screen(self) -> None:
        """Called by a job's worker between chunks: wait (at most HOLD_SECONDS) while the screen is busy."""
        self._screen_free.wait(HOLD_SECONDS)

    def run_job(self, iterations: int, stop: Stop, progress: Progress | None = None) -> Outcome:
        """Run `iterations` whole iterations (FOREVER: continue), stopping at a breakpoint or a NaN loss."""
        breakpoints = self.breakpoints.active()
        try:
            # Fast-path chunks of about CHUNK_SECONDS; between two, `stop` waits while the
            # screen makes a frame (see "The screen first" above).
            result = run(self.timeline, iterations=iterations, breakpoints=breakpoints, stop=stop, progress=progress,
                         chunk_seconds=CHUNK_SECONDS)
        except NnstepError as error:  # a bad trace or expression; a bug goes to the app's boundary, which logs it
            return Outcome(f"run failed: {error}", error=True)
        return Outcome(said(result, iterations, bool(breakpoints)))

    def jump_job(self, position: int, stop: Stop, progress: Progress | None = None, *, what: str = "") -> Outcome:
        """To `position` on a live session: the fast path up to its iteration (stoppable), then its records.

        `what` words the destination for the message ("the first op of iteration 50").
        """
        timeline = self.timeline
        iteration = self.schedule.locate(max(position, 0))[0]  # 0-based
        done = timeline.iterations_done
        try:
            if iteration > done:
                result = run(timeline, iterations=iteration - done, stop=stop, progress=progress,
                             stop_at_non_finite=False, chunk_seconds=CHUNK_SECONDS)
                if result.reason == "stopped":
                    return Outcome(f"stopped at iteration {timeline.iterations_done:,} of the {iteration:,} before "
                                   f"{what or 'the target'}")
            timeline.goto(position)
        except NnstepError as error:
            return Outcome(f"jump failed: {error}", error=True)
        return Outcome(f"at {what}" if what else "")

    def _records(self, stop: Stop) -> Iterator[StepRecord]:
        """The records up to the position, for an export; raises Cancelled once `stop()` is true."""
        for record in self.timeline.iter_records():
            if stop():
                raise Cancelled
            yield record

    def export_job(self, path: str, stop: Stop) -> Outcome:
        """Write the trace up to the position to `path` (atomically; `stop` cancels and leaves nothing)."""
        target = Path(path).expanduser()
        try:
            count = write_trace(target, self.config.to_dict(), self._records(stop))
        except Cancelled:
            return Outcome(f"export cancelled; {target} not written")
        except NnstepError as error:
            return Outcome(str(error), error=True)
        except Exception as error:  # noqa: BLE001 - never crash the app over an export
            return Outcome(f"{target}: cannot export ({error})", error=True)
        return Outcome(f"exported {count} ops to {target.resolve()}")

    def download_job(self, name: str, stop: Stop) -> tuple[Outcome, bytes | None]:
        """The trace up to the position as the bytes of the file `name` (gzip for .gz), for a browser to
        download (`nnstep serve`): nothing is written on the server. `stop` cancels (no bytes)."""
        try:
            data, count = trace_bytes(self.config.to_dict(), self._records(stop), compress=name.endswith(".gz"))
        except Cancelled:
            return Outcome("export cancelled; nothing downloaded"), None
        except NnstepError as error:
            return Outcome(str(error), error=True), None
        except Exception as error:  # noqa: BLE001 - never crash the app over an export
            return Outcome(f"cannot export ({error})", error=True), None
        return Outcome(f"exported {count} ops: your browser downloads {name} ({len(data) / 1e3:,.1f} kB)"), data

    def export_size(self) -> str:
        """Roughly how large the JSON of the trace so far is ('' when under a megabyte)."""
        record = self.timeline.record
        if record is None:
            return ""
        per_iteration = sum(t.size for r in self.timeline.iteration_records(record.iteration - 1) for t in r.tensors.values())
        megabytes = per_iteration * 20 * record.iteration / 1e6  # ~20 characters per number in JSON
        return f", about {megabytes:,.0f} MB" if megabytes >= 1 else ""

    def check_batch(self) -> tuple[int, tuple] | Outcome:
        """The current iteration (0-based) and its (params, x, y) for a gradient check, or why not."""
        iteration = self.iteration()
        batch = batch_of(self.timeline, iteration)
        if batch is None:
            held = {r.stage for r in self.timeline.iteration_records(iteration)}
            stages = " and ".join(stage for stage in STAGES if stage in held) or "no op"
            return Outcome(f"gradient check: iteration {iteration + 1} of this trace holds only its {stages} ops; "
                           "it needs W and b, from the forward or update ops", error=True)
        params = batch[0]
        count = sum(w.size + b.size for w, b in zip(params.W, params.b))
        if count > CHECK_LIMIT:
            return Outcome(f"gradient check: {count} parameters is too many in the app; use `nnstep check`", error=True)
        return iteration, batch

    def check_job(self, iteration: int, batch: tuple) -> Outcome:
        """Finite differences against dW, db of 0-based `iteration` with its parameters and batch."""
        params, x, y = batch
        try:
            checks = check_gradients(self.config, params, x, y)
        except NnstepError as error:
            return Outcome(f"gradient check failed: {error}", error=True)
        verdicts = ", ".join(f"layer {c.layer} {c.verdict}" for c in checks)
        return Outcome(f"gradient check: {verdicts}", checks=tuple(checks), iteration=iteration, batch=len(x))

    def iteration(self) -> int:
        """The 0-based iteration of the position (0 before the first op)."""
        record = self.timeline.record
        return record.iteration - 1 if record else 0

    def history(self, count: int) -> dict[int, list[StepRecord]]:
        """The records of the last `count` iterations up to the current one, by 0-based iteration (streamed)."""
        iteration = self.iteration()
        first = max(0, iteration - count + 1)
        timeline = self.timeline
        streamed: dict[int, list[StepRecord]] = {}
        # Streamed, not iteration_records() thirty times: a live session replays them in one pass.
        for record in timeline.iter_records(timeline.first_position(first), timeline.first_position(iteration + 1)):
            if first <= record.iteration - 1 <= iteration:
                streamed.setdefault(record.iteration - 1, []).append(record)
        return streamed


__all__ = ["FOREVER", "MAX_ITERATIONS", "Cancelled", "Controller", "Outcome", "Tensor", "carried", "parse_count", "said"]

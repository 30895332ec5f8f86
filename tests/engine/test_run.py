"""The one run loop (engine/run.py): where continue, run N and run-to-breakpoint stop.

If these fail, `nnstep run` and the app stop on a different op than stepping
by hand would reach, `loss increased` compares with the wrong loss, esc or
Ctrl-C do not stop a run, or a diverging run lands on NaN instead of on the
first inf. Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import numpy as np
import pytest
from nnstep.engine import Session, StepRecord, TraceTimeline, build_config, load_demo
from nnstep.engine.breakpoints import Breakpoint, parse_breakpoint
from nnstep.engine.run import Run, RunResult, run

NEVER = "loss < -1"  # a breakpoint that never hits: forces op-by-op stepping


def diverging():
    """Identity layers, N(0, 3²) weights, η = 50: the loss overflows to inf within a few iterations, then NaN."""
    raw = {"seed": 1, "model": {"sizes": [2, 8, 1], "activations": ["identity", "identity"], "init": "normal", "std": 3.0},
           "loss": {"kind": "mse"}, "optimizer": {"kind": "sgd", "lr": 50}, "data": {"dataset": "xor"}}
    return build_config(raw, "diverging.toml", name="diverging")


def breakpoint_(session: Session, text: str) -> Breakpoint:
    return parse_breakpoint(text, session.config.activations)


def by_hand(session: Session, bp: Breakpoint, limit: int = 10_000) -> StepRecord | None:
    """Step one op at a time, as a user pressing n would, until `bp` hits."""
    previous = None
    for _ in range(limit):
        record = session.step()
        if bp.hits(record, previous):
            return record
        if record.op == "loss":
            previous = record.loss
    return None


def same(a: StepRecord | None, b: StepRecord | None) -> None:
    assert a is not None and b is not None
    assert (a.index, a.op, a.layer) == (b.index, b.op, b.layer)
    for name in a.tensors:
        np.testing.assert_array_equal(a.tensors[name], b.tensors[name], err_msg=name)


@pytest.mark.parametrize("stepping", [False, True], ids=["fast", "stepping"])
def test_n_iterations_end_on_the_last_op_with_the_losses_of_stepping(stepping: bool) -> None:
    """Run N must end on the last op of iteration N with the same losses however it ran."""
    config = load_demo("moons")
    session = Session(config)
    seen: list[tuple[int, int, float]] = []
    result = run(session, iterations=23, breakpoints=[breakpoint_(session, NEVER)] if stepping else [],
                 on_loss=lambda i, e, loss: seen.append((i, e, loss)))
    assert result.reason == "iterations" and result.iterations == 23
    assert session.position == session.schedule.index(23, 0) - 1
    reference = Session(config)
    for _ in range(session.position + 1):
        reference.step()
    np.testing.assert_array_equal(session.losses(), reference.losses())
    assert [i for i, _, _ in seen] == list(range(1, 24))
    assert [e for _, e, _ in seen] == [(i - 1) // config.batches_per_epoch + 1 for i in range(1, 24)]
    np.testing.assert_array_equal([loss for _, _, loss in seen], reference.losses())
    assert result.loss == seen[-1][2]
    same(result.record, reference.record)


def test_n_counts_from_the_iterations_already_done() -> None:
    """r 5 in the middle of iteration 3 finishes it and four more: the last op of iteration 7."""
    session = Session(load_demo("mazur"))
    session.goto(session.schedule.index(2, 3))
    assert run(session, iterations=5).iterations == 5
    assert session.position == session.schedule.index(7, 0) - 1


@pytest.mark.parametrize("text", ["iteration == 4 and stage == backward and layer == 1", "norm(dW1) > 0 and epoch == 2",
                                  "loss < 0.69", "op == update and iteration == 2"])
def test_a_breakpoint_stops_on_the_record_stepping_by_hand_reaches(text: str) -> None:
    config = load_demo("tutorial")
    session = Session(config)
    result = run(session, iterations=50, breakpoints=[breakpoint_(session, text)])
    assert result.reason == "breakpoint" and result.breakpoint is not None and result.breakpoint.text == text
    expected = by_hand(Session(config), breakpoint_(session, text))
    same(result.record, expected)
    same(session.record, expected)


def test_the_first_of_several_breakpoints_that_hits_is_named() -> None:
    session = Session(load_demo("mazur"))
    bps = [breakpoint_(session, NEVER), breakpoint_(session, "iteration == 2"), breakpoint_(session, "op == grad")]
    result = run(session, iterations=10, breakpoints=bps)
    assert result.breakpoint is bps[2] and (result.record.iteration, result.record.op) == (1, "grad")


def test_loss_increased_compares_with_the_loss_passed_before_the_run() -> None:
    """Started just after iteration k's loss op, `loss increased` must compare iteration k+1 with k,
    not skip it for want of a previous loss (and must not hit while the loss falls)."""
    config = diverging()
    curve = Session(config)
    curve.train(30)
    losses = curve.losses()
    rises = [i for i in range(1, 30) if losses[i] > losses[i - 1]]
    assert rises, "the config must make the loss rise"
    first = rises[0]  # 0-based iteration whose loss is the first above the one before
    session = Session(config)
    result = run(session, iterations=30, breakpoints=[breakpoint_(session, "loss increased")])
    assert result.record.op == "loss" and result.record.iteration == first + 1
    resumed = Session(config)
    resumed.goto(resumed.schedule.index(first - 1, resumed.schedule.loss_offset))
    result = run(resumed, iterations=30, breakpoints=[breakpoint_(resumed, "loss increased")])
    assert result.reason == "breakpoint" and result.record.iteration == first + 1
    falling = Session(load_demo("mazur"))
    assert run(falling, iterations=20, breakpoints=[breakpoint_(falling, "loss increased")]).reason == "iterations"


def counting_stop(after: int):  # type: ignore[no-untyped-def]
    calls = [0]

    def stop() -> bool:
        calls[0] += 1
        return calls[0] > after

    return stop


def test_the_stop_flag_ends_a_stepping_run_before_the_next_op() -> None:
    session = Session(load_demo("tutorial"))
    result = run(session, iterations=10**9, breakpoints=[breakpoint_(session, NEVER)], stop=counting_stop(7))
    assert result.reason == "stopped" and session.position == 6 and result.record is session.record


def test_the_stop_flag_ends_a_fast_run_on_a_whole_iteration() -> None:
    session = Session(load_demo("tutorial"))
    result = run(session, iterations=10**9, stop=counting_stop(5))
    assert result.reason == "stopped"
    assert 0 < result.iterations == session.iterations_done < 10**9
    assert session.position == session.schedule.index(result.iterations, 0) - 1


@pytest.mark.parametrize("stepping", [False, True], ids=["fast", "stepping"])
def test_a_diverging_run_stops_on_the_loss_op_of_the_first_non_finite_loss(stepping: bool) -> None:
    """The fast path trains in chunks that run on past the first inf into NaN: it must come back
    to the first one, where stepping by hand would stop."""
    config = diverging()
    curve = Session(config)
    curve.train(40)
    bad = np.flatnonzero(~np.isfinite(curve.losses()))
    assert bad.size > 1, "the config must diverge and keep going"
    first = int(bad[0])
    session = Session(config)
    breakpoints = [breakpoint_(session, NEVER)] if stepping else []
    result = run(session, iterations=1000, breakpoints=breakpoints, chunk_seconds=10.0)
    assert result.reason == "non-finite"
    assert (result.record.op, result.record.iteration) == ("loss", first + 1)
    assert session.position == session.schedule.index(first, session.schedule.loss_offset)
    assert result.loss == curve.losses()[first] and not np.isfinite(result.loss)
    assert np.isfinite(session.losses()[:-1]).all() and len(session.losses()) == first + 1


def test_a_diverging_run_goes_on_when_asked_to() -> None:
    """`nnstep run` trains the iterations asked for and only warns."""
    session = Session(diverging())
    result = run(session, iterations=40, stop_at_non_finite=False)
    assert result.reason == "iterations" and session.iterations_done == 40 and np.isnan(result.loss)


@pytest.mark.parametrize("stepping", [False, True], ids=["fast", "stepping"])
def test_progress_is_called_with_the_timeline_as_it_moves(stepping: bool) -> None:
    session = Session(load_demo("mazur"))
    positions: list[int] = []
    breakpoints = [breakpoint_(session, NEVER)] if stepping else []
    run(session, iterations=40, breakpoints=breakpoints, progress=lambda timeline: positions.append(timeline.position))
    assert positions and positions == sorted(positions) and positions[-1] <= session.position
    if stepping:
        assert positions == list(range(len(positions)))  # after every op but the last


def test_records_streams_every_op_stepped_and_then_says_why_it_ended() -> None:
    """What `nnstep run --export` writes: every op up to and including the one a breakpoint hit."""
    session = Session(load_demo("mazur"))
    job = Run(session, iterations=5, breakpoints=[breakpoint_(session, "iteration == 3 and op == delta")])
    records = list(job.records())
    assert [r.index for r in records] == list(range(len(records)))
    assert isinstance(job.result, RunResult) and job.result.reason == "breakpoint"
    assert records[-1] is job.result.record and (records[-1].iteration, records[-1].op) == (3, "delta")


def test_a_trace_runs_to_its_end_or_its_breakpoint() -> None:
    """A trace cannot train: the loop steps through it, and reports its end."""
    config = load_demo("mazur")
    live = Session(config)
    live.train(4)
    trace = TraceTimeline(config, list(live.iter_records()))
    assert run(trace, iterations=10**9).reason == "end" and trace.at_end
    trace.reset()
    result = run(trace, iterations=2)
    assert result.reason == "iterations" and trace.record.index == trace.schedule.index(2, 0) - 1
    trace.reset()
    result = run(trace, iterations=10**9, breakpoints=[parse_breakpoint("iteration == 3 and op == grad", config.activations)])
    same(result.record, live.record_at(result.record.index))
    assert result.record.iteration == 3


def test_iterations_must_be_positive() -> None:
    with pytest.raises(ValueError):
        run(Session(load_demo("mazur")), iterations=0)

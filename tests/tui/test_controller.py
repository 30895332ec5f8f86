"""The controller without a screen: moves, long jumps, runs, breakpoints and the numbers typed in dialogs.

Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
from nnstep.engine import Session, TraceTimeline, load_demo
from nnstep.tui.app import make_app
from nnstep.tui.controller import FAR, HOLD_SECONDS, Controller
from nnstep.tui.outcome import MAX_ITERATIONS, parse_count


@pytest.mark.parametrize("text, expected", [
    ("50", 50), (" 1,000 ", 1000), ("1_000", 1000), (str(MAX_ITERATIONS), MAX_ITERATIONS), ("007", 7),
])
def test_counts_typed_in_a_dialog(text: str, expected: int) -> None:
    """What the Go-to and Run-N dialogs accept, as `nnstep run -n` does."""
    assert parse_count(text, "an iteration") == expected


@pytest.mark.parametrize("text, says", [
    ("²", "'²' (superscript two) is not a digit 0-9"),
    ("١٢", "is not a digit 0-9"),  # int() would read Arabic-Indic digits as 12
    ("12a", "'a' is not a digit 0-9"),
    ("-3", "'-' is not a digit 0-9"),
    ("9" * 10_000, "10,000 digits is too many"),
    ("0", "0 is out of range"),
    (str(MAX_ITERATIONS + 1), "out of range"),
    ("", "type an iteration from 1 to 1,000,000,000"),
])
def test_odd_counts_are_refused_with_a_reason(text: str, says: str) -> None:
    """'²'.isdigit() is True and a 10,000-digit paste would make int() work hard: both must be refused,
    with a message naming the character or the length, and the limits the CLI has."""
    started = time.perf_counter()
    message = parse_count(text, "an iteration")
    assert isinstance(message, str) and says in message and "1,000,000,000" in message
    assert time.perf_counter() - started < 0.01


def test_moves_match_the_session_and_say_when_nothing_moved() -> None:
    """Moves are the Session's own; at the start `back` says so instead of moving."""
    config = load_demo("mazur")
    controller = Controller(Session(config))
    reference = Session(config)
    assert controller.move("back").text == "already before the first op"
    for move, expected in (("next", reference.step), ("stage", lambda: reference.finish("stage")),
                           ("iteration", lambda: reference.finish("iteration")), ("back", reference.back),
                           ("epoch", lambda: reference.finish("epoch"))):
        assert controller.move(move).text == ""
        expected()
        assert controller.timeline.position == reference.position, move
    assert controller.reset().text == "reset: before the first op" and controller.timeline.position == -1


def test_before_the_first_op_the_start_tensors_are_the_initial_parameters_and_first_batch() -> None:
    """The start screen shows x, y of the first batch and every layer's W, b as the config sets them."""
    config = load_demo("tutorial")
    controller = Controller(Session(config))
    tensors = controller.tensors(None)
    assert [t.symbol for t in tensors] == ["x", "y", "W⁽¹⁾", "b⁽¹⁾", "W⁽²⁾", "b⁽²⁾"]
    assert all(t.kind == "start" for t in tensors)
    np.testing.assert_array_equal(tensors[0].values, config.x[:10])
    np.testing.assert_array_equal(tensors[2].values, config.layers[0][0])


def test_a_far_goto_runs_as_a_stoppable_job() -> None:
    """G 1,000,000 must not run on the UI thread: the controller says it is far, and its job stops
    within a chunk when asked, at a whole iteration, with a message saying where."""
    controller = Controller(Session(load_demo("tutorial")))
    assert controller.goto_far(FAR + 2) and not controller.goto_far(2)
    flag = threading.Event()
    timer = threading.Timer(0.3, flag.set)
    timer.start()
    started = time.perf_counter()
    outcome = controller.jump_job(controller.schedule.index(999_999, 0), flag.is_set, what="iteration 1,000,000")
    assert time.perf_counter() - started < 2.0
    assert outcome.text.startswith("stopped at iteration ") and "iteration 1,000,000" in outcome.text
    done = controller.timeline.iterations_done
    assert 0 < done < 999_999
    assert controller.timeline.position == controller.schedule.index(done, 0) - 1


def test_a_jump_lands_where_the_session_would() -> None:
    """Unstopped, the job lands on the first op of the iteration, records bit-identical to Session.goto."""
    config = load_demo("tutorial")
    controller = Controller(Session(config))
    position = controller.schedule.index(99, 0)
    outcome = controller.jump_job(position, lambda: False, what="the first op of iteration 100")
    assert outcome.text == "at the first op of iteration 100"
    reference = Session(config)
    reference.goto(position)
    assert controller.timeline.position == position
    for name, value in reference.record.tensors.items():
        np.testing.assert_array_equal(controller.record.tensors[name], value)


def test_far_moves_and_trace_gotos() -> None:
    """An epoch of many batches is far; a trace never is, and says when it has no such iteration."""
    config = load_demo("mazur")
    live = Session(config)
    live.train(3)
    trace = Controller(TraceTimeline(config, list(live.iter_records(0, live.position + 1))))
    assert not trace.far("epoch") and not trace.goto_far(10**6)
    outcome = trace.goto(99)
    assert outcome.error and outcome.text == "the trace has no iteration 99 (it ends before)"
    assert trace.goto(2).text == "at the first op of iteration 2" and trace.record.iteration == 2


def test_runs_and_breakpoints_are_worded_with_the_one_op_counter() -> None:
    """A breakpoint message names the op as `nnstep run` does: record.index + 1."""
    controller = Controller(Session(load_demo("mazur")))
    assert controller.check_breakpoint("loss <") is not None
    controller.add_breakpoint("iteration == 3 and stage == backward")
    outcome = controller.run_job(50, lambda: False)
    record = controller.record
    assert outcome.text == f"breakpoint `iteration == 3 and stage == backward` hit at op {record.index + 1} (iteration 3)"
    controller.set_breakpoints([])
    assert controller.run_job(5, lambda: False).text == "ran 5 iterations"


# -- the screen first: a job's worker waits while the screen makes a frame ---------------------------


def test_a_job_waits_for_the_screen_until_its_frame_is_out() -> None:
    controller = Controller(Session(load_demo("tutorial")))
    started = time.monotonic()
    controller.wait_for_screen()
    assert time.monotonic() - started < 0.05  # nothing on screen: no wait
    controller.screen_busy()
    threading.Timer(0.05, controller.screen_done).start()
    started = time.monotonic()
    controller.wait_for_screen()
    waited = time.monotonic() - started
    assert 0.04 <= waited < HOLD_SECONDS


def test_a_job_never_waits_for_the_screen_longer_than_the_hold() -> None:
    controller = Controller(Session(load_demo("tutorial")))
    controller.screen_busy()  # a frame that never says it is out
    started = time.monotonic()
    controller.wait_for_screen()
    assert HOLD_SECONDS * 0.9 <= time.monotonic() - started < HOLD_SECONDS + 0.5


def test_a_continue_in_the_app_leaves_the_job_free_to_run_when_it_ends() -> None:
    """A key and the progress frames hold the job while their frame is made; when the job is done nothing is held."""

    async def run() -> Controller:
        app = make_app(load_demo("tutorial"))
        async with app.run_test() as pilot:
            await pilot.press("c")
            await pilot.pause(0.4)
            await pilot.press("full_stop")  # a key during the run
            await pilot.pause(0.2)
            await pilot.press("escape")
            for _ in range(50):
                await pilot.pause(0.05)
                if not app.main.controller.running:
                    break
            await pilot.pause(0.1)
            controller = app.main.controller
            assert controller.timeline.iterations_done > 10
            return controller

    controller = asyncio.run(run())
    assert not controller.running
    assert controller._screen_free.is_set()

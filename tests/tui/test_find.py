"""Find the cause: reverse-continue (C), reverse step (P), breakpoints with hit counts and ignore counts.

If these fail, C would land on an op where no breakpoint holds (or skip the
one that does), miss where the NaN began, or a breakpoint's `ignore 2` would
stop at the wrong hit. Every expected position comes from an independent
forward scan of the records. Batch rows: z has shape (B, n_l); W has shape
(n_l, n_{l-1}).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from nnstep.engine import Session, TraceTimeline, load_config, load_demo
from nnstep.engine.breakpoint_set import BreakpointSet
from nnstep.engine.breakpoints import parse_breakpoint
from nnstep.engine.diagnose import first_non_finite
from nnstep.engine.trace import select
from nnstep.tui.app import make_app
from nnstep.tui.controller import Controller
from nnstep.tui.find import (
    non_finite,
    position_of,
    previous_stage_end,
    reverse_continue,
)
from nnstep.tui.screens.dialogs import BreakpointList, InputDialog
from nnstep.tui.widgets.status_line import StatusLine
from textual.widgets._footer import FooterKey

from tests.conftest import make_config
from tests.tui.test_app import diverging_config, settle


def never() -> bool:
    return False


def exploding_config():
    """Identity layers, large weights and lr 5: finite for a few iterations, then inf, then NaN."""
    return make_config(model={"sizes": [2, 3, 2], "activations": ["identity", "identity"], "init": "normal", "std": 3.0},
                       optimizer={"lr": 5.0})


def forward_hits(config, text: str, stop: int) -> list[int]:
    """Every op index before `stop` where `text` holds, by a forward scan from the start."""
    bp = parse_breakpoint(text, config.activations)
    previous, hits = None, []
    for record in Session(config).iter_records(0, stop):
        if bp.hits(record, previous):
            hits.append(record.index)
        if record.op == "loss":
            previous = record.loss
    return hits


def test_reverse_from_far_past_the_nan_lands_on_the_op_that_wrote_the_first_one() -> None:
    """With `nan`, C must not stop on the op just before (NaN is everywhere by then) but where it began."""
    config = exploding_config()
    session = Session(config)
    end = 25 * session.ops_per_iteration - 1
    with np.errstate(all="ignore"):
        session.goto(end)
        first = first_non_finite(Session(config).iter_records(0, end + 1))
        assert first is not None and first.index < end - session.ops_per_iteration  # far behind the start
        # a full scan: no op before it holds any NaN/inf, it does
        records = list(Session(config).iter_records(0, first.index + 1))
        assert not any(non_finite(r) for r in records[:-1]) and non_finite(records[-1])
        breakpoints = BreakpointSet(config.activations)
        breakpoints.add("nan")
        text, moved = reverse_continue(session, breakpoints, never)
    assert moved and session.position == first.index
    assert text.startswith(f"reverse: breakpoint `nan` holds at op {first.index + 1} (iteration {first.iteration})")
    assert breakpoints.entries[0].hits == 1


def test_from_a_nan_op_reverse_needs_no_breakpoint() -> None:
    """Standing on a non-finite op, C goes back to where the non-finite values began, breakpoints or not."""
    config = diverging_config()
    session = Session(config)
    with np.errstate(all="ignore"):
        session.goto(3 * session.ops_per_iteration)
        assert non_finite(session.record)
        first = first_non_finite(Session(config).iter_records(0, session.position + 1))
        text, moved = reverse_continue(session, BreakpointSet(config.activations), never)
        assert moved and session.position == first.index
        assert f"at op {first.index + 1} (iteration {first.iteration})" in text and "written by" in text
        # Already there: nothing earlier is non-finite.
        text, moved = reverse_continue(session, BreakpointSet(config.activations), never)
    assert not moved and session.position == first.index and "none earlier" in text


def test_reverse_with_a_position_and_value_condition_visits_every_hit_backwards() -> None:
    """`iteration > 3 and norm(dW1) > t` (the grammar combines position and values): C after C lands on
    each op a forward scan finds, latest first, then says there is none earlier."""
    config = load_demo("moons")
    session = Session(config)
    stop = 12 * session.ops_per_iteration
    norms = [float(np.linalg.norm(r.tensors["dW"])) for r in Session(config).iter_records(0, stop)
             if r.op == "grad" and r.layer == 1]
    threshold = float(np.median(norms))
    text = f"iteration > 3 and norm(dW1) > {threshold!r}"
    expected = forward_hits(config, text, stop)
    assert 3 <= len(expected) < 2 * len(norms)  # some hit, some do not (grad and update hold dW1)
    session.goto(stop)
    breakpoints = BreakpointSet(config.activations)
    breakpoints.add(text)
    found = []
    while True:
        said, moved = reverse_continue(session, breakpoints, never)
        if not moved:
            break
        found.append(session.position)
        record = session.record
        assert said == f"reverse: breakpoint `{text}` holds at op {record.index + 1} (iteration {record.iteration})"
    assert found == expected[::-1]
    assert said == "reverse: no earlier op where a breakpoint holds" and breakpoints.entries[0].hits == len(expected)


def test_ignore_counts_and_disabled_breakpoints_in_continue_and_reverse() -> None:
    """ignore 2 lets two hits pass (counted), the third stops; a disabled breakpoint never stops."""
    config = load_demo("mazur")
    text = "stage == backward and op == grad"
    expected = forward_hits(config, text, 40 * len(config.schedule))
    controller = Controller(Session(config))
    controller.add_breakpoint(text)
    controller.add_breakpoint("iteration == 2")
    controller.breakpoints.toggle(2)  # off: would stop first otherwise
    controller.breakpoints.set_ignore(1, 2)
    outcome = controller.run_job(30, never)
    assert controller.record.index == expected[2] and "hit at op" in outcome.text
    entry = controller.breakpoints.entries[0]
    assert (entry.hits, entry.ignore) == (3, 0) and controller.breakpoints.entries[1].hits == 0
    assert entry.describe() == "on  · 3 hits"
    # Reverse: ignore 1 skips the nearest earlier hit.
    controller.breakpoints.set_ignore(1, 1)
    _, moved = reverse_continue(controller.timeline, controller.breakpoints, never)
    assert moved and controller.record.index == expected[0] and entry.hits == 5
    assert controller.counted().text == "2 breakpoints (1 off)"


def test_reverse_in_a_partial_trace_lands_on_the_trace_position() -> None:
    """In a trace of every 2nd iteration positions are not op indices: C must go to the record's position."""
    config = load_demo("mazur")
    live = Session(config)
    live.train(8)
    trace = TraceTimeline(config, list(select(live.iter_records(), every=2)))
    trace.goto(len(trace) - 1)
    breakpoints = BreakpointSet(config.activations)
    breakpoints.add("op == loss")
    _, moved = reverse_continue(trace, breakpoints, never)
    record = trace.record
    assert moved and record.op == "loss" and record.iteration == 7
    assert position_of(trace, record) == trace.position and trace.record_at(trace.position) is record


def test_reverse_step_undoes_s() -> None:
    """P lands exactly where s stopped, in reverse order, down to before the first op."""
    config = load_demo("tutorial")
    session = Session(config)
    stops = []
    for _ in range(9):
        session.finish("stage")
        stops.append(session.position)
    session.step()  # mid-stage: P goes to the end of the stage before
    back = []
    while session.position >= 0:
        session.goto(previous_stage_end(session))
        back.append(session.position)
    assert back == [*stops[::-1], -1]


def test_stopping_reverse_leaves_the_position() -> None:
    """esc during a long reverse: nothing moves and the message says so."""
    config = load_demo("tutorial")
    session = Session(config)
    session.goto(500 * session.ops_per_iteration)
    breakpoints = BreakpointSet(config.activations)
    breakpoints.add("iteration == 1")
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 5

    text, moved = reverse_continue(session, breakpoints, stop)
    assert not moved and text.startswith("reverse stopped") and session.position == 500 * session.ops_per_iteration


async def test_keys_C_and_P_in_the_app(screen_text) -> None:
    """c runs to the NaN loss; C goes back to the op that wrote the first inf and says so; P steps back a stage."""
    config = diverging_config()
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await settle(app, pilot)
        main = app.main
        position = main.controller.timeline.position
        with np.errstate(all="ignore"):
            first = first_non_finite(Session(config).iter_records(0, position + 1))
        assert first is not None and first.index < position
        await pilot.press("C")
        await settle(app, pilot)
        assert main.controller.timeline.position == first.index
        message = main.query_one(StatusLine).status.message
        assert message.startswith(f"reverse: the non-finite values began at op {first.index + 1} (iteration {first.iteration})")
        assert f"op {first.index + 1}" in screen_text(app)
        expected = previous_stage_end(main.controller.timeline)
        await pilot.press("P")
        await pilot.pause()
        assert main.controller.timeline.position == expected < first.index


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_C_says_how_far_back_it_has_looked_and_esc_stops_it(size: tuple[int, int],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Going back through 20,000 iterations takes seconds, and the line said only `▶ reverse`: it must
    say how far back the search has got (in view at 80 columns, too) while esc still stops it where
    it started."""
    app = make_app(load_demo("tutorial"))
    async with app.run_test(size=size) as pilot:
        main = app.main
        session = main.controller.timeline
        session.train(400)
        main.controller.breakpoints.add("iteration == 1")  # holds only at the start: C looks through all 400
        main.show()
        await pilot.pause()
        start = session.position
        looked = session.iteration_records

        def slowly(iteration: int):  # a few ms an iteration: the search outlasts the keys below on any machine
            time.sleep(0.003)
            return looked(iteration)

        monkeypatch.setattr(session, "iteration_records", slowly)
        await pilot.press("C")
        shown = []
        for _ in range(200):
            await pilot.pause(0.02)
            shown.append(main.query_one(StatusLine).render().plain)
            if len(re.findall(r"\d+% ·", " ".join(shown))) >= 2:
                break
        progress = [m for line in shown for m in re.findall(r"▶ reverse: (\d+)% · at iteration ([\d,]+)", line)]
        assert len(progress) >= 2, shown
        percents = [int(p) for p, _ in progress]
        iterations = [int(i.replace(",", "")) for _, i in progress]
        assert percents == sorted(percents) and iterations == sorted(iterations, reverse=True) and iterations[-1] < 400
        footer = {key.description: key for key in main.query(FooterKey)}
        assert "Stop/clear" in footer and footer["Next"].has_class("-disabled")  # esc is the key now
        await pilot.press("escape")
        await settle(app, pilot)
        assert session.position == start
        assert main.query_one(StatusLine).status.message == f"reverse stopped; still at op {start + 1} (iteration 400)"


async def test_C_where_the_loss_itself_overflowed_first_stays_put_and_says_so() -> None:
    """A `nan` breakpoint that holds first on the loss op c stopped at: nothing earlier holds. The job hands
    back the record it stands on, recomputed (another object holding equal arrays): the panes must take
    it, not fail comparing the two records field by field."""
    config = load_config(Path(__file__).parent / "configs" / "overflow.toml")
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        main = app.main
        main.controller.breakpoints.add("nan")
        await pilot.press("c")
        await settle(app, pilot)
        position = main.controller.timeline.position
        with np.errstate(all="ignore"):
            first = first_non_finite(Session(config).iter_records(0, position + 1))
        assert first is not None and first.index == position and first.op == "loss"
        await pilot.press("C")
        await settle(app, pilot)
        assert main.controller.timeline.position == position
        assert main.query_one(StatusLine).status.message == "reverse: no earlier op where a breakpoint holds"
        assert app.reported == []


async def test_the_breakpoint_list_toggles_ignores_and_removes() -> None:
    """B lists each breakpoint with its state; space, i and d change the controller's set at once."""
    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        controller = app.main.controller
        controller.add_breakpoint("loss < 0.01")
        controller.add_breakpoint("nan")
        await pilot.press("B")
        await pilot.pause()
        assert isinstance(app.screen, BreakpointList)
        await pilot.press("space")
        await pilot.pause()
        assert not controller.breakpoints.entries[0].enabled
        assert "off · 0 hits" in str(app.screen.query_one("OptionList").get_option_at_index(0).prompt)
        await pilot.press("down", "i")
        await pilot.pause()
        assert isinstance(app.screen, InputDialog)
        app.screen.query_one("Input").value = "-1"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, InputDialog)  # refused in the dialog, one line
        assert "is not a digit" in str(app.screen.query_one(".error").render())
        app.screen.query_one("Input").value = "3"
        await pilot.press("enter")
        await pilot.pause()
        assert controller.breakpoints.entries[1].ignore == 3
        await pilot.press("up", "d", "escape")
        await pilot.pause()
        assert controller.breakpoints.texts == ["nan"]
        assert app.main.query_one(StatusLine).status.message == "1 breakpoint"


@pytest.mark.parametrize("text", ["iteration > 100 and norm(dW1) > 10", "(iteration > 2 or loss < 1) and not nan"])
def test_the_grammar_combines_position_and_values(text: str) -> None:
    """Both kinds in one expression parse, and hold exactly where both parts do."""
    config = load_demo("mazur")
    bp = parse_breakpoint(text, config.activations)
    for record in Session(config).iter_records(0, 3 * len(config.schedule)):
        assert bp.hits(record) in (True, False)
    grad = next(r for r in Session(config).iter_records(0, 20) if r.op == "grad" and r.layer == 1)
    assert not parse_breakpoint("iteration > 100 and norm(dW1) > 10", config.activations).hits(grad)
    norm = float(np.linalg.norm(grad.tensors["dW"]))
    assert parse_breakpoint(f"iteration >= 1 and norm(dW1) > {norm * 0.99!r}", config.activations).hits(grad)
    assert not parse_breakpoint(f"iteration >= 1 and norm(dW1) > {norm * 1.01!r}", config.activations).hits(grad)


async def test_breakpoint_text_that_looks_like_markup_stays_plain_text(screen_text) -> None:
    """`'[/]' < '[bold]'` is a valid (constant) expression: it must reach the status line, the B list and the
    hit message as the characters typed — as markup, `[/]` would crash the app and `[bold]` vanish."""
    app = make_app(load_demo("mazur"))
    text = "'[/]' < '[bold]' and iteration == 2"
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await pilot.pause()
        app.screen.query_one("Input").value = "[/]"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, InputDialog) and "unexpected character '['" in str(app.screen.query_one(".error").render())
        app.screen.query_one("Input").value = text
        await pilot.press("enter")
        await pilot.pause()
        assert text in app.main.query_one(StatusLine).status.message
        await pilot.press("B")
        await pilot.pause()
        assert text in screen_text(app)
        await pilot.press("escape", "c")
        await settle(app, pilot)
        message = app.main.query_one(StatusLine).status.message
        assert message.startswith(f"breakpoint `{text}` hit at op 12 (iteration 2)")
        await pilot.press("n", "C")
        await settle(app, pilot)
        assert app.main.query_one(StatusLine).status.message == f"reverse: breakpoint `{text}` holds at op 12 (iteration 2)"


async def test_the_new_keys_are_in_the_palette_and_help(screen_text) -> None:
    """Every find key is a palette command (the palette runs the same action) and a line of the help screen."""
    from nnstep.tui.screens.help import HelpScreen

    app = make_app(load_demo("mazur"))
    async with app.run_test(size=(120, 40)) as pilot:
        commands = {command.title: command for command in app.get_system_commands(app.main)}
        assert {"Reverse", "Stage back", "Watch", "Watches", "Find", "Follow", "Δ view"} <= set(commands)
        await pilot.press("s", "s")
        await pilot.pause()
        stopped = app.main.controller.timeline.position
        await commands["Stage back"].callback()
        await pilot.pause()
        assert app.main.controller.timeline.position == previous_stage_end_of(app, stopped)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        shown = screen_text(app)
        for key in ("Reverse-continue", "Reverse step", "Watch a value", "Find in the tensors", "Follow one sample",
                    "Show each tensor as Δ"):
            assert key in shown, key


def previous_stage_end_of(app, position: int) -> int:
    """Where P from `position` lands, by the schedule: the last op of the stage before."""
    schedule = app.main.controller.schedule
    stage = schedule.spec(position).stage
    q = position - 1
    while q >= 0 and schedule.spec(q).stage == stage and schedule.locate(q)[0] == schedule.locate(position)[0]:
        q -= 1
    return q

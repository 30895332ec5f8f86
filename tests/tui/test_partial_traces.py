"""Every action on a partial trace (`--stages`, `--every`) works or says what the trace lacks (issue 14, class 8).

Before: `w` on a `--stages update` trace raised inside a coroutine; on a
forward-only trace the health report warned of "non-finite values" that
were only missing; `g` refused an update-only trace that holds every W and
b; `G 3` on an `--every 5` trace said "at the first op of iteration 3"
while showing iteration 6. Batch rows: x has shape (B, n_0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nnstep.engine import Session, load_config, load_demo
from nnstep.engine.health import layer_health
from nnstep.engine.timeline import TraceTimeline, batch_of
from nnstep.engine.trace import read_trace
from nnstep.tui.app import make_viewer
from nnstep.tui.cli import main
from nnstep.tui.screens.dialogs import InputDialog, Report
from nnstep.tui.screens.help import HelpScreen
from nnstep.tui.screens.main import MainScreen
from nnstep.tui.widgets.status_line import StatusLine

from .test_app import settle

CONFIGS = Path(__file__).parent / "configs"

# kind: the `nnstep run` options, whether a gradient check can run, what `G 3` says
KINDS = {
    "stages-update": (["--stages", "update"], True,
                      "at iteration 3's first op in this trace, the update of layer 1 (it holds only some stages)"),
    "stages-forward": (["--stages", "forward"], True, "at the first op of iteration 3"),
    "stages-loss": (["--stages", "loss"], False,
                    "at iteration 3's first op in this trace, the loss (it holds only some stages)"),
    "stages-backward": (["--stages", "backward"], False,
                        "at iteration 3's first op in this trace, the delta of layer 2 (it holds only some stages)"),
    "every-5": (["--every", "5"], True, "the trace has no iteration 3: at iteration 6, the next it holds"),
}


def export(tmp_path: Path, options: list[str], name: str, demo: str = "mazur") -> Path:
    path = tmp_path / f"{name}.json"
    assert main(["run", "--demo", demo, "-n", "12", "-q", "--export", str(path), *options]) == 0
    return path


def message(app) -> str:
    return app.main.query_one(StatusLine).status.message


async def closed(app, pilot) -> None:
    await pilot.press("escape")
    await pilot.pause()
    assert isinstance(app.screen, MainScreen)


@pytest.mark.parametrize("kind", list(KINDS))
async def test_every_action_on_a_partial_trace(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               screen_text) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    options, checks, goto = KINDS[kind]
    path = export(tmp_path, options, kind)
    app = make_viewer(read_trace(path), path)
    async with app.run_test(size=(120, 40)) as pilot:
        controller = app.main.controller
        # Stepping, finishing a stage / iteration / epoch, back, reset.
        await pilot.press("n", "n", "n", "p", "s", "i", "e", "p")
        assert controller.timeline.position >= 0
        await pilot.press("0")
        assert controller.timeline.position == -1
        # Go to an iteration: says where it landed.
        await pilot.press("G")
        await pilot.pause()
        app.screen.query_one("Input").value = "3"
        await pilot.press("enter")
        await pilot.pause()
        assert message(app) == goto
        assert controller.timeline.record.iteration == (6 if kind == "every-5" else 3)
        # Gradient health: missing figures are "—" and said to be missing, never "nan" or "non-finite".
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, Report)
        shown = screen_text(app)
        assert "nan" not in shown and "non-finite values" not in shown
        if kind == "stages-loss":
            assert app.screen.body.plain == ("Iteration 3 of this trace holds only its loss stage: gradient health needs "
                                             "the forward, backward or update ops (a trace exported with --stages).")
        elif kind != "every-5":
            assert "— not recorded: iteration" in shown and "—" in shown
        else:
            assert "not recorded" not in shown  # the iterations it holds are whole
        await closed(app, pilot)
        # Gradient check: runs where W, b are in the trace; else one line naming what it holds.
        await pilot.press("g")
        await pilot.pause()
        await settle(app, pilot)
        await pilot.pause()
        if checks:
            assert isinstance(app.screen, Report) and "PASS" in screen_text(app)
            assert message(app) == "gradient check: layer 1 PASS, layer 2 PASS"
            await closed(app, pilot)
        else:
            stage = kind.split("-")[1]
            assert message(app) == (f"gradient check: iteration 3 of this trace holds only its {stage} ops; "
                                    "it needs W and b, from the forward or update ops")
        # Continue without and with a breakpoint the trace cannot hit.
        await pilot.press("c")
        await settle(app, pilot)
        assert message(app) == "end of the trace" and controller.timeline.at_end
        await pilot.press("0", "b")
        await pilot.pause()
        app.screen.query_one("Input").value = "loss < 0"
        await pilot.press("enter", "c")
        await settle(app, pilot)
        assert message(app) == "end of the trace, no breakpoint hit"
        # Help; export and run N are off on a trace (read-only), not errors.
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await closed(app, pilot)
        await pilot.press("x", "r")
        await pilot.pause()
        assert not isinstance(app.screen, InputDialog)
        assert app.is_running and app.reported == []


@pytest.mark.parametrize("source", ["moons", "tutorial", "adam_dropout.toml"])
def test_batch_of_an_update_only_trace_is_the_full_traces(source: str) -> None:
    """W, b from the update ops and the batch from the config's rows equal what the full trace holds
    (moons shuffles its batches; the Adam config has dropout and bias updates)."""
    config = load_config(CONFIGS / source) if source.endswith(".toml") else load_demo(source)
    session = Session(config)
    session.goto(len(config.schedule) * 4 - 1)
    records = list(session.iter_records())
    full = TraceTimeline(config, records)
    for keep in ("update", "forward"):
        partial = TraceTimeline(config, [r for r in records if r.stage == keep])
        for iteration in range(4):
            want, got = batch_of(full, iteration), batch_of(partial, iteration)
            assert want is not None and got is not None
            for a, b in zip((*want[0].W, *want[0].b, want[1], want[2]), (*got[0].W, *got[0].b, got[1], got[2])):
                np.testing.assert_array_equal(a, b)
    assert batch_of(TraceTimeline(config, [r for r in records if r.stage == "loss"]), 1) is None


def test_health_of_a_forward_only_iteration_says_missing_not_non_finite() -> None:
    session = Session(load_demo("mazur"))
    session.goto(10)
    forward = [r for r in session.iteration_records(0) if r.stage == "forward"]
    for h in layer_health(forward, session.config.activations):
        assert not h.warnings
        assert {"norm_dW", "norm_delta", "update_ratio"} <= set(h.missing) and h.known("norm_W")
    whole = layer_health(session.iteration_records(0), session.config.activations)
    assert all(h.missing == () for h in whole)


def test_health_of_a_trace_that_ends_during_an_iteration_says_so() -> None:
    """Exported from the app at the first op of iteration 5: iteration 5 holds one op because the trace
    ends there, not because stages were left out."""
    from nnstep.tui.screens.reports import health_report
    from rich.console import Console

    session = Session(load_demo("tutorial"))
    ops = session.ops_per_iteration
    records = list(session.iter_records(0, 4 * ops + 1))  # iterations 1-4 whole, then op 1 of iteration 5
    history: dict[int, list] = {}
    for record in records:
        history.setdefault(record.iteration - 1, []).append(record)
    console = Console(width=400, record=True)
    console.print(health_report(history, session.config.activations))
    text = " ".join(console.export_text().split())
    assert f"the trace ends during this iteration, after op {4 * ops + 1}" in text and "--stages" not in text

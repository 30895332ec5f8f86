"""The schedule is the truth about an iteration's ops: records follow it, the README documents it.

If these fail, a pane, the trace or the README would describe ops or
tensors that training does not produce.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nnstep.engine import Session, load_demo
from nnstep.engine.optim import OPTIMIZERS

from tests.conftest import make_config

README = Path(__file__).parents[2] / "README.md"
_X = [[0.1, 0.2], [0.3, -0.4], [1.0, 0.5], [-0.7, 0.9], [0.0, -1.2]]


def _every_part(kind: str) -> object:
    extra = {"adam": {"amsgrad": True}, "adamw": {}, "rmsprop": {"centered": True, "momentum": 0.5},
             "sgd": {"momentum": 0.9}}[kind]
    return make_config(
        model={"sizes": [2, 3, 3, 2], "activations": ["leaky_relu", "tanh", "identity"], "dropout": [0.5, 0.2, 0.0],
               "freeze": ["b1", "W2"], "negative_slope": 0.2},
        loss={"kind": "cross_entropy", "l1": 0.01},
        optimizer={"kind": kind, "lr": 0.01, **extra},
        data={"x": _X, "y": [0, 1, 1, 0, 1], "batch_size": 2},
    )


CONFIGS = {kind: _every_part(kind) for kind in OPTIMIZERS} | {"mazur": load_demo("mazur")}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_records_hold_exactly_the_schedules_tensors(name: str) -> None:
    config = CONFIGS[name]
    session = Session(config)
    for iteration in range(3):
        for record, spec in zip(session.iteration_records(iteration), config.schedule, strict=True):
            assert (record.op, record.layer, record.stage) == (spec.op, spec.layer, spec.stage)
            assert set(record.tensors) == set(spec.tensors), f"{name}: {spec.op} {spec.layer}"
            assert record.writes == spec.writes and record.equation == spec.formula
            assert record.index == config.schedule.index(iteration, spec.offset)


def test_schedule_arithmetic_matches_the_records() -> None:
    config = CONFIGS["adam"]
    schedule, session = config.schedule, Session(config)
    n = len(schedule)
    records = [session.record_at(i) for i in range(3 * n)]
    for i, record in enumerate(records):
        assert schedule.locate(i) == (record.iteration - 1, i % n)
        end = schedule.end_of("stage", i, config.batches_per_epoch)
        assert records[end].stage == record.stage and (end + 1 == len(records) or records[end + 1].stage != record.stage
                                                       or records[end + 1].iteration != record.iteration)
        assert schedule.losses_seen(i) == sum(1 for r in records[: i + 1] if r.op == "loss")
    assert records[schedule.loss_offset].op == "loss"
    assert records[schedule.first("update")].op == "update"


def _readme_rows() -> dict[str, set[str]]:
    """Bold (written) tensor names of each op row of the README's engine table."""
    rows: dict[str, set[str]] = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|[^|]*\| `(\w+)`[^|]*\|(.*)\|$", line)
        if match and match.group(1) in ("linear", "activation", "dropout", "loss", "delta", "grad", "update"):
            rows[match.group(1)] = set(re.findall(r"\*\*([\w…]+)\*\*", match.group(2)))
    return rows


def test_the_readme_engine_table_names_what_each_op_writes() -> None:
    documented = _readme_rows()
    written: dict[str, set[str]] = {}
    for config in CONFIGS.values():
        for spec in config.schedule:
            written.setdefault(spec.op, set()).update(spec.writes)
    for op, names in written.items():
        if op != "update":
            assert names == documented[op], f"README says {op} writes {documented[op]}, the schedule {names}"
            continue
        assert documented["update"] == {"state…_P", "step_P", "P"}
        for name in names:  # m_W, step_b, W, …
            base, _, P = name.rpartition("_")
            assert name in ("W", "b") or (P in ("W", "b") and base), name
    text = README.read_text(encoding="utf-8")
    for cls in OPTIMIZERS.values():
        for state in cls().record_names() + ("v", "m") * (cls.kind == "adam"):
            assert f"`{state}_P`" in text, f"README's optimizer table does not name {cls.kind}'s {state}"

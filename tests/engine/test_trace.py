"""The exported trace: valid against the shipped schema, strict JSON, round-trips.

If these fail, a user's exported trace would be rejected by jq or another
tool, or `nnstep view` would show other numbers than the live session.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from nnstep.engine import Session, load_demo
from nnstep.engine.trace import read_trace, select, write_trace

from ..conftest import make_config

SCHEMA = json.loads(resources.files("nnstep.engine").joinpath("trace.schema.json").read_text())


def strict_load(text: str) -> dict:
    def refuse(name: str) -> None:
        raise ValueError(f"bare {name} in the trace")

    return json.loads(text, parse_constant=refuse)


def export(session: Session, path: Path, **options) -> int:
    return write_trace(path, session.config.to_dict(), select(session.iter_records(), **options))


def test_export_validates_and_round_trips(tmp_path: Path) -> None:
    session = Session(load_demo("tutorial"))
    session.goto(2 * session.ops_per_iteration + 4)
    path = tmp_path / "t.json"
    assert export(session, path) == session.position + 1
    data = strict_load(path.read_text())
    jsonschema.validate(data, SCHEMA)
    loaded = read_trace(path)
    assert len(loaded["records"]) == session.position + 1
    for record in loaded["records"]:
        live = session.record_at(record.index)
        assert (record.op, record.layer, record.equation) == (live.op, live.layer, live.equation)
        for name, value in live.tensors.items():
            np.testing.assert_array_equal(record.tensors[name], value)


def test_the_config_in_the_trace_rebuilds_the_same_run(tmp_path: Path) -> None:
    from nnstep.engine import build_config

    session = Session(load_demo("moons"))
    session.goto(40)
    export(session, tmp_path / "m.json")
    again = Session(build_config(json.loads((tmp_path / "m.json").read_text())["config"], "trace"))
    again.goto(40)
    np.testing.assert_array_equal(again.record.tensors["delta"] if "delta" in again.record.tensors else again.record.tensors[again.record.writes[0]],
                                  session.record.tensors[session.record.writes[0]])


def test_a_diverging_run_stays_strict_json(tmp_path: Path) -> None:
    config = make_config(model={"sizes": [2, 3, 2], "activations": ["identity", "identity"], "init": "normal", "std": 3.0},
                         optimizer={"lr": 50.0})
    session = Session(config)
    session.train(60)
    assert not np.isfinite(session.state.W[0]).all(), "the run should have overflowed"
    path = tmp_path / "nan.json.gz"
    with np.errstate(all="ignore"):
        export(session, path)
    text = gzip.decompress(path.read_bytes()).decode()
    assert "NaN" in text or "Infinity" in text
    data = strict_load(text)
    jsonschema.validate(data, SCHEMA)
    records = read_trace(path)["records"]
    assert any(not np.isfinite(t).all() for r in records for t in r.tensors.values())


def test_every_and_stages_keep_traces_small(tmp_path: Path) -> None:
    session = Session(load_demo("mazur"))
    session.train(10)
    count = export(session, tmp_path / "s.json", every=3, stages=["loss", "update"])
    steps = strict_load((tmp_path / "s.json").read_text())["steps"]
    assert count == len(steps) == 4 * 3  # iterations 1, 4, 7, 10; loss + 2 updates each
    assert {s["iteration"] for s in steps} == {1, 4, 7, 10}
    assert {s["stage"] for s in steps} == {"loss", "update"}


def test_failed_export_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "keep.json"
    path.write_text("old")
    session = Session(load_demo("mazur"))
    session.train(2)

    def broken():
        yield from session.iter_records()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_trace(path, session.config.to_dict(), broken())
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]

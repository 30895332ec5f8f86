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


def _every_part():
    return make_config(
        model={"sizes": [2, 4, 3, 2], "activations": ["relu", "leaky_relu", "identity"], "dropout": [0.5, 0.25, 0.0],
               "freeze": ["b1"], "negative_slope": 0.1},
        loss={"kind": "cross_entropy", "l1": 0.001},
        optimizer={"kind": "adam", "lr": 0.01, "amsgrad": True, "weight_decay": 0.01},
        data={"x": [[0.1, 0.2], [0.3, -0.4], [1.0, 0.5], [-0.7, 0.9], [0.0, -1.2]], "y": [0, 1, 1, 0, 1],
              "batch_size": 2, "shuffle": True},
    )


def test_version_2_carries_optimizer_state_masks_frozen_parameters_and_rows(tmp_path: Path) -> None:
    # If this fails, a trace would not rebuild the run it came from: the
    # optimizer's state, the dropout masks or the batch rows would be lost.
    session = Session(_every_part())
    session.goto(4 * session.ops_per_iteration - 1)
    path = tmp_path / "v2.json"
    export(session, path)
    data = strict_load(path.read_text())
    jsonschema.validate(data, SCHEMA)
    assert data["version"] == 2
    assert data["config"]["optimizer"] == {"kind": "adam", "lr": 0.01, "weight_decay": 0.01, "betas": [0.9, 0.999],
                                           "eps": 1e-08, "amsgrad": True}
    assert data["config"]["model"]["freeze"] == ["b1"] and data["config"]["model"]["dropout"] == [0.5, 0.25, 0.0]
    loaded = read_trace(path)["records"]
    for record in loaded:
        live = session.record_at(record.index)
        assert set(record.tensors) == set(live.tensors) and record.writes == live.writes
        for name, value in live.tensors.items():
            np.testing.assert_array_equal(record.tensors[name], value, err_msg=name)
    firsts = [r for r in loaded if r.index % session.ops_per_iteration == 0]
    assert [r.tensors["rows"].dtype for r in firsts] == [np.dtype(np.int64)] * 4
    x = session.config.x
    for first in firsts:  # the rows rebuild the batch outside nnstep
        np.testing.assert_array_equal(x[first.tensors["rows"]], first.tensors["a_prev"])
    # The trace's config alone replays the same run, masks and Adam state included.
    from nnstep.engine import build_config

    again = Session(build_config(data["config"], "trace"))
    last = again.record_at(session.position)
    np.testing.assert_array_equal(last.tensors["v_max_W"], session.record.tensors["v_max_W"])


def test_version_1_traces_still_open() -> None:
    # A trace exported by nnstep 0.1 (SGD with momentum, no rows, v1 tensor names).
    path = Path(__file__).parent / "fixtures" / "mazur-momentum-v1.json"
    loaded = read_trace(path)
    assert loaded["version"] == 1 and len(loaded["records"]) == 22
    update = loaded["records"][-1]
    assert update.op == "update" and {"vW", "vb", "W", "b"} <= set(update.tensors)
    # Its numbers are the ones this engine computes for the same config.
    from nnstep.engine import build_config

    session = Session(build_config(loaded["config"], "v1"))
    np.testing.assert_array_equal(session.record_at(21).tensors["W"], update.tensors["W"])
    np.testing.assert_array_equal(session.record_at(21).tensors["v_W"], update.tensors["vW"])


def test_a_step_out_of_its_schedule_place_is_refused(tmp_path: Path) -> None:
    session = Session(_every_part())
    session.goto(session.ops_per_iteration - 1)
    path = tmp_path / "t.json"
    export(session, path)
    data = json.loads(path.read_text())
    from nnstep.engine import NnstepError

    data["steps"][1]["index"] = 2  # the activation claims the dropout's place
    path.write_text(json.dumps(data))
    with pytest.raises(NnstepError, match=r"steps\[1\] is op 'activation' of layer 1, but index 2 .* 'dropout'"):
        read_trace(path)
    data["steps"][1]["index"] = 1
    data["steps"][1], data["steps"][2] = data["steps"][2], data["steps"][1]  # in the wrong order
    path.write_text(json.dumps(data))
    with pytest.raises(NnstepError, match=r"steps\[2\].index 1 does not come after the step before it \(index 2\)"):
        read_trace(path)

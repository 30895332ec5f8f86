"""The exported trace: valid against the shipped schema, strict JSON, each array once, round-trips.

If these fail, a user's exported trace would be rejected by jq or another
tool, `nnstep view` would show other numbers than the live session, an
older trace would stop opening, or a trace written with orjson installed
would differ from one written without it.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from nnstep.engine import NnstepError, Session, build_config, load_demo
from nnstep.engine.trace import (
    read_trace,
    record_json,
    select,
    verify_trace,
    write_trace,
)
from nnstep.engine.trace_encode import fast_encoder, stdlib_text

from ..conftest import make_config

SCHEMA = json.loads(resources.files("nnstep.engine").joinpath("trace.schema.json").read_text())
FORMS = ["t.json", "t.json.gz", "t.npz"]


def strict_load(text: str) -> dict:
    def refuse(name: str) -> None:
        raise ValueError(f"bare {name} in the trace")

    return json.loads(text, parse_constant=refuse)


def export(session: Session, path: Path, **options) -> int:
    return write_trace(path, session.config.to_dict(), select(session.iter_records(), **options))


def assert_same_records(records, live_records) -> None:  # type: ignore[no-untyped-def]
    """Every field and every tensor as the live session computed them (NaN equal to NaN)."""
    live_records = list(live_records)
    assert len(records) == len(live_records)
    for record, live in zip(records, live_records):
        assert (record.index, record.iteration, record.epoch, record.stage, record.layer, record.op, record.equation,
                record.writes) == (live.index, live.iteration, live.epoch, live.stage, live.layer, live.op,
                                   live.equation, live.writes)
        assert list(record.tensors) == list(live.tensors)
        for name, value in live.tensors.items():
            np.testing.assert_array_equal(record.tensors[name], value, err_msg=f"index {live.index}: {name}")


def _every_part():
    return make_config(
        model={"sizes": [2, 4, 3, 2], "activations": ["relu", "leaky_relu", "identity"], "dropout": [0.5, 0.25, 0.0],
               "freeze": ["b1"], "negative_slope": 0.1},
        loss={"kind": "cross_entropy", "l1": 0.001},
        optimizer={"kind": "adam", "lr": 0.01, "amsgrad": True, "weight_decay": 0.01},
        data={"x": [[0.1, 0.2], [0.3, -0.4], [1.0, 0.5], [-0.7, 0.9], [0.0, -1.2]], "y": [0, 1, 1, 0, 1],
              "batch_size": 2, "shuffle": True},
    )


@pytest.mark.parametrize("name", FORMS)
def test_every_format_round_trips_to_the_live_records(tmp_path: Path, name: str) -> None:
    session = Session(_every_part())
    session.goto(4 * session.ops_per_iteration - 1)
    path = tmp_path / name
    assert export(session, path) == session.position + 1
    loaded = read_trace(path)
    assert loaded["version"] == 3 and loaded["config"] == session.config.to_dict()
    assert_same_records(loaded["records"], session.iter_records())
    assert verify_trace(session.config, loaded["records"]) is None


def test_export_validates_against_the_schema_and_jq_finds_tensors_by_reference(tmp_path: Path) -> None:
    session = Session(load_demo("tutorial"))
    session.goto(2 * session.ops_per_iteration + 4)
    path = tmp_path / "t.json"
    export(session, path)
    data = strict_load(path.read_text())
    jsonschema.validate(data, SCHEMA)
    # `jq '.arrays[.steps[k].tensors.z]'`: every reference resolves to the live numbers.
    for step in data["steps"]:
        live = session.record_at(step["index"])
        for name, ref in step["tensors"].items():
            np.testing.assert_array_equal(np.array(data["arrays"][ref]), live.tensors[name])


def test_each_array_is_written_once_and_referred_to_where_it_recurs(tmp_path: Path) -> None:
    session = Session(load_demo("mazur"))  # one batch: x and y recur every iteration, W is shared by several ops
    session.train(5)
    path = tmp_path / "t.json"
    export(session, path)
    data = json.loads(path.read_text())
    lines = path.read_text().split('"arrays": [\n')[1].split('\n],\n"steps"')[0].split(",\n")
    assert len(lines) == len(data["arrays"]) and len(set(lines)) == len(lines), "an array is written twice"
    uses = [ref for step in data["steps"] for ref in step["tensors"].values()]
    assert len(data["arrays"]) < len(uses) / 2
    assert set(uses) == set(range(len(data["arrays"])))
    # A reference always points back: the arrays come first, in the order the steps first use them.
    first_use = sorted({ref: i for i, ref in reversed(list(enumerate(uses)))}.items(), key=lambda kv: kv[1])
    assert [ref for ref, _ in first_use] == list(range(len(data["arrays"])))


def test_a_version_2_trace_still_opens(tmp_path: Path) -> None:
    # A trace as nnstep wrote it before version 3: every step's tensors inline.
    session = Session(_every_part())
    session.goto(2 * session.ops_per_iteration + 3)
    header = json.dumps({"format": "nnstep-trace", "version": 2, "config": session.config.to_dict()}, ensure_ascii=False)
    steps = ",\n".join(record_json(record) for record in session.iter_records())
    path = tmp_path / "v2.json"
    path.write_text(header[:-1] + ', "steps": [\n' + steps + "\n]}\n", encoding="utf-8")
    jsonschema.validate(strict_load(path.read_text()), SCHEMA)
    loaded = read_trace(path)
    assert loaded["version"] == 2
    assert_same_records(loaded["records"], session.iter_records())


def test_version_1_traces_still_open() -> None:
    # A trace exported by nnstep 0.1 (SGD with momentum, no rows, v1 tensor names).
    path = Path(__file__).parent / "fixtures" / "mazur-momentum-v1.json"
    loaded = read_trace(path)
    assert loaded["version"] == 1 and len(loaded["records"]) == 22
    update = loaded["records"][-1]
    assert update.op == "update" and {"vW", "vb", "W", "b"} <= set(update.tensors)
    # Its numbers are the ones this engine computes for the same config.
    session = Session(build_config(loaded["config"], "v1"))
    np.testing.assert_array_equal(session.record_at(21).tensors["W"], update.tensors["W"])
    np.testing.assert_array_equal(session.record_at(21).tensors["v_W"], update.tensors["vW"])


def test_json_laid_out_otherwise_is_read_whole_with_the_same_records(tmp_path: Path) -> None:
    # jq or an editor may re-indent a trace: it is parsed whole instead of indexed.
    session = Session(load_demo("moons"))
    session.goto(30)
    path = tmp_path / "t.json"
    export(session, path)
    path.write_text(json.dumps(json.loads(path.read_text()), indent=1), encoding="utf-8")
    records = read_trace(path)["records"]
    assert isinstance(records, list)
    assert_same_records(records, session.iter_records())


def test_the_config_in_the_trace_rebuilds_the_same_run(tmp_path: Path) -> None:
    session = Session(load_demo("moons"))
    session.goto(40)
    export(session, tmp_path / "m.json")
    again = Session(build_config(json.loads((tmp_path / "m.json").read_text())["config"], "trace"))
    again.goto(40)
    np.testing.assert_array_equal(again.record.tensors[again.record.writes[0]], session.record.tensors[session.record.writes[0]])


@pytest.mark.parametrize("name", FORMS)
def test_a_diverging_run_stays_strict_json_and_round_trips(tmp_path: Path, name: str) -> None:
    config = make_config(model={"sizes": [2, 3, 2], "activations": ["identity", "identity"], "init": "normal", "std": 3.0},
                         optimizer={"lr": 50.0})
    session = Session(config)
    session.train(60)
    assert not np.isfinite(session.state.W[0]).all(), "the run should have overflowed"
    path = tmp_path / name
    with np.errstate(all="ignore"):
        export(session, path)
        records = read_trace(path)["records"]
        assert_same_records(records, session.iter_records())
    if name.endswith(".npz"):
        return
    text = gzip.decompress(path.read_bytes()).decode() if name.endswith(".gz") else path.read_text()
    assert '"NaN"' in text or '"Infinity"' in text
    jsonschema.validate(strict_load(text), SCHEMA)


def test_every_and_stages_keep_traces_small(tmp_path: Path) -> None:
    session = Session(load_demo("mazur"))
    session.train(10)
    count = export(session, tmp_path / "s.json", every=3, stages=["loss", "update"])
    steps = strict_load((tmp_path / "s.json").read_text())["steps"]
    assert count == len(steps) == 4 * 3  # iterations 1, 4, 7, 10; loss + 2 updates each
    assert {s["iteration"] for s in steps} == {1, 4, 7, 10}
    assert {s["stage"] for s in steps} == {"loss", "update"}


@pytest.mark.parametrize("name", ["keep.json", "keep.npz"])
def test_failed_export_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("old")
    session = Session(load_demo("mazur"))
    session.train(2)

    def broken():
        yield from session.iter_records()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_trace(path, session.config.to_dict(), broken())
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_version_3_carries_optimizer_state_masks_frozen_parameters_and_rows(tmp_path: Path) -> None:
    # If this fails, a trace would not rebuild the run it came from: the
    # optimizer's state, the dropout masks or the batch rows would be lost.
    session = Session(_every_part())
    session.goto(4 * session.ops_per_iteration - 1)
    path = tmp_path / "v3.json"
    export(session, path)
    data = strict_load(path.read_text())
    jsonschema.validate(data, SCHEMA)
    assert data["version"] == 3
    assert data["config"]["optimizer"] == {"kind": "adam", "lr": 0.01, "weight_decay": 0.01, "betas": [0.9, 0.999],
                                           "eps": 1e-08, "amsgrad": True}
    assert data["config"]["model"]["freeze"] == ["b1"] and data["config"]["model"]["dropout"] == [0.5, 0.25, 0.0]
    loaded = read_trace(path)["records"]
    firsts = [r for r in loaded if r.index % session.ops_per_iteration == 0]
    assert [r.tensors["rows"].dtype for r in firsts] == [np.dtype(np.int64)] * 4
    x = session.config.x
    for first in firsts:  # the rows rebuild the batch outside nnstep
        np.testing.assert_array_equal(x[first.tensors["rows"]], first.tensors["a_prev"])
    # The trace's config alone replays the same run, masks and Adam state included.
    again = Session(build_config(data["config"], "trace"))
    last = again.record_at(session.position)
    np.testing.assert_array_equal(last.tensors["v_max_W"], session.record.tensors["v_max_W"])


def test_a_step_out_of_its_schedule_place_is_refused(tmp_path: Path) -> None:
    session = Session(_every_part())
    session.goto(session.ops_per_iteration - 1)
    path = tmp_path / "t.json"
    export(session, path)
    data = json.loads(path.read_text())
    data["steps"][1]["index"] = 2  # the activation claims the dropout's place
    path.write_text(json.dumps(data))
    with pytest.raises(NnstepError, match=r"steps\[1\] is op 'activation' of layer 1, but index 2 .* 'dropout'"):
        read_trace(path)
    data["steps"][1]["index"] = 1
    data["steps"][1], data["steps"][2] = data["steps"][2], data["steps"][1]  # in the wrong order
    path.write_text(json.dumps(data))
    with pytest.raises(NnstepError, match=r"steps\[2\].index 1 does not come after the step before it \(index 2\)"):
        read_trace(path)


# --- the encoders ----------------------------------------------------------------------------

AWKWARD = np.array([[0.0, -0.0, 1.0, -1.5, 0.1, 1e-4, -1e-4, 9.999999999999999e-05],
                    [1e-5, 3.2e-05, -2.5e-10, 5e-324, 1e15, 9999999999999998.0, 1e16, -1.2345678901234568e17],
                    [1e22, 1.7976931348623157e308, 2 / 3, 123456.789, 1e-300, 0.3, 100.0, 4.35e-5]])


def test_numbers_read_back_exactly_and_both_encoders_spell_them_alike() -> None:
    rng = np.random.default_rng(7)
    spread = rng.standard_normal((40, 25)) * 10.0 ** rng.integers(-30, 30, (40, 25))
    for value in (AWKWARD, spread, spread.astype(np.float32), np.arange(-5, 60).reshape(5, 13)):
        text = stdlib_text(value)
        assert json.loads(text) == value.tolist()  # the float64 value of every number, exactly
        fast = fast_encoder()
        if fast is not None:
            assert fast(value) == text
    # repr's digits, written out from 1e-5 to 1e16, as orjson writes them (so its output is used as it is)
    assert stdlib_text(np.array([1e-5, -1.234e-5, 9.999999999999999e-06, 1.5e-7, 1e-4, 1e15, 1e16, -2.5e20])) == \
        b"[0.00001,-0.00001234,9.999999999999999e-6,1.5e-7,0.0001,1000000000000000.0,1e+16,-2.5e+20]"
    odd = np.array([1.0, np.nan, np.inf, -np.inf])
    assert stdlib_text(odd) == b'[1.0,"NaN","Infinity","-Infinity"]'
    # a scalar (a loss), and rows that start with a small number
    assert stdlib_text(np.array(-3.2e-5)) == b"-0.000032" and stdlib_text(np.array(7e-9)) == b"7e-9"
    assert stdlib_text(np.array([[-1e-5, 2e-6], [5e-5, 1e-5]])) == b"[[-0.00001,2e-6],[0.00005,0.00001]]"


def test_an_orjson_that_spells_numbers_otherwise_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from nnstep.engine import trace_encode

    def dumps(value: object, option: int = 0) -> bytes:  # an encoder with another spelling of 1e+16
        return json.dumps(np.asarray(value).tolist(), separators=(",", ":")).replace("e+", "E").encode()

    fake = types.SimpleNamespace(dumps=dumps, loads=json.loads, OPT_SERIALIZE_NUMPY=0)
    monkeypatch.setattr(trace_encode, "_orjson", lambda: fake)
    trace_encode.fast_encoder.cache_clear()
    try:
        assert trace_encode.fast_encoder() is None and trace_encode.encoder() is stdlib_text
        with pytest.raises(NnstepError, match="orjson encoder is not available"):
            trace_encode.encoder("orjson")
    finally:
        trace_encode.fast_encoder.cache_clear()


@pytest.mark.parametrize("name", FORMS)
def test_orjson_and_the_standard_library_write_the_same_bytes(tmp_path: Path, name: str) -> None:
    if fast_encoder() is None:
        pytest.skip("orjson is not installed (or disagrees with the standard library, so it is not used)")
    config = make_config(model={"sizes": [2, 30, 2], "activations": ["tanh", "sigmoid"], "init": "normal", "std": 1e-3},
                         optimizer={"kind": "adam", "lr": 1e-3})
    session = Session(config)
    session.train(3)  # tiny weights and Adam steps: numbers on both sides of 1e-4
    ours = {}
    for encode in ("orjson", "stdlib"):
        write_trace(tmp_path / f"{encode}-{name}", config.to_dict(), session.iter_records(), encode=encode)
        ours[encode] = (tmp_path / f"{encode}-{name}").read_bytes()
    assert ours["orjson"] == ours["stdlib"]
    text = gzip.decompress(ours["stdlib"]) if name.endswith(".gz") else ours["stdlib"]
    assert name.endswith(".npz") or (b"0.0000" in text and b"e-" in text), "numbers on both sides of 1e-5"


# --- .npz ---------------------------------------------------------------------------------------


def test_npz_is_plain_numpy_with_the_same_header_and_arrays(tmp_path: Path) -> None:
    session = Session(load_demo("tutorial"))
    session.goto(25)
    export(session, tmp_path / "t.json")
    export(session, tmp_path / "t.npz")
    data = json.loads((tmp_path / "t.json").read_text())
    with np.load(tmp_path / "t.npz", allow_pickle=False) as npz:
        header = json.loads(npz["header"].tobytes())
        assert {k: header[k] for k in ("format", "version", "config")} == {k: data[k] for k in ("format", "version", "config")}
        table, steps, refs = npz["arrays"], npz["steps"], npz["refs"]
        assert steps.shape == (len(data["steps"]), 4) and len(table) == len(data["arrays"])

        def array(k: int) -> np.ndarray:  # as the README tells a user to read one
            block, start, ndim, *sizes = table[k]
            shape = tuple(sizes[:ndim])
            return npz[f"block{block}"][start: start + int(np.prod(shape))].reshape(shape)

        first = 0
        for step, row in zip(data["steps"], steps):
            assert list(row[:3]) == [step["index"], step["iteration"], step["epoch"]]
            op = header["ops"][row[3]]
            assert op["tensors"] == list(step["tensors"]) and op["equation"] == step["equation"]
            for name, ref in zip(op["tensors"], refs[first: first + len(op["tensors"])]):
                assert ref == step["tensors"][name]
                np.testing.assert_array_equal(array(ref), np.array(data["arrays"][ref]))
            first += len(op["tensors"])


def test_the_same_trace_gives_the_same_npz_bytes(tmp_path: Path) -> None:
    session = Session(load_demo("mazur"))
    session.train(2)
    export(session, tmp_path / "a.npz")
    export(session, tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()

"""Traces at scale: indexed at load, decoded when shown, references checked, capped by memory.

If these fail, `nnstep view` of a large trace would parse every number
before its first frame (tens of seconds, several times the file in memory),
a trace edited to point at a missing or wrong array would open as if it
were whole or crash with a traceback, or the size nnstep agrees to view
would again be a fixed number rather than what memory allows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nnstep.engine.trace as trace_module
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nnstep.engine import NnstepError, Session, TraceTimeline, load_demo
from nnstep.engine.trace import read_trace, verify_trace, write_trace
from nnstep.engine.trace_json import JsonArrays
from nnstep.engine.trace_records import TraceRecords

from .test_fuzz import FUZZ, mutated, only_our_error


def exported(tmp_path: Path, name: str = "t.json", demo: str = "tutorial", iterations: int = 30) -> tuple[Session, Path]:
    session = Session(load_demo(demo))
    session.train(iterations)
    path = tmp_path / name
    write_trace(path, session.config.to_dict(), session.iter_records())
    return session, path


@pytest.mark.parametrize("name", ["t.json", "t.json.gz", "t.npz"])
def test_records_are_decoded_only_when_read(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    session, path = exported(tmp_path, name)
    records = read_trace(path)["records"]
    assert isinstance(records, TraceRecords) and records.decoded == 0
    timeline = TraceTimeline(session.config, records)  # what make_viewer builds
    assert records.decoded == 0, "indexing the timeline decoded tensors (its losses are read in one go)"
    np.testing.assert_array_equal(timeline.losses(), [])
    timeline.goto(len(records) - 1)
    np.testing.assert_array_equal(timeline.losses(), session.losses())
    record = timeline.goto(100)
    assert record is not None and "W" not in record.tensors and "z" in record.tensors and records.decoded == 0
    np.testing.assert_array_equal(record.tensors["z"], session.record_at(record.index).tensors["z"])
    assert records.decoded == 1, "reading one tensor decoded others"
    assert record.tensors["z"] is record.tensors["z"], "a decoded array is kept while it is held"
    # The state at the position decodes W⁽ˡ⁾ and b⁽ˡ⁾ of the last op that held them, nothing else.
    state = timeline.state
    assert records.decoded == 1 + 2 * session.config.depth
    live = Session(session.config)
    live.goto(record.index)
    for ours, theirs in zip(state.W + state.b, live.state.W + live.state.b, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_read_trace_and_the_timeline_never_parse_an_array(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session, path = exported(tmp_path, iterations=50)

    def refuse(*args: Any) -> None:
        raise AssertionError("an array was parsed while loading")

    monkeypatch.setattr(JsonArrays, "decode", refuse)
    records = read_trace(path)["records"]
    timeline = TraceTimeline(session.config, records)
    timeline.finish("epoch")
    timeline.goto_iteration(40)
    assert len(timeline.iteration_records(39)) == session.ops_per_iteration
    assert timeline.previous_record(timeline.record).iteration == 39  # type: ignore[arg-type,union-attr]


def test_a_shared_array_is_one_object_in_every_record_that_holds_it(tmp_path: Path) -> None:
    session, path = exported(tmp_path, demo="mazur", iterations=3)
    records = read_trace(path)["records"]
    n = session.ops_per_iteration
    linear = records[n]  # iteration 2, layer 1: its W is iteration 1's update output
    update = next(r for r in records[:n] if r.op == "update" and r.layer == 1)
    assert linear.tensors["W"] is update.tensors["W"]


def test_verify_decodes_only_the_sampled_steps_of_a_large_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session, path = exported(tmp_path, iterations=40)
    records = read_trace(path)["records"]
    monkeypatch.setattr(trace_module, "VERIFY_ALL_BYTES", 1000)  # this trace counts as large
    assert verify_trace(session.config, records, sample=5) is None
    sampled = 7 * max(len(r.tensors) for r in records[:session.ops_per_iteration])
    assert 0 < records.decoded <= sampled


def test_the_size_nnstep_views_follows_from_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, path = exported(tmp_path, iterations=2)
    limits: list[int] = []
    real = trace_module.read_user_file

    def watched(path: Path, kind: str, limit: int, too_large: Any) -> bytes:
        limits.append(limit)
        return real(path, kind, limit, too_large)

    monkeypatch.setattr(trace_module, "read_user_file", watched)
    read_trace(path)
    assert trace_module.view_memory(limits[0]) <= trace_module.MEMORY_LIMIT < trace_module.view_memory(limits[0] + 9)
    assert limits[0] > 3 * 2**30, "a 4 GiB budget views more than the old fixed 2 GiB"
    size = path.stat().st_size
    monkeypatch.setattr(trace_module, "MEMORY_LIMIT", trace_module.view_memory(size))
    read_trace(path)  # exactly enough
    monkeypatch.setattr(trace_module, "MEMORY_LIMIT", trace_module.view_memory(size) - 1)
    with pytest.raises(NnstepError, match="would take about .* GiB of memory to view"):
        read_trace(path)


# --- references edited --------------------------------------------------------------------------


def _edit_first_step(path: Path, old: str, new: str) -> None:
    """Change the first step's text in place, keeping the layout nnstep writes (so the file is indexed)."""
    head, steps = path.read_text(encoding="utf-8").split('"steps": [\n')
    first, rest = steps.split("\n", 1)
    assert old in first
    path.write_text(head + '"steps": [\n' + first.replace(old, new, 1) + "\n" + rest, encoding="utf-8")


@pytest.mark.parametrize(("old", "new", "message"), [
    ('"W": 2', '"W": 99999', r"steps\[0\]\.tensors\.W refers to arrays\[99999\], but the trace has \d+ arrays"),
    ('"W": 2', '"W": -1', r"steps\[0\]\.tensors\.W refers to arrays\[-1\]"),
    ('"W": 2', '"W": "2"', r'steps\[0\]\.tensors\.W must be the number of an array in "arrays"'),
    ('"W": 2', '"W": [[0.1]]', r'steps\[0\]\.tensors\.W must be the number of an array in "arrays"'),
])
def test_a_dangling_or_foreign_reference_is_one_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    _, path = exported(tmp_path, demo="mazur", iterations=1)
    _edit_first_step(path, old, new)
    with pytest.raises(NnstepError, match=message) as refused:
        read_trace(path)
    assert "\n" not in str(refused.value)


def test_a_reference_to_an_array_of_the_wrong_shape_is_refused_when_read(tmp_path: Path) -> None:
    session, path = exported(tmp_path, demo="mazur", iterations=1)
    _edit_first_step(path, '"W": 2', '"W": 4')  # z (1, 2) where W (2, 2) belongs
    records = read_trace(path)["records"]  # indexed: the reference exists
    with pytest.raises(NnstepError, match=r"steps\[0\]\.tensors\.W has shape \(1, 2\), expected \(2, 2\) \(layer 1\)"):
        records[0].tensors["W"]
    with pytest.raises(NnstepError, match=r"steps\[0\]\.tensors\.W has shape"):
        verify_trace(session.config, records)  # what `nnstep view` runs before the first frame


def test_an_edited_number_is_refused_when_read(tmp_path: Path) -> None:
    session, path = exported(tmp_path, demo="mazur", iterations=1)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[[0.05,0.1]]", "[[0.05,oops]]", 1), encoding="utf-8")
    records = read_trace(path)["records"]
    with pytest.raises(NnstepError, match=r"steps\[0\]\.tensors\.a_prev \(arrays\[1\]\) is not an array of numbers"):
        verify_trace(session.config, records)


@FUZZ
@given(data=st.data())
def test_an_edited_indexed_trace_fails_only_with_one_line_when_every_tensor_is_read(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """Edits that keep the layout load lazily: reading every record and tensor must still end in NnstepError."""
    folder = tmp_path_factory.mktemp("edited", numbered=True)
    text = _mazur_text(folder)
    path = folder / "t.json"
    path.write_bytes(data.draw(mutated(text)).encode("utf-8", "surrogatepass"))

    def load_everything() -> None:
        trace = read_trace(path)
        from nnstep.engine import build_config

        timeline = TraceTimeline(build_config(trace["config"], "t"), trace["records"])
        for record in trace["records"]:
            for _ in record.tensors.values():
                pass
        timeline.goto(len(trace["records"]) - 1)
        assert len(timeline.state.W) == 2

    only_our_error(load_everything)


@FUZZ
@given(data=st.data())
def test_a_damaged_npz_fails_only_with_one_line_when_every_tensor_is_read(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    folder = tmp_path_factory.mktemp("npz", numbered=True)
    raw = bytearray(_mazur_npz(folder))
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = folder / "t.npz"
    path.write_bytes(bytes(raw[: data.draw(st.integers(4, len(raw)))]))

    def load_everything() -> None:
        trace = read_trace(path)
        for record in trace["records"]:
            for _ in record.tensors.values():
                pass

    only_our_error(load_everything)


def _mazur_npz(folder: Path) -> bytes:
    if "npz" not in _TEXT:
        session = Session(load_demo("mazur"))
        write_trace(folder / "base.npz", session.config.to_dict(), (session.step() for _ in range(22)))
        _TEXT["npz"] = (folder / "base.npz").read_bytes().decode("latin-1")
    return _TEXT["npz"].encode("latin-1")


def test_an_npz_that_is_not_a_trace_is_one_line_and_never_unpickled(tmp_path: Path) -> None:
    np.savez(tmp_path / "other.npz", x=np.arange(3))
    with pytest.raises(NnstepError, match=r"other\.npz: not a trace \(a zip file that is not an nnstep \.npz: it has no 'header' array\)"):
        read_trace(tmp_path / "other.npz")
    np.savez(tmp_path / "pickled.npz", header=np.array([{"format": "nnstep-trace"}], dtype=object))
    with pytest.raises(NnstepError, match=r"its 'header' array is not plain numbers \(object\)"):
        read_trace(tmp_path / "pickled.npz")


_TEXT: dict[str, str] = {}


def _mazur_text(folder: Path) -> str:
    if "mazur" not in _TEXT:
        session = Session(load_demo("mazur"))
        write_trace(folder / "base.json", session.config.to_dict(), (session.step() for _ in range(22)))
        _TEXT["mazur"] = (folder / "base.json").read_text(encoding="utf-8")
    return _TEXT["mazur"]


# --- a wide net ------------------------------------------------------------------------------------


def test_a_step_of_784_128_10_takes_under_0_7_mb(tmp_path: Path) -> None:
    """The issue's goal, as the marginal size of a step (the header holds the 64×784 batch once)."""
    from benchmarks.common import wide_net

    session = Session(wide_net([784, 128, 10]))
    session.train(3)
    n = session.ops_per_iteration
    sizes = []
    for iterations in (1, 3):
        path = tmp_path / f"w{iterations}.json"
        write_trace(path, session.config.to_dict(), session.iter_records(0, iterations * n))
        sizes.append(path.stat().st_size)
    per_step = (sizes[1] - sizes[0]) / (2 * n)
    assert per_step <= 0.7e6, f"{per_step / 1e6:.3f} MB per step"


# --- the command line ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["run.npz", "run.json.gz"])
def test_nnstep_view_opens_an_npz_or_gzip_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str], name: str) -> None:
    import nnstep.tui.app
    from nnstep.tui.cli import main

    opened: list[dict[str, Any]] = []

    class Viewer:
        return_code = None  # as an App that was quit normally
        def __init__(self, trace: dict[str, Any], path: str) -> None:
            self.timeline = TraceTimeline(trace["records"] and load_demo("tutorial"), trace["records"])
            opened.append(trace)

        def run(self) -> None:
            pass

    monkeypatch.setattr(nnstep.tui.app, "make_viewer", Viewer)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--demo", "tutorial", "-n", "3", "--export", name, "-q"]) == 0
    assert main(["view", name]) == 0
    assert len(opened) == 1 and len(opened[0]["records"]) == 33 and capsys.readouterr().err == ""
    live = Session(load_demo("tutorial"))
    for record in opened[0]["records"]:
        np.testing.assert_array_equal(record.tensors[record.writes[0]], live.record_at(record.index).tensors[record.writes[0]])


def test_nnstep_view_of_a_dangling_reference_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from nnstep.tui.cli import main

    _, path = exported(tmp_path, demo="mazur", iterations=1)
    _edit_first_step(path, '"W": 2', '"W": 99')
    assert main(["view", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "steps[0].tensors.W refers to arrays[99]" in err


def test_a_trace_pretty_printed_by_jq_still_views(tmp_path: Path) -> None:
    session, path = exported(tmp_path, demo="mazur", iterations=2)
    path.write_text(json.dumps(json.loads(path.read_text()), indent=2), encoding="utf-8")
    records = read_trace(path)["records"]
    assert verify_trace(session.config, records) is None and len(records) == 2 * session.ops_per_iteration

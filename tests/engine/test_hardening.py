"""Hardening, round 2: files that are not files, text that is not text, memory that is not there.

If one of these fails, a user sees one of the issue's reproductions again:
`--export /dev/null` as root replaces the system's /dev/null, a FIFO makes
`nnstep` hang silently, a gzip bomb or a wide hidden layer dies with a
MemoryError, a lone surrogate crashes an export, a CSV header naming a
column twice trains on the wrong data, or a trace whose numbers contradict
its own config is shown as if true. The one-line messages themselves are
rows of tests/bad_inputs.py; these tests check what the rows cannot: that
nothing was replaced, read or allocated, and that what should work works.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nnstep.engine.data as data_module
import nnstep.engine.trace as trace_module
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nnstep.engine import (
    NnstepError,
    Session,
    StepRecord,
    build_config,
    load_config,
    load_demo,
)
from nnstep.engine.errors import export_target, read_user_file
from nnstep.engine.trace import read_trace, select, verify_trace, write_trace

from tests.bad_inputs import (
    MAZUR_MODEL,
    SIMULATED,
    make_files,
    mazur_json,
    with_csv,
)
from tests.engine.test_config_errors import assert_one_line, listing, run_main

posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs, devices and modes are POSIX")


def simulated(what: str) -> str:
    return next(row[2] for row in SIMULATED if row[1].startswith(what))


def mazur_records(iterations: int = 2) -> tuple[Any, Iterator[StepRecord]]:
    config = load_demo("mazur")
    session = Session(config)
    return config, session.iter_records(0, iterations * len(config.schedule))


# --- 1. write targets that are not regular files -------------------------------------------


@posix_only
@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_export_to_dev_null_leaves_the_device_alone() -> None:
    """As root, os.replace onto /dev/null would swap the system's null device for a trace file."""
    config, records = mazur_records(1)
    before = os.stat("/dev/null")
    with pytest.raises(NnstepError, match=r"^/dev/null: cannot export, it is not a regular file \(a character device\)$"):
        write_trace("/dev/null", config.to_dict(), records)
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino


@posix_only
def test_export_to_a_fifo_writes_nothing_and_does_not_block(tmp_path: Path) -> None:
    """Refused before the FIFO is opened (opening it for writing would wait for a reader)."""
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    config, records = mazur_records(1)
    consumed = []

    def counted() -> Iterator[StepRecord]:
        for record in records:
            consumed.append(record)
            yield record

    with pytest.raises(NnstepError, match="it is not a regular file \\(a FIFO\\)"):
        write_trace(fifo, config.to_dict(), counted())
    assert consumed == [], "the refusal must come before the run starts"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert listing(tmp_path) == ["out.json"]


@posix_only
def test_export_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "trace.json"
    target.write_text("earlier")
    target.chmod(0o640)
    (tmp_path / "latest.json").symlink_to("runs/trace.json")
    config, records = mazur_records(1)
    write_trace(tmp_path / "latest.json", config.to_dict(), records)
    assert (tmp_path / "latest.json").is_symlink() and os.readlink(tmp_path / "latest.json") == "runs/trace.json"
    assert json.loads(target.read_text())["format"] == "nnstep-trace"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640, "an existing file keeps its mode"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["trace.json"], "no temporary file left"


@posix_only
def test_export_through_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    (tmp_path / "link.json").symlink_to("made.json")
    config, records = mazur_records(1)
    write_trace(tmp_path / "link.json", config.to_dict(), records)
    assert (tmp_path / "link.json").is_symlink() and (tmp_path / "made.json").is_file()


@posix_only
def test_a_new_export_gets_0666_less_the_umask_read_without_setting_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.umask can only be read by setting it, which races with the app's threads: it is not called."""
    old = os.umask(0o027)
    try:
        def no_umask(mask: int) -> int:
            raise AssertionError("os.umask called during an export")

        monkeypatch.setattr(os, "umask", no_umask)
        config, records = mazur_records(1)
        write_trace(tmp_path / "new.json", config.to_dict(), records)
        monkeypatch.undo()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640


@posix_only
@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="only root can give a file to another user")
def test_root_replacing_a_users_export_keeps_it_theirs(tmp_path: Path) -> None:
    path = tmp_path / "theirs.json"
    path.write_text("earlier")
    os.chown(path, 1234, 5678)
    config, records = mazur_records(1)
    write_trace(path, config.to_dict(), records)
    info = path.stat()
    assert (info.st_uid, info.st_gid) == (1234, 5678)


def test_the_temporary_file_is_short_and_hidden(tmp_path: Path) -> None:
    """`.nnstep-XXXXXXXX.tmp` whatever the target's name: a 250-character name must still work."""
    name = "t" * 245 + ".json"
    config, records = mazur_records(1)
    seen: list[list[str]] = []

    def watched() -> Iterator[StepRecord]:
        for record in records:
            seen.append(sorted(p.name for p in tmp_path.iterdir()))
            yield record

    write_trace(tmp_path / name, config.to_dict(), watched())
    (temporary,) = seen[0]
    assert temporary.startswith(".nnstep-") and temporary.endswith(".tmp") and len(temporary) <= 24
    assert listing(tmp_path) == [name] and read_trace(tmp_path / name)["records"]


def test_a_255_byte_name_exports_and_a_256_byte_one_is_one_line(tmp_path: Path) -> None:
    config, records = mazur_records(1)
    write_trace(tmp_path / ("n" * 250 + ".json"), config.to_dict(), records)
    with pytest.raises(NnstepError, match=r"cannot export \(File name too long\)$"):
        write_trace(tmp_path / ("n" * 251 + ".json"), config.to_dict(), records)
    assert listing(tmp_path) == ["n" * 250 + ".json"]


@posix_only
def test_export_target_says_what_a_path_is(tmp_path: Path) -> None:
    make_files(tmp_path, {"file.json": "x", "dir": None})
    assert export_target(tmp_path / "file.json").file == tmp_path / "file.json"
    assert export_target(tmp_path / "new.json").mode == 0o666 & ~_umask()
    for path, message in [
        (tmp_path / "dir", "it is a folder"),
        (tmp_path / "missing" / "x.json", "the folder .* does not exist"),
        (tmp_path / "file.json" / "x.json", "the folder .* is a file, not a folder"),
        (Path("a\0b"), "not a usable path"),
    ]:
        with pytest.raises(NnstepError, match=message):
            export_target(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_config_whose_text_cannot_be_written_is_refused_before_the_file_exists(tmp_path: Path) -> None:
    """write_trace takes any dict: text that is not Unicode is refused, not half-written."""
    config, records = mazur_records(1)
    raw = config.to_dict()
    raw["description"] = "bad \udc80"
    with pytest.raises(NnstepError, match=r"cannot export, the config holds text that is not Unicode \(\\udc80\)"):
        write_trace(tmp_path / "out.json", raw, records)
    assert listing(tmp_path) == []


# --- 5. names and text -----------------------------------------------------------------------


def test_a_surrogate_pair_in_json_is_text_and_exports(tmp_path: Path) -> None:
    """"\\ud83d\\ude00" is one character (😀): loaded, exported and read back, not refused."""
    path = tmp_path / "net.json"
    path.write_text(mazur_json()[:-1].rstrip() + ',\n  "description": "smile \\ud83d\\ude00"\n}', encoding="utf-8")
    config = load_config(path)
    assert config.description == "smile 😀"
    session = Session(config)
    write_trace(tmp_path / "t.json", config.to_dict(), (session.step() for _ in range(3)))
    assert read_trace(tmp_path / "t.json")["config"]["description"] == "smile 😀"


def test_a_surrogate_in_a_config_built_in_code_is_refused() -> None:
    raw = json.loads(mazur_json())
    raw["description"] = "\ud800"
    with pytest.raises(NnstepError, match=r"^net: description holds a lone surrogate \\ud800 at character 1"):
        build_config(raw, "net")


# --- 3. inputs that never end or are not files ---------------------------------------------


@posix_only
@pytest.mark.parametrize("kind", ["a config file", "a CSV file", "a trace file"])
def test_reading_a_fifo_returns_at_once(tmp_path: Path, kind: str) -> None:
    """Opened without blocking and refused by fstat: no writer needed, no hang."""
    fifo = tmp_path / "input"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_user_file(fifo, kind, 1000, str)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            outcome.append(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert isinstance(outcome[0], NnstepError)
    assert str(outcome[0]) == f"{fifo}: is not a regular file (a FIFO), expected {kind}"


def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read is bounded by the limit, not by the size fstat reported."""
    path = tmp_path / "big"
    real_fstat = os.fstat

    def small(fd: int) -> os.stat_result:
        fields = list(real_fstat(fd))
        fields[stat.ST_SIZE] = 1  # fstat saw a smaller file than the read finds
        return os.stat_result(fields)

    path.write_bytes(b"x" * 5000)
    monkeypatch.setattr(os, "fstat", small)
    with pytest.raises(NnstepError, match="too large: 1001"):
        read_user_file(path, "a file", 1000, lambda size: f"too large: {size}")


def _bomb(size: int) -> bytes:
    """gzip of `size` zero bytes, made in pieces (a gzip bomb: it unpacks to far more than it is)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    out = [packer.compress(block) for _ in range(size >> 20)]
    return b"".join(out) + packer.flush()


def test_a_gzip_bomb_stops_unpacking_at_the_memory_estimate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scaled down 64 times: 30 MB of zeros against a 64 MiB budget, refused at ~21 MiB unpacked."""
    monkeypatch.setattr(trace_module, "MEMORY_LIMIT", 2**26)
    path = tmp_path / "trace.json.gz"
    path.write_bytes(_bomb(30 << 20))
    unpacked: list[int] = []
    real_read = gzip.GzipFile.read

    def read(self: gzip.GzipFile, size: int = -1) -> bytes:
        chunk = real_read(self, size)
        unpacked.append(len(chunk))
        return chunk

    monkeypatch.setattr(gzip.GzipFile, "read", read)
    with pytest.raises(NnstepError) as refused:
        read_trace(path)
    assert str(refused.value).startswith(f"{path}: the trace would take about 0.1 GiB of memory to view, "
                                         "more than the 0.0625 GiB nnstep allows; export fewer steps")
    assert sum(unpacked) <= (2**26 // 3) + (1 << 20), "decompression must stop at the estimate"


def test_the_gzip_bomb_row_is_the_estimate_at_4_gib() -> None:
    """The documented row: 1.95 GB of zeros stops where 3 × text passes 4 GiB (1 MiB pieces)."""
    pieces = -(-(4 * 2**30 - 100) // 3 // 2**20) + 1
    estimate = 3 * pieces * 2**20 + 100
    assert f"about {estimate / 2**30:.1f} GiB of memory to view" in simulated("gzip file of 8 MB unpacking to 1.95 GB")
    assert pieces * 2**20 < 1.95e9


def test_a_plain_trace_too_large_for_memory_is_refused_by_its_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A trace file whose text alone would not parse in memory is refused by fstat, before it is read."""
    monkeypatch.setattr(trace_module, "MEMORY_LIMIT", 3 * 2**20)
    path = tmp_path / "t.json"
    with open(path, "wb") as handle:
        handle.truncate(2 * 2**20)  # sparse: nothing was written, so nothing can be read by mistake
    with pytest.raises(NnstepError, match=r"the trace would take about 0\.0 GiB of memory to view, more than the 0\.00292969 GiB"):
        read_trace(path)


def test_a_120_mb_config_of_short_numbers_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented row, for real: 40 million numbers would take 4.1 GiB as Python objects."""
    monkeypatch.chdir(tmp_path)
    rows = b"[0,1]," * (10_000_000 - 1) + b"[0,1]"
    head = MAZUR_MODEL.split("[[model.layers]]")[0].replace('init = "explicit"', 'init = "zeros"')
    (tmp_path / "net.toml").write_bytes(
        head.encode() + b'[loss]\nkind = "mse"\n[data]\nbatch_size = 4\nx = [' + rows + b"]\ny = [" + rows + b"]\n")
    assert run_main(["run", "--config", "net.toml", "-n", "1"]) == 2
    assert_one_line(capsys.readouterr().err, simulated("a 120 MB config of short inline numbers"))


def test_a_csv_whose_rows_would_not_fit_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scaled down 256 times: 3 MB of short rows against a 16 MiB budget."""
    monkeypatch.setattr(data_module, "MEMORY_LIMIT", 2**24)
    make_files(tmp_path, with_csv('csv = "big.csv"\ntarget = ["t1", "t2"]\n', ""))
    (tmp_path / "big.csv").write_bytes(b"x1,x2,t1,t2\n" + b"0,1,0,1\n" * 375_000)
    with pytest.raises(NnstepError, match=r"^.*net.toml: data.csv names big.csv, which has up to 375,001 rows of 4 columns, "
                                          r"which would take about 0.0 GiB of memory, more than the 0.015625 GiB nnstep allows$"):
        load_config(tmp_path / "net.toml")


def test_the_csv_memory_row_is_the_estimate_for_1_gib() -> None:
    rows = (2**30 - len(b"x1,x2,t1,t2\n")) // len(b"0,1,0,1\n") + 1  # "up to": a last line without its line break
    estimate = 2**30 + rows * 4 * 8 * 3
    row = simulated("CSV of 1 GiB of short rows")
    assert f"has up to {rows:,} rows of 4 columns, which would take about {estimate / 2**30:.1f} GiB" in row


def test_a_csv_read_at_once_fits_the_estimate_on_a_wide_network(tmp_path: Path) -> None:
    """The rows are known only after the CSV is read: the activation estimate runs again then."""
    text = f'{MAZUR_MODEL.split("[[model.layers]]")[0]}'.replace("sizes = [2, 2, 2]", "sizes = [2, 1_000_000, 2]")
    text = text.replace('init = "explicit"', 'init = "zeros"') + '[loss]\nkind = "mse"\n[data]\ncsv = "d.csv"\ntarget = ["t1", "t2"]\n'
    (tmp_path / "net.toml").write_text(text)
    (tmp_path / "d.csv").write_text("x1,x2,t1,t2\n" + "0,1,0,1\n" * 500)
    with pytest.raises(NnstepError, match=r"model.sizes with batches of 500 rows needs about 15.1 GiB of memory"):
        load_config(tmp_path / "net.toml")
    (tmp_path / "net.toml").write_text(text.replace('target = ["t1", "t2"]', 'target = ["t1", "t2"]\nbatch_size = 8'))
    assert load_config(tmp_path / "net.toml").batch_size == 8, "small batches of a wide layer fit"


def test_an_ordinary_network_is_not_refused() -> None:
    """The estimate must not refuse what fits: MNIST-sized layers with mini-batches of 128."""
    build_config({"model": {"sizes": [784, 256, 10], "activations": ["relu", "softmax"]},
                  "loss": {"kind": "cross_entropy"},
                  "data": {"dataset": "random", "n": 20_000, "batch_size": 128}}, "mnist-like")


# --- the CSV parser: fast, exact, and precise when a cell is bad ----------------------------

NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.tuples(st.integers(-(10**16), 10**16), st.integers(0, 18)).map(lambda t: f"{t[0] / 10**t[1]:.{t[1]}f}"),
    st.sampled_from(["0", "-0", "+1", ".5", "5.", "-.5", "1e5", "1E-5", "000012", "-0.0", "+.5", "9" * 15, "9" * 16,
                     "0.000000000000001", "1.7976931348623157e308", "4.9e-324", "123456789012345.6"]),
)


@settings(max_examples=300, deadline=None, database=None)
@given(table=st.integers(1, 4).flatmap(lambda width: st.lists(st.lists(NUMBER_TEXT, min_size=width, max_size=width),
                                                                 max_size=8)),
       ending=st.sampled_from(["\n", "\r\n"]), blank=st.booleans())
def test_the_vectorised_parser_reads_cells_as_float_does(table: list[list[str]], ending: str, blank: bool) -> None:
    """Bit for bit (the sign of zero included): the fast path is float(), only faster."""
    if not table:
        return
    width = len(table[0])
    text = ending.join(",".join(row) for row in table) + ending + (ending if blank else "")
    got = data_module._plain_values(text.encode(), width)
    expected = np.array([[float(cell) for cell in row] for row in table])
    if not np.isfinite(expected).all():
        assert got is None  # 1e999 and the like: the csv module path names the cell
        return
    assert got is not None and got.shape == expected.shape
    assert np.array_equal(got, expected) and np.array_equal(np.signbit(got), np.signbit(expected))


@pytest.mark.parametrize("piece", ["1,,2\n", "1,2,3\n", "1e,2\n", "--1,2\n", "1.2.3,4\n", "1-2,3\n", ",1\n", "1,2\n3\n",
                                   ".,1\n", "+,1\n", "1,2\r3,4\n", "1 ,2\n", '"1",2\n', "nan,1\n", "1_0,2\n"])
def test_the_vectorised_parser_leaves_anything_unusual_to_the_csv_module(piece: str) -> None:
    assert data_module._plain_values(piece.encode(), 2) is None


def test_a_plain_csv_never_reaches_the_slow_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 200 MB-of-short-rows case is the fast parser's: 100,000 rows go through it alone."""
    def slow(*args: Any) -> Any:
        raise AssertionError("the csv module path read a plain file")

    monkeypatch.setattr(data_module, "_slow_values", slow)
    make_files(tmp_path, with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\nbatch_size = 10\n',
                                  "x1,x2,t1,t2\r\n" + "0.5,-1,0,1\r\n" * 100_000 + "2.5e-3,1E2,1,0\r\n"))
    config = load_config(tmp_path / "net.toml")
    assert config.x.shape == (100_001, 2) and config.x[-1].tolist() == [0.0025, 100.0]


def test_leading_blank_lines_are_skipped(tmp_path: Path) -> None:
    """A CSV starting with blank lines used to report 'columns: (none)'."""
    make_files(tmp_path, with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', "\n\r\n\nx1,x2,t1,t2\n\n1,2,0,1\n"))
    config = load_config(tmp_path / "net.toml")
    assert config.x.tolist() == [[1.0, 2.0]]


def test_a_bad_cell_after_blank_leading_lines_names_the_files_line(tmp_path: Path) -> None:
    make_files(tmp_path, with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', "\n\nx1,x2,t1,t2\n1,2,0,1\n1,x,0,1\n"))
    with pytest.raises(NnstepError, match=r"train.csv line 5, column 2 \('x2'\): 'x' is not a number$"):
        load_config(tmp_path / "net.toml")


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"])
def test_every_line_ending_reads_the_same(tmp_path: Path, ending: str) -> None:
    """Old Macs end lines with a lone \\r: the csv module reads those (the fast parser does not)."""
    text = ending.join(["x1,x2,t1,t2", "1,2,0,1", '"3",4,1,0', ""])
    make_files(tmp_path, with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', text))
    assert load_config(tmp_path / "net.toml").x.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_a_quoted_header_with_a_line_break_in_a_name(tmp_path: Path) -> None:
    make_files(tmp_path, with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\nfeatures = ["x\\n1", "x2"]\n',
                                  '"x\n1",x2,t1,t2\n1,2,0,1\n1,x,0,1\n'))
    with pytest.raises(NnstepError, match=r"train.csv line 4, column 2 \('x2'\)"):
        load_config(tmp_path / "net.toml")


def test_the_columns_message_quotes_little_of_another_file(tmp_path: Path) -> None:
    """data.csv may name any file; its first line is quoted as 3 names of at most 20 characters."""
    secret = "s3cr3t" * 1000
    make_files(tmp_path, {"net.toml": f'{MAZUR_MODEL}[data]\ncsv = "other"\ntarget = ["t1"]\n',
                          "other": f"{secret},b{secret},\x1b[31m{secret},c{secret},d{secret}\n"})
    with pytest.raises(NnstepError) as refused:
        load_config(tmp_path / "net.toml")
    message = str(refused.value)
    assert message.count("s3cr3t") <= 9 and "\x1b" not in message and len(message) < 250, message
    assert message.endswith("(5 columns: 's3cr3ts3cr3ts3cr3ts…', 'bs3cr3ts3cr3ts3cr3t…', '\\x1b[31ms3cr3ts3cr3ts3…', …)")


# --- 10. a trace whose numbers contradict its config ---------------------------------------


def _export(tmp_path: Path, demo: str, steps: int, **options: Any) -> dict[str, Any]:
    config = load_demo(demo)
    session = Session(config)
    path = tmp_path / f"{demo}.json"
    write_trace(path, config.to_dict(), select(session.iter_records(0, steps), **options))
    return read_trace(path)


def _tampered(trace: dict[str, Any], i: int, name: str, delta: float) -> list[StepRecord]:
    records = list(trace["records"])
    record = records[i]
    tensors = dict(record.tensors)
    changed = tensors[name].copy()
    changed.flat[0] += delta
    tensors[name] = changed
    records[i] = StepRecord(record.index, record.iteration, record.epoch, record.stage, record.layer, record.op,
                            record.equation, tensors, record.writes)
    return records


@pytest.mark.parametrize("demo", ["mazur", "moons", "nielsen-slowdown-ce", "xor-relu"])
def test_an_honest_trace_verifies(tmp_path: Path, demo: str) -> None:
    trace = _export(tmp_path, demo, 400)
    assert verify_trace(build_config(trace["config"], "t"), trace["records"]) is None


def test_a_partial_trace_verifies(tmp_path: Path) -> None:
    trace = _export(tmp_path, "moons", 600, every=3, stages=("update", "loss"))
    assert verify_trace(build_config(trace["config"], "t"), trace["records"]) is None


def test_a_float32_trace_verifies(tmp_path: Path) -> None:
    config = build_config({**load_demo("mazur").to_dict(), "dtype": "float32"}, "f32")
    session = Session(config)
    write_trace(tmp_path / "t.json", config.to_dict(), session.iter_records(0, 100))
    trace = read_trace(tmp_path / "t.json")
    assert verify_trace(build_config(trace["config"], "t"), trace["records"]) is None


def test_the_v1_fixture_verifies() -> None:
    trace = read_trace(Path(__file__).parent / "fixtures" / "mazur-momentum-v1.json")
    assert verify_trace(build_config(trace["config"], "v1"), trace["records"]) is None


def test_a_changed_number_is_named_with_its_place_and_size(tmp_path: Path) -> None:
    """Worked arithmetic that does not add up: the first disagreement, named with its size (float64).

    A difference in the last bits, as another machine's BLAS makes, is no edit: accepted."""
    trace = _export(tmp_path, "mazur", 44)
    config = build_config(trace["config"], "t")
    index = next(i for i, r in enumerate(trace["records"]) if r.op == "delta" and r.layer == 2 and r.iteration == 3)
    scale = float(np.abs(trace["records"][index].tensors["delta"]).max())
    assert verify_trace(config, _tampered(trace, index, "delta", 4e-16 * scale)) is None
    message = verify_trace(config, _tampered(trace, index, "delta", 1e-6)) or ""
    place = f"steps[{index}] (index {index}, iteration 3, delta layer 2): delta differs from the replay of the config by "
    assert message.startswith(place + "max |Δ| = ") and float(message.split("= ")[1]) == pytest.approx(1e-6, rel=1e-3)
    update = next(i for i, r in enumerate(trace["records"]) if r.op == "update" and r.iteration == 4)
    message = verify_trace(config, _tampered(trace, update, "W", float("nan")))
    assert message is not None and message.startswith(f"steps[{update}] (index {update}, iteration 4, update layer ")
    assert message.endswith(": W differs from the replay of the config by max |Δ| = inf (NaN or infinity on one side)")


def test_a_big_trace_is_checked_by_a_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """First, last and `sample` spread steps: a change at one of them is found, elsewhere not looked for."""
    monkeypatch.setattr(trace_module, "VERIFY_ALL_BELOW", 10)
    trace = _export(tmp_path, "mazur", 110)
    config = build_config(trace["config"], "t")
    checked: list[int] = []
    real = Session.record_at

    def record_at(self: Session, index: int) -> StepRecord:
        checked.append(index)
        return real(self, index)

    monkeypatch.setattr(Session, "record_at", record_at)
    assert verify_trace(config, trace["records"], sample=8) is None
    assert checked[0] == 0 and checked[-1] == 109 and len(checked) == 10
    assert "steps[109]" in (verify_trace(config, _tampered(trace, 109, "W", 0.5), sample=8) or "")
    unchecked = next(i for i in range(110) if i not in checked)
    assert verify_trace(config, _tampered(trace, unchecked, list(trace["records"][unchecked].tensors)[-1], 0.5),
                        sample=8) is None


def test_a_trace_from_another_config_disagrees(tmp_path: Path) -> None:
    """Same network, other seed: the first record already differs (its shuffled rows or its W)."""
    trace = _export(tmp_path, "moons", 30)
    other = build_config({**trace["config"], "seed": 99}, "t")
    assert (verify_trace(other, trace["records"]) or "").startswith("steps[0] (index 0, iteration 1, linear layer 1): ")


def test_a_header_with_an_odd_quote_reads_like_the_csv_module(tmp_path: Path) -> None:
    # Found by the CSV fuzzer: an odd quote in the header made the row estimate count from the
    # file's end, and the table was one row short (a traceback instead of data).
    from nnstep.engine import build_config

    (tmp_path / "t.csv").write_text('0"x1,x2,t1,t2\n0.05,0.10,0.01,0.99\n0.20,0.30,0.50,0.50\n')
    config = build_config({"model": {"sizes": [2, 2, 2], "activations": ["sigmoid", "sigmoid"]},
                           "loss": {"kind": "mse"}, "data": {"csv": "t.csv", "target": ["t1", "t2"]}},
                          "net.toml", base=tmp_path)
    assert config.x.tolist() == [[0.05, 0.10], [0.20, 0.30]]


def test_a_trace_verifies_under_another_number_of_blas_threads(tmp_path: Path) -> None:
    """A 784→128→10 product sums in another order with 1 and 2 BLAS threads (the last bits differ):
    a trace exported with one must open with the other, as it must on another machine."""
    config = tmp_path / "big.toml"
    config.write_text('seed = 0\n[model]\nsizes = [784, 128, 10]\nactivations = ["relu", "identity"]\ninit = "he"\n'
                      '[loss]\nkind = "cross_entropy"\n[optimizer]\nkind = "sgd"\nlr = 0.01\n'
                      '[data]\ndataset = "random"\nn = 64\n', encoding="utf-8")
    trace = tmp_path / "t.json"

    def python(threads: int, code: str) -> str:
        env = {**os.environ, **{k: str(threads) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout

    python(1, f"from nnstep.tui.cli import main; main(['run', '--config', {str(config)!r}, '-n', '2', '--export', "
              f"{str(trace)!r}, '-q'])")
    verdict = python(2, "from nnstep.engine.trace import read_trace, verify_trace; from nnstep.engine import build_config; "
                        f"t = read_trace({str(trace)!r}); print(verify_trace(build_config(t['config'], 't'), t['records']))")
    assert verdict.strip() == "None"


def test_many_classes_make_one_hot_rows_without_a_square_identity() -> None:
    """The fuzzer's find: 100,000 outputs on random labels asked np.eye for 74.5 GiB."""
    import tracemalloc

    raw = {"seed": 0, "model": {"sizes": [2, 2, 100_000], "activations": ["sigmoid", "sigmoid"]},
           "loss": {"kind": "mse"}, "optimizer": {"kind": "sgd", "lr": 0.5}, "data": {"dataset": "random", "n": 10}}
    tracemalloc.start()
    try:
        config = build_config(raw, "net.toml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20
    assert config.y.shape == (10, 100_000) and (config.y.sum(axis=1) == 1).all()
    assert (np.argmax(config.y, axis=1) == config.labels.ravel()).all()

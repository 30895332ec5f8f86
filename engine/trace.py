"""The trace: write step records atomically and streamed; read them back by index.

Format (version 3), strict JSON, one JSON value per line::

    {"format": "nnstep-trace", "version": 3, "config": {...resolved config...},
    "arrays": [
    [[0.05,0.1]],
    …
    ],
    "steps": [
    {"index": 0, "iteration": 1, …, "writes": ["z"], "tensors": {"rows": 0, "a_prev": 1, "W": 2, "b": 3, "z": 4}},
    …
    ]}

Each step is one op of the config's schedule (schedule.py): its tensors are
exactly the op's reads and writes, the optimizer's state included (m_W,
v_W, …), a dropout op's mask, and the batch's data rows (`rows`, integers)
on each iteration's first op. A tensor is a number into "arrays": each
array is written once, before the steps, and referred to wherever it recurs
(`jq '.arrays[.steps[5].tensors.z]'`). Numbers are the shortest decimals
that read back to the same float64, written out from 1e-5 to 1e16 and in
exponent form otherwise (trace_encode.stdlib_text); NaN and ±inf are the
strings "NaN", "Infinity", "-Infinity". A path ending in .gz is gzip-compressed; one
ending in .npz holds the same header and arrays in NumPy's format
(trace_npz.write_npz). Versions 1 (SGD only) and 2 (tensors inline in
each step) still read. Tensors are batch rows as the engine holds them
(z: (B, n_l), W: (n_l, n_{l-1})).

Reading (read_trace) checks every step against the schedule but decodes no
number until a record's tensor is read (trace_records.TraceRecords), so a
trace opens in about the time it takes to read the file, in about its size
of memory; the largest it opens is what memory allows (view_memory).
"""

from __future__ import annotations

import gzip
import io
import json
import os  # noqa: F401 - tests patch trace.os and trace.tempfile, the modules write_atomically uses
import tempfile  # noqa: F401
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from .config import Config, build_config
from .errors import (
    MEMORY_LIMIT,
    NnstepError,
    check_text,
    gib,
    one_line,
    parsed_memory,
    read_user_file,
    write_atomically,
)
from .records import STAGES, StepRecord, make_record
from .trace_encode import encoder, fast_loads
from .trace_json import (
    V3_PREFIX,
    JsonArrays,
    NotIndexed,
    index_json,
    op_fields,
    parse_steps,
    write_json,
)
from .trace_npz import ZIP_ERRORS, npz_kinds, npz_member, open_npz, write_npz
from .trace_records import (
    CACHE_BYTES,
    TraceRecords,
    as_array,
    check_order,
    check_refs,
    check_shape,
    check_step,
)

FORMAT = "nnstep-trace"
VERSION = 3
READS = (1, 2, 3)  # versions this nnstep reads
_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_ADVICE = "export fewer steps with --every or --stages"


def _header_text(config: dict[str, Any]) -> str:
    """The header's JSON; NnstepError("cannot export, …") for a config that is not Unicode or not strict JSON."""
    try:
        header = json.dumps({"format": FORMAT, "version": VERSION, "config": config}, ensure_ascii=False, allow_nan=False)
        header.encode("utf-8")
    except UnicodeEncodeError as error:
        raise NnstepError("cannot export, the config holds text that is not Unicode "
                          f"({one_line(error.object[error.start:error.end])})") from None
    except ValueError as error:  # NaN in the config: allow_nan=False
        raise NnstepError(f"cannot export, the config does not convert to strict JSON ({error})") from None
    return header


def _stream(raw: IO[bytes], header: str, records: Iterable[StepRecord], form: str, encode: str) -> int:
    if form == "npz":
        return write_npz(raw, header, records)
    if form == "json.gz":
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as packed:
            return write_json(cast(IO[bytes], packed), header, records, encoder(encode))
    return write_json(raw, header, records, encoder(encode))


def stream_trace(raw: IO[bytes], config: dict[str, Any], records: Iterable[StepRecord], *, form: str = "json",
                 encode: str = "auto") -> int:
    """Write a trace to an open binary stream (`form`: "json", "json.gz" or "npz"); return the steps written.

    The bytes `write_trace` writes to a file of that kind (the app in a
    browser builds its download with this). `encode`: "auto" (orjson when
    installed), "orjson" or "stdlib" — the same bytes either way.
    """
    return _stream(raw, _header_text(config), records, form, encode)


def form_of(path: str | Path) -> str:
    """The kind of trace a path names: "npz" (.npz), "json.gz" (.gz) or "json"."""
    suffix = Path(path).suffix.lower()
    return "npz" if suffix == ".npz" else "json.gz" if suffix == ".gz" else "json"


def write_trace(path: str | Path, config: dict[str, Any], records: Iterable[StepRecord], *, encode: str = "auto") -> int:
    """Stream a trace to `path` atomically; return the number of steps written.

    JSON, gzip-compressed JSON or .npz by the path's extension (form_of).
    errors.write_atomically checks the path before anything is written (a
    regular file or a new name; a symbolic link's target is replaced and the
    link kept; an existing file keeps its mode, a new one gets 0666 & ~umask)
    and writes through a short temporary file beside it that replaces the
    file only once complete: a failure or Ctrl-C leaves any earlier file
    intact and no temporary file behind. The config's text is encoded first,
    so text that is not Unicode is refused before the file is touched.
    """
    path = Path(path)
    try:
        header = _header_text(config)
    except NnstepError as error:
        raise NnstepError(f"{path}: {error}") from None
    form = form_of(path)
    count = 0

    def body(raw: IO[bytes]) -> None:
        nonlocal count
        count = _stream(raw, header, records, form, encode)

    write_atomically(path, body)
    return count


def write_text(path: str | Path, text: str) -> None:
    """Write a text file the user named (a handout, a config), atomically, as every export is written."""
    data = text.encode("utf-8")
    write_atomically(path, lambda raw: raw.write(data))


def _tensor_json(value: np.ndarray) -> str:
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        cells = value.astype(object)
        cells[np.isnan(value)] = "NaN"
        cells[value == np.inf] = "Infinity"
        cells[value == -np.inf] = "-Infinity"
        return json.dumps(cells.tolist())
    return json.dumps(value.tolist())


def record_json(record: StepRecord) -> str:
    """One step record as strict JSON with its tensors inline, as version 2 wrote each step."""
    tensors = ", ".join(f'"{name}": {_tensor_json(value)}' for name, value in record.tensors.items())
    return (f'{{"index": {record.index}, "iteration": {record.iteration}, "epoch": {record.epoch}, '
            f'{op_fields(record.stage, record.layer, record.op, record.equation, record.writes)}, '
            f'"tensors": {{{tensors}}}}}')


def select(records: Iterable[StepRecord], every: int = 1, stages: Iterable[str] | None = None) -> Iterable[StepRecord]:
    """Keep every `every`-th iteration (the first, then every k-th) and only `stages`."""
    wanted = set(STAGES if stages is None else stages)
    for record in records:
        if (record.iteration - 1) % every == 0 and record.stage in wanted:
            yield record


# --- reading -----------------------------------------------------------------------------------


def view_memory(size: int) -> int:
    """Memory `nnstep view` takes for a trace of `size` bytes laid out as nnstep writes it:
    the file itself, its index (under an eighth of it) and the decoded arrays it keeps."""
    return size + size // 8 + CACHE_BYTES


def _too_much_memory(estimate: int) -> str:
    return (f"the trace would take {gib(estimate)} to view, more than the {MEMORY_LIMIT / 2**30:g} GiB "
            f"nnstep allows; {_ADVICE}, or to .npz")


def _gunzip(path: Path, data: bytes) -> bytearray:
    """Decompress in pieces, refusing the file as soon as its text would not be viewed within MEMORY_LIMIT:
    view_memory for a version-3 trace, errors.parsed_memory for one parsed whole (a gzip bomb stops early)."""
    out = bytearray()
    commas = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as packed:
            while chunk := packed.read(1 << 20):
                out += chunk
                if out.startswith(V3_PREFIX):
                    estimate = view_memory(len(out))
                else:
                    commas += chunk.count(b",")
                    estimate = parsed_memory(len(out), commas)
                if estimate > MEMORY_LIMIT:
                    raise NnstepError(f"{path}: {_too_much_memory(estimate)}")
    except (OSError, EOFError, zlib.error):
        raise NnstepError(f"{path}: the gzip data is truncated or damaged") from None
    return out  # not bytes(out): that would copy the whole text


def read_trace(path: str | Path) -> dict[str, Any]:
    """Load and check a trace file (JSON, gzip or .npz; versions 1–3); tensors decode when read.

    Returns {"config": the config dict as written, "records": Sequence[StepRecord],
    "version": int}. Raises NnstepError with one line for a missing, truncated
    or foreign file, an unknown format or version, a config that does not
    check, or a step whose op, layer, tensor names or references do not fit
    that config — all before anything is shown. A version-3 trace as nnstep
    writes it is indexed, not parsed: its records are a TraceRecords whose
    tensors are decoded (as read-only float64 arrays, `rows` int64; .npz
    float32 stays float32) and shape-checked when first read, raising
    NnstepError then if a number was edited into something else. Other
    files (versions 1 and 2, or JSON laid out otherwise) are parsed whole.
    Tensors are batch rows: z (B, n_l), W (n_l, n_{l-1}).
    """
    if not str(path).strip():  # Path("") is ".", which would be reported as a folder
        raise NnstepError("no trace file given (an empty path)")
    path = Path(path)
    # The cheapest way to view a trace takes view_memory(size): refuse by the size before reading what cannot fit.
    limit = max(0, (MEMORY_LIMIT - CACHE_BYTES) * 8 // 9 - 1)
    while view_memory(limit + 1) <= MEMORY_LIMIT:
        limit += 1
    data: bytes | bytearray = read_user_file(path, "a trace file", limit,
                                             lambda size: _too_much_memory(view_memory(size)))
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(path, bytes(data))
    if data[:4] == b"PK\x03\x04":
        return _read_npz(path, bytes(data))
    if data.startswith(V3_PREFIX):
        try:
            return _read_indexed(path, data)
        except NotIndexed as reason:
            if parsed_memory(len(data), data.count(b",")) > MEMORY_LIMIT:
                raise NnstepError(f"{path}: not a valid trace ({reason})") from None
    return _read_whole(path, data)


def _check_header(path: Path, trace: Any) -> tuple[int, dict[str, Any]]:
    """(version, config dict) of a parsed trace, or one line saying why it is not one."""
    if not isinstance(trace, dict) or trace.get("format") != FORMAT:
        raise NnstepError(f"{path}: not an nnstep trace (no \"format\": \"{FORMAT}\")")
    version = trace.get("version")
    if type(version) is not int or version not in READS:  # 1.0 and true are not version 1
        shown = json.dumps(version) if len(repr(version)) < 40 else "(too long to show)"
        raise NnstepError(f"{path}: trace version {shown} is not supported (this nnstep reads versions "
                          f"{', '.join(map(str, READS))})")
    return version, trace.get("config")  # type: ignore[return-value]


def _build(path: Path, config: dict[str, Any]) -> Config:
    if isinstance(config.get("data"), dict) and "csv" in config["data"]:
        raise NnstepError(f"{path}: config data.csv is not allowed in a trace (its data are stored inline)")
    return build_config(config, f"{path}: config")


def _no_steps(path: Path) -> NnstepError:  # e.g. a run interrupted before its first op: nothing to step through
    return NnstepError(f"{path}: the trace has no steps (nothing to view)")


def _read_whole(path: Path, data: bytes | bytearray) -> dict[str, Any]:
    """A trace parsed whole (versions 1 and 2, or JSON not laid out as nnstep writes it)."""
    commas = data.count(b",")
    if parsed_memory(len(data), commas) > MEMORY_LIMIT:
        raise NnstepError(f"{path}: {_too_much_memory(parsed_memory(len(data), commas))}")
    try:
        text = data.decode("utf-8")
        del data  # the text alone from here: the bytes would double the peak
        trace = json.loads(text, parse_constant=lambda name: _NON_FINITE[name])
    except UnicodeDecodeError:
        raise NnstepError(f"{path}: not a trace (not UTF-8 text)") from None
    except json.JSONDecodeError as error:
        what = "truncated" if error.pos >= len(text.rstrip()) - 1 else "not valid JSON"
        raise NnstepError(f"{path}: {what} at line {error.lineno}, column {error.colno}: {error.msg}") from None
    except RecursionError:
        raise NnstepError(f"{path}: nested too deeply to be a trace") from None
    except ValueError:  # Python's cap on the digits of an integer
        raise NnstepError(f"{path}: not a trace (a whole number has too many digits)") from None
    check_text(trace, text, str(path))
    del text
    version, config = _check_header(path, trace)
    steps, arrays = trace.get("steps"), trace.get("arrays") if version == 3 else []
    if not isinstance(config, dict) or not isinstance(steps, list) or not isinstance(arrays, list):
        needs = 'a "config" object, an "arrays" list and a "steps" list' if version == 3 else \
            'a "config" object and a "steps" list'
        raise NnstepError(f"{path}: not a valid trace (needs {needs})")
    built = _build(path, config)
    if not steps:
        raise _no_steps(path)
    records, known, decoded = [], {}, {}  # type: ignore[var-annotated]
    for i, step in enumerate(steps):
        where = f"{path}: steps[{i}]"
        index, iteration, epoch, kind = check_step(where, step, built, version, known)
        if version == 3:
            refs = check_refs(where, step["tensors"], len(arrays))
            tensors = {}
            for name, ref in zip(kind.names, refs):
                key = (ref, name == "rows")
                if key not in decoded:
                    decoded[key] = as_array(where, arrays[ref], name)
                tensors[name] = decoded[key]
        else:
            tensors = {name: as_array(where, value, name) for name, value in step["tensors"].items()}
        for name, value in tensors.items():
            check_shape(where, kind.op, kind.layer, name, value, built.sizes)
        records.append(make_record(index, iteration, epoch, kind.stage, kind.layer, kind.op, kind.equation, tensors,
                                   kind.writes))
    check_order(str(path), np.array([r.index for r in records], dtype=np.int64))
    return {"config": config, "records": records, "version": version}


def _read_indexed(path: Path, data: bytes | bytearray) -> dict[str, Any]:
    """A version-3 JSON trace as nnstep writes it: steps parsed and checked, arrays only located."""
    header, header_text, starts, ends, begin, end = index_json(str(path), data, MEMORY_LIMIT - len(data))
    check_text(header, header_text, str(path))
    version, config = _check_header(path, header)
    if not isinstance(config, dict):
        raise NnstepError(f'{path}: not a valid trace (needs a "config" object, an "arrays" list and a "steps" list)')
    built = _build(path, config)
    columns, first, refs = parse_steps(str(path), data, begin, end, built, len(starts), fast_loads())
    if not len(columns.index):
        raise _no_steps(path)
    check_order(str(path), columns.index)
    source = JsonArrays(data, starts, ends, fast_loads() or json.loads)
    records = TraceRecords(str(path), built, columns, first, refs, source)
    return {"config": config, "records": records, "version": version}


def _read_npz(path: Path, data: bytes) -> dict[str, Any]:
    """An .npz trace: header and tables read and checked, blocks read when an array in them is."""
    try:
        archive = open_npz(data)
        header_bytes = npz_member(archive, "header", MEMORY_LIMIT).tobytes()
        text = header_bytes.decode("utf-8")
        header = json.loads(text)
    except (*ZIP_ERRORS, RecursionError) as error:
        raise NnstepError(f"{path}: not a trace (a zip file that is not an nnstep .npz: {error})") from None
    check_text(header, text, str(path))
    version, config = _check_header(path, header)
    if version != 3 or not isinstance(config, dict):
        raise NnstepError(f'{path}: not a valid .npz trace (needs version 3 and a "config" object)')
    built = _build(path, config)
    columns, first, refs, source = npz_kinds(str(path), archive, header, built, MEMORY_LIMIT)
    if not len(columns.index):
        raise _no_steps(path)
    check_order(str(path), columns.index)
    records = TraceRecords(str(path), built, columns, first, refs, source)
    return {"config": config, "records": records, "version": version}


# --- verifying -----------------------------------------------------------------------------------

# Traces of at most this many steps are checked step by step; longer ones by a sample.
VERIFY_ALL_BELOW = 2000
# …and only if their arrays take at most this many bytes in the file: a 1 GB trace of a wide
# net has few steps, but decoding and replaying all of them would take a minute.
VERIFY_ALL_BYTES = 64 * 2**20
# The relative difference float32 arithmetic may show between machines (BLAS sums in another order).
_FLOAT32_RTOL = 1e-5
# float64: a replay on another machine, or with another number of BLAS threads, sums products in
# another order and may differ in the last bits (about 1e-16 of the tensor's largest value, growing
# slowly over iterations). An edit that changes what a student reads (a digit of 4, 6 or 10) is far
# above this; a difference within it changes no digit a pane can show.
_FLOAT64_RTOL = 1e-9


def verify_trace(config: Config, records: Sequence[StepRecord], sample: int = 20) -> str | None:
    """Check a trace's numbers against its own config by replaying the run.

    Replays `config` (a Session from the start, which is deterministic) and
    compares every record's op, place and tensors with the replay at the same
    index: every step of a trace of up to VERIFY_ALL_BELOW steps whose arrays
    take up to VERIFY_ALL_BYTES, else the first, the last and `sample` steps
    spread between them (only those are decoded). float64 configs must agree
    to 1e-9 of each tensor's largest |value| (NaN equals NaN; the last bits of
    a product depend on the machine's BLAS and its threads); float32 ones to a
    relative 1e-5.
    Tensors are batch rows as the engine holds them (z: (B, n_l), W: (n_l, n_{l-1})).

    Returns None when the checked steps agree, else one line naming the first
    disagreement: the step, its index, op and layer, the tensor and max |Δ|,
    e.g. "steps[7] (index 7, iteration 1, delta layer 2): delta differs from
    the replay of the config by max |Δ| = 0.25". A tensor that does not
    decode raises NnstepError.
    """
    from .session import (
        Session,  # session imports config and trace's neighbours; not at the top
    )

    if not records:
        return None
    count = len(records)
    if count <= VERIFY_ALL_BELOW and getattr(records, "nbytes", 0) <= VERIFY_ALL_BYTES:
        chosen: Iterable[int] = range(count)
    else:
        chosen = sorted({0, count - 1} | {round(k * (count - 1) / (sample + 1)) for k in range(1, sample + 1)})
    session = Session(config)
    rtol = _FLOAT64_RTOL if config.dtype == "float64" else _FLOAT32_RTOL
    for i in chosen:
        record = records[i]
        place = f"steps[{i}] (index {record.index}, iteration {record.iteration}, {record.op}" + (
            f" layer {record.layer})" if record.layer is not None else ")")
        replay = session.record_at(record.index)
        ours = (record.op, record.layer, record.iteration, record.epoch)
        theirs = (replay.op, replay.layer, replay.iteration, replay.epoch)
        if ours != theirs:
            return (f"{place}: the replay of the config has op {replay.op} layer {replay.layer} of iteration "
                    f"{replay.iteration}, epoch {replay.epoch} at this index")
        for name, value in record.tensors.items():
            expected = replay.tensors.get(name)
            if expected is None:
                continue  # a tensor the engine does not keep for this op: nothing to check it against
            difference = _difference(value, expected, rtol)
            if difference is not None:
                return f"{place}: {name} differs from the replay of the config by {difference}"
    return None


def _difference(value: np.ndarray, expected: np.ndarray, rtol: float) -> str | None:
    """None when `value` (from the trace) agrees with `expected` (the replay), else 'max |Δ| = …'."""
    if value.shape != expected.shape:
        return f"shape: {value.shape} in the trace, {expected.shape} in the replay"
    if value.dtype.kind in "iub" or expected.dtype.kind in "iub":
        if np.array_equal(value, expected):
            return None
        return f"max |Δ| = {int(np.max(np.abs(value.astype(np.int64) - expected.astype(np.int64))))}"
    theirs = expected.astype(np.float64)
    with np.errstate(all="ignore"):
        same = (value == theirs) | (np.isnan(value) & np.isnan(theirs))
        if rtol:
            finite = np.abs(theirs[np.isfinite(theirs)])
            scale = float(finite.max()) if finite.size else 0.0  # the tensor's size, not each cell's
            same |= np.abs(value - theirs) <= rtol * np.maximum(np.maximum(np.abs(value), np.abs(theirs)), scale)
        if same.all():
            return None
        delta = np.abs(value - theirs)[~same]
    largest = float(np.max(np.where(np.isnan(delta), np.inf, delta)))
    return f"max |Δ| = {largest:.6g}" + (" (NaN or infinity on one side)" if largest == np.inf else "")

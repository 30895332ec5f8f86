"""The JSON trace: write step records atomically and stream them; read them back.

Format (version 2)::

    {"format": "nnstep-trace", "version": 2, "config": {...resolved config...},
     "steps": [{"index": 0, "iteration": 1, ..., "tensors": {"z": [[...]]}}, ...]}

Each step is one op of the config's schedule (schedule.py): its tensors are
exactly the op's reads and writes, the optimizer's state included (m_W, v_W,
…), a dropout op's mask, and the batch's data rows (`rows`, integers) on
each iteration's first op. Version 1 (SGD only, no dropout) still reads.

Strict JSON: NaN and ±inf are written as the strings "NaN", "Infinity",
"-Infinity". Tensors are batch rows as the engine holds them (z: (B, n_l),
W: (n_l, n_{l-1})). A path ending in .gz is gzip-compressed.
"""

from __future__ import annotations

import gzip
import io
import json
import os  # noqa: F401 - tests patch trace.os and trace.tempfile, the modules write_atomically uses
import tempfile  # noqa: F401
import zlib
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .config import Config, build_config
from .errors import (
    BYTES_PER_PARSED_NUMBER,
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
from .schedule import OPS, STAGE_OF

FORMAT = "nnstep-trace"
VERSION = 2
READS = (1, 2)  # versions this nnstep reads
_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
# JSON text of a trace `view` will parse. Its numbers take several times the
# text as Python objects, so the memory estimate (errors.parsed_memory against
# MEMORY_LIMIT) refuses a real trace well before this; a gzip bomb stops at
# either, not at a MemoryError.
MAX_TRACE_TEXT = 2 * 2**30


def _tensor_json(value: np.ndarray) -> str:
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        cells = value.astype(object)
        cells[np.isnan(value)] = "NaN"
        cells[value == np.inf] = "Infinity"
        cells[value == -np.inf] = "-Infinity"
        return json.dumps(cells.tolist())
    return json.dumps(value.tolist())


class _TensorText:
    """JSON text of the tensors of the last two iterations, looked up by identity.

    Records share arrays by reference (W⁽ˡ⁾ is in the linear, delta and update
    records of an iteration and in the next one's), and turning floats into
    text is nearly all of an export's time: each array is converted once, and
    the file is the same as converting every occurrence. The arrays are kept
    with their text, so an id cannot be reused by a new array while cached.
    """

    def __init__(self) -> None:
        self._iteration: int | None = None
        self._current: dict[int, tuple[np.ndarray, str]] = {}
        self._previous: dict[int, tuple[np.ndarray, str]] = {}

    def start(self, iteration: int) -> None:
        """Called before each record: forget tensors older than the previous iteration."""
        if iteration != self._iteration:
            self._iteration = iteration
            self._previous, self._current = self._current, {}

    def __call__(self, value: np.ndarray) -> str:
        key = id(value)
        entry = self._current.get(key) or self._previous.get(key)
        if entry is None:
            entry = (value, _tensor_json(value))
        self._current[key] = entry
        return entry[1]


@lru_cache(maxsize=1024)
def _op_fields(stage: str, layer: int | None, op: str, equation: str, writes: tuple[str, ...]) -> str:
    """The JSON fields of a record after its counters: the same for one op in every iteration."""
    fields = json.dumps(
        {"stage": stage, "layer": layer, "op": op, "equation": equation, "writes": list(writes)}, ensure_ascii=False
    )
    return fields[1:-1]


def _record_parts(record: StepRecord, tensor_text: Callable[[np.ndarray], str]) -> tuple[str, str]:
    """A record's JSON in two pieces: up to its tensors (with the equation's
    non-ASCII symbols), and the tensors (ASCII, nine tenths of the text)."""
    head = (
        f'{{"index": {record.index}, "iteration": {record.iteration}, "epoch": {record.epoch}, '
        f'{_op_fields(record.stage, record.layer, record.op, record.equation, record.writes)}, "tensors": {{'
    )
    tensors = ", ".join(f'"{name}": {tensor_text(value)}' for name, value in record.tensors.items())
    return head, tensors + "}}"


def record_json(record: StepRecord, tensor_text: Callable[[np.ndarray], str] = _tensor_json) -> str:
    """One step record as strict JSON text (`tensor_text` turns one tensor into JSON)."""
    return "".join(_record_parts(record, tensor_text))


def select(records: Iterable[StepRecord], every: int = 1, stages: Iterable[str] | None = None) -> Iterator[StepRecord]:
    """Keep every `every`-th iteration (the first, then every k-th) and only `stages`."""
    wanted = set(STAGES if stages is None else stages)
    for record in records:
        if (record.iteration - 1) % every == 0 and record.stage in wanted:
            yield record


def write_trace(path: str | Path, config: dict[str, Any], records: Iterable[StepRecord]) -> int:
    """Stream a trace to `path` atomically; return the number of steps written.

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
        header = json.dumps({"format": FORMAT, "version": VERSION, "config": config}, ensure_ascii=False, allow_nan=False)
        head = (header[:-1] + ', "steps": [').encode("utf-8")
    except UnicodeEncodeError as error:
        raise NnstepError(f"{path}: cannot export, the config holds text that is not Unicode "
                          f"({one_line(error.object[error.start:error.end])})") from None
    except ValueError as error:  # NaN in the config: allow_nan=False
        raise NnstepError(f"{path}: cannot export, the config does not convert to strict JSON ({error})") from None
    count = 0

    def body(raw: IO[bytes]) -> None:
        nonlocal count
        out: IO[bytes] | gzip.GzipFile = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) if path.suffix == ".gz" else raw
        out.write(head)
        with io.TextIOWrapper(out, encoding="utf-8", write_through=False) as text:
            tensor_text = _TensorText()
            for record in records:
                tensor_text.start(record.iteration)
                fields, tensors = _record_parts(record, tensor_text)
                # Written apart, the tensors stay an ASCII string, which
                # encodes to UTF-8 at copy speed (joined to the head's
                # symbols, the whole record took the slow path).
                text.write((",\n" if count else "\n") + fields)
                text.write(tensors)
                count += 1
            text.write("\n]}\n")

    write_atomically(path, body)
    return count


def write_text(path: str | Path, text: str) -> None:
    """Write a text file the user named (a handout, a config), atomically, as every export is written."""
    data = text.encode("utf-8")
    write_atomically(path, lambda raw: raw.write(data))


def _too_large(size: int) -> str:
    """Why a trace file of `size` bytes is not read: over MAX_TRACE_TEXT, or its text alone would not parse in memory."""
    if size <= MAX_TRACE_TEXT:
        return _too_much_memory(size, 0)
    return (f"the trace is too large to view (over {size / 2**30:.1f} GiB of JSON, the limit is "
            f"{MAX_TRACE_TEXT / 2**30:.0f} GiB); export fewer steps with --every or --stages")


def _too_much_memory(size: int, commas: int) -> str:
    return (f"the trace would take {gib(parsed_memory(size, commas))} to view, more than the "
            f"{MEMORY_LIMIT / 2**30:g} GiB nnstep allows; export fewer steps with --every or --stages")


def _gunzip(path: Path, data: bytes | bytearray) -> bytearray:
    """Decompress in pieces, refusing the file as soon as its text passes MAX_TRACE_TEXT
    or would not parse within MEMORY_LIMIT (errors.parsed_memory): a gzip bomb
    stops early, not at a MemoryError."""
    out = bytearray()
    commas = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as packed:
            while chunk := packed.read(1 << 20):
                out += chunk
                commas += chunk.count(b",")
                if len(out) > MAX_TRACE_TEXT:
                    raise NnstepError(f"{path}: {_too_large(len(out))}")
                if parsed_memory(len(out), commas) > MEMORY_LIMIT:
                    raise NnstepError(f"{path}: {_too_much_memory(len(out), commas)}")
    except (OSError, EOFError, zlib.error):
        raise NnstepError(f"{path}: the gzip data is truncated or damaged") from None
    return out  # not bytes(out): that would copy the whole text


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        return _NON_FINITE.get(value, value)
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def read_trace(path: str | Path) -> dict[str, Any]:
    """Load and check a trace file; tensors become read-only float64 arrays.

    Returns {"config": the config dict as written, "records": [StepRecord]}.
    Raises NnstepError with one line for a missing, truncated or foreign
    file, an unknown format or version, a config that does not check, or a
    step whose op, layer or tensor shapes do not fit that config — all
    before anything is shown. Tensors are batch rows: z (B, n_l), W (n_l, n_{l-1}).
    """
    if not str(path).strip():  # Path("") is ".", which would be reported as a folder
        raise NnstepError("no trace file given (an empty path)")
    path = Path(path)
    # The text alone (no numbers counted yet) must parse within MEMORY_LIMIT: refused by its size before it is read.
    limit = min(MAX_TRACE_TEXT, (MEMORY_LIMIT - BYTES_PER_PARSED_NUMBER) // 3)
    data: bytes | bytearray = read_user_file(path, "a trace file", limit, _too_large)
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(path, data)
    if len(data) > MAX_TRACE_TEXT:
        raise NnstepError(f"{path}: {_too_large(len(data))}")
    commas = data.count(b",")
    if parsed_memory(len(data), commas) > MEMORY_LIMIT:
        raise NnstepError(f"{path}: {_too_much_memory(len(data), commas)}")
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
    if not isinstance(trace, dict) or trace.get("format") != FORMAT:
        raise NnstepError(f"{path}: not an nnstep trace (no \"format\": \"{FORMAT}\")")
    version = trace.get("version")
    if type(version) is not int or version not in READS:  # 1.0 and true are not version 1
        shown = json.dumps(version) if len(repr(version)) < 40 else "(too long to show)"
        raise NnstepError(f"{path}: trace version {shown} is not supported (this nnstep reads versions "
                          f"{', '.join(map(str, READS))})")
    config, steps = trace.get("config"), trace.get("steps")
    if not isinstance(config, dict) or not isinstance(steps, list):
        raise NnstepError(f"{path}: not a valid trace (needs a \"config\" object and a \"steps\" list)")
    if isinstance(config.get("data"), dict) and "csv" in config["data"]:
        raise NnstepError(f"{path}: config data.csv is not allowed in a trace (its data are stored inline)")
    built = build_config(config, f"{path}: config")
    if not steps:  # e.g. a run interrupted before its first op: nothing to step through
        raise NnstepError(f"{path}: the trace has no steps (nothing to view)")
    records = [_step_record(path, i, step, built, version) for i, step in enumerate(steps)]
    for i in range(1, len(records)):  # the viewer steps through the list: it must be the run's order
        if records[i].index <= records[i - 1].index:
            raise NnstepError(f"{path}: steps[{i}].index {records[i].index} does not come after the step before it "
                              f"(index {records[i - 1].index})")
    return {"config": config, "records": records, "version": version}


# Version 1: the tensors of each op that the viewer reads (its schedule was fixed: SGD, no dropout).
_V1_TENSORS = {
    "linear": ("a_prev", "W", "b", "z"),
    "activation": ("z", "a"),
    "loss": ("y_hat", "y", "loss"),
    "delta": ("z", "delta"),
    "grad": ("delta", "a_prev", "dW", "db"),
    "update": ("W", "b"),
}


def _step_record(path: Path, i: int, step: Any, config: Config, version: int) -> StepRecord:
    """One step of the trace, checked against the schedule of its config."""
    sizes = config.sizes
    where = f"{path}: steps[{i}]"
    if not isinstance(step, dict):
        raise NnstepError(f"{where} is not an object")
    for key in ("index", "iteration", "epoch", "stage", "layer", "op", "equation", "tensors"):
        if key not in step:
            raise NnstepError(f"{where} has no {key!r}")
    for key, least in (("index", 0), ("iteration", 1), ("epoch", 1)):
        value = step[key]
        if type(value) is not int or value < least:
            raise NnstepError(f"{where}.{key} must be a whole number >= {least}")
    op, stage, layer = step["op"], step["stage"], step["layer"]
    if not isinstance(op, str) or op not in OPS:
        raise NnstepError(f"{where}.op is not an op nnstep writes ({', '.join(OPS)})")
    if stage != STAGE_OF[op]:
        raise NnstepError(f"{where}.stage must be '{STAGE_OF[op]}' for op '{op}'")
    depth = len(sizes) - 1
    if op == "loss" and layer is not None:
        raise NnstepError(f"{where}.layer must be null for the loss")
    if op != "loss" and (type(layer) is not int or not 1 <= layer <= depth):
        raise NnstepError(f"{where}.layer must be a layer number 1..{depth}")
    if not isinstance(step["equation"], str):
        raise NnstepError(f"{where}.equation must be a string")
    writes = step.get("writes", [])
    if not isinstance(writes, list) or not all(isinstance(w, str) for w in writes):
        raise NnstepError(f"{where}.writes must be a list of tensor names")
    tensors = step["tensors"]
    if not isinstance(tensors, dict):
        raise NnstepError(f"{where}.tensors must be an object")
    arrays = {}
    for name, value in tensors.items():
        try:
            array = np.array(_decode(value), dtype=np.int64 if name == "rows" else np.float64)
        except (TypeError, ValueError, OverflowError, RecursionError):
            raise NnstepError(f"{where}.tensors.{name} is not an array of numbers (ragged, or not numbers)") from None
        array.flags.writeable = False
        arrays[name] = array
    if version == 1:
        required = _V1_TENSORS[op]
    else:
        schedule = config.schedule
        spec = schedule.spec(step["index"])
        if (spec.op, spec.layer) != (op, layer):
            raise NnstepError(f"{where} is op {op!r} of layer {layer}, but index {step['index']} of this network is "
                              f"op {spec.op!r} of layer {spec.layer}")
        required = spec.tensors
    for name in required:
        if name not in arrays:
            raise NnstepError(f"{where}.tensors has no {name!r}, which a {op} step holds")
    _check_shapes(where, op, layer, arrays, sizes)
    return make_record(step["index"], step["iteration"], step["epoch"], stage, layer, op, step["equation"], arrays, tuple(writes))


def _check_shapes(where: str, op: str, layer: int | None, arrays: dict[str, np.ndarray], sizes: tuple[int, ...]) -> None:
    """W, dW (n_l, n_{l-1}); b, db (n_l,); z, a, delta (B, n_l); a_prev (B, n_{l-1}); y_hat, y (B, n_L)."""
    if layer is None:
        expected = {"y_hat": sizes[-1], "y": sizes[-1]}
        if arrays["loss"].ndim != 0:
            raise NnstepError(f"{where}.tensors.loss must be a single number")
    else:
        n, n_prev = sizes[layer], sizes[layer - 1]
        expected = {"z": n, "a": n, "mask": n, "a_drop": n, "delta": n, "a_prev": n_prev}
        for name, array in arrays.items():
            # W, dW, W_before, step_W and the optimizer's m_W, v_W, … all have W's shape; likewise for b.
            kind = "W" if name in ("W", "dW") or name.endswith("_W") else "b" if name in ("b", "db") or name.endswith("_b") else ""
            shape = (n, n_prev) if kind == "W" else (n,) if kind == "b" else None
            if shape is not None and array.shape != shape:
                raise NnstepError(f"{where}.tensors.{name} has shape {array.shape}, expected {shape} (layer {layer})")
    if "rows" in arrays and arrays["rows"].ndim != 1:
        raise NnstepError(f"{where}.tensors.rows must be a list of row numbers")
    for name, width in expected.items():
        if name in arrays and (arrays[name].ndim != 2 or arrays[name].shape[1] != width):
            raise NnstepError(
                f"{where}.tensors.{name} has shape {arrays[name].shape}, expected (batch rows, {width})"
            )


# Traces of at most this many steps are checked step by step; longer ones by a sample.
VERIFY_ALL_BELOW = 2000
# The relative difference float32 arithmetic may show between machines (BLAS sums in another order).
_FLOAT32_RTOL = 1e-5


def verify_trace(config: Config, records: Sequence[StepRecord], sample: int = 20) -> str | None:
    """Check a trace's numbers against its own config by replaying the run.

    Replays `config` (a Session from the start, which is deterministic) and
    compares every record's op, place and tensors with the replay at the same
    index: every step of a trace of up to VERIFY_ALL_BELOW steps, else the
    first, the last and `sample` steps spread between them. float64 configs
    must agree exactly (NaN equals NaN); float32 ones to a relative 1e-5.
    Tensors are batch rows as the engine holds them (z: (B, n_l), W: (n_l, n_{l-1})).

    Returns None when the checked steps agree, else one line naming the first
    disagreement: the step, its index, op and layer, the tensor and max |Δ|,
    e.g. "steps[7] (index 7, iteration 1, delta layer 2): delta differs from
    the replay of the config by max |Δ| = 0.25".
    """
    from .session import (
        Session,  # session imports config and trace's neighbours; not at the top
    )

    if not records:
        return None
    count = len(records)
    if count <= VERIFY_ALL_BELOW:
        chosen: Iterable[int] = range(count)
    else:
        chosen = sorted({0, count - 1} | {round(k * (count - 1) / (sample + 1)) for k in range(1, sample + 1)})
    session = Session(config)
    rtol = 0.0 if config.dtype == "float64" else _FLOAT32_RTOL
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
            same |= np.abs(value - theirs) <= rtol * np.maximum(np.abs(value), np.abs(theirs))
        if same.all():
            return None
        delta = np.abs(value - theirs)[~same]
    largest = float(np.max(np.where(np.isnan(delta), np.inf, delta)))
    return f"max |Δ| = {largest:.6g}" + (" (NaN or infinity on one side)" if largest == np.inf else "")

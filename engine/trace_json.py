"""The JSON trace (version 3): written one value per line, read back by indexing those lines.

Arrays first, then steps, one per line: a reader finds every array's span of
text and parses only the steps' skeletons (index, op, names, references),
which take a few per cent of the file; the numbers wait in the text until a
record's tensor is read (trace_records.TraceRecords). Numbers and encoders:
trace_encode.py. Tensors are batch rows: z (B, n_l), W (n_l, n_{l-1}).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import IO, Any

import numpy as np

from .config import Config
from .errors import NnstepError, check_text
from .records import StepRecord
from .trace_encode import ArrayTable, ArrayText
from .trace_records import OpKind, StepColumns, check_refs, check_step, decode_nested

# Steps of a JSON trace wait here (their arrays come first) until the last one is written.
_SPOOL_BYTES = 32 * 2**20
_WRITE_BYTES = 2**20  # array text gathered before a write


# --- writing --------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def op_fields(stage: str, layer: int | None, op: str, equation: str, writes: tuple[str, ...]) -> str:
    """The JSON fields of a step after its counters: the same for one op in every iteration."""
    fields = json.dumps(
        {"stage": stage, "layer": layer, "op": op, "equation": equation, "writes": list(writes)}, ensure_ascii=False
    )
    return fields[1:-1]


@lru_cache(maxsize=1024)
def _step_format(stage: str, layer: int | None, op: str, equation: str, writes: tuple[str, ...],
                 names: tuple[str, ...]) -> str:
    """A %-template of one op's step line: its counters and references are the blanks."""
    fields = op_fields(stage, layer, op, equation, writes).replace("%", "%%")
    tensors = ", ".join(json.dumps(name, ensure_ascii=False).replace("%", "%%") + ": %d" for name in names)
    return '{"index": %d, "iteration": %d, "epoch": %d, ' + fields + ', "tensors": {' + tensors + "}}"


def step_json(record: StepRecord, refs: Iterable[int]) -> str:
    """One step of a version-3 trace: the record's fields, its tensors as numbers into "arrays"."""
    template = _step_format(record.stage, record.layer, record.op, record.equation, record.writes, tuple(record.tensors))
    return template % (record.index, record.iteration, record.epoch, *refs)


def write_json(out: IO[bytes], header: str, records: Iterable[StepRecord], encode: ArrayText) -> int:
    """Write a version-3 JSON trace to `out`; return the number of steps.

    Layout, one JSON value per line (what `read_trace` indexes without parsing numbers)::

        {"format": "nnstep-trace", "version": 3, "config": {...},
        "arrays": [
        <array 0>,
        …
        ],
        "steps": [
        {"index": 0, …, "tensors": {"z": 4, …}},
        …
        ]}

    Arrays come first, so every reference points back; the steps wait in a
    spooled temporary file (memory up to 32 MiB, then the system's temporary
    folder, deleted when closed) until the last array is written.
    """
    out.write((header[:-1] + ',\n"arrays": [\n').encode("utf-8"))
    table = ArrayTable()
    count = 0
    pending: list[bytes] = []  # array text, written in pieces of about a megabyte
    size = 0
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+b") as steps:
        lines: list[str] = []
        for record in records:
            table.start(record.iteration)
            refs = []
            for value in record.tensors.values():
                number, new = table.number(value)
                if new:
                    text = encode(value)
                    pending.append(b",\n" + text if number else text)
                    size += len(text)
                    if size > _WRITE_BYTES:
                        out.write(b"".join(pending))
                        pending.clear()
                        size = 0
                refs.append(number)
            lines.append(step_json(record, refs))
            count += 1
            if len(lines) >= 4096:
                steps.write(((",\n" if count > len(lines) else "") + ",\n".join(lines)).encode("utf-8"))
                lines.clear()
        out.write(b"".join(pending))
        if lines:
            steps.write(((",\n" if count > len(lines) else "") + ",\n".join(lines)).encode("utf-8"))
        out.write(b'\n],\n"steps": [\n' if table.count else b'],\n"steps": [\n')
        steps.seek(0)
        shutil.copyfileobj(steps, out, 2**20)
    out.write(b"\n]}\n" if count else b"]}\n")
    return count


# --- reading --------------------------------------------------------------------------------------

V3_PREFIX = b'{"format": "nnstep-trace", "version": 3, "config": '
_ARRAYS = b'"arrays": [\n'
_BETWEEN = b'\n],\n"steps": [\n'
_END = b"\n]}"
_STEP_CHUNK = 4 * 2**20  # bytes of step lines parsed at a time: their objects stay a few times that
_ARRAY_START = np.zeros(256, dtype=bool)
_ARRAY_START[list(b'[-0123456789"')] = True


class NotIndexed(Exception):
    """The file does not have the layout nnstep writes (one array or step per line): parse it whole instead."""


class JsonArrays:
    """Arrays of a JSON trace: spans of its text, parsed when asked for."""

    def __init__(self, data: bytes | bytearray, starts: np.ndarray, ends: np.ndarray, loads: Any) -> None:
        self._data, self._starts, self._ends, self._loads = data, starts, ends, loads
        self.count = len(starts)
        self.nbytes = int((ends - starts).sum()) if self.count else 0

    def _parse(self, text: bytes | bytearray) -> Any:
        try:
            value = self._loads(text)
        except (ValueError, RecursionError):
            raise ValueError("not valid JSON") from None
        return decode_nested(value) if b'"' in text else value

    def decode(self, number: int, dtype: np.dtype[Any]) -> np.ndarray:
        return np.array(self._parse(self._data[int(self._starts[number]): int(self._ends[number])]), dtype=dtype)

    def scalars(self, numbers: np.ndarray) -> np.ndarray:
        """Arrays `numbers`, each a single number, as one float64 array (ValueError if one is not)."""
        data = self._data
        text = b"[" + b",".join(data[s:e] for s, e in zip(self._starts[numbers].tolist(), self._ends[numbers].tolist())) + b"]"
        values = np.array(self._parse(text), dtype=np.float64)
        if values.shape != (len(numbers),):
            raise ValueError("not single numbers")
        return values


def index_json(path: str, data: bytes | bytearray, budget: int) -> tuple[dict[str, Any], str, np.ndarray, np.ndarray, int, int]:
    """Find the header, the arrays' spans and the steps' section of a version-3 JSON trace.

    Returns (header, its text, array starts, array ends, steps start, steps
    end); the header is {"format", "version", "config"}. Raises NotIndexed
    (saying what is wrong) when the text is not laid out as nnstep writes
    it, NnstepError when its index would take more than `budget` bytes.
    """
    first = data.find(b"\n")
    if first < 1 or data[first - 1] != ord(","):
        raise NotIndexed("line 1 does not end with the config")
    try:
        text = data[: first - 1].decode("utf-8") + "}"
        header = json.loads(text)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise NotIndexed(f"line 1 is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise NotIndexed("line 1 is not an object")
    if not data.startswith(_ARRAYS, first + 1):
        raise NotIndexed('line 2 is not "arrays": [')
    begin = first + 1 + len(_ARRAYS)
    between = data.find(_BETWEEN, begin - 1)
    if between < 0:
        raise NotIndexed('the "arrays" table does not end (the file is truncated?)')
    s, e = _lines(data, begin, between, budget, path)
    if len(s):
        byte = np.frombuffer(data, dtype=np.uint8)
        comma = byte[e[:-1]] == ord(",")
        bad = np.flatnonzero(np.append(~comma, byte[e[-1] - 1] == ord(",")) | (e <= s) | ~_ARRAY_START[byte[s]])
        if bad.size:
            raise NotIndexed(f"line {int(bad[0]) + 3} is not one array (followed by a comma unless it is the last)")
    steps_begin = between + len(_BETWEEN)
    end = len(data) - (1 if data.endswith(b"\n") else 0)
    if not data.startswith(_END, end - len(_END)) or end - len(_END) < steps_begin - 1:
        raise NotIndexed("the steps do not end with ]} (the file is truncated?)")
    return header, text, s, e, steps_begin, end - len(_END)


def _lines(data: bytes | bytearray, begin: int, end: int, budget: int, path: str) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (without its comma) of each line in data[begin:end], found with NumPy in pieces."""
    if end < begin:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    byte = np.frombuffer(data, dtype=np.uint8)
    found = []
    total = 0
    for at in range(begin, end, _SCAN):
        newlines = np.flatnonzero(byte[at: min(at + _SCAN, end)] == 10) + at
        total += len(newlines)
        if 16 * total > budget:
            raise NnstepError(f"{path}: the trace holds too many arrays to index in memory")
        found.append(newlines)
    newline = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[begin], newline + 1]).astype(np.int64)
    ends = np.concatenate([newline - 1, [end]]).astype(np.int64)
    return starts, ends


_SCAN = 4 * 2**20  # bytes searched for newlines at a time: its mask (one byte each) is a peak of its own


def step_chunks(data: bytes | bytearray, begin: int, end: int) -> Iterator[bytes | bytearray]:
    """The steps section (lines "step,") in pieces of whole lines, about _STEP_CHUNK bytes each, as JSON lists."""
    while begin < end:
        cut = data.find(b",\n", min(begin + _STEP_CHUNK, end), end)
        stop = end if cut < 0 else cut
        yield b"[" + data[begin:stop] + b"]"
        begin = stop + 2


# --- the steps of an indexed trace ---------------------------------------------------------------

_STEP_KEYS = frozenset(("index", "iteration", "epoch", "stage", "layer", "op", "equation", "writes", "tensors"))
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


class _Unusual(Exception):
    """A piece of steps the fast loop does not take: it is checked step by step instead."""


class StepTable:
    """The steps of a version-3 trace as they are parsed: columns, references, op kinds.

    Most steps differ from one another only in their counters and references,
    so `add` takes a parsed piece with one dict lookup per step; a step of an
    op not met yet, or anything unusual in a piece (a missing or extra key, a
    number where a string belongs, `true` as a reference…), sends it through
    check_step and check_refs, which say exactly what is wrong.
    """

    def __init__(self, path: str, config: Config, count: int) -> None:
        self.path, self.config, self.count = path, config, count
        self.table, self.refs, self.counts = array("q"), array("q"), array("q")
        self.kinds: dict[OpKind, int] = {}
        self._known: dict[Any, OpKind] = {}
        self._fast: dict[tuple[Any, ...], int] = {}
        self._ops = len(config.schedule)

    def __len__(self) -> int:
        return len(self.counts)

    def add(self, steps: Any, text: bytes | bytearray) -> None:
        """Append a parsed piece of steps (`text` is its JSON, for a cheap look at what it holds)."""
        mark = (len(self.table), len(self.refs), len(self.counts))
        try:
            if not isinstance(steps, list) or b"true" in text or b"false" in text:
                raise _Unusual
            self._add_fast(steps)
        except (_Unusual, TypeError, OverflowError):
            del self.table[mark[0]:], self.refs[mark[1]:], self.counts[mark[2]:]
            self._add_checked(steps)

    def _add_fast(self, steps: list[Any]) -> None:
        table, refs, counts, fast, ops, big = self.table, self.refs, self.counts, self._fast, self._ops, 2**62
        for step in steps:
            if type(step) is not dict or step.keys() != _STEP_KEYS:
                raise _Unusual
            index, iteration, epoch, tensors, writes = (step["index"], step["iteration"], step["epoch"],
                                                        step["tensors"], step["writes"])
            if type(index) is not int or type(iteration) is not int or type(epoch) is not int or \
                    type(tensors) is not dict or type(writes) is not list or \
                    not (0 <= index < big and 0 < iteration < big and 0 < epoch < big):
                raise _Unusual
            kind = fast.get((step["op"], step["stage"], step["layer"], step["equation"], tuple(writes),
                             tuple(tensors), index % ops))
            if kind is None:
                kind = self._check(step, len(counts))
            table.extend((index, iteration, epoch, kind))
            refs.extend(tensors.values())
            counts.append(len(tensors))

    def _check(self, step: dict[str, Any], position: int) -> int:
        """A step of an op (at a place in the iteration) not met yet: checked in full, then remembered."""
        where = f"{self.path}: steps[{position}]"
        index, _, _, kind = check_step(where, step, self.config, 3, self._known)
        check_refs(where, step["tensors"], self.count)
        number = self.kinds.setdefault(kind, len(self.kinds))
        if type(step["writes"]) is list and type(step["tensors"]) is dict:
            self._fast[(step["op"], step["stage"], step["layer"], step["equation"], tuple(step["writes"]),
                        tuple(step["tensors"]), index % self._ops)] = number
        return number

    def _add_checked(self, steps: Any) -> None:
        if not isinstance(steps, list):
            raise NnstepError(f'{self.path}: not a valid trace (needs a "steps" list)')
        for step in steps:
            where = f"{self.path}: steps[{len(self.counts)}]"
            index, iteration, epoch, kind = check_step(where, step, self.config, 3, self._known)
            refs = check_refs(where, step["tensors"], self.count)
            self.table.extend((index, iteration, epoch, self.kinds.setdefault(kind, len(self.kinds))))
            self.refs.extend(refs)
            self.counts.append(len(refs))

    def finish(self) -> tuple[StepColumns, np.ndarray, np.ndarray]:
        """(columns, first reference of each step and one past the last, references), references checked."""
        table = np.frombuffer(self.table, dtype=np.int64).reshape(-1, 4)
        refs = np.frombuffer(self.refs, dtype=np.int64)
        first = np.concatenate([[0], np.cumsum(np.frombuffer(self.counts, dtype=np.int64))]).astype(np.int64)
        kinds = tuple(self.kinds)
        wrong = np.flatnonzero((refs < 0) | (refs >= self.count))
        if wrong.size:
            at = int(wrong[0])
            position = int(np.searchsorted(first, at, side="right")) - 1
            name = kinds[int(table[position, 3])].names[at - int(first[position])]
            check_refs(f"{self.path}: steps[{position}]", {name: int(refs[at])}, self.count)
        columns = StepColumns(table[:, 0], table[:, 1], table[:, 2], table[:, 3], kinds)
        return columns, first, refs


def parse_steps(path: str, data: bytes | bytearray, begin: int, end: int, config: Config, count: int,
                loads: Any) -> tuple[StepColumns, np.ndarray, np.ndarray]:
    """Parse and check the steps section of an indexed version-3 trace (`loads`: orjson's, else None)."""
    steps = StepTable(path, config, count)
    for chunk in step_chunks(data, begin, end):
        parsed: Any = None
        if loads is not None and not _SURROGATE.search(chunk):
            try:
                parsed = loads(chunk)
            except ValueError:
                parsed = None  # json says what is wrong, or takes what orjson does not (NaN, huge integers)
        if parsed is None:
            try:
                text = chunk.decode("utf-8")
                parsed = json.loads(text)
            except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
                raise NotIndexed(f"the steps from steps[{len(steps)}] on are not valid JSON ({error})") from None
            check_text(parsed, text, path)
        steps.add(parsed, chunk)
    return steps.finish()

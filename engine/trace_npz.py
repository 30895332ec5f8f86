"""The .npz trace: the same header and arrays as the JSON one, in NumPy's format, written and read.

Arrays of one dtype are concatenated into flat blocks of about 4 MiB (an
.npz of one member per array would hold more zip headers than numbers for
a small net); tables say where each array and each step's tensors are. A
reader loads the tables, checks them as the JSON steps are checked, and
reads a block when an array in it is first decoded. Nothing is unpickled:
every member's header is checked to be plain numbers before its data are
read. Tensors are batch rows: z (B, n_l), W (n_l, n_{l-1}).
"""

from __future__ import annotations

import io
import json
import struct
import threading
import zipfile
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Iterable
from typing import IO, Any

import numpy as np

from .config import Config
from .errors import NnstepError
from .records import StepRecord
from .trace_encode import ArrayTable
from .trace_records import OpKind, StepColumns, check_step

BLOCK_BYTES = 4 * 2**20  # arrays of one dtype are concatenated into blocks of about this size
MAX_NDIM = 4  # columns of the `arrays` table: block, start, ndim, then up to 4 sizes
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # a fixed time stamp: the same trace gives the same bytes


# --- writing ---------------------------------------------------------------------------------------


def _member(archive: zipfile.ZipFile, name: str, value: np.ndarray) -> None:
    info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
    with archive.open(info, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, np.ascontiguousarray(value), allow_pickle=False)


class _Blocks:
    """Arrays of one dtype concatenated, flat, into members `block<j>` of about BLOCK_BYTES."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.table = array("q")  # per array: block, start, ndim, sizes (MAX_NDIM columns, 0-padded)
        self.count = 0
        self._open: dict[str, tuple[int, list[np.ndarray], int]] = {}  # dtype -> (block, pieces, items)

    def add(self, value: np.ndarray) -> None:
        if value.dtype.kind not in "biuf" or value.ndim > MAX_NDIM:
            raise NnstepError(f"cannot export a {value.dtype} tensor of {value.ndim} dimensions to .npz")
        dtype = value.dtype.newbyteorder("=").str
        block, pieces, items = self._open.get(dtype) or (self.count, [], 0)
        if not pieces:
            self.count += 1
        self.table.extend((block, items, value.ndim, *value.shape, *(0,) * (MAX_NDIM - value.ndim)))
        pieces.append(value.reshape(-1))
        items += value.size
        self._open[dtype] = (block, pieces, items)
        if items * value.dtype.itemsize >= BLOCK_BYTES:
            self._close(dtype)

    def _close(self, dtype: str) -> None:
        block, pieces, _ = self._open.pop(dtype)
        _member(self.archive, f"block{block}", np.concatenate(pieces).astype(dtype, copy=False))

    def close(self) -> None:
        for dtype in list(self._open):
            self._close(dtype)


def write_npz(raw: IO[bytes], header: str, records: Iterable[StepRecord]) -> int:
    """Write a version-3 trace as an uncompressed .npz (readable with np.load(allow_pickle=False)).

    Members: `header` (UTF-8 JSON bytes, uint8: format, version, config and
    `ops`, the distinct ops with stage, layer, op, equation, writes and tensor
    names), `steps` (int64, one row per step: index, iteration, epoch, row of
    `ops`), `refs` (int64: each step's tensors in its op's order, as numbers
    into `arrays`), `arrays` (int64, one row per array: block, start, ndim,
    then its sizes) and `block<j>` (1-D, the arrays' elements end to end).
    """
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        table = ArrayTable()
        blocks = _Blocks(archive)
        steps, refs = array("q"), array("q")
        ops: dict[tuple[Any, ...], int] = {}
        for record in records:
            table.start(record.iteration)
            for value in record.tensors.values():
                number, new = table.number(value)
                if new:
                    blocks.add(value)
                refs.append(number)
            key = (record.stage, record.layer, record.op, record.equation, record.writes, tuple(record.tensors))
            steps.extend((record.index, record.iteration, record.epoch, ops.setdefault(key, len(ops))))
        blocks.close()
        described = [{"stage": s, "layer": l, "op": o, "equation": e, "writes": list(w), "tensors": list(n)}
                     for s, l, o, e, w, n in ops]
        text = header[:-1] + ', "ops": ' + json.dumps(described, ensure_ascii=False) + "}"
        _member(archive, "header", np.frombuffer(text.encode("utf-8"), dtype=np.uint8))
        _member(archive, "steps", np.array(steps, dtype=np.int64).reshape(-1, 4))
        _member(archive, "refs", np.array(refs, dtype=np.int64))
        _member(archive, "arrays", np.array(blocks.table, dtype=np.int64).reshape(-1, 3 + MAX_NDIM))
    return len(steps) // 4


# --- reading ---------------------------------------------------------------------------------------


# What a damaged zip file can raise from zipfile, zlib or numpy's header parser.
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, OSError, EOFError, zlib.error, NotImplementedError,
              RuntimeError, struct.error, ValueError, TypeError, SyntaxError, OverflowError, MemoryError)


def npz_member(archive: zipfile.ZipFile, name: str, budget: int) -> np.ndarray:
    """Member `name`.npy of an .npz, its header checked before its data are read: plain numbers, at most `budget` bytes.

    ValueError (saying what is wrong) for anything else, a damaged member
    included; never unpickles anything.
    """
    try:
        return _npz_member(archive, name, budget)
    except ValueError:
        raise
    except ZIP_ERRORS as error:
        raise ValueError(f"its {name!r} array cannot be read ({type(error).__name__}: {error})") from None


def _npz_member(archive: zipfile.ZipFile, name: str, budget: int) -> np.ndarray:
    try:
        info = archive.getinfo(f"{name}.npy")
    except KeyError:
        raise ValueError(f"it has no {name!r} array") from None
    if info.file_size > budget + 4096:
        raise ValueError(f"its {name!r} array is too large to read ({info.file_size:,} bytes)")
    with archive.open(info) as member:
        shape, dtype = _npy_header(member, name)
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if size > budget:
            raise ValueError(f"its {name!r} array is too large to read ({size:,} bytes)")
        raw = member.read(size)
    if len(raw) != size:
        raise ValueError(f"its {name!r} array is truncated")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _npy_header(member: IO[bytes], name: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """(shape, dtype) from an npy header: plain numbers in C order only."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f"its {name!r} array has npy format version {version}")
    if dtype.hasobject or dtype.kind not in "biuf" or fortran or any(n < 0 for n in shape):
        raise ValueError(f"its {name!r} array is not plain numbers ({dtype})")
    return shape, dtype


class NpzArrays:
    """Arrays of an .npz trace: slices of its blocks, a block read when first needed (the last 8 kept)."""

    def __init__(self, archive: zipfile.ZipFile, table: np.ndarray, nbytes: int, budget: int) -> None:
        self._archive, self._table, self._budget = archive, table, budget
        self._blocks: OrderedDict[int, np.ndarray] = OrderedDict()
        self.count = len(table)
        self.nbytes = nbytes

    def decode(self, number: int, dtype: np.dtype[Any]) -> np.ndarray:
        block, start, ndim, *sizes = (int(v) for v in self._table[number])
        shape = tuple(sizes[:ndim])
        value = self._block(block)[start: start + int(np.prod(shape, dtype=np.int64))].reshape(shape)
        if dtype.kind == "f" and value.dtype.kind == "f":
            return value.copy()  # float32 stays float32: exact
        return value.astype(dtype)

    def scalars(self, numbers: np.ndarray) -> np.ndarray:
        rows = self._table[numbers]
        if (rows[:, 2] != 0).any():
            raise ValueError("not single numbers")
        values = np.empty(len(numbers), dtype=np.float64)
        for block in np.unique(rows[:, 0]).tolist():
            here = rows[:, 0] == block
            values[here] = self._block(block)[rows[here, 1]]
        return values

    def _block(self, block: int) -> np.ndarray:
        with _BLOCK_LOCK:
            data = self._blocks.get(block)
            if data is None:
                data = npz_member(self._archive, f"block{block}", self._budget)
                self._blocks[block] = data
                while len(self._blocks) > 8:
                    self._blocks.popitem(last=False)
            else:
                self._blocks.move_to_end(block)
            return data


_BLOCK_LOCK = threading.Lock()  # zipfile members are read through one shared file object


def open_npz(data: bytes) -> zipfile.ZipFile:
    """The zip archive of an .npz trace held in memory (BadZipFile for anything else)."""
    return zipfile.ZipFile(io.BytesIO(data))


def _table(archive: zipfile.ZipFile, name: str, columns: int | None, budget: int) -> np.ndarray:
    value = npz_member(archive, name, budget)
    if value.dtype.kind not in "iu" or value.ndim != (1 if columns is None else 2) or \
            (columns is not None and value.shape[1] != columns):
        raise ValueError(f"its {name!r} array is not a table of whole numbers"
                         + ("" if columns is None else f" with {columns} columns"))
    return value.astype(np.int64)


def npz_kinds(path: str, archive: zipfile.ZipFile, header: dict[str, Any], config: Config,
              budget: int) -> tuple[StepColumns, np.ndarray, np.ndarray, NpzArrays]:
    """The steps, references and arrays of an .npz trace, checked as a JSON trace's are.

    (columns, first reference of each step and one past the last, references, arrays).
    """
    try:
        steps = _table(archive, "steps", 4, budget)
        refs = _table(archive, "refs", None, budget)
        table = _table(archive, "arrays", 7, budget)
    except ValueError as error:
        raise NnstepError(f"{path}: not a valid .npz trace ({error})") from None
    ops = header.get("ops")
    if not isinstance(ops, list):
        raise NnstepError(f'{path}: not a valid .npz trace (its header has no "ops" list)')
    n = len(steps)
    for key, column, least in (("index", 0, 0), ("iteration", 1, 1), ("epoch", 2, 1)):
        wrong = np.flatnonzero(steps[:, column] < least)
        if wrong.size:
            raise NnstepError(f"{path}: steps[{int(wrong[0])}].{key} must be a whole number >= {least}")
    wrong = np.flatnonzero((steps[:, 3] < 0) | (steps[:, 3] >= len(ops)))
    if wrong.size:
        raise NnstepError(f"{path}: steps[{int(wrong[0])}] refers to ops[{int(steps[int(wrong[0]), 3])}], "
                          f"but the header has {len(ops)}")
    # Each op is checked once per place in the iteration it is found at, as check_step would.
    offsets = steps[:, 0] % len(config.schedule)
    pairs, firsts = np.unique(np.stack([steps[:, 3], offsets], axis=1), axis=0, return_index=True) if n else ([], [])
    kinds: list[OpKind | None] = [None] * len(ops)
    for (row, _), position in zip(np.asarray(pairs).tolist(), np.asarray(firsts).tolist()):
        op = ops[row]
        if not isinstance(op, dict) or not isinstance(op.get("tensors"), list) or \
                not all(isinstance(name, str) for name in op["tensors"]):
            raise NnstepError(f"{path}: ops[{row}] is not an op (with a list of tensor names)")
        step = {**op, "index": int(steps[position, 0]), "iteration": int(steps[position, 1]),
                "epoch": int(steps[position, 2]), "tensors": dict.fromkeys(op["tensors"], 0)}
        kinds[row] = check_step(f"{path}: steps[{position}]", step, config, 3, {})[3]
    counts = np.array([0 if kind is None else len(kind.names) for kind in kinds], dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(counts[steps[:, 3]])]).astype(np.int64)
    if first[-1] != len(refs):
        raise NnstepError(f"{path}: not a valid .npz trace (its steps have {int(first[-1])} tensors, "
                          f"its refs table {len(refs)})")
    wrong = np.flatnonzero((refs < 0) | (refs >= len(table)))
    if wrong.size:
        position = int(np.searchsorted(first, wrong[0], side="right")) - 1
        kind = kinds[int(steps[position, 3])]
        name = kind.names[int(wrong[0] - first[position])] if kind else "?"
        raise NnstepError(f"{path}: steps[{position}].tensors.{name} refers to arrays[{int(refs[wrong[0]])}], but the "
                          f"trace has {len(table)} array{'s' * (len(table) != 1)}")
    source = NpzArrays(archive, table, _check_blocks(path, archive, table, budget), budget)
    used = tuple(kind if kind is not None else OpKind("forward", None, "linear", "", (), ()) for kind in kinds)
    columns = StepColumns(steps[:, 0].copy(), steps[:, 1].copy(), steps[:, 2].copy(), steps[:, 3].copy(), used)
    return columns, first, refs, source


def _check_blocks(path: str, archive: zipfile.ZipFile, table: np.ndarray, budget: int) -> int:
    """Every array lies inside its block (read from the npy headers only); the blocks' bytes."""
    if not len(table):
        return 0
    block, start, ndim = table[:, 0], table[:, 1], table[:, 2]
    if (block < 0).any() or (start < 0).any() or (ndim < 0).any() or (ndim > 4).any() or (table[:, 3:] < 0).any():
        raise NnstepError(f"{path}: not a valid .npz trace (its arrays table has negative or impossible entries)")
    sizes = np.where(np.arange(4) < ndim[:, None], table[:, 3:], 1)
    if (sizes > 2**40).any():
        raise NnstepError(f"{path}: not a valid .npz trace (an array is too large)")
    stop = start + np.prod(sizes, axis=1)
    total = 0
    for j in np.unique(block).tolist():
        try:
            with archive.open(f"block{j}.npy") as member:
                shape, dtype = _npy_header(member, f"block{j}")
        except ZIP_ERRORS as error:
            raise NnstepError(f"{path}: not a valid .npz trace (block{j}: {error})") from None
        if len(shape) != 1 or int(stop[block == j].max()) > shape[0]:
            raise NnstepError(f"{path}: not a valid .npz trace (an array runs past the end of block{j})")
        total += shape[0] * dtype.itemsize
    return total

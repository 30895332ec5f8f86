"""Training data: inline rows, built-in datasets generated with NumPy, or CSV.

Batch rows: x has shape (N, n_0), targets y shape (N, n_L). Class labels
(1-D ints) become one-hot rows; `labels` keeps them for plots and the trace.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import (
    FOLDER,
    LARGE,
    MEMORY_LIMIT,
    MISSING,
    SPECIAL,
    UNUSABLE,
    NnstepError,
    gib,
    quoted,
    read_user_file,
)
from .reader import Reader, kind_of

# A CSV file is read whole (one bounded read), then parsed piece by piece into
# float64 rows, whose memory is estimated before they are made.
MAX_CSV_BYTES = 2**30

DATASETS = {
    "xor": "the four points of XOR, labels 0/1",
    "moons": "two interleaving half circles in 2-D, labels 0/1",
    "spiral": "interleaved spiral arms in 2-D, one class per output (2 for a single output)",
    "sine": "y = sin(x) on [-π, π], 1-D regression",
    "random": "x ~ N(0, 1) of width sizes[0], uniformly random class labels",
}
DEFAULT_N = {"xor": 4, "moons": 200, "spiral": 300, "sine": 64, "random": 10}  # rows when data.n is not given


def make_dataset(
    name: str, n: int, noise: float, classes: int, width: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Generate (x, targets); targets are int labels except for sine (floats, (N, 1))."""
    rng = np.random.default_rng([seed, 1])
    if name == "random":
        return rng.standard_normal((n, width)), rng.integers(0, classes, n)
    if name == "xor":
        x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        return x, np.array([0, 1, 1, 0])
    if name == "moons":
        top = n // 2
        t = np.pi * rng.random(n)
        x = np.where(
            (np.arange(n) < top)[:, None],
            np.stack([np.cos(t), np.sin(t)], axis=1),
            np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1),
        )
        labels = (np.arange(n) >= top).astype(np.int64)
        return x + rng.normal(0.0, noise, x.shape), labels
    if name == "spiral":
        labels = np.arange(n) % classes
        r = rng.random(n)
        theta = 4.0 * r + labels * (2.0 * np.pi / classes) + rng.normal(0.0, noise, n)
        x = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
        return x, labels
    x = rng.uniform(-np.pi, np.pi, (n, 1))
    return x, np.sin(x) + rng.normal(0.0, noise, x.shape)


def read_data(
    r: Reader,
    data: dict[str, Any],
    sizes: tuple[int, ...],
    loss: str,
    seed: int,
    base: Path | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Return (x, y, labels) from a [data] table, checked against the network."""
    sources = [key for key in ("x", "dataset", "csv") if key in data]
    if not sources:
        raise r.fail("data", "needs one of: x and y, dataset, csv")
    if len(sources) > 1:
        raise r.fail("data", f"has both {sources[0]} and {sources[1]}; give one source")
    source = sources[0]
    for key in ("n", "noise"):
        if key in data and source != "dataset":
            raise r.fail(f"data.{key}", "only applies with data.dataset")
    for key in ("target", "features"):
        if key in data and source != "csv":
            raise r.fail(f"data.{key}", "only applies with data.csv")

    if source == "x":
        if "y" not in data:
            raise r.fail("", "missing key data.y (the targets for data.x)")
        x = r.matrix(data["x"], "data.x", 2)
        raw_y = data["y"]
        is_labels = isinstance(raw_y, list) and all(not isinstance(v, list) for v in raw_y)
        y = r.matrix(raw_y, "data.y", 1 if is_labels else 2)
        target_key = "data.y"
    elif source == "dataset":
        if "y" in data:
            raise r.fail("data.y", "is given together with data.dataset; give one source")
        name = r.choice(data["dataset"], "data.dataset", tuple(DATASETS), "dataset")
        n = r.integer(data.get("n", DEFAULT_N[name]), "data.n", minimum=1)
        if name == "xor" and "n" in data:
            raise r.fail("data.n", "does not apply to the xor dataset (always 4 points)")
        noise = r.number(data.get("noise", 0.1), "data.noise", minimum=0.0)
        classes = sizes[-1] if loss == "cross_entropy" and sizes[-1] > 1 else 2
        with np.errstate(all="ignore"):  # a huge noise overflows: said below, not as numpy warnings
            x, y = make_dataset(name, n, noise, classes, sizes[0], seed)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise r.fail("data.noise", f"is too large ({noise:g}): the generated data are not finite")
        is_labels = name != "sine"
        target_key = f"data.dataset ('{name}')"
    else:
        x, y, is_labels = _read_csv(r, data, base, loss)
        target_key = "data.target"

    if len(x) == 0:
        raise r.fail("data.x" if source == "x" else f"data.{source}", "has no rows (empty data)")
    if x.shape[1] != sizes[0]:
        raise r.fail(
            "data.x" if source == "x" else f"data.{source}",
            f"has {x.shape[1]} features per row but model.sizes[0] is {sizes[0]}",
        )
    if len(y) != len(x):
        raise r.fail(target_key, f"has {len(y)} rows but the inputs have {len(x)}")

    labels = None
    if is_labels and loss != "cross_entropy" and sizes[-1] == 1 and not np.isin(y, (0.0, 1.0)).all():
        is_labels = False  # one real target per row for a single output: regression, not classes
    if is_labels:
        if loss == "cross_entropy" or sizes[-1] > 1:
            if not np.all(y == np.round(y)):
                row = int(np.flatnonzero(y != np.round(y))[0])
                raise r.fail(target_key, f"holds class label {y[row]:g} at row {row}, which is not a whole number")
            # Checked as floats before the cast: 1e300 must not wrap to a valid index.
            bad = np.flatnonzero((y < 0) | (y >= sizes[-1]))
            if len(bad):
                raise r.fail(
                    target_key,
                    f"has class index {y[bad[0]]:g} at row {bad[0]}, outside 0..{sizes[-1] - 1} "
                    f"(model.sizes[-1] = {sizes[-1]} classes)",
                )
            labels = y.astype(np.int64)
            y = np.zeros((len(labels), sizes[-1]))  # one-hot rows; np.eye(k) would be k×k (75 GiB for 100,000 classes)
            y[np.arange(len(labels)), labels] = 1.0
        else:
            labels = y.astype(np.int64)
            y = labels.astype(np.float64)[:, None]
    elif y.ndim == 1:
        y = y[:, None]
    if y.shape[1] != sizes[-1]:
        raise r.fail(target_key, f"has {y.shape[1]} values per row but model.sizes[-1] is {sizes[-1]}")
    if loss == "bce" and (np.any(y < 0) or np.any(y > 1)):
        row = int(np.flatnonzero(np.any((y < 0) | (y > 1), axis=1))[0])
        raise r.fail(target_key, f"has a target outside [0, 1] at row {row}, which bce cannot take")
    if loss == "cross_entropy" and labels is None and np.any(y < 0):
        raise r.fail(target_key, "has negative target probabilities, which cross_entropy cannot take")
    return x, y, labels


def _read_csv(
    r: Reader, data: dict[str, Any], base: Path | None, loss: str
) -> tuple[np.ndarray, np.ndarray, bool]:

    raw_path = data["csv"]
    if not isinstance(raw_path, str):
        raise r.fail("data.csv", f"must be a path string, got {kind_of(raw_path)}")
    path = (base or Path.cwd()) / raw_path
    if "target" not in data:
        raise r.fail("", "missing key data.target (the CSV columns to predict)")
    target = data["target"]
    if isinstance(target, str):
        target = [target]
    if not isinstance(target, list) or not target or not all(isinstance(t, str) for t in target):
        raise r.fail("data.target", "must be a list of column names")

    def say(code: str, detail: str) -> NnstepError:
        if code == UNUSABLE:
            return r.fail("data.csv", f"is not a usable path: {raw_path!r}")
        if code == LARGE:
            return r.fail("data.csv", f"names {path} ({detail}), more than the {MAX_CSV_BYTES // 2**30} GiB of CSV nnstep reads")
        which = {MISSING: "does not exist", FOLDER: "is a folder, not a CSV file",
                 SPECIAL: f"is not a regular file ({detail})"}.get(code, f"cannot be read ({detail})")
        return r.fail("data.csv", f"names {path}, which {which}")

    blob = read_user_file(path, "a CSV file", MAX_CSV_BYTES, lambda size: f"{size / 2**30:.1f} GiB", say)
    where = raw_path
    header: list[str] = []
    features: list[str] = []

    def check_header(names: list[str]) -> None:
        """The header's checks, made before any cell is read: their errors come first."""
        header.extend(name.strip() for name in names)
        seen: dict[str, int] = {}
        for j, name in enumerate(header):
            if name in seen:
                raise r.fail("data.csv", f"names {where}, whose header names column {quoted(name)} twice "
                                         f"(columns {seen[name] + 1} and {j + 1}); rename one")
            seen[name] = j
        for name in target:
            if name not in seen:
                raise r.fail("data.target", f"names column '{name}', which {where} does not have ({_columns(header)})")
        chosen = data.get("features", [h for h in header if h not in target])
        if not isinstance(chosen, list) or not all(isinstance(f, str) for f in chosen):
            raise r.fail("data.features", "must be a list of column names")
        for name in chosen:
            if name not in seen:
                raise r.fail("data.features", f"names column '{name}', which {where} does not have")
        features.extend(chosen)

    def fail_at(message: str) -> NnstepError:
        return r.fail("", f"data.csv: {where} {message}")

    try:
        values = _csv_values(blob, check_header, lambda why: r.fail("data.csv", f"names {where}, which {why}"), fail_at)
    except UnicodeDecodeError:
        raise r.fail("data.csv", f"names {path}, which is not UTF-8 text") from None
    except csv.Error as error:
        raise r.fail("data.csv", f"names {path}, which cannot be read ({error})") from None
    x = values[:, [header.index(f) for f in features]]
    y = values[:, [header.index(t) for t in target]]
    is_labels = loss == "cross_entropy" and len(target) == 1
    return x, (y[:, 0] if is_labels else y), is_labels


def _columns(header: list[str]) -> str:
    """The columns a file has, for a message: the first three, shortened and escaped.

    data.csv may name any file (as root, /etc/shadow): its first line is
    quoted only as far as that helps to find a misspelt column name.
    """
    shown = ", ".join(quoted(name) for name in header[:3])
    return f"{len(header)} columns: {shown}, …" if len(header) > 3 else f"columns: {shown}"


# --- parsing -------------------------------------------------------------------------

_HEADER_BYTES = 2**20  # a first line longer than this is not a row of column names
_CHUNK_BYTES = 2**21  # the fast parser's piece: its temporaries take ~30 bytes per byte
_BLOCK_ROWS = 2**14  # rows the csv module's path converts at a time
_PLAIN = b"0123456789+-.eE,\n"  # the bytes the fast parser reads; anything else goes to the csv module
_POW10 = 10 ** np.arange(16, dtype=np.int64)
_POW10F = 10.0 ** np.arange(16)


def _csv_values(
    blob: bytes,
    check_header: Callable[[list[str]], None],
    fail: Callable[[str], NnstepError],
    fail_at: Callable[[str], NnstepError],
) -> np.ndarray:
    """The data rows of a CSV file as float64, shape (rows, columns of the header).

    Blank lines are skipped, before the header too. Plain numbers (digits,
    sign, dot, exponent) go through a vectorised parser, piece by piece; the
    first piece it cannot read (quotes, spaces, a bad cell) and everything
    after it go through the csv module and float(), which finds the bad
    cell and its line and column. Both read a cell as float() does.
    `fail(why)` words a problem of the whole file, `fail_at(text)` one at a line.
    """
    pos, line = (3 if blob.startswith(codecs.BOM_UTF8) else 0), 1
    while pos < len(blob) and blob[pos] in b"\r\n":  # blank lines before the header
        pos += 2 if blob[pos : pos + 2] == b"\r\n" else 1
        line += 1
    if pos == len(blob):
        raise fail("is empty (no header row)" if line == 1 else "holds only blank lines (no header row)")
    end = pos
    while end < len(blob) and end - pos <= _HEADER_BYTES:  # a quoted name may hold a line break
        end = _line_end(blob, end)
        if blob.count(b'"', pos, end) % 2 == 0:
            break
    if end - pos > _HEADER_BYTES:
        raise fail(f"has a first line over {_HEADER_BYTES // 2**20} MiB long, not a row of column names")

    table = _Table()

    def header_read(names: list[str]) -> None:
        check_header(names)
        # At most: every line break after the header's first line (when odd quoting makes the csv
        # module read the file, `end` may be far past the header; its first line still ends here).
        after = min(end, _line_end(blob, pos))
        rows = blob.count(b"\n", after) + blob.count(b"\r", after) - blob.count(b"\r\n", after) + 1
        estimate = len(blob) + rows * len(names) * 8 * 3  # the file, the rows, and x and y taken from them
        if estimate > MEMORY_LIMIT:
            raise fail(f"has up to {rows:,} rows of {len(names)} columns, which would take {gib(estimate)}, "
                       f"more than the {MEMORY_LIMIT / 2**30:g} GiB nnstep allows")
        table.values = np.empty((rows, len(names)))

    first = list(csv.reader(io.StringIO(blob[pos:end].decode("utf-8"), newline="")))
    if len(first) != 1:  # not one row of names (odd quoting): the csv module reads the whole file
        _slow_values(blob, pos, line, None, header_read, fail_at, table)
        return table.result()
    names = first[0]
    header_read(names)
    line += blob.count(b"\n", pos, end) + blob.count(b"\r", pos, end) - blob.count(b"\r\n", pos, end)
    pos = end
    while pos < len(blob):
        stop = len(blob) if len(blob) - pos <= _CHUNK_BYTES else blob.rfind(b"\n", pos, pos + _CHUNK_BYTES) + 1
        values = _plain_values(blob[pos:stop], len(names)) if stop > pos else None
        if values is None:  # not plain, or a line longer than a piece: the csv module from here on
            _slow_values(blob, pos, line, names, check_header, fail_at, table)
            break
        table.add(values)
        line += blob.count(b"\n", pos, stop)
        pos = stop
    return table.result()


class _Table:
    """The rows read so far, in one array sized for the most rows the file can hold (no copy at the end)."""

    def __init__(self) -> None:
        self.values = np.empty((0, 0))
        self.filled = 0

    def add(self, block: np.ndarray) -> None:
        self.values[self.filled : self.filled + len(block)] = block
        self.filled += len(block)

    def result(self) -> np.ndarray:
        return self.values[: self.filled]


def _line_end(blob: bytes, pos: int) -> int:
    """Where the line starting at `pos` ends, after its line break (\\n, \\r\\n or a lone \\r, as the csv module reads)."""
    breaks = [i for i in (blob.find(b"\n", pos), blob.find(b"\r", pos)) if i >= 0]
    if not breaks:
        return len(blob)
    i = min(breaks)
    return i + 2 if blob[i : i + 2] == b"\r\n" else i + 1


def _slow_values(
    blob: bytes, pos: int, line: int, header: list[str] | None, check_header: Callable[[list[str]], None],
    fail_at: Callable[[str], NnstepError], table: _Table,
) -> None:
    """Add the rows from byte `pos` (file line `line`) on to `table`, read by the csv module and float().

    Reads the header first when `header` is None. Converts _BLOCK_ROWS rows
    at a time, so memory holds one block of strings, not the whole file's.
    """
    stream = io.BytesIO(blob)
    stream.seek(pos)
    reader = csv.reader(io.TextIOWrapper(stream, encoding="utf-8", newline=""))
    names = [name.strip() for name in header] if header is not None else None
    rows: list[list[str]] = []
    lines: list[int] = []
    for row in reader:
        if not row:  # blank lines are skipped
            continue
        if names is None:
            check_header(row)
            names = [name.strip() for name in row]
            continue
        if len(row) != len(names):
            raise fail_at(f"line {line + reader.line_num - 1} has {len(row)} cells, the header has {len(names)}")
        rows.append(row)
        lines.append(line + reader.line_num - 1)
        if len(rows) == _BLOCK_ROWS:
            table.add(_convert(rows, lines, names, fail_at))
            rows, lines = [], []
    if names is None:
        raise fail_at("is empty (no header row)")
    table.add(_convert(rows, lines, names, fail_at))


def _convert(rows: list[list[str]], lines: list[int], names: list[str], fail_at: Callable[[str], NnstepError]) -> np.ndarray:
    """A block of rows of cells as float64, naming the line and column of a cell that is not a finite number."""
    values = np.empty((len(rows), len(names)))
    for i, row in enumerate(rows):
        try:
            values[i] = list(map(float, row))
        except ValueError:
            pass
        else:
            if np.isfinite(values[i]).all():
                continue
        for j, cell in enumerate(row):  # the failure path: find the cell
            try:
                value = float(cell)
            except ValueError:
                    raise fail_at(f"line {lines[i]}, column {j + 1} ({quoted(names[j])}): {_cell(cell)} is not a number") from None
            if not math.isfinite(value):
                raise fail_at(f"line {lines[i]}, column {j + 1} ({quoted(names[j])}): {_cell(cell)} is not finite")
    return values


def _plain_values(piece: bytes, width: int) -> np.ndarray | None:
    """float64 rows (k, width) of whole lines of plain numbers, or None for the csv module to read.

    Vectorised: cells end at commas and line ends; each cell's digits form an
    integer mantissa M (exact in int64 up to 15 digits) and the digits after
    its dot a power f, and M / 10^f is one correctly rounded division of
    exact numbers (Clinger's fast path), so the value is float(cell)'s. A
    cell with an exponent or more digits is read by float(); a cell that
    is not a number, or a row of the wrong width, returns None.
    """
    if b"\r" in piece:
        piece = piece.replace(b"\r\n", b"\n")
        if b"\r" in piece:
            return None
    if piece.translate(None, _PLAIN):
        return None
    if not piece.endswith(b"\n"):
        piece += b"\n"
    u = np.frombuffer(piece, np.uint8)
    newline = u == 10
    sep = newline | (u == 44)
    ends = np.flatnonzero(sep)
    cells = len(ends)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    # Every row: width cells, the last ending at a newline. A blank line is an
    # empty cell ending at a newline right after another one (or at the start).
    at_newline = newline[ends]
    after_newline = np.ones(cells, bool)
    after_newline[1:] = at_newline[:-1]
    kept = ~((starts == ends) & at_newline & after_newline)
    count = int(np.count_nonzero(kept))
    rows = count // width
    row_ends = at_newline[kept]
    if count % width or not row_ends[width - 1 :: width].all() or np.count_nonzero(row_ends) != rows:
        return None
    digit = u <= 57
    digit &= u >= 48
    other = np.flatnonzero(~(digit | sep))  # signs, dots, exponents
    dots = exponents = signs = np.zeros(cells, np.int64)
    dot_at = dot_cell = other[:0]
    if len(other):
        cell_of = np.zeros(len(u) + 1, np.int32)
        np.cumsum(sep, out=cell_of[1:])
        cell_of = cell_of[other]
        kind = u[other]
        is_dot = kind == 46
        dot_at, dot_cell = other[is_dot], cell_of[is_dot]
        dots = np.bincount(dot_cell, minlength=cells)
        exponents = np.bincount(cell_of[(kind | 32) == 101], minlength=cells)
        signs = np.bincount(cell_of[(kind == 43) | (kind == 45)], minlength=cells)
    digits = (ends - starts) - dots - exponents - signs
    first = u[starts]
    signed = (first == 43) | (first == 45)
    valid = (digits >= 1) & (dots <= 1) & ((signs == 0) | ((signs == 1) & signed))
    if not valid[(exponents == 0) & kept].all():
        return None
    # M: each digit times 10^(the digits after it in its cell), summed per cell
    # as differences of a running sum (which may wrap past 2^63: the differences stay exact).
    before = np.cumsum(digits)
    total = int(before[-1])
    power = np.repeat(before, digits)
    power -= np.arange(1, total + 1)
    np.minimum(power, 15, out=power)
    terms = u[digit].astype(np.int64)
    terms -= 48
    terms *= _POW10[power]
    sums = np.zeros(total + 1, np.int64)
    np.cumsum(terms, out=sums[1:])
    mantissa = sums[before] - sums[before - digits]
    fraction = np.zeros(cells, np.int64)
    fraction[dot_cell] = ends[dot_cell] - dot_at - 1
    values = mantissa / _POW10F[np.minimum(fraction, 15)]
    np.negative(values, out=values, where=first == 45)
    others = np.flatnonzero(kept & ((exponents > 0) | (digits > 15)))
    for k in others.tolist():
        try:
            values[k] = float(piece[starts[k] : ends[k]])
        except ValueError:
            return None
    values = values[kept]
    if len(others) and not np.isfinite(values).all():
        return None
    return values.reshape(rows, width)


def _cell(text: str) -> str:
    """A CSV cell quoted for a message, shortened when long (20 characters: another file's text)."""
    return repr(text if len(text) <= 20 else text[:17] + "...")

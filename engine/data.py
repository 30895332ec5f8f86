"""Training data: inline rows, built-in datasets generated with NumPy, or CSV.

Batch rows: x has shape (N, n_0), targets y shape (N, n_L). Class labels
(1-D ints) become one-hot rows; `labels` keeps them for plots and the trace.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .config import _Reader

# A CSV file's cells become Python strings before they become floats: about
# ten times the file in memory, so larger files are refused up front.
MAX_CSV_BYTES = 2**30

DATASETS = {
    "xor": "the four points of XOR, labels 0/1",
    "moons": "two interleaving half circles in 2-D, labels 0/1",
    "spiral": "interleaved spiral arms in 2-D, one class per output (2 for a single output)",
    "sine": "y = sin(x) on [-π, π], 1-D regression",
    "random": "x ~ N(0, 1) of width sizes[0], uniformly random class labels",
}


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
    r: _Reader,
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
        default_n = {"xor": 4, "moons": 200, "spiral": 300, "sine": 64, "random": 10}[name]
        n = r.integer(data.get("n", default_n), "data.n", minimum=1)
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
            y = np.eye(sizes[-1])[labels]
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
    r: _Reader, data: dict[str, Any], base: Path | None, loss: str
) -> tuple[np.ndarray, np.ndarray, bool]:
    from .config import _kind  # config imports this module, so not at the top

    raw_path = data["csv"]
    if not isinstance(raw_path, str):
        raise r.fail("data.csv", f"must be a path string, got {_kind(raw_path)}")
    path = (base or Path.cwd()) / raw_path
    if "target" not in data:
        raise r.fail("", "missing key data.target (the CSV columns to predict)")
    target = data["target"]
    if isinstance(target, str):
        target = [target]
    if not isinstance(target, list) or not target or not all(isinstance(t, str) for t in target):
        raise r.fail("data.target", "must be a list of column names")
    try:
        size = path.stat().st_size
        if size > MAX_CSV_BYTES:
            raise r.fail("data.csv", f"names {path} ({size / 2**30:.1f} GiB), more than the "
                                     f"{MAX_CSV_BYTES // 2**30} GiB of CSV nnstep reads")
        # utf-8-sig: spreadsheet exports start with a byte-order mark, which would
        # otherwise stick to the first column's name and make it "missing".
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            rows: list[list[str]] = []
            lines: list[int] = []  # lines: the file line each row ends on, for messages
            for row in reader:
                if row or not rows:  # blank lines after the header are skipped
                    rows.append(row)
                    lines.append(reader.line_num)
    except FileNotFoundError:
        raise r.fail("data.csv", f"names {path}, which does not exist") from None
    except IsADirectoryError:
        raise r.fail("data.csv", f"names {path}, which is a folder, not a CSV file") from None
    except UnicodeDecodeError:
        raise r.fail("data.csv", f"names {path}, which is not UTF-8 text") from None
    except ValueError:  # a NUL character in the path
        raise r.fail("data.csv", f"is not a usable path: {raw_path!r}") from None
    except (OSError, csv.Error) as error:
        why = getattr(error, "strerror", None) or error
        raise r.fail("data.csv", f"names {path}, which cannot be read ({why})") from None
    where = raw_path
    if not rows:
        raise r.fail("data.csv", f"names {where}, which is empty (no header row)")
    header = [name.strip() for name in rows[0]]
    for name in target:
        if name not in header:
            raise r.fail("data.target", f"names column '{name}', which {where} does not have (columns: {', '.join(header)})")
    features = data.get("features", [h for h in header if h not in target])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise r.fail("data.features", "must be a list of column names")
    for name in features:
        if name not in header:
            raise r.fail("data.features", f"names column '{name}', which {where} does not have")
    values = np.empty((len(rows) - 1, len(header)))
    for i, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise r.fail("", f"data.csv: {where} line {lines[i + 1]} has {len(row)} cells, the header has {len(header)}")
        for j, cell in enumerate(row):
            try:
                value = float(cell)
            except ValueError:
                raise r.fail("", f"data.csv: {where} line {lines[i + 1]}, column {j + 1} ({header[j]!r}): "
                                 f"{_cell(cell)} is not a number") from None
            if not math.isfinite(value):
                raise r.fail("", f"data.csv: {where} line {lines[i + 1]}, column {j + 1} ({header[j]!r}): "
                                 f"{_cell(cell)} is not finite")
            values[i, j] = value
    x = values[:, [header.index(f) for f in features]]
    y = values[:, [header.index(t) for t in target]]
    is_labels = loss == "cross_entropy" and len(target) == 1
    return x, (y[:, 0] if is_labels else y), is_labels


def _cell(text: str) -> str:
    """A CSV cell quoted for a message, shortened when long."""
    return repr(text if len(text) <= 40 else text[:37] + "...")

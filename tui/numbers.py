"""Numbers as a pane writes them: a tensor's statistics (cached by identity), its number format, one value.

A pane's format is chosen once per tensor from its statistics, so every cell
has the same width and no number is ever cut; statistics are computed once
per array, not once per pane per frame (records' arrays are immutable and
shared). Nothing here imports textual; nothing raises on NaN or inf (every
reduction runs under `np.errstate`). Batch rows: z has shape (B, n_l); W has
shape (n_l, n_{l-1}); `as_matrix` shows a vector as one row.
"""

from __future__ import annotations

import math
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from nnstep.engine.functions import l2_norm, safe_mean
from rich.cells import cell_len


@dataclass(frozen=True, slots=True)
class Stats:
    """What a pane needs to know of a whole tensor, worked out once per array (see `stats`).

    `max_abs` and `min_abs` are over the finite non-zero values (0 when there are none).
    """

    size: int
    finite: int
    nan: int
    inf: int
    neg_inf: int
    low: float
    high: float
    mean: float
    norm: float
    max_abs: float
    min_abs: float
    negative: bool  # a finite value below 0, or −inf
    integral: bool  # every finite value a whole number


_STATS: OrderedDict[int, tuple[weakref.ref[np.ndarray], Stats]] = OrderedDict()
_STATS_KEPT = 512


def stats(array: np.ndarray) -> Stats:
    """Min, max, mean, norm, NaN/inf counts of `array`, cached by identity.

    Records' arrays are immutable and shared by many records and panes, so a
    tensor's statistics are computed once, not once per pane per frame. An
    array that is written to (never a record's) must not be passed.
    """
    key = id(array)
    kept = _STATS.get(key)
    if kept is not None and kept[0]() is array:
        _STATS.move_to_end(key)
        return kept[1]
    result = _stats(array)
    try:
        _STATS[key] = (weakref.ref(array), result)
    except TypeError:  # not weak-referenceable (a NumPy scalar): not cached
        return result
    if len(_STATS) > _STATS_KEPT:
        _STATS.popitem(last=False)
    return result


def _stats(array: np.ndarray) -> Stats:
    values = np.asarray(array, dtype=np.float64).ravel()
    with np.errstate(all="ignore"):
        finite_mask = np.isfinite(values)
        good = values[finite_mask] if not finite_mask.all() else values
        nan = int(np.count_nonzero(np.isnan(values)))
        bad = int(values.size - good.size)
        neg_inf = int(np.count_nonzero(values == -np.inf))
        if good.size:
            magnitudes = np.abs(good)
            nonzero = magnitudes[magnitudes > 0]
            low, high = float(good.min()), float(good.max())
            # l2_norm, safe_mean: 1e200 entries made the border say "norm inf" of a tensor holding no inf.
            return Stats(values.size, good.size, nan, bad - nan, neg_inf, low, high, safe_mean(good),
                         l2_norm(good), float(nonzero.max()) if nonzero.size else 0.0,
                         float(nonzero.min()) if nonzero.size else 0.0, low < 0 or neg_inf > 0,
                         bool(np.all(good == np.round(good))))
    return Stats(values.size, 0, nan, bad - nan, neg_inf, math.nan, math.nan, math.nan, math.nan, 0.0, 0.0,
                 neg_inf > 0, True)


def _g(value: float, digits: int) -> str:
    return f"{value:.{digits}g}"


def summary(array: np.ndarray, width: int = 1000) -> str:
    """One line for a pane's border: min, max, mean, norm and the NaN/inf count (first, never dropped).

    The longest form that fits `width` cells: three significant digits, then
    two, then fewer statistics (mean and norm go first).
    """
    s = stats(array)
    if s.size == 0:
        return "empty"
    warning = f"⚠ {s.nan} NaN {s.inf} inf" if s.nan or s.inf else ""
    if s.size == 1 and s.finite:
        forms = [f"value {s.high:.9g}", f"value {s.high:.4g}"]
    elif s.finite:
        # A mean that is rounding noise (v of a symmetric gradient: 1e-18) is 0 to the digits shown.
        mean = 0.0 if abs(s.mean) <= 1e-12 * s.max_abs else s.mean
        forms = [f"min {_g(s.low, d)} max {_g(s.high, d)} mean {_g(mean, d)} norm {_g(s.norm, d)}" for d in (3, 2)]
        forms += [f"min {_g(s.low, 2)} max {_g(s.high, 2)}", f"max {_g(s.high, 2)}", ""]
    else:
        forms = ["no finite values", ""]
    for form in forms:
        text = " · ".join(part for part in (warning, form) if part)
        if cell_len(text) <= width:
            return text
    return warning or forms[-1]


def finite_summary(array: np.ndarray, digits: int = 3) -> str:
    """min, max, mean, norm and the count of NaN/inf cells (put first when there are any), in full."""
    return summary(array)


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """How every number of one pane is written: fixed decimals or scientific, and the width all of them fit.

    Exact zeros are written `0` and NaN, inf, −inf as such (`write`).
    """

    decimals: int
    scientific: bool
    width: int

    def write(self, values: list[float]) -> list[str]:
        """The numbers as text, right-aligned to `width` (one pass over a visible window)."""
        code = f"{{:>{self.width}.{self.decimals}{'e' if self.scientific else 'f'}}}".format
        width = self.width
        out = []
        for value in values:
            if value == 0:
                out.append("0".rjust(width))
            elif value - value != 0:  # NaN or ±inf, without a call per cell
                out.append(("NaN" if math.isnan(value) else "inf" if value > 0 else "-inf").rjust(width))
            else:
                out.append(code(value))
        return out


def number_format(s: Stats, significant: int) -> NumberFormat:
    """The narrowest honest format giving the largest |value| of a tensor `significant` digits.

    Whole numbers (labels, masks, counts) without decimals; fixed decimals
    when they are no wider than scientific notation, else scientific. No
    non-zero value is written as if it were zero: when the smallest would
    round to 0.00 at those decimals, the pane takes the decimals it needs
    (0.3000 beside 0.0004) or, when that is wider, scientific notation. The
    width fits the tensor's widest number, sign and NaN/inf included, so a
    cell never cuts a number and a sign never scrolls away.
    """
    special = 4 if s.neg_inf else 3 if (s.nan or s.inf) else 1
    if not s.max_abs:
        return NumberFormat(0, False, special)
    sign = 1 if s.negative else 0
    if s.integral and s.max_abs < 1e7:
        return NumberFormat(0, False, max(special, sign + len(str(int(s.max_abs)))))
    exponent = math.floor(math.log10(s.max_abs))
    decimals = max(significant - 1 - exponent, 0)
    small = s.min_abs if s.min_abs else s.max_abs
    mantissa = max(significant - 1, 0)
    scientific = sign + max(len(f"{v:.{mantissa}e}") for v in (s.max_abs, small))
    if float(f"{small:.{decimals}f}") == 0:
        # The smallest non-zero |value| would read 0.00, as if it were an exact zero (written `0`):
        # the fewest decimals that show it, unless exponent form is narrower. The fewest, so that
        # fewer significant digits are never wider than more (the layout relies on that).
        decimals = max(-math.floor(math.log10(small)) - 1, 0)
        while float(f"{small:.{decimals}f}") == 0:
            decimals += 1
        fixed = sign + len(f"{s.max_abs:.{decimals}f}")
        if fixed <= scientific:
            return NumberFormat(decimals, False, max(special, fixed))
        return NumberFormat(mantissa, True, max(special, scientific))
    fixed = sign + max(len(f"{s.max_abs:.{decimals}f}"), 1)
    if fixed <= scientific or exponent in range(-1, 5):
        return NumberFormat(decimals, False, max(special, fixed))
    return NumberFormat(mantissa, True, max(special, scientific))


def fmt(value: float, digits: int = 4) -> str:
    """A number that fits `number_width(digits)` characters; NaN and ±inf spelled out."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    magnitude = abs(value)
    sci = f"{value:.{max(digits - 3, 0)}e}"
    if magnitude < 10.0 ** -(digits - 1):
        return sci
    if magnitude < 10:
        return f"{value:.{digits}f}"
    whole = math.floor(math.log10(magnitude)) + 1
    text = f"{value:.{max(digits - whole, 0)}f}"
    return text if len(text) <= number_width(digits) else sci


def number_width(digits: int) -> int:
    """Characters `fmt` needs at this precision, sign and exponent included."""
    return digits + 5


_ROWS: OrderedDict[int, tuple[weakref.ref[np.ndarray], np.ndarray]] = OrderedDict()
_ROWS_KEPT = 64


def as_matrix(array: np.ndarray) -> np.ndarray:
    """A tensor as 2-D rows for display: a scalar is 1×1, a vector one row.

    The same object for the same array (a matrix is itself, a vector's row is kept by identity):
    the panes' drawn lines are kept by the identity of what they show (tensor_lines).
    """
    values = np.asarray(array)
    if values.ndim == 2:
        return values
    if values.ndim > 2:
        return values.reshape(-1, values.shape[-1])
    kept = _ROWS.get(id(values))
    if kept is not None and kept[0]() is values:
        _ROWS.move_to_end(id(values))
        return kept[1]
    rows = values.reshape(1, -1)
    try:
        _ROWS[id(values)] = (weakref.ref(values), rows)
    except TypeError:  # not weak-referenceable: not kept
        return rows
    if len(_ROWS) > _ROWS_KEPT:
        _ROWS.popitem(last=False)
    return rows

"""Pure helpers that turn engine records into text: names, shapes, numbers, colours.

Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}). Nothing here
imports textual, so these helpers are cheap to test and reuse; they never
raise on NaN or inf (every reduction runs under `np.errstate`).
"""

from __future__ import annotations

import math
import re
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from nnstep.engine.optim import OPTIMIZERS, Optimizer
from nnstep.engine.records import StepRecord
from nnstep.engine.schedule import PARAMETERS, Schedule
from rich._palettes import EIGHT_BIT_PALETTE
from rich.cells import cell_len
from rich.color import Color
from rich.style import Style

_SUPERSCRIPT = str.maketrans("0123456789+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")
# How the optimizers' state is written, as each optimizer part declares it (its record
# keys are <state>_W and <state>_b: m_W, v_hat_b, …). The parts agree where names meet.
STATE_SYMBOLS = {name: text for part in OPTIMIZERS.values() for name, text in part.symbols.items()}


def sup(layer: int) -> str:
    """The layer superscript of NOTATION.md: 2 → ⁽²⁾."""
    return f"⁽{str(layer).translate(_SUPERSCRIPT)}⁾"


def dropped(schedule: Schedule | None, layer: int) -> bool:
    """True when the schedule drops units of layer `layer` out (its output is then ã, not a)."""
    return schedule is not None and any(spec.op == "dropout" and spec.layer == layer for spec in schedule)


def symbol(name: str, record: StepRecord, depth: int, schedule: Schedule | None = None) -> str:
    """How the tutorial writes tensor `name` of `record` (W → W⁽¹⁾, a_prev → x, m_W → m (W⁽¹⁾)).

    With the config's `schedule`, a layer's input after dropout is ã⁽ˡ⁻¹⁾; without it, a⁽ˡ⁻¹⁾.
    """
    layer = record.layer
    if layer is None:
        probability = "softmax(ŷ)" if "softmax" in record.equation else "σ(ŷ)"
        return {"y_hat": "ŷ", "y": "y", "loss": "L", "p": probability, "data_loss": "L_data", "penalty": "λΣ|W|",
                "dL_dy_hat": "∂L/∂ŷ", "rows": "rows"}.get(name, name)
    s, nxt = sup(layer), sup(layer + 1)
    prev = "x" if layer == 1 else f"{'ã' if dropped(schedule, layer - 1) else 'a'}{sup(layer - 1)}"
    table = {
        "a_prev": prev,
        "W": f"W{s}",
        "b": f"b{s}",
        "z": f"z{s}",
        "a": "ŷ" if layer == depth else f"a{s}",
        "dL_dy_hat": "∂L/∂ŷ",
        "W_next": f"W{nxt}",
        "delta_next": f"δ{nxt}",
        "delta": f"δ{s}",
        "dW": f"∂L/∂W{s}",
        "db": f"∂L/∂b{s}",
        "W_before": f"W{s} before",
        "b_before": f"b{s} before",
        "step_W": f"ΔW{s}",
        "step_b": f"Δb{s}",
        "vW": f"v (W{s})",  # version-1 traces: SGD's momentum buffer
        "vb": f"v (b{s})",
        "mask": f"r{s}",
        "a_drop": f"ã{s}",
        "rows": "rows",
    }
    if record.op == "update" and name in PARAMETERS:
        return f"{table[name]} after" if f"step_{name}" in record.tensors else f"{table[name]} (frozen)"
    if name in table:
        return table[name]
    state, _, param = name.rpartition("_")
    if param in PARAMETERS and state in STATE_SYMBOLS:  # optimizer state: m_W → m (W⁽ˡ⁾)
        return f"{STATE_SYMBOLS[state]} ({param}{s})"
    return name


def state_of(record: StepRecord, P: str) -> tuple[str, ...]:
    """The optimizer state an update record holds for parameter P ("W" or "b"), in record order."""
    return tuple(name[: -len(P) - 1] for name in record.tensors
                 if name.endswith(f"_{P}") and name[: -len(P) - 1] in STATE_SYMBOLS)


def shape_text(array: np.ndarray) -> str:
    """(1, 2) → '1×2'; a scalar → 'scalar'."""
    return "×".join(map(str, array.shape)) if array.ndim else "scalar"


def _s(record: StepRecord, name: str) -> str:
    value = record.tensors.get(name)
    return "?" if value is None else f"({shape_text(value)})"


def operand_shapes(record: StepRecord, optimizer: Optimizer) -> str:
    """The batch-rows form of the op with every operand's shape, e.g.

    ``batch rows: z = x·Wᵀ + b   (1×2) = (1×2)·(2×2)ᵀ + (2)``.
    """
    def s(name: str) -> str:
        return _s(record, name)

    t = record.tensors
    op = record.op
    if op == "linear":
        return f"batch rows: z = a·Wᵀ + b   {s('z')} = {s('a_prev')}·{s('W')}ᵀ + {s('b')}"
    if op == "activation":
        return f"element-wise: a = f(z)   {s('a')} = f{s('z')}"
    if op == "dropout":
        return f"element-wise: ã = a ∘ r/(1 − p)   {s('a_drop')} = {s('a')} ∘ {s('mask')}"
    if op == "loss":
        text = f"L (scalar) from ŷ {s('y_hat')} and y {s('y')}"
        if "p" in t:
            text += f", {symbol('p', record, 0)} {s('p')}"
        if "penalty" in t:
            text += ";  L = L_data + λΣ|W| over every W (scalars)"
        return text
    if op == "delta":
        if "W_next" in t:
            if "mask" in t:
                return (f"batch rows: δ = (δ⁺·W⁺ ∘ m/(1 − p)) ∘ f′(z)   {s('delta')} = "
                        f"({s('delta_next')}·{s('W_next')} ∘ {s('mask')}) ∘ {s('z')}")
            return (f"batch rows: δ = (δ⁺·W⁺) ∘ f′(z)   {s('delta')} = "
                    f"({s('delta_next')}·{s('W_next')}) ∘ {s('z')}")
        return f"δ {s('delta')} from ∂L/∂ŷ {s('dL_dy_hat')} and z {s('z')}"
    if op == "grad":
        if "W" in t:
            return (f"batch rows: dW = δᵀ·a + λ·sign(W), db = Σ δ   {s('dW')} = {s('delta')}ᵀ·{s('a_prev')} + "
                    f"{s('W')},  {s('db')}")
        return f"batch rows: dW = δᵀ·a, db = Σ δ   {s('dW')} = {s('delta')}ᵀ·{s('a_prev')},  {s('db')}"
    if op == "update":
        parts = []
        for P in PARAMETERS:
            if f"step_{P}" not in t:
                parts.append(f"{P} {s(P)} frozen")
                continue
            state = ", ".join(STATE_SYMBOLS[name] for name in state_of(record, P))
            parts.append(f"{P} {s(P)} := {P} + Δ{P}, Δ{P} from ∂L/∂{P}" + (f" and {state}" if state else ""))
        return ";  ".join(parts) + f";  {optimizer.settings()}"
    return ""


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
            return Stats(values.size, good.size, nan, bad - nan, neg_inf, low, high, float(good.mean()),
                         float(np.linalg.norm(good)), float(nonzero.max()) if nonzero.size else 0.0,
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
    when they are no wider than scientific notation, else scientific. The
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
    fixed = sign + max(len(f"{s.max_abs:.{decimals}f}"), 1)
    small = s.min_abs if s.min_abs else s.max_abs
    mantissa = max(significant - 1, 0)
    scientific = sign + max(len(f"{v:.{mantissa}e}") for v in (s.max_abs, small))
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


# A diverging ramp drawn from the xterm 256-colour cube itself, so a 256-colour terminal shows
# exactly these colours (a true-colour ramp rounded to the cube lost its order) and each side
# grows monotonically in luminance with |value|. Blue and orange stay apart for the common
# colour-vision deficiencies, where red and green would not.
_NEGATIVE_RAMP = (17, 18, 19, 20, 21, 27, 33, 39)
_POSITIVE_RAMP = (52, 88, 124, 160, 196, 202, 208, 214)


@lru_cache(maxsize=128)
def heat_style(level: int, changed: bool = False) -> Style:
    """Diverging heatmap cell: level −8…8, blue below zero, orange above, brighter with |value|; 0 unshaded."""
    if level == 0:
        return Style(bold=changed)
    ramp = _POSITIVE_RAMP if level > 0 else _NEGATIVE_RAMP
    number = ramp[min(abs(level), 8) - 1]
    red, green, blue = EIGHT_BIT_PALETTE[number]
    color = Color.from_rgb(red, green, blue)
    light = 0.2126 * red + 0.7152 * green + 0.0722 * blue > 140
    return Style(bgcolor=color, color="black" if light else "white", bold=changed)


def heat_luminance(level: int) -> float:
    """Relative luminance of a heat level's background (0 for the unshaded level 0); for the ramp's tests."""
    if level == 0:
        return 0.0
    ramp = _POSITIVE_RAMP if level > 0 else _NEGATIVE_RAMP
    channels = [c / 255 for c in EIGHT_BIT_PALETTE[ramp[min(abs(level), 8) - 1]]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


NON_FINITE_STYLE = Style(bgcolor="magenta", color="bright_yellow", bold=True)
CHANGED_UP = "▴"
CHANGED_DOWN = "▾"


def heat_levels(array: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Integer heat level −8…8 per cell, scaled by `scale` (default: the largest finite |value| of `array`).

    Pass the whole tensor's scale to level a visible window alone.
    """
    values = np.asarray(array, dtype=np.float64)
    with np.errstate(all="ignore"):
        finite = np.isfinite(values)
        if scale is None:
            scale = float(np.max(np.abs(values[finite]))) if finite.any() else 0.0
        if scale == 0 or not math.isfinite(scale):
            return np.zeros(values.shape, dtype=np.int8)
        levels = np.rint(np.where(finite, values, 0.0) / scale * 8)
    return levels.astype(np.int8)


def as_matrix(array: np.ndarray) -> np.ndarray:
    """A tensor as 2-D rows for display: a scalar is 1×1, a vector one row."""
    values = np.asarray(array)
    if values.ndim == 0:
        return values.reshape(1, 1)
    if values.ndim == 1:
        return values.reshape(1, -1)
    return values.reshape(-1, values.shape[-1])


_CLAUSE_END = re.compile(r"(?<=;)  |(?<=,)  |  (?=\()")  # formulas separate clauses by two spaces


def wrap_clauses(text: str, width: int, lines: int) -> list[str]:
    """`text` in at most `lines` lines of `width` cells, broken only between clauses.

    Clauses end in ";  " or ",  " or are a "  (note)". Preferred, in turn: one
    line; one line without the notes; several lines; several lines without the
    notes; then the first clauses dropped, the text starting with "… " (the
    last clause is the one an op is about: W⁽¹⁾ := W⁽¹⁾ − η·…). A clause wider
    than a line is left for the pane to cut.
    """
    clauses = [c for c in _CLAUSE_END.split(text) if c]
    plain = [c for c in clauses if not c.startswith("(")] or clauses
    for count, start, chosen in [(1, 0, clauses), (1, 0, plain), (lines, 0, clauses), (lines, 0, plain),
                                 *((lines, start, plain) for start in range(1, len(plain)))]:
        packed = _pack(chosen[start:], width, "… " if start else "")
        if len(packed) <= count:
            return packed
    return packed[-lines:] if lines > 0 else []


def _pack(clauses: list[str], width: int, line: str) -> list[str]:
    """Clauses greedily into lines of `width` cells (two spaces between clauses on a line)."""
    packed = []
    fresh = True  # nothing but the "… " prefix on the line yet
    for clause in clauses:
        joined = clause if fresh else f"{line}  {clause}"
        if fresh:
            line += clause
        elif cell_len(joined) > width:
            packed.append(line)
            line = clause
        else:
            line = joined
        fresh = False
    packed.append(line)
    return packed


def clip(text: str, width: int) -> str:
    """`text` in `width` cells, cut at a space (never inside a number) and ended with "…"."""
    if cell_len(text) <= width:
        return text
    cut = text[: max(width - 1, 0)]
    while cell_len(cut) > width - 1:
        cut = cut[:-1]
    space = cut.rfind(" ")
    if space > 0:
        cut = cut[:space]
    return cut.rstrip(" ;,") + "…"

"""Pure helpers that turn engine records into text: names, shapes, numbers, colours.

Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}). Nothing here
imports textual, so these helpers are cheap to test and reuse; they never
raise on NaN or inf (every reduction runs under `np.errstate`).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np
from rich.cells import cell_len
from rich.color import Color
from rich.style import Style

from nnstep.engine.optim import OPTIMIZERS
from nnstep.engine.records import StepRecord
from nnstep.engine.schedule import PARAMETERS, Schedule

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


def operand_shapes(record: StepRecord, lr: float) -> str:
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
        return ";  ".join(parts) + f";  η = {lr:g}"
    return ""


def finite_summary(array: np.ndarray, digits: int = 3) -> str:
    """One line: min, max, mean μ, norm ‖·‖ and the count of NaN/inf cells (put first when there are any)."""
    if array.size == 0:
        return "empty"
    values = np.asarray(array, dtype=np.float64)
    finite = np.isfinite(values)
    bad = int(values.size - np.count_nonzero(finite))
    with np.errstate(all="ignore"):
        good = values[finite]
        if values.size == 1 and good.size:
            text = f"value {float(good[0]):.9g}"
        elif good.size:
            text = (f"min {good.min():.{digits}g} max {good.max():.{digits}g} "
                    f"μ {good.mean():.{digits}g} ‖·‖ {float(np.linalg.norm(good)):.{digits}g}")
        else:
            text = "no finite values"
    if bad:
        nan = int(np.count_nonzero(np.isnan(values)))
        text = f"⚠ {nan} NaN {bad - nan} inf · {text}"
    return text


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
    whole = int(math.floor(math.log10(magnitude))) + 1
    text = f"{value:.{max(digits - whole, 0)}f}"
    return text if len(text) <= number_width(digits) else sci


def number_width(digits: int) -> int:
    """Characters a number needs at this precision, sign and exponent included."""
    return digits + 5


@lru_cache(maxsize=64)
def heat_style(level: int, changed: bool = False) -> Style:
    """Diverging heatmap: level in −8…8, blue for negative, red for positive."""
    strength = abs(level) / 8
    base = (40, 40, 48)
    target = (220, 60, 50) if level > 0 else (60, 110, 230)
    rgb = tuple(int(b + (t - b) * strength) for b, t in zip(base, target))
    color = Color.from_rgb(*rgb)
    return Style(bgcolor=color, color="white" if strength > 0.2 else "grey85", bold=changed, underline=changed)


NON_FINITE_STYLE = Style(bgcolor="magenta", color="bright_yellow", bold=True)
CHANGED_UP = "▴"
CHANGED_DOWN = "▾"


def heat_levels(array: np.ndarray) -> np.ndarray:
    """Integer heat level −8…8 per cell, scaled by the largest finite |value|."""
    values = np.asarray(array, dtype=np.float64)
    with np.errstate(all="ignore"):
        finite = np.isfinite(values)
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

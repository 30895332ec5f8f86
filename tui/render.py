"""Pure helpers that turn engine records into text: names, shapes, numbers, colours.

Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}). Nothing here
imports textual, so these helpers are cheap to test and reuse; they never
raise on NaN or inf (every reduction runs under `np.errstate`).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.style import Style

from nnstep.engine.records import StepRecord

_SUPERSCRIPT = str.maketrans("0123456789+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")
# How the optimizers' state is written (engine/optim.py names it m_W, v_hat_W, …).
STATE_SYMBOLS = {"m": "m", "v": "v", "v_max": "vₘₐₓ", "m_hat": "m̂", "v_hat": "v̂", "g_avg": "ḡ", "buf": "buf"}


def sup(layer: int) -> str:
    """The layer superscript of NOTATION.md: 2 → ⁽²⁾."""
    return f"⁽{str(layer).translate(_SUPERSCRIPT)}⁾"


def symbol(name: str, record: StepRecord, depth: int) -> str:
    """How the tutorial writes tensor `name` of `record` (W → W⁽¹⁾, a_prev → x)."""
    layer = record.layer
    if layer is None:
        return {"y_hat": "ŷ", "y": "y", "loss": "L", "p": "softmax(ŷ)", "data_loss": "L_data", "penalty": "λΣ|W|",
                "dL_dy_hat": "∂L/∂ŷ", "rows": "rows"}.get(name, name)
    s, nxt = sup(layer), sup(layer + 1)
    prev = "x" if layer == 1 else f"a{sup(layer - 1)}"
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
        "vW": f"v{s} (W)",  # version-1 traces: SGD's momentum buffer
        "vb": f"v{s} (b)",
        "mask": f"m{s}",
        "a_drop": f"ã{s}",
        "rows": "rows",
    }
    if record.op == "update" and name in ("W", "b"):
        return f"{table[name]} after" if f"step_{name}" in record.tensors else f"{table[name]} (frozen)"
    if name in table:
        return table[name]
    state, _, param = name.rpartition("_")
    if param in ("W", "b") and state:  # optimizer state: m_W → m (W⁽ˡ⁾)
        return f"{STATE_SYMBOLS.get(state, state)} ({param}{s})"
    return name


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

    op = record.op
    if op == "linear":
        return f"batch rows: z = a·Wᵀ + b   {s('z')} = {s('a_prev')}·{s('W')}ᵀ + {s('b')}"
    if op == "activation":
        return f"element-wise: a = f(z)   {s('a')} = f{s('z')}"
    if op == "loss":
        extra = f", softmax {s('p')}" if "p" in record.tensors else ""
        return f"L (scalar) from ŷ {s('y_hat')} and y {s('y')}{extra}"
    if op == "delta":
        if "W_next" in record.tensors:
            return (f"batch rows: δ = (δ⁺·W⁺) ∘ f′(z)   {s('delta')} = "
                    f"({s('delta_next')}·{s('W_next')}) ∘ {s('z')}")
        return f"δ {s('delta')} from ∂L/∂ŷ {s('dL_dy_hat')} and z {s('z')}"
    if op == "grad":
        return f"batch rows: dW = δᵀ·a, db = Σ δ   {s('dW')} = {s('delta')}ᵀ·{s('a_prev')},  {s('db')}"
    if op == "update":
        parts = [f"{P} {s(P)} := {P} + Δ{P} (from d{P} {s('d' + P)})" if f"step_{P}" in record.tensors
                 else f"{P} {s(P)} frozen" for P in ("W", "b")]
        return ",  ".join(parts) + f",   η = {lr:g}"
    if op == "dropout":
        return f"element-wise: ã = a ∘ m/(1 − p)   {s('a_drop')} = {s('a')} ∘ {s('mask')}"
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

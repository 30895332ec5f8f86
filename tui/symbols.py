"""How the tutorial writes the tensors of a record: W⁽¹⁾, ã⁽¹⁾, m (W⁽²⁾), and the op with its operands' shapes.

Names follow NOTATION.md; every pane, the worked numbers and the explain
dialog ask here, so a tensor is spelled the same everywhere. Batch rows: z has
shape (B, n_l); W has shape (n_l, n_{l-1}). Nothing here imports textual.
"""

from __future__ import annotations

import numpy as np
from nnstep.engine.optim import OPTIMIZERS, Optimizer
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

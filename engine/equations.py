"""The formula of each op, in the tutorial's notation (NOTATION.md), layer filled in.

The tutorial writes one sample as a column vector: z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾.
The engine stores a batch as rows (z = a W ᵀ + b); the equations keep the
tutorial's form, which is what a student checks a number against.
"""

from __future__ import annotations

from .functions import SYMBOLS

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def sup(layer: int) -> str:
    """The layer superscript: 12 → ⁽¹²⁾."""
    return f"⁽{str(layer).translate(_SUPERSCRIPT)}⁾"


def _input(layer: int) -> str:
    return "x" if layer == 1 else f"a{sup(layer - 1)}"


def linear(layer: int) -> str:
    return f"z{sup(layer)} = W{sup(layer)}{_input(layer)} + b{sup(layer)}"


def activation(layer: int, depth: int, name: str) -> str:
    s = sup(layer)
    rhs = f"z{s}" if name == "identity" else f"{SYMBOLS[name]}(z{s})"
    return f"ŷ = a{s} = {rhs}" if layer == depth else f"a{s} = {rhs}"


def loss(kind: str) -> str:
    if kind == "mse":
        return "L = (1/n) Σ (ŷᵢ − yᵢ)²"
    if kind == "cross_entropy":
        return "L = −(1/B) Σ yᵢ log softmax(ŷ)ᵢ"
    return "L = −(1/n) Σ [yᵢ log ŷᵢ + (1 − yᵢ) log(1 − ŷᵢ)]"


def _derivative(name: str, layer: int) -> str:
    return f" ∘ {SYMBOLS[name]}′(z{sup(layer)})" if name not in ("identity", "softmax") else ""


def delta(layer: int, depth: int, name: str, loss_kind: str) -> str:
    s = sup(layer)
    if layer < depth:
        return f"δ{s} = (W{sup(layer + 1)})ᵀδ{sup(layer + 1)}{_derivative(name, layer)}"
    if loss_kind == "cross_entropy" and name == "identity":
        return f"δ{s} = ∂L/∂z{s} = (softmax(ŷ) − y)/B"
    if loss_kind == "mse" and name == "identity":
        return f"δ{s} = ∂L/∂z{s} = (2/n)(ŷ − y)"
    if name == "softmax":
        return f"δ{s} = ∂L/∂z{s} = ŷ ∘ (∂L/∂ŷ − Σⱼ ŷⱼ ∂L/∂ŷⱼ)"
    return f"δ{s} = ∂L/∂z{s} = ∂L/∂ŷ{_derivative(name, layer)}"


def grad(layer: int) -> str:
    s = sup(layer)
    inp = "x" if layer == 1 else f"a{sup(layer - 1)}"
    return f"∂L/∂W{s} = δ{s}({inp})ᵀ,  ∂L/∂b{s} = δ{s}  (summed over the batch)"


def update(layer: int, momentum: float, weight_decay: float, nesterov: bool) -> str:
    s = sup(layer)
    g = f"∂L/∂W{s}" if weight_decay == 0 else f"(∂L/∂W{s} + λW{s})"
    if momentum == 0:
        return f"W{s} := W{s} − η·{g},  b{s} := b{s} − η·∂L/∂b{s}"
    step = f"(g + μv{s})" if nesterov else f"v{s}"
    return f"v{s} := μv{s} + g,  g = {g};  W{s} := W{s} − η·{step}  (b{s} likewise)"

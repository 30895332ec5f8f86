"""The formula of each op, in the tutorial's notation (NOTATION.md), layer and values filled in.

The tutorial writes one sample as a column vector: z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾.
The engine stores a batch as rows (z = a W ᵀ + b); the equations keep the
tutorial's form, which is what a student checks a number against. The
update's formula belongs to the optimizer part (optim.py).
"""

from __future__ import annotations

from .functions import SYMBOLS

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def sup(layer: int) -> str:
    """The layer superscript: 12 → ⁽¹²⁾."""
    return f"⁽{str(layer).translate(_SUPERSCRIPT)}⁾"


def _g(value: float) -> str:
    return f"{value:g}"


def _input(layer: int, dropped: bool = False) -> str:
    """The input of layer `layer`: x, a⁽ˡ⁻¹⁾, or ã⁽ˡ⁻¹⁾ after dropout on the layer below."""
    return "x" if layer == 1 else f"{'ã' if dropped else 'a'}{sup(layer - 1)}"


def linear(layer: int, dropped: bool = False) -> str:
    return f"z{sup(layer)} = W{sup(layer)}{_input(layer, dropped)} + b{sup(layer)}"


def activation(layer: int, depth: int, name: str, slope: float = 0.01) -> str:
    s = sup(layer)
    rhs = f"z{s}" if name == "identity" else f"{SYMBOLS[name]}(z{s})"
    if name == "leaky_relu":
        rhs += f",  slope {_g(slope)} for z ≤ 0"
    return f"ŷ = a{s} = {rhs}" if layer == depth else f"a{s} = {rhs}"


def dropout(layer: int, p: float) -> str:
    s = sup(layer)
    return f"ã{s} = a{s} ∘ r{s}/(1 − {_g(p)}),  r{s}ᵢ = 1 with probability {_g(1 - p)}, else 0"


def loss(kind: str, l1: float = 0.0) -> str:
    if kind == "mse":
        text = "L = (1/n) Σ (ŷᵢ − yᵢ)²"
    elif kind == "cross_entropy":
        text = "L = −(1/B) Σ yᵢ log softmax(ŷ)ᵢ"
    elif kind == "bce_with_logits":
        text = "L = −(1/n) Σ [yᵢ log σ(ŷᵢ) + (1 − yᵢ) log(1 − σ(ŷᵢ))]"
    else:
        text = "L = −(1/n) Σ [yᵢ log ŷᵢ + (1 − yᵢ) log(1 − ŷᵢ)]"
    if l1:
        text = text.replace("L = ", "L = L_data + λ Σₗ Σ|W⁽ˡ⁾|,  L_data = ", 1) + f",  λ = {_g(l1)}"
    return text


def _derivative(name: str, layer: int) -> str:
    return f" ∘ {SYMBOLS[name]}′(z{sup(layer)})" if name not in ("identity", "softmax") else ""


def delta(layer: int, depth: int, name: str, loss_kind: str, slope: float = 0.01, p: float = 0.0) -> str:
    s = sup(layer)
    if layer < depth:
        back = f"(W{sup(layer + 1)})ᵀδ{sup(layer + 1)}"
        if p:
            back = f"({back} ∘ r{s}/(1 − {_g(p)}))"
        return f"δ{s} = {back}{_derivative(name, layer)}"
    if loss_kind == "cross_entropy" and name == "identity":
        return f"δ{s} = ∂L/∂z{s} = (softmax(ŷ) − y)/B"
    if loss_kind == "bce_with_logits" and name == "identity":
        return f"δ{s} = ∂L/∂z{s} = (σ(ŷ) − y)/n"
    if loss_kind == "mse" and name == "identity":
        return f"δ{s} = ∂L/∂z{s} = (ŷ − y)·(2/n)"
    if name == "softmax":
        return f"δ{s} = ∂L/∂z{s} = ŷ ∘ (∂L/∂ŷ − Σⱼ ŷⱼ ∂L/∂ŷⱼ)"
    return f"δ{s} = ∂L/∂z{s} = ∂L/∂ŷ{_derivative(name, layer)}"


def grad(layer: int, l1: float = 0.0, dropped: bool = False) -> str:
    s = sup(layer)
    inp = _input(layer, dropped)
    penalty = f" + {_g(l1)}·sign(W{s})" if l1 else ""
    return f"∂L/∂W{s} = δ{s}({inp})ᵀ{penalty},  ∂L/∂b{s} = δ{s}  (summed over the batch)"

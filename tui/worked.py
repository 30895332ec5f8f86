"""The current op worked out for one number, with the values filled in.

Mazur's worked example is checked by hand one number at a time; this line
does the same for the first unit of the first sample, e.g.
``z⁽¹⁾₁ = 0.05·0.15 + 0.1·0.2 + 0.35 = 0.3775``. Batch rows: z has shape
(B, n_l), so "unit j of sample 1" is z[0, j−1]; W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import numpy as np

from nnstep.engine import StepRecord
from nnstep.engine.functions import SYMBOLS
from nnstep.tui.render import sup

TERMS = 4  # sums with more terms are summarised, not spelled out
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _n(value: float) -> str:
    value = float(value)
    if not np.isfinite(value):
        return "NaN" if np.isnan(value) else ("inf" if value > 0 else "−inf")
    return f"{value:.4g}".replace("-", "−")


def _f(value: float) -> str:
    """A factor: negative numbers in parentheses, so 0.01·(−0.5) reads right."""
    text = _n(value)
    return f"({text})" if text.startswith("−") else text


def _sub(*indices: int) -> str:
    return "".join(str(i + 1).translate(_SUB) for i in indices)


def _plus(terms: list[str]) -> str:
    """Terms joined with + and −: ["0.1·2", "−0.3·4"] → "0.1·2 − 0.3·4"."""
    text = terms[0] if terms else ""
    for term in terms[1:]:
        text += f" − {term[1:]}" if term.startswith("−") else f" + {term}"
    return text


def _sum(products: list[str], count: int) -> str:
    if count <= TERMS:
        return _plus(products)
    return _plus(products[:2]) + f" + … ({count} terms)"


def worked_example(record: StepRecord, lr: float, activations: tuple[str, ...] = ()) -> str:
    """One number of this op computed from its inputs, as a learner would by hand ('' if not applicable)."""
    t = record.tensors
    layer = record.layer
    s = sup(layer) if layer is not None else ""
    batch = " (sample 1)" if _batch(record) > 1 else ""
    f = SYMBOLS.get(activations[layer - 1], "f") if layer is not None and len(activations) >= layer else "f"
    with np.errstate(all="ignore"):
        if record.op == "linear":
            a, W, b, z = t["a_prev"], t["W"], t["b"], t["z"]
            products = [f"{_n(a[0, k])}·{_f(W[0, k])}" for k in range(min(a.shape[1], TERMS))]
            return f"z{s}{_sub(0)} = {_plus([_sum(products, a.shape[1]), _n(b[0])])} = {_n(z[0, 0])}{batch}"
        if record.op == "activation":
            return f"a{s}{_sub(0)} = {f}({_n(t['z'][0, 0])}) = {_n(t['a'][0, 0])}{batch}"
        if record.op == "loss":
            return _loss(record)
        if record.op == "delta":
            return _delta(record, s, f) + batch
        if record.op == "grad":
            delta, a, dW = t["delta"], t["a_prev"], t["dW"]
            rows = delta.shape[0]
            products = [f"{_n(delta[i, 0])}·{_f(a[i, 0])}" for i in range(min(rows, TERMS))]
            over = "Σ over the batch " if rows > 1 else ""
            a_name = "x" if layer == 1 else f"a{sup(layer - 1)}"
            return (f"∂L/∂W{s}{_sub(0, 0)} = {over}δ{s}{_sub(0)}·{a_name}{_sub(0)} = "
                    f"{_sum(products, rows)} = {_n(dW[0, 0])}")
        if record.op == "update":
            if "step_W" not in t:
                return f"W{s} frozen: W{s}{_sub(0, 0)} stays {_n(t['W'][0, 0])}"
            before, after, step = t["W_before"], t["W"], t["step_W"]
            if "vW" in t or not np.isclose(step[0, 0], -lr * t["dW"][0, 0]):
                return f"W{s}{_sub(0, 0)} := {_n(before[0, 0])} + ({_n(step[0, 0])}) = {_n(after[0, 0])}"
            return f"W{s}{_sub(0, 0)} := {_n(before[0, 0])} − {lr:g}·{_f(t['dW'][0, 0])} = {_n(after[0, 0])}"
    return ""


def _batch(record: StepRecord) -> int:
    for name in ("z", "a", "delta", "y_hat"):
        if name in record.tensors and record.tensors[name].ndim == 2:
            return int(record.tensors[name].shape[0])
    return 1


def _loss(record: StepRecord) -> str:
    t = record.tensors
    y_hat, y, loss = t["y_hat"], t["y"], float(t["loss"])
    if "p" in t:
        c = int(np.argmax(y[0]))
        return f"sample 1: −log softmax(ŷ){_sub(c)} = −log {_n(t['p'][0, c])}; mean over {len(y)} samples: L = {_n(loss)}"
    if y_hat.size <= TERMS:
        terms = [f"({_n(p)} − {_n(q)})²" for p, q in zip(y_hat.ravel(), y.ravel())]
        return f"L = ({' + '.join(terms)})/{y_hat.size} = {_n(loss)}"
    return f"L = mean over {y_hat.size} terms = {_n(loss)}"


def _delta(record: StepRecord, s: str, f: str) -> str:
    t = record.tensors
    delta = t["delta"]
    if "W_next" in t:
        W, d = t["W_next"], t["delta_next"]
        products = [f"{_n(W[k, 0])}·{_f(d[0, k])}" for k in range(min(W.shape[0], TERMS))]
        total = float(d[0] @ W[:, 0])
        derivative = f" · {_f(delta[0, 0] / total)}" if total and np.isfinite(total) else f" · {f}′(z{s}{_sub(0)})"
        return f"δ{s}{_sub(0)} = ({_sum(products, W.shape[0])}){derivative} = {_n(delta[0, 0])}"
    g = t["dL_dy_hat"][0, 0]
    if g and np.isfinite(g) and not np.isclose(delta[0, 0], g):
        return (f"δ{s}{_sub(0)} = ∂L/∂ŷ{_sub(0)} · {f}′(z{s}{_sub(0)}) = {_n(g)} · {_f(delta[0, 0] / g)} = "
                f"{_n(delta[0, 0])}")
    return f"δ{s}{_sub(0)} = ∂L/∂ŷ{_sub(0)} = {_n(delta[0, 0])}"

"""The current op worked out for one number, with the values filled in.

Mazur's worked example is checked by hand one number at a time; these lines
do the same for the first unit of the first sample, e.g.
``z⁽¹⁾₁ = 0.05·0.15 + 0.1·0.2 + 0.35 = 0.3775``. Batch rows: z has shape
(B, n_l), so "unit j of sample 1" is z[0, j−1]; W has shape (n_l, n_{l-1}).

Every line ends in `<arithmetic> = <result>` that adds up with the numbers
as printed (tests/tui/test_worked.py recomputes each one), followed at most
by a note in parentheses after two spaces. An op gives a list of such
parts, most telling first; a pane shows as many whole parts as fit. Where a
value changes by little (an update, a small penalty), both sides get the
digits that make the change visible: −0.97 − 0.01·0.0003828 = −0.9700038.
"""

from __future__ import annotations

import math
import re

import numpy as np
from rich.cells import cell_len

from nnstep.engine import Config, StepRecord
from nnstep.engine.functions import SYMBOLS, activate, activation_backward
from nnstep.engine.schedule import PARAMETERS
from nnstep.tui.render import dropped, sup

TERMS = 4  # sums with more terms are summarised, not spelled out
DIGITS = 4  # significant digits of a number that is not a before/after pair
SEPARATOR = ";  "
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
# A negative factor after · or / gets parentheses: 0.01·(−0.5), not 0.01·−0.5.
_NEGATIVE_FACTOR = re.compile(r"([·/])(−[0-9.]+(?:e[+-][0-9]+)?)")
_NOTE = re.compile(r"  \(.*\)$")  # a note after two spaces: (sample 1), (t = 3)
_EQUALS = re.compile(r" :?= ")


def _n(value: float, digits: int = DIGITS) -> str:
    """A number to `digits` significant digits, with a true minus sign."""
    value = float(value) + 0.0  # −0.0 (a dropped negative unit) prints as 0
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "−inf")
    text = f"{value:.{digits}g}"
    return "−" + text[1:] if text.startswith("-") else text  # the exponent keeps "-", as in 1e-08


def _f(value: float, digits: int = DIGITS) -> str:
    """A factor: negative numbers in parentheses, so 0.01·(−0.5) reads right."""
    text = _n(value, digits)
    return f"({text})" if text.startswith("−") else text


def change_digits(before: float, after: float) -> int:
    """Significant digits that show the change from `before` to `after`.

    Enough that the change itself keeps about two digits (0.4 → 0.399 needs 4,
    −0.97 → −0.9700038 needs 7), and never fewer than DIGITS; at most 17.
    """
    before, after = float(before), float(after)
    change = abs(after - before)
    if not (math.isfinite(change) and change):
        return DIGITS
    size = max(abs(before), abs(after))
    digits = max(DIGITS, math.floor(math.log10(size)) - math.floor(math.log10(change)) + 2)
    while digits < 17 and _n(before, digits) == _n(after, digits):
        digits += 1
    return min(digits, 17)


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


def fit(parts: list[str], width: int) -> str:
    """As many whole parts as fit in `width` cells; the first one always, shortened if it must be."""
    if not parts:
        return ""
    text = shorten(parts[0], width)
    for part in parts[1:]:
        if cell_len(text) + len(SEPARATOR) + cell_len(part) > width:
            break
        text += SEPARATOR + part
    return text


def shorten(part: str, width: int) -> str:
    """`part` in at most `width` cells if it can be, never cut inside a number.

    Tries, in turn: without its note; head = arithmetic = result; head =
    symbolic form = result; head = … = result.
    """
    plain = _NOTE.sub("", part)
    steps = _EQUALS.split(plain)
    glue = _EQUALS.findall(plain)
    candidates = [part, plain]
    if len(steps) > 3:
        candidates.append(steps[0] + glue[0] + steps[-2] + glue[-1] + steps[-1])
        candidates.append(steps[0] + glue[0] + steps[1] + glue[-1] + steps[-1])
    if len(steps) >= 3:
        candidates.append(f"{steps[0]}{glue[0]}…{glue[-1]}{steps[-1]}")
    return next((text for text in candidates if cell_len(text) <= width), candidates[-1])


def worked_example(record: StepRecord, config: Config) -> str:
    """Every part of the op's worked number on one line ('' if there is none)."""
    return SEPARATOR.join(worked_parts(record, config))


def worked_parts(record: StepRecord, config: Config) -> list[str]:
    """One number of this op computed from its inputs, as a learner would by hand, in parts."""
    with np.errstate(all="ignore"):
        try:
            parts = _PARTS[record.op](record, config)
        except (KeyError, IndexError, ValueError):  # a trace whose tensors this op does not expect
            return []
    if parts and _batch(record) > 1 and record.op not in ("loss", "grad", "update"):
        parts[0] += "  (sample 1)"
    return [_NEGATIVE_FACTOR.sub(r"\1(\2)", part) for part in parts]


def _batch(record: StepRecord) -> int:
    for name in ("z", "a", "delta", "y_hat"):
        if name in record.tensors and record.tensors[name].ndim == 2:
            return int(record.tensors[name].shape[0])
    return 1


def _act(config: Config, layer: int | None) -> str:
    return config.activations[layer - 1] if layer is not None and layer <= len(config.activations) else "identity"


def _input(config: Config, layer: int) -> str:
    if layer == 1:
        return "x"
    return f"{'ã' if dropped(config.schedule, layer - 1) else 'a'}{sup(layer - 1)}"


def _linear(record: StepRecord, config: Config) -> list[str]:
    t, s = record.tensors, sup(record.layer or 0)
    a, W, b, z = t["a_prev"], t["W"], t["b"], t["z"]
    products = [f"{_n(a[0, k])}·{_f(W[0, k])}" for k in range(min(a.shape[1], TERMS))]
    return [f"z{s}{_sub(0)} = {_plus([_sum(products, a.shape[1]), _n(b[0])])} = {_n(z[0, 0])}"]


def _activation(record: StepRecord, config: Config) -> list[str]:
    t, s = record.tensors, sup(record.layer or 0)
    z, a = t["z"], t["a"]
    name = _act(config, record.layer)
    if name == "softmax":
        exps = [f"exp({_n(v)})" for v in z[0, :TERMS]]
        return [f"a{s}{_sub(0)} = exp(z₁)/Σⱼ exp(zⱼ) = {exps[0]}/({_sum(exps, z.shape[1])}) = {_n(a[0, 0])}"]
    return [f"a{s}{_sub(0)} = {SYMBOLS.get(name, name)}({_n(z[0, 0])}) = {_n(a[0, 0])}"]


def _dropout(record: StepRecord, config: Config) -> list[str]:
    t, s = record.tensors, sup(record.layer or 0)
    a, mask, a_drop = t["a"], t["mask"], t["a_drop"]
    p = config.dropout[(record.layer or 1) - 1]
    kept = int(np.count_nonzero(mask[0]))
    return [(f"ã{s}{_sub(0)} = a{s}{_sub(0)}·r{s}{_sub(0)}/(1 − p) = "
            f"{_n(a[0, 0])}·{_n(mask[0, 0])}/(1 − {p:g}) = {_n(a_drop[0, 0])}"),
            f"sample 1 keeps {kept} of {mask.shape[1]} units"]


def _loss(record: StepRecord, config: Config) -> list[str]:
    t = record.tensors
    y_hat, y, loss = t["y_hat"], t["y"], float(t["loss"])
    data = float(t.get("data_loss", loss))
    name = "L_data" if "penalty" in t else "L"
    parts: list[str] = []
    if "penalty" in t:
        d = change_digits(data, loss)
        total = float(t["penalty"]) / config.l1 if config.l1 else float("nan")
        parts.append(f"L = L_data + λΣ|W| = {_n(data, d)} + {config.l1:g}·{_n(total)} = {_n(loss, d)}")
    kind = config.loss
    if kind == "mse":
        if y_hat.size <= TERMS:
            terms = [f"({_n(p)} − {_f(q)})²" for p, q in zip(y_hat.ravel(), y.ravel())]
            return parts + [f"{name} = ({' + '.join(terms)})/{y_hat.size} = {_n(data)}"]
        sample = f"ℓ₁ = ({_n(y_hat[0, 0])} − {_f(y[0, 0])})² = {_n((y_hat[0, 0] - y[0, 0]) ** 2)}"
        return parts + [sample, f"{name} = mean of {y_hat.size} terms = {_n(data)}"]
    if kind == "cross_entropy":
        p = t["p"]
        terms = -(y * np.log(p)).sum(axis=1)
        c = int(np.argmax(y[0]))
        sample = f"ℓ₁ = −log(softmax(ŷ₁){_sub(c)}) = −log({_n(p[0, c])}) = {_n(terms[0])}"
        count = len(terms)
    else:
        p = t["p"] if kind == "bce_with_logits" else y_hat
        terms = (-(y * np.log(p) + (1 - y) * np.log1p(-p))).ravel()
        q, target = float(y[0, 0]), float(p[0, 0])
        shown = f"σ({_n(y_hat[0, 0])})" if kind == "bce_with_logits" else "ŷ₁"
        if q == 1:
            sample = f"ℓ₁ = −log({shown}) = −log({_n(target)}) = {_n(terms[0])}"
        elif q == 0:
            sample = f"ℓ₁ = −log(1 − {shown}) = −log(1 − {_n(target)}) = {_n(terms[0])}"
        else:
            sample = (f"ℓ₁ = −({_n(q)}·log({_n(target)}) + {_n(1 - q)}·log(1 − {_n(target)})) = {_n(terms[0])}")
        count = len(terms)
    if count <= TERMS:
        mean = f"{name} = ({_plus([_n(v) for v in terms])})/{count} = {_n(data)}"
    else:
        mean = f"{name} = mean of {count} terms ℓ = {_n(data)}"
    return parts + [sample, mean]


def _delta(record: StepRecord, config: Config) -> list[str]:
    t, layer = record.tensors, record.layer or 0
    s = sup(layer)
    name = _act(config, layer)
    delta, z = t["delta"], t["z"]
    head = f"δ{s}{_sub(0)}"
    if "W_next" in t:
        W, d = t["W_next"], t["delta_next"]
        products = [f"{_n(W[k, 0])}·{_f(d[0, k])}" for k in range(min(W.shape[0], TERMS))]
        back = f"({_sum(products, W.shape[0])})"
        if "mask" in t:
            back += f"·{_n(t['mask'][0, 0])}/(1 − {config.dropout[layer - 1]:g})"
        if name == "identity":
            return [f"{head} = {back} = {_n(delta[0, 0])}"]
        derivative = _derivative(name, z, config)
        f = SYMBOLS.get(name, name)
        return [f"{head} = {back}·{_f(derivative)} = {_n(delta[0, 0])}",
                f"{f}′(z{s}{_sub(0)}) = {f}′({_n(z[0, 0])}) = {_n(derivative)}"]
    g = t["dL_dy_hat"]
    if name == "identity":
        return [f"{head} = ∂L/∂ŷ{_sub(0)} = {_n(delta[0, 0])}"]
    if name == "softmax":
        a = activate("softmax", z[:1])
        total = float((a[0] * g[0]).sum())
        return [(f"{head} = ŷ₁·(∂L/∂ŷ₁ − Σⱼ ŷⱼ ∂L/∂ŷⱼ) = {_n(a[0, 0])}·({_n(g[0, 0])} − {_f(total)}) = "
                f"{_n(delta[0, 0])}")]
    derivative = _derivative(name, z, config)
    f = SYMBOLS.get(name, name)
    return [f"{head} = ∂L/∂ŷ{_sub(0)}·{f}′(z{s}{_sub(0)}) = {_n(g[0, 0])}·{_f(derivative)} = {_n(delta[0, 0])}",
            f"{f}′(z{s}{_sub(0)}) = {f}′({_n(z[0, 0])}) = {_n(derivative)}"]


def _derivative(name: str, z: np.ndarray, config: Config) -> float:
    """f′(z) of the first unit of sample 1, as the engine's backward computes it."""
    slope = config.negative_slope
    first = z[:1, :1]
    return float(activation_backward(name, np.ones_like(first), first, activate(name, first, slope), slope)[0, 0])


def _grad(record: StepRecord, config: Config) -> list[str]:
    t, layer = record.tensors, record.layer or 0
    s = sup(layer)
    delta, a, dW, db = t["delta"], t["a_prev"], t["dW"], t["db"]
    rows = delta.shape[0]
    over = "Σᵢ " if rows > 1 else ""
    i = "ᵢ" if rows > 1 else ""
    products = [f"{_n(delta[r, 0])}·{_f(a[r, 0])}" for r in range(min(rows, TERMS))]
    terms = [_sum(products, rows)]
    symbolic = f"{over}δ{s}{i}₁·{_input(config, layer)}{i}₁"
    if "W" in t:  # the L1 penalty's gradient
        terms.append(f"{config.l1:g}·sign({_n(t['W'][0, 0])})")
        symbolic += f" + λ·sign(W{s}{_sub(0, 0)})"
    weights = f"∂L/∂W{s}{_sub(0, 0)} = {symbolic} = {_plus(terms)} = {_n(dW[0, 0])}"
    if rows > 1:
        sums = _sum([_n(delta[r, 0]) for r in range(min(rows, TERMS))], rows)
        bias = f"∂L/∂b{s}{_sub(0)} = Σᵢ δ{s}ᵢ₁ = {sums} = {_n(db[0])}"
    else:
        bias = f"∂L/∂b{s}{_sub(0)} = δ{s}₁ = {_n(db[0])}"
    return [weights, bias]


def _update(record: StepRecord, config: Config) -> list[str]:
    t, layer = record.tensors, record.layer or 0
    s = sup(layer)
    parts, frozen = [], []
    for P in PARAMETERS:
        cell = (0, 0) if P == "W" else (0,)
        head = f"{P}{s}{_sub(*cell)}"
        if f"step_{P}" not in t:
            frozen.append(f"{head} = {_n(t[P][cell])}  (frozen: unchanged)")
            continue
        before, after = float(t[f"{P}_before"][cell]), float(t[P][cell])
        digits = change_digits(before, after)

        def fmt(value: float, ends: tuple[float, float] = (before, after), digits: int = digits) -> str:
            value = float(value)
            return _n(value, digits) if value in ends else _n(value)

        try:
            text = config.optimizer.worked(P, t, record.iteration, cell, fmt)
        except KeyError:  # a trace from an older nnstep, or another optimizer: the step as applied
            step = t[f"step_{P}"][cell]
            text = f"{fmt(before)} + ({_n(step)}) = {fmt(after)}"
        parts.append(f"{head} := {text}")
    return parts + frozen


_PARTS = {"linear": _linear, "activation": _activation, "dropout": _dropout, "loss": _loss, "delta": _delta,
          "grad": _grad, "update": _update}

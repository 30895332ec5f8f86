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
One function per op; how the numbers are written and fitted to a width is
worked_text.py, and which cells a number was computed from is operands.py.
"""

from __future__ import annotations

import re

import numpy as np
from nnstep.engine import Config, StepRecord
from nnstep.engine.functions import SYMBOLS, activate, activation_backward
from nnstep.engine.schedule import PARAMETERS
from nnstep.tui.operands import Cell, family_of
from nnstep.tui.symbols import dropped, sup
from nnstep.tui.worked_text import (
    SEPARATOR,
    TERMS,
    _f,
    _n,
    _plus,
    _sub,
    _sum,
    change_digits,
)

_NEGATIVE_FACTOR = re.compile(r"([·/])(−[0-9.]+(?:e[+-][0-9]+)?)")


def worked_example(record: StepRecord, config: Config) -> str:
    """Every part of the op's worked number on one line ('' if there is none)."""
    return SEPARATOR.join(worked_parts(record, config))


def worked_parts(record: StepRecord, config: Config, cell: Cell | None = None) -> list[str]:
    """One number of this op computed from its inputs, as a learner would by hand, in parts.

    `cell` picks the number: a tensor the op writes and an index into it (as
    the tensor is shaped: (sample, unit) for z, (unit, input) for W). By
    default, unit 1 of sample 1 (the weight W₁₁, the bias b₁).
    """
    with np.errstate(all="ignore"):
        try:
            parts = _PARTS[record.op](record, config, cell)
        except (KeyError, IndexError, ValueError):  # a trace whose tensors this op does not expect
            return []
    return [_NEGATIVE_FACTOR.sub(r"\1(\2)", part) for part in parts]


def _sample(record: StepRecord, i: int) -> str:
    """The note naming the sample of a batch of more than one ('' for one)."""
    return f"  (sample {i + 1})" if _batch(record) > 1 else ""


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


def _unit(cell: Cell | None, *names: str) -> tuple[int, int]:
    """(sample, unit) of a cell of one of `names` (default: 0, 0)."""
    if cell is None or cell[0] not in names:
        return 0, 0
    index = cell[1]
    return (int(index[0]), int(index[1])) if len(index) == 2 else (0, int(index[0]))


def _linear(record: StepRecord, config: Config, cell: Cell | None) -> list[str]:
    t, s = record.tensors, sup(record.layer or 0)
    a, W, b, z = t["a_prev"], t["W"], t["b"], t["z"]
    i, j = _unit(cell, "z")
    products = [f"{_n(a[i, k])}·{_f(W[j, k])}" for k in range(min(a.shape[1], TERMS))]
    return [f"z{s}{_sub(j)} = {_plus([_sum(products, a.shape[1]), _n(b[j])])} = {_n(z[i, j])}{_sample(record, i)}"]


def _activation(record: StepRecord, config: Config, cell: Cell | None) -> list[str]:
    t, s = record.tensors, sup(record.layer or 0)
    z, a = t["z"], t["a"]
    i, j = _unit(cell, "a")
    name = _act(config, record.layer)
    if name == "softmax":
        exps = [f"exp({_n(v)})" for v in z[i, :TERMS]]
        return [(f"a{s}{_sub(j)} = exp(z{_sub(j)})/Σₖ exp(zₖ) = exp({_n(z[i, j])})/({_sum(exps, z.shape[1])}) = "
                f"{_n(a[i, j])}{_sample(record, i)}")]
    return [f"a{s}{_sub(j)} = {SYMBOLS.get(name, name)}({_n(z[i, j])}) = {_n(a[i, j])}{_sample(record, i)}"]


def _dropout(record: StepRecord, config: Config, cell: Cell | None) -> list[str]:
    t, s = record.tensors, sup(record.layer or 0)
    a, mask, a_drop = t["a"], t["mask"], t["a_drop"]
    i, j = _unit(cell, "a_drop", "mask")
    p = config.dropout[(record.layer or 1) - 1]
    kept = int(np.count_nonzero(mask[i]))
    return [(f"ã{s}{_sub(j)} = a{s}{_sub(j)}·r{s}{_sub(j)}/(1 − p) = "
             f"{_n(a[i, j])}·{_n(mask[i, j])}/(1 − {p:g}) = {_n(a_drop[i, j])}{_sample(record, i)}"),
            f"sample {i + 1} keeps {kept} of {mask.shape[1]} units"]


def _loss(record: StepRecord, config: Config, cell: Cell | None) -> list[str]:
    t = record.tensors
    y_hat, y, loss = t["y_hat"], t["y"], float(t["loss"])
    if cell is not None and cell[0] == "dL_dy_hat":
        return _loss_gradient(record, config, *_unit(cell, "dL_dy_hat"))
    data = float(t.get("data_loss", loss))
    name = "L_data" if "penalty" in t else "L"
    parts: list[str] = []
    if "penalty" in t:
        d = change_digits(data, loss)
        total = float(t["penalty"]) / config.l1 if config.l1 else float("nan")
        parts.append(f"L = L_data + λΣ|W| = {_n(data, d)} + {config.l1:g}·{_n(total)} = {_n(loss, d)}")
    i = _unit(cell, "p")[0] if cell is not None and cell[0] == "p" else 0
    kind = config.loss
    if kind == "mse":
        if y_hat.size <= TERMS:
            terms = [f"({_n(p)} − {_f(q)})²" for p, q in zip(y_hat.ravel(), y.ravel())]
            return parts + [f"{name} = ({' + '.join(terms)})/{y_hat.size} = {_n(data)}"]
        sample = f"ℓ{_sub(i)} = ({_n(y_hat[i, 0])} − {_f(y[i, 0])})² = {_n((y_hat[i, 0] - y[i, 0]) ** 2)}"
        return parts + [sample, f"{name} = mean of {y_hat.size} terms = {_n(data)}"]
    if kind == "cross_entropy":
        p = t["p"]
        terms = -(y * np.log(p)).sum(axis=1)
        c = int(np.argmax(y[i]))
        sample = f"ℓ{_sub(i)} = −log(softmax(ŷ{_sub(i)}){_sub(c)}) = −log({_n(p[i, c])}) = {_n(terms[i])}"
        count = len(terms)
    else:
        p = t["p"] if kind == "bce_with_logits" else y_hat
        terms = (-(y * np.log(p) + (1 - y) * np.log1p(-p))).ravel()
        q, target = float(y.ravel()[i]), float(p.ravel()[i])
        shown = f"σ({_n(y_hat.ravel()[i])})" if kind == "bce_with_logits" else f"ŷ{_sub(i)}"
        if q == 1:
            sample = f"ℓ{_sub(i)} = −log({shown}) = −log({_n(target)}) = {_n(terms[i])}"
        elif q == 0:
            sample = f"ℓ{_sub(i)} = −log(1 − {shown}) = −log(1 − {_n(target)}) = {_n(terms[i])}"
        else:
            sample = (f"ℓ{_sub(i)} = −({_n(q)}·log({_n(target)}) + {_n(1 - q)}·log(1 − {_n(target)})) = {_n(terms[i])}")
        count = len(terms)
    if count <= TERMS:
        mean = f"{name} = ({_plus([_n(v) for v in terms])})/{count} = {_n(data)}"
    else:
        mean = f"{name} = mean of {count} terms ℓ = {_n(data)}"
    return parts + [sample, mean]


def _loss_gradient(record: StepRecord, config: Config, i: int, j: int) -> list[str]:
    """∂L/∂ŷᵢⱼ of the data loss, as engine/functions.py's loss_grad computes it."""
    t = record.tensors
    y_hat, y, g = t["y_hat"], t["y"], t["dL_dy_hat"]
    head = f"∂L/∂ŷ{_sub(i, j)}"
    kind = config.loss
    if kind == "mse":
        return [(f"{head} = 2·(ŷ{_sub(i, j)} − y{_sub(i, j)})/{y_hat.size} = 2·({_n(y_hat[i, j])} − {_f(y[i, j])})/"
                f"{y_hat.size} = {_n(g[i, j])}")]
    if kind == "cross_entropy":
        p = t["p"]
        total = float(y[i].sum())
        factor = "" if total == 1 else f"·{_n(total)}"
        return [(f"{head} = (softmax(ŷ{_sub(i)}){_sub(j)}{'·Σy' if factor else ''} − y{_sub(i, j)})/B = "
                f"({_n(p[i, j])}{factor} − {_f(y[i, j])})/{y_hat.shape[0]} = {_n(g[i, j])}")]
    if kind == "bce_with_logits":
        p = t["p"]
        return [(f"{head} = (σ(ŷ{_sub(i, j)}) − y{_sub(i, j)})/n = ({_n(p[i, j])} − {_f(y[i, j])})/{y_hat.size} = "
                f"{_n(g[i, j])}")]
    return [f"{head} = {_n(g[i, j])}  (from ŷ{_sub(i, j)} = {_n(y_hat[i, j])} and y{_sub(i, j)} = {_n(y[i, j])})"]


def _delta(record: StepRecord, config: Config, cell: Cell | None) -> list[str]:
    t, layer = record.tensors, record.layer or 0
    s = sup(layer)
    name = _act(config, layer)
    delta, z = t["delta"], t["z"]
    i, j = _unit(cell, "delta")
    head = f"δ{s}{_sub(j)}"
    note = _sample(record, i)
    if "W_next" in t:
        W, d = t["W_next"], t["delta_next"]
        products = [f"{_n(W[k, j])}·{_f(d[i, k])}" for k in range(min(W.shape[0], TERMS))]
        back = f"({_sum(products, W.shape[0])})"
        if "mask" in t:
            back += f"·{_n(t['mask'][i, j])}/(1 − {config.dropout[layer - 1]:g})"
        if name == "identity":
            return [f"{head} = {back} = {_n(delta[i, j])}{note}"]
        derivative = _derivative(name, z, config, i, j)
        f = SYMBOLS.get(name, name)
        return [f"{head} = {back}·{_f(derivative)} = {_n(delta[i, j])}{note}",
                f"{f}′(z{s}{_sub(j)}) = {f}′({_n(z[i, j])}) = {_n(derivative)}"]
    g = t["dL_dy_hat"]
    if name == "identity":
        return [f"{head} = ∂L/∂ŷ{_sub(j)} = {_n(delta[i, j])}{note}"]
    if name == "softmax":
        a = activate("softmax", z[i:i + 1])
        total = float((a[0] * g[i]).sum())
        return [(f"{head} = ŷ{_sub(j)}·(∂L/∂ŷ{_sub(j)} − Σₖ ŷₖ ∂L/∂ŷₖ) = {_n(a[0, j])}·({_n(g[i, j])} − {_f(total)}) = "
                 f"{_n(delta[i, j])}{note}")]
    derivative = _derivative(name, z, config, i, j)
    f = SYMBOLS.get(name, name)
    return [f"{head} = ∂L/∂ŷ{_sub(j)}·{f}′(z{s}{_sub(j)}) = {_n(g[i, j])}·{_f(derivative)} = {_n(delta[i, j])}{note}",
            f"{f}′(z{s}{_sub(j)}) = {f}′({_n(z[i, j])}) = {_n(derivative)}"]


def _derivative(name: str, z: np.ndarray, config: Config, i: int = 0, j: int = 0) -> float:
    """f′(z) of unit j of sample i, as the engine's backward computes it."""
    slope = config.negative_slope
    one = z[i:i + 1, j:j + 1]
    return float(activation_backward(name, np.ones_like(one), one, activate(name, one, slope), slope)[0, 0])


def _grad(record: StepRecord, config: Config, cell: Cell | None) -> list[str]:
    t, layer = record.tensors, record.layer or 0
    s = sup(layer)
    delta, a, dW, db = t["delta"], t["a_prev"], t["dW"], t["db"]
    rows = delta.shape[0]
    over = "Σᵢ " if rows > 1 else ""
    i = "ᵢ" if rows > 1 else ""
    j, k = (int(cell[1][0]), int(cell[1][1])) if cell is not None and cell[0] == "dW" else (0, 0)
    if cell is not None and cell[0] == "db":
        j = int(cell[1][-1])
    products = [f"{_n(delta[r, j])}·{_f(a[r, k])}" for r in range(min(rows, TERMS))]
    terms = [_sum(products, rows)]
    symbolic = f"{over}δ{s}{i}{_sub(j)}·{_input(config, layer)}{i}{_sub(k)}"
    if "W" in t:  # the L1 penalty's gradient
        terms.append(f"{config.l1:g}·sign({_n(t['W'][j, k])})")
        symbolic += f" + λ·sign(W{s}{_sub(j, k)})"
    weights = f"∂L/∂W{s}{_sub(j, k)} = {symbolic} = {_plus(terms)} = {_n(dW[j, k])}"
    if rows > 1:
        sums = _sum([_n(delta[r, j]) for r in range(min(rows, TERMS))], rows)
        bias = f"∂L/∂b{s}{_sub(j)} = Σᵢ δ{s}ᵢ{_sub(j)} = {sums} = {_n(db[j])}"
    else:
        bias = f"∂L/∂b{s}{_sub(j)} = δ{s}{_sub(j)} = {_n(db[j])}"
    return [bias, weights] if cell is not None and cell[0] == "db" else [weights, bias]


def _update(record: StepRecord, config: Config, cell: Cell | None) -> list[str]:
    t, layer = record.tensors, record.layer or 0
    s = sup(layer)
    parts, frozen = [], []
    chosen = family_of(cell[0]) if cell is not None else None
    for P in sorted(PARAMETERS, key=lambda P: P != chosen):
        if chosen == P and cell is not None:
            index = tuple(int(v) for v in cell[1])
            place: tuple[int, ...] = index if P == "W" else (index[-1],)
        else:
            place = (0, 0) if P == "W" else (0,)
        head = f"{P}{s}{_sub(*place)}"
        if f"step_{P}" not in t:
            frozen.append(f"{head} = {_n(t[P][place])}  (frozen: unchanged)")
            continue
        before, after = float(t[f"{P}_before"][place]), float(t[P][place])
        digits = change_digits(before, after)

        def fmt(value: float, ends: tuple[float, float] = (before, after), digits: int = digits) -> str:
            value = float(value)
            return _n(value, digits) if value in ends else _n(value)

        try:
            text = config.optimizer.worked(P, t, record.iteration, place, fmt)
        except KeyError:  # a trace from an older nnstep, or another optimizer: the step as applied
            step = t[f"step_{P}"][place]
            text = f"{fmt(before)} + ({_n(step)}) = {fmt(after)}"
        parts.append(f"{head} := {text}")
    return parts + frozen


_PARTS = {"linear": _linear, "activation": _activation, "dropout": _dropout, "loss": _loss, "delta": _delta,
          "grad": _grad, "update": _update}


# -- where a number comes from ------------------------------------------------------


def read_part(record: StepRecord, symbol: str, cell: Cell) -> str:
    """A number the op reads: its full value, and that the cells it goes into are marked."""
    name, index = cell
    value = record.tensors[name][tuple(index)] if record.tensors[name].ndim else record.tensors[name]
    where = _sub(*index) if np.ndim(record.tensors[name]) else ""
    head, _, tail = symbol.partition(" ")  # W⁽¹⁾ before → W⁽¹⁾₂₃ before
    return f"{head}{where}{' ' + tail if tail else ''} = {_n(float(value), 9)}  (read by this op; what it goes into is marked)"

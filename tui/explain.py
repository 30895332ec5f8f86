"""`nnstep explain`: a handout of one iteration, worked out op by op from the engine's records.

For each op of the schedule: its formula in the tutorial's notation, every
operand's values (whole while small, the first rows and columns otherwise)
and one number worked out with its values filled in — the same text the
app's equation pane shows. Three formats: Markdown with `$…$` LaTeX math, a
standalone LaTeX document, and a Jupyter notebook whose code cells
recompute every number with plain NumPy and assert it equals the engine's.
Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import numpy as np
from nnstep.engine import Config, Session, StepRecord
from nnstep.engine.schedule import OpSpec
from nnstep.tui.symbols import sup, symbol
from nnstep.tui.worked import worked_example

FORMATS = ("md", "tex", "ipynb")
WHOLE = 8  # rows and columns shown in full; larger tensors show their first WHOLE of each
DIGITS = 10  # significant digits of every printed number: Mazur's post prints 9

_LATEX = [
    ("Δ", r"\Delta "), ("ŷ", r"\hat{y}"), ("m̂", r"\hat{m}"), ("v̂", r"\hat{v}"), ("ã", r"\tilde{a}"),
    ("ḡ", r"\bar{g}"), ("∂", r"\partial "), ("δ", r"\delta "), ("σ′", r"\sigma'"), ("σ", r"\sigma "),
    ("η", r"\eta "), ("λ", r"\lambda "), ("β", r"\beta "), ("ε", r"\epsilon "), ("μ", r"\mu "), ("Σ", r"\sum "),
    ("∘", r"\circ "), ("·", r"\cdot "), ("−", "-"), ("√", r"\sqrt "), ("ᵀ", "^T"), ("ᵗ", "^t"), ("²", "^2"),
    ("′", "'"), ("≤", r"\le "), (":=", r"\leftarrow "), ("…", r"\dots "), ("ₘₐₓ", r"_{\max}"),
    ("|", r"\vert "),
]
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_SUBSCRIPT = str.maketrans("₀₁₂₃₄₅₆₇₈₉ᵢⱼ", "0123456789ij")


def latex(text: str) -> str:
    """The app's Unicode notation as LaTeX math: z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾ → z^{(1)} = W^{(1)}x + b^{(1)}."""
    text = text.replace("  ", r" \quad ")
    text = re.sub(r"⁽([⁰¹²³⁴⁵⁶⁷⁸⁹]+)⁾", lambda m: "^{(" + m.group(1).translate(_SUPERSCRIPT) + ")}", text)
    text = re.sub(r"[₀-₉ᵢⱼ]+", lambda m: "_{" + m.group(0).translate(_SUBSCRIPT) + "}", text)
    text = re.sub(r"\b(softmax|ReLU|LeakyReLU|tanh|log|sign|max|id)\b", r"\\operatorname{\1}", text)
    for plain, math in _LATEX:
        text = text.replace(plain, math)
    return text


def number(value: float) -> str:
    """A number with DIGITS significant digits, as the handout prints it."""
    value = float(value)
    if not np.isfinite(value):
        return "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    return f"{value:.{DIGITS}g}"


def _shown(array: np.ndarray) -> tuple[np.ndarray, str]:
    """The part of a tensor a handout prints, and a note when it is not the whole."""
    if array.ndim == 0:
        return array, ""
    view = array[:WHOLE] if array.ndim == 1 else array[:WHOLE, :WHOLE]
    note = "" if view.shape == array.shape else f" (first {' × '.join(map(str, view.shape))} of {' × '.join(map(str, array.shape))})"
    return view, note


def _matrix_md(array: np.ndarray) -> str:
    view, note = _shown(array)
    if view.ndim == 0:
        return f"${number(float(view))}${note}"
    rows = [view] if view.ndim == 1 else list(view)
    body = r" \\ ".join(" & ".join(number(v) for v in row) for row in rows)
    return rf"$\begin{{bmatrix}} {body} \end{{bmatrix}}${note}"


def _heading(index: int, spec: OpSpec) -> str:
    where = "loss" if spec.layer is None else f"{spec.stage} · layer {spec.layer}"
    return f"{index + 1}. {where} · {spec.op} — {spec.hint}"


def _records(config: Config, iteration: int) -> tuple[StepRecord, ...]:
    session = Session(config)
    return session.iteration_records(iteration - 1)


def _intro(config: Config, iteration: int) -> list[str]:
    opt = config.optimizer
    hyper = ", ".join(f"{k} = {v}" for k, v in opt.hyperparameters().items())
    return [
        f"Network {'→'.join(map(str, config.sizes))}, activations {', '.join(config.activations)}, "
        f"loss {config.loss}{f' + L1 λ = {config.l1:g}' if config.l1 else ''}; optimizer {opt.kind} ({hyper})"
        + (f"; dropout {list(config.dropout)}" if any(config.dropout) else "")
        + (f"; frozen {', '.join(sorted(config.freeze))}" if config.freeze else "") + ".",
        f"Iteration {iteration} of the run: one batch, {len(config.schedule)} ops. Batch rows: every tensor holds one "
        "sample per row; the formulas are written for one sample as a column vector, as in the tutorial.",
    ]


def markdown(config: Config, iteration: int = 1) -> str:
    """The handout of `iteration` (1-based) as Markdown with $…$ math."""
    records = _records(config, iteration)
    lines = [f"# {config.name}: iteration {iteration}, worked out op by op", ""]
    if config.description:
        lines += [f"*{config.description}*", ""]
    lines += [*_intro(config, iteration), ""]
    for i, (record, spec) in enumerate(zip(records, config.schedule)):
        lines += [f"## {_heading(i, spec)}", "", f"$${latex(record.equation)}$$", ""]
        for name, value in record.tensors.items():
            if name == "rows":
                lines.append(f"- data rows of this batch: {', '.join(str(int(r)) for r in value[:64])}")
                continue
            kind = "written" if name in record.writes else "read"
            lines.append(f"- ${latex(symbol(name, record, config.depth))}$ ({kind}) = {_matrix_md(value)}")
        worked = worked_example(record, config)
        if worked:
            lines += ["", f"Worked: ${latex(worked)}$"]
        lines.append("")
    return "\n".join(lines)


def tex(config: Config, iteration: int = 1) -> str:
    """The handout as a standalone LaTeX document (pdflatex-ready)."""
    body = markdown(config, iteration)
    out = [r"\documentclass[10pt]{article}", r"\usepackage[utf8]{inputenc}", r"\usepackage{amsmath,amssymb}",
           r"\usepackage[margin=2cm]{geometry}", r"\setcounter{MaxMatrixCols}{20}", r"\begin{document}"]
    for line in body.splitlines():
        if line.startswith("# "):
            out.append(rf"\section*{{{_tex_text(line[2:])}}}")
        elif line.startswith("## "):
            out.append(rf"\subsection*{{{_tex_text(line[3:])}}}")
        elif line.startswith("$$"):
            out.append(r"\[" + line.strip("$") + r"\]")
        elif line.startswith("- "):
            out.append(r"\noindent " + _tex_mixed(line[2:]) + r"\\")
        elif line:
            out.append(_tex_mixed(line.strip("*")) + "\n")
    out.append(r"\end{document}")
    return "\n".join(out) + "\n"


def _tex_text(text: str) -> str:
    """Plain text for LaTeX: special characters escaped, the notation's symbols as math."""
    for plain, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("#", r"\#"), ("_", r"\_"),
                           ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}")):
        text = text.replace(plain, escaped)
    return re.sub(r"[^\x00-\x7f]+", lambda m: f"${latex(m.group(0))}$", text)


def _tex_mixed(line: str) -> str:
    """A line of text with $…$ math: the text escaped, the math kept."""
    parts = line.split("$")
    return "".join(f"${part}$" if i % 2 else _tex_text(part) for i, part in enumerate(parts))


# -- the notebook ------------------------------------------------------------


def _literal(array: np.ndarray) -> str:
    """A NumPy literal that gives back exactly these numbers (repr of floats round-trips)."""
    if array.dtype.kind in "iu":
        return f"np.array({array.tolist()!r}, dtype=np.int64)"
    text = json.dumps(array.astype(np.float64).tolist()).replace("NaN", "np.nan").replace("Infinity", "np.inf")
    return f"np.array({text})"


_ACTIVATION = {
    "identity": "{z}",
    "relu": "np.maximum({z}, 0.0)",
    "leaky_relu": "np.where({z} > 0, {z}, {z} * {slope})",
    "sigmoid": "1.0 / (1.0 + np.exp(-{z}))",
    "tanh": "np.tanh({z})",
    "softmax": "np.exp({z} - {z}.max(axis=1, keepdims=True)) / np.exp({z} - {z}.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)",
}
_DERIVATIVE = {
    "identity": "{g}",
    "relu": "np.where({z} > 0, {g}, 0.0)",
    "leaky_relu": "np.where({z} > 0, {g}, {g} * {slope})",
    "sigmoid": "{g} * {a} * (1.0 - {a})",
    "tanh": "{g} * (1.0 - {a} ** 2)",
    "softmax": "{a} * ({g} - ({g} * {a}).sum(axis=1, keepdims=True))",
}
_LOSS = {
    "mse": "L_data = ((y_hat - y) ** 2).mean()\ndL_dy_hat = 2.0 * (y_hat - y) / y_hat.size",
    "cross_entropy": ("shifted = y_hat - y_hat.max(axis=1, keepdims=True)\n"
                      "p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)\n"
                      "L_data = -(y * np.log(p)).sum() / len(y)\n"
                      "dL_dy_hat = (p * y.sum(axis=1, keepdims=True) - y) / len(y)"),
    "bce": ("L_data = -(y * np.maximum(np.log(y_hat), -100) + (1 - y) * np.maximum(np.log1p(-y_hat), -100)).mean()\n"
            "dL_dy_hat = (y_hat - y) / np.maximum(y_hat * (1 - y_hat), float(np.float32(1e-12))) / y_hat.size"),
    "bce_with_logits": ("p = 1.0 / (1.0 + np.exp(-y_hat))\n"
                        "L_data = (np.maximum(y_hat, 0) - y_hat * y + np.log1p(np.exp(-np.abs(y_hat)))).mean()\n"
                        "dL_dy_hat = (p - y) / y_hat.size"),
}


def _optimizer_code(config: Config, P: str, l: int) -> str:
    """Plain NumPy for one parameter's update, state variables named like the records' keys."""
    opt = config.optimizer
    hp = opt.hyperparameters()
    g = f"d{P}{l}"
    lines = [f"g = {g}" + (f" + {hp['weight_decay']!r} * {P}{l}" if hp["weight_decay"] and opt.kind != "adamw" else "")]
    if opt.kind == "sgd":
        if hp["momentum"]:
            lines.append(f"v_{P}{l} = g.copy() if v_{P}{l} is None else {hp['momentum']!r} * v_{P}{l} + "
                         f"(1 - {hp['dampening']!r}) * g")
            lines.append(f"g = g + {hp['momentum']!r} * v_{P}{l}" if hp["nesterov"] else f"g = v_{P}{l}")
        lines.append(f"{P}{l} = {P}{l} - {hp['lr']!r} * g")
    elif opt.kind in ("adam", "adamw"):
        b1, b2 = hp["betas"]
        if opt.kind == "adamw" and hp["weight_decay"]:
            lines.append(f"{P}{l} = {P}{l} * (1 - {hp['lr']!r} * {hp['weight_decay']!r})")
        lines += [f"m_{P}{l} = {b1!r} * m_{P}{l} + (1 - {b1!r}) * g",
                  f"v_{P}{l} = {b2!r} * v_{P}{l} + (1 - {b2!r}) * g ** 2"]
        second = f"v_{P}{l}"
        if hp["amsgrad"]:
            lines.append(f"v_max_{P}{l} = np.maximum(v_max_{P}{l}, v_{P}{l})")
            second = f"v_max_{P}{l}"
        lines += [f"m_hat = m_{P}{l} / (1 - {b1!r} ** t)", f"v_hat = {second} / (1 - {b2!r} ** t)",
                  f"{P}{l} = {P}{l} - {hp['lr']!r} * m_hat / (np.sqrt(v_hat) + {hp['eps']!r})"]
    else:  # rmsprop
        a = hp["alpha"]
        lines.append(f"v_{P}{l} = {a!r} * v_{P}{l} + (1 - {a!r}) * g ** 2")
        denom = f"np.sqrt(v_{P}{l})"
        if hp["centered"]:
            lines.append(f"g_avg_{P}{l} = {a!r} * g_avg_{P}{l} + (1 - {a!r}) * g")
            denom = f"np.sqrt(v_{P}{l} - g_avg_{P}{l} ** 2)"
        lines.append(f"avg = {denom} + {hp['eps']!r}")
        if hp["momentum"]:
            lines += [f"buf_{P}{l} = {hp['momentum']!r} * buf_{P}{l} + g / avg", f"{P}{l} = {P}{l} - {hp['lr']!r} * buf_{P}{l}"]
        else:
            lines.append(f"{P}{l} = {P}{l} - {hp['lr']!r} * g / avg")
    return "\n".join(lines)


def _code(spec: OpSpec, record: StepRecord, config: Config) -> str:
    """NumPy that recomputes the op's written tensors from the variables so far, then checks them."""
    t = record.tensors
    slope = repr(config.negative_slope)
    if spec.op == "loss":  # the one op of no layer
        out = f"a_drop{config.depth}" if config.dropout[-1] else f"a{config.depth}"
        code = f"y_hat = {out}\n{_LOSS[config.loss]}\n"
        if config.l1:
            code += f"penalty = {config.l1!r} * sum(np.abs(W).sum() for W in [{', '.join(f'W{k}' for k in range(1, config.depth + 1))}])\n"
            code += "L = L_data + penalty\n"
        else:
            code += "L = L_data\n"
        return code + f"check('L', L, {_literal(t['loss'])})\ncheck('∂L/∂ŷ', dL_dy_hat, {_literal(t['dL_dy_hat'])})"
    assert spec.layer is not None
    l = spec.layer
    act = config.activations[l - 1]
    dropped_below = l > 1 and config.dropout[l - 2] > 0
    if spec.op == "linear":
        source = "x" if l == 1 else (f"a_drop{l - 1}" if dropped_below else f"a{l - 1}")
        code = f"z{l} = {source} @ W{l}.T + b{l}\ncheck('z{sup(l)}', z{l}, {_literal(t['z'])})"
    elif spec.op == "activation":
        code = f"a{l} = {_ACTIVATION[act].format(z=f'z{l}', slope=slope)}\ncheck('a{sup(l)}', a{l}, {_literal(t['a'])})"
    elif spec.op == "dropout":
        p = config.dropout[l - 1]
        code = (f"mask{l} = {_literal(t['mask'])}  # drawn by nnstep from (seed, iteration, layer)\n"
                f"a_drop{l} = a{l} * (mask{l} / (1 - {p!r}))\ncheck('ã{sup(l)}', a_drop{l}, {_literal(t['a_drop'])})")
    elif spec.op == "delta":
        if l == config.depth:
            g = "dL_dy_hat"
        else:
            g = f"(delta{l + 1} @ W{l + 1})"
            if config.dropout[l - 1]:
                g = f"({g} * mask{l} / (1 - {config.dropout[l - 1]!r}))"
        code = (f"delta{l} = {_DERIVATIVE[act].format(g=g, z=f'z{l}', a=f'a{l}', slope=slope)}\n"
                f"check('δ{sup(l)}', delta{l}, {_literal(t['delta'])})")
    elif spec.op == "grad":
        source = "x" if l == 1 else (f"a_drop{l - 1}" if dropped_below else f"a{l - 1}")
        penalty = f" + {config.l1!r} * np.sign(W{l})" if config.l1 else ""
        code = (f"dW{l} = delta{l}.T @ {source}{penalty}\ndb{l} = delta{l}.sum(axis=0)\n"
                f"check('∂L/∂W{sup(l)}', dW{l}, {_literal(t['dW'])})\ncheck('∂L/∂b{sup(l)}', db{l}, {_literal(t['db'])})")
    else:  # update
        parts = []
        for P in ("W", "b"):
            if f"{P}{l}" in config.freeze:
                parts.append(f"# {P}{sup(l)} is frozen: unchanged")
                continue
            parts.append(_optimizer_code(config, P, l))
            parts.append(f"check('{P}{sup(l)} after', {P}{l}, {_literal(t[P])})")
        code = "\n".join(parts)
    return code


def notebook(config: Config, iteration: int = 1) -> str:
    """The handout as a Jupyter notebook (nbformat 4) that recomputes and asserts every number."""
    session = Session(config)
    records = session.iteration_records(iteration - 1)
    params = session.iteration_params(iteration - 1)
    first = records[0]
    setup = ["import numpy as np", "",
             "def check(name, value, expected):",
             "    \"\"\"The value computed here equals nnstep's (to 1e-12 relative: NumPy's exp and tanh may differ in the last bit).\"\"\"",
             "    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-300, err_msg=name)",
             "    print(f'{name} ✓')", "",
             f"t = {params.t + 1}  # the optimizer's step count after this update",
             f"x = {_literal(first.tensors['a_prev'])}  # the batch: data rows {first.tensors['rows'].tolist()}",
             f"y = {_literal(next(r for r in records if r.op == 'loss').tensors['y'])}"]
    for l in range(1, config.depth + 1):
        setup.append(f"W{l} = {_literal(params.W[l - 1])}")
        setup.append(f"b{l} = {_literal(params.b[l - 1])}")
        state = params.state[l - 1] if params.state else {}
        for name in config.optimizer.state_names():
            for P in ("W", "b"):
                key = f"{name}_{P}"
                if f"{P}{l}" in config.freeze:
                    continue
                if key in state:
                    setup.append(f"{name}_{P}{l} = {_literal(state[key])}")
                else:
                    start = "None" if config.optimizer.kind == "sgd" else f"np.zeros_like({P}{l})"
                    setup.append(f"{name}_{P}{l} = {start}  # no state yet: torch starts here")
    cells = [_cell("markdown", f"# {config.name}: iteration {iteration}, recomputed in plain NumPy\n\n"
                   + "\n".join(_intro(config, iteration))),
             _cell("code", "\n".join(setup))]
    for i, (record, spec) in enumerate(zip(records, config.schedule)):
        worked = worked_example(record, config)
        text = f"## {_heading(i, spec)}\n\n$${latex(record.equation)}$$" + (f"\n\nWorked: ${latex(worked)}$" if worked else "")
        cells.append(_cell("markdown", text))
        cells.append(_cell("code", _code(spec, record, config)))
    document = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                                             "language_info": {"name": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def _cell(kind: str, source: str) -> dict:
    cell: dict = {"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


WRITERS: dict[str, Callable[[Config, int], str]] = {"md": markdown, "tex": tex, "ipynb": notebook}


def handout(config: Config, iteration: int = 1, fmt: str = "md") -> str:
    """The handout of `iteration` (1-based) in format `fmt` (md, tex or ipynb)."""
    return WRITERS[fmt](config, iteration)

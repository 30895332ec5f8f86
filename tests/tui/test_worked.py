"""The worked numbers of the equation pane, checked the way a student would check them.

Each printed line ends `arithmetic = result`. The tests parse the printed
numbers, redo the arithmetic and require it to add up within the rounding of
the printed digits; and they compute the result by hand from the record's
own tensors (Adam from m and v, dropout from the mask, the penalty from |W|)
and require the printed result to be that number. Batch rows: z has shape
(B, n_l); W has shape (n_l, n_{l-1}); "unit 1 of sample 1" is z[0, 0].
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from nnstep.engine import Session, StepRecord, build_config, load_config, load_demo
from nnstep.tui.render import wrap_clauses
from nnstep.tui.worked import worked_parts
from nnstep.tui.worked_text import change_digits, fit, shorten

CONFIG = Path(__file__).parent / "configs" / "adam_dropout.toml"
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:e[+-]?\d+)?")
_NOTE = re.compile(r"  \(.*\)$")
_EQUALS = re.compile(r" :?= ")


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


FUNCTIONS = {
    "sig": sigmoid, "relu": lambda x: max(x, 0.0), "ident": lambda x: x, "tanh": math.tanh,
    "dsig": lambda x: sigmoid(x) * (1 - sigmoid(x)), "drelu": lambda x: float(x > 0), "dtanh": lambda x: 1 - math.tanh(x) ** 2,
    "dident": lambda x: 1.0, "leaky": lambda x: x if x > 0 else 0.01 * x, "dleaky": lambda x: 1.0 if x > 0 else 0.01,
    "log": math.log, "exp": math.exp, "sqrt": math.sqrt, "sign": lambda x: float(np.sign(x)),
}
_NAMES = [("σ′(", "dsig("), ("ReLU′(", "drelu("), ("LeakyReLU′(", "dleaky("), ("tanh′(", "dtanh("), ("id′(", "dident("),
          ("LeakyReLU(", "leaky("), ("σ(", "sig("), ("ReLU(", "relu("), ("id(", "ident(")]


def number(text: str) -> float:
    return float(text.replace("−", "-"))


def half_ulp(token: str) -> float:
    """Half a unit in the last printed place, at least as coarse as 4 significant digits."""
    value = abs(float(token))
    if value == 0:
        return 0.0
    mantissa = token.split("e")[0].replace(".", "").lstrip("0")
    digits = max(len(mantissa), 4)
    return 0.5 * 10 ** (math.floor(math.log10(value)) - digits + 1)


def python_of(arithmetic: str) -> str | None:
    """The printed arithmetic as a Python expression with numbers as x[i]; None if it is not arithmetic."""
    text = arithmetic.replace("−", "-").replace("·", "*").replace("²", "**TWO")
    for shown, name in _NAMES:
        text = text.replace(shown, name)
    text = re.sub(r"√(\d[\d.]*(?:e[+-]?\d+)?)", r"sqrt(\1)", text).replace("√(", "sqrt(")
    bare = NUMBER.sub("", re.sub(r"\b(" + "|".join(FUNCTIONS) + r")\(", "(", text)).replace("TWO", "")
    if not text.isascii() or not NUMBER.search(text) or re.search(r"[A-Za-z]", bare):
        return None  # a symbolic step such as ∂L/∂ŷ₁, or words: "mean of 64 terms"
    count = iter(range(1000))
    return NUMBER.sub(lambda m: f"x[{next(count)}]", text).replace("TWO", "2")


def check_adds_up(part: str) -> tuple[str, float]:
    """Redo the part's arithmetic from its printed numbers; return (head, printed result)."""
    plain = _NOTE.sub("", part)
    steps = _EQUALS.split(plain)
    assert len(steps) >= 2, part
    head, result_text = steps[0], steps[-1]
    assert NUMBER.fullmatch(result_text.lstrip("−")), f"the result of {part!r} is not one number"
    result = number(result_text)
    if len(steps) >= 3:
        expression = python_of(steps[-2])
        if expression is not None:
            tokens = NUMBER.findall(steps[-2].replace("−", "-").replace("²", ""))
            x = [float(t) for t in tokens]

            def f(values: list[float]) -> float:
                return float(eval(expression, {"__builtins__": {}, **FUNCTIONS}, {"x": values}))

            value = f(x)
            bound = half_ulp(result_text.lstrip("−")) + 1e-12 * abs(result)
            for i, token in enumerate(tokens):
                moved = list(x)
                moved[i] += half_ulp(token)
                bound += abs(f(moved) - value)
            assert abs(value - result) <= 1.5 * bound, f"{part!r}: the printed numbers give {value!r}, not {result!r}"
    return head, result


def close(printed: float, exact: float, part: str) -> None:
    """The printed result is `exact` to the digits printed."""
    assert abs(printed - exact) <= max(5e-4 * abs(exact), 1e-15) or math.isclose(printed, exact, rel_tol=5e-4), \
        f"{part!r} prints {printed!r}, a hand computation gives {exact!r}"


def same_iteration(session: Session, record: StepRecord, op: str, layer: int) -> StepRecord:
    """The record of `op` of `layer` in the iteration of `record`."""
    schedule = session.config.schedule
    return session.record_at(schedule.index(record.iteration - 1, schedule.find(op, layer).offset))


def test_every_op_of_adam_dropout_l1_freeze_is_worked_out_and_adds_up() -> None:
    """If this fails, a student checking the pane's numbers by hand would find one that does not add up."""
    config = load_config(CONFIG)
    session = Session(config)
    optimizer, (beta1, beta2) = config.optimizer, config.optimizer.betas
    previous: dict[int, dict[str, np.ndarray]] = {}
    seen: set[str] = set()
    for _ in range(2 * len(config.schedule)):  # t = 1 and t = 2: bias correction and Adam's state both matter
        session.step()
        record = session.record
        t, l, op = record.tensors, record.layer, record.op
        parts = worked_parts(record, config)
        assert parts, f"no worked number for the {op} op"
        seen.add(op)
        for part in parts:
            if "=" not in part:
                continue
            head, printed = check_adds_up(part)
            if op == "linear":
                close(printed, float(t["a_prev"][0] @ t["W"][0] + t["b"][0]), part)
            elif op == "activation":
                z = float(t["z"][0, 0])
                close(printed, math.tanh(z) if l == 1 else z, part)
            elif op == "dropout":
                keep = float(t["mask"][0, 0])
                assert keep in (0.0, 1.0)
                close(printed, float(t["a"][0, 0]) * keep / (1 - config.dropout[0]), part)
            elif op == "loss":
                y_hat, y = t["y_hat"].ravel(), t["y"].ravel()
                terms = [-(q * math.log(sigmoid(p)) + (1 - q) * math.log(1 - sigmoid(p))) for p, q in zip(y_hat, y)]
                W = [same_iteration(session, record, "linear", layer).tensors["W"] for layer in (1, 2)]
                penalty = config.l1 * sum(np.abs(W_l).sum() for W_l in W)
                expected = {"L": sum(terms) / len(terms) + penalty, "L_data": sum(terms) / len(terms), "ℓ₁": terms[0]}
                close(printed, expected[head], part)
                if head == "L":
                    assert part.split(" = ")[2].split(" + ")[0] != part.split(" = ")[3], "L_data and L print the same"
            elif op == "delta":
                z = float(t["z"][0, 0])
                if l == 2:
                    close(printed, float(t["dL_dy_hat"][0, 0]), part)
                elif head.startswith("δ"):
                    back = float(t["W_next"][:, 0] @ t["delta_next"][0]) * float(t["mask"][0, 0]) / (1 - config.dropout[0])
                    close(printed, back * (1 - math.tanh(z) ** 2), part)
                else:
                    close(printed, 1 - math.tanh(z) ** 2, part)
            elif op == "grad":
                delta, a = t["delta"], t["a_prev"]
                if head.startswith("∂L/∂W"):
                    close(printed, float(delta[:, 0] @ a[:, 0]) + config.l1 * float(np.sign(t["W"][0, 0])), part)
                else:
                    close(printed, float(delta[:, 0].sum()), part)
            elif op == "update":
                P = head[0]
                cell = (0, 0) if P == "W" else (0,)
                if f"{P}{l}" in config.freeze:
                    assert "frozen" in part and f"step_{P}" not in t
                    close(printed, float(same_iteration(session, record, "linear", l).tensors[P][cell]), part)
                    continue
                g = float(t[f"d{P}"][cell])
                m_prev, v_prev = (previous[l][f"m_{P}"][cell], previous[l][f"v_{P}"][cell]) if l in previous else (0.0, 0.0)
                m = beta1 * m_prev + (1 - beta1) * g
                v = beta2 * v_prev + (1 - beta2) * g * g
                assert math.isclose(m, float(t[f"m_{P}"][cell]), rel_tol=1e-9), "Adam's m is not β₁·m + (1 − β₁)·g"
                m_hat, v_hat = m / (1 - beta1**record.iteration), v / (1 - beta2**record.iteration)
                expected = float(t[f"{P}_before"][cell]) - optimizer.lr * m_hat / (math.sqrt(v_hat) + optimizer.eps)
                close(printed, expected, part)
                assert f"(t = {record.iteration})" in part
                before_text = part.split(" := ")[1].split(" − ")[0]
                assert before_text != part.split(" = ")[-1].split("  ")[0], f"{part!r}: before and after print alike"
        if op == "update":
            previous[l] = dict(t)
        if op == "dropout":
            assert f"keeps {int(t['mask'][0].sum())} of {t['mask'].shape[1]} units" in parts[1]
    assert seen == {"linear", "activation", "dropout", "loss", "delta", "grad", "update"}


def _raw(**changes: object) -> dict:
    raw: dict = {"seed": 1, "model": {"sizes": [3, 4, 2], "activations": ["sigmoid", "sigmoid"], "init": "xavier"},
                 "loss": {"kind": "mse"}, "optimizer": {"kind": "sgd", "lr": 0.1},
                 "data": {"dataset": "random", "n": 3}}
    for key, value in changes.items():
        table, _, name = key.partition("__")
        raw[table][name] = value
    return raw


CASES = {
    "mazur": None,
    "tutorial": None,
    "sgd-momentum-softmax": _raw(model__activations=["leaky_relu", "softmax"], optimizer__momentum=0.9,
                                 loss__kind="cross_entropy"),
    "rmsprop-bce": _raw(optimizer__kind="rmsprop", optimizer__lr=0.01, loss__kind="bce"),
    "adamw-amsgrad-relu": _raw(model__activations=["relu", "identity"], optimizer__kind="adamw", optimizer__amsgrad=True,
                               loss__kind="bce_with_logits", model__dropout=[0.3, 0.0], loss__l1=0.01),
    "adam-frozen-W": _raw(optimizer__kind="adam", model__freeze=["W1", "b2"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_worked_numbers_add_up_for_other_losses_optimizers_and_activations(case: str) -> None:
    """Every printed line of two iterations adds up, and ends in the number the record holds."""
    raw = CASES[case]
    config = load_demo(case) if raw is None else build_config(raw, f"{case}.toml", name=case)
    session = Session(config)
    for _ in range(2 * len(config.schedule)):
        session.step()
        record = session.record
        parts = worked_parts(record, config)
        assert parts, f"{case}: no worked number for the {record.op} op"
        for part in parts:
            if "=" in part:
                check_adds_up(part)


def test_digits_show_the_change() -> None:
    """−0.97 − 0.01·0.0003828 must not print as −0.97 = −0.97: the change would be invisible."""
    assert change_digits(-0.97, -0.97 - 0.01 * 0.0003828) == 7
    assert change_digits(0.4, 0.399) == 4
    assert change_digits(1.0, 1.0) == 4
    raw = _raw(optimizer__lr=1e-6)
    config = build_config(raw, "tiny.toml", name="tiny")
    session = Session(config)
    while not session.record or session.record.op != "update":
        session.step()
    part = worked_parts(session.record, config)[0]
    before, after = part.split(" := ")[1].split(" − ")[0], part.split(" = ")[-1]
    assert before != after, part
    check_adds_up(part)


def test_narrow_panes_shorten_whole_steps_never_a_number() -> None:
    """At 80 columns a long sum gives way to its symbolic form or to `= … =`, not to a number cut in half."""
    part = "∂L/∂W⁽²⁾₁₁ = Σᵢ δ⁽²⁾ᵢ₁·ã⁽¹⁾ᵢ₁ = 0.09015·0.1 − 0.125·0.2 + 0.09707·0.3 − 0.2244·0.4517 = −0.1024  (x)"
    assert shorten(part, 200) == part
    assert shorten(part, 90).endswith("0.4517 = −0.1024") and "Σ" not in shorten(part, 90)
    assert shorten(part, 50) == "∂L/∂W⁽²⁾₁₁ = Σᵢ δ⁽²⁾ᵢ₁·ã⁽¹⁾ᵢ₁ = −0.1024"
    assert shorten(part, 20) == "∂L/∂W⁽²⁾₁₁ = … = −0.1024"
    assert fit(["a = 1 = 1", "b = 2 = 2"], 12) == "a = 1 = 1"
    adam = "g = 1;  m := 0.9·m,  v := 0.999·v;  W := W − 0.01·m̂  (b likewise)"
    assert wrap_clauses(adam, 80, 2) == [adam]
    assert wrap_clauses(adam, 30, 2) == ["g = 1;  m := 0.9·m,", "v := 0.999·v;  W := W − 0.01·m̂"]
    assert wrap_clauses(adam, 26, 2) == ["… v := 0.999·v;", "W := W − 0.01·m̂"]
    # A note goes before the formula takes a second line (the shapes keep theirs).
    assert wrap_clauses("∂L/∂W = δxᵀ,  ∂L/∂b = δ  (summed over the batch)", 30, 2) == ["∂L/∂W = δxᵀ,  ∂L/∂b = δ"]


@pytest.mark.parametrize("case", ["tutorial", "adamw-amsgrad-relu", "sgd-momentum-softmax"])
def test_any_cell_a_student_selects_is_worked_out_and_adds_up(case: str) -> None:
    """The cursor may sit on any number the op writes: its worked number must add up and end in
    exactly that cell's value (not unit 1 of sample 1), and its sources must include the operands."""
    from nnstep.tui.operands import sources

    raw = CASES[case]
    config = load_demo(case) if raw is None else build_config(raw, f"{case}.toml", name=case)
    session = Session(config)
    rng = np.random.default_rng(0)
    for _ in range(len(config.schedule)):
        record = session.step()
        for name in record.writes:
            values = record.tensors[name]
            if values.ndim == 0 or name in ("mask", "loss", "data_loss", "penalty", "p") or name.startswith(("m_", "v_")):
                continue
            index = tuple(int(rng.integers(n)) for n in values.shape)
            parts = worked_parts(record, config, (name, index))
            assert parts, (record.op, name)
            if record.op == "update" and not name.startswith(("W", "b")):
                continue
            _head, printed = check_adds_up(parts[0])
            close(printed, float(values[index]), parts[0])
            marks = sources(record, (name, index))
            assert marks and all(mask.any() for mask in marks.values()), (record.op, name, marks)

"""Breakpoint expressions: a small grammar of our own, never eval.

    expr    := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | compare
    compare := 'nan' | value 'increased' | value 'decreased' | value (OP value)?
    value   := NUMBER | NAME | STRING | FUNC '(' arg ')' | '(' expr ')'
    OP      := '<' | '<=' | '>' | '>=' | '==' | '!='

Names: loss, iteration, epoch, index, layer, stage, op (an op of the
schedule: linear, activation, dropout, loss, delta, grad, update), and
tensors with a layer number: W1, b1, z1, a1, delta1, dW1, db1, and with
dropout mask1, a_drop1 (also y_hat). Functions:
norm, max, min, mean (of a tensor), dead(l) (fraction of ReLU units of layer
l that are zero for the whole batch), saturated(l) (fraction of sigmoid/tanh
outputs of layer l within 1e-3 of their bounds).

A value a step does not have (loss on a forward op, dW1 on a linear op) is
unknown, and a comparison with it is not a hit: `norm(dW1) > 100` can only
hit on the steps that hold dW⁽¹⁾.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import NnstepError
from .functions import l2_norm, safe_mean
from .records import StepRecord
from .schedule import OPS, STAGES

_TOKEN = re.compile(
    # Digits are 0-9: \d would also take '١٢', which float() reads as 12 (the CLI's counts refuse it too).
    r"\s*(?:(?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
    r"|(?P<str>'[^']*'|\"[^\"]*\")|(?P<op><=|>=|==|!=|<|>|\(|\)|-))"
)
_TENSOR = re.compile(r"^(W|b|z|a|a_drop|mask|delta|dW|db)([0-9]+)$")
_SCALARS = ("loss", "iteration", "epoch", "index", "layer", "stage", "op")
_FUNCS = ("norm", "max", "min", "mean", "dead", "saturated")
_NAMED = {"stage": STAGES, "op": OPS}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
UNKNOWN = None
MAX_NESTING = 32


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    column: int  # 1-based


def _tokens(text: str, fail: Callable[[int, str], NnstepError]) -> list[_Token]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            column = pos + 1 + (len(text[pos:]) - len(text[pos:].lstrip()))
            odd = text[column - 1]
            digit = " (numbers are written with the digits 0-9)" if odd.isdigit() or odd.isnumeric() else ""
            raise fail(column, f"unexpected character {odd!r}{digit}")
        kind = match.lastgroup or "op"
        tokens.append(_Token(kind, match.group(kind), match.start(kind) + 1))
        pos = match.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str, depth: int, what: str = "breakpoint") -> None:
        self.text = text
        self.what = what
        self.depth = depth
        self.tokens = _tokens(text, self.fail)
        self.i = 0
        self.nesting = 0

    def fail(self, column: int, message: str) -> NnstepError:
        return NnstepError(f"{self.what} '{self.text}': column {column}: {message}")

    @property
    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            found = f"'{token.text}'" if token.text else "the end"
            raise self.fail(token.column, f"expected '{text}', found {found}")

    def parse(self) -> Callable:
        if self.peek.kind == "end":
            raise self.fail(1, "empty expression")
        node = self.or_()
        if self.peek.kind != "end":
            raise self.fail(self.peek.column, f"unexpected '{self.peek.text}'")
        return node

    def or_(self) -> Callable:
        parts = [self.and_()]
        while self.peek.text == "or":
            self.take()
            parts.append(self.and_())
        if len(parts) == 1:
            return parts[0]

        def any_(ctx: _Context) -> bool | None:
            results = [p(ctx) for p in parts]
            return True if True in results else (UNKNOWN if UNKNOWN in results else False)

        return any_

    def and_(self) -> Callable:
        parts = [self.not_()]
        while self.peek.text == "and":
            self.take()
            parts.append(self.not_())
        if len(parts) == 1:
            return parts[0]

        def all_(ctx: _Context) -> bool | None:
            results = [p(ctx) for p in parts]
            return False if False in results else (UNKNOWN if UNKNOWN in results else True)

        return all_

    def not_(self) -> Callable:
        if self.peek.text == "not":
            self.take()
            inner = self.not_()
            return lambda ctx: (lambda r: UNKNOWN if r is UNKNOWN else not r)(inner(ctx))
        return self.compare()

    def compare(self) -> Callable:
        if self.peek.text == "nan":
            self.take()
            return lambda ctx: ctx.non_finite()
        start = self.peek
        left, left_kind = self.value()
        if self.peek.text in ("increased", "decreased"):
            word = self.take()
            if start.text != "loss":
                raise self.fail(word.column, f"'{word.text}' applies to loss only")
            up = word.text == "increased"
            return lambda ctx: ctx.loss_moved(up)
        if self.peek.text not in _COMPARE:
            if left_kind == "bool":
                return left
            found = f"'{self.peek.text}'" if self.peek.text else "the end"
            raise self.fail(self.peek.column, f"expected a comparison (<, <=, >, >=, ==, !=), found {found}")
        op_token = self.take()
        op = _COMPARE[op_token.text]
        end = self.peek
        right, right_kind = self.value(stage_names=left_kind == "str")
        if "bool" in (left_kind, right_kind) or (left_kind == "str") != (right_kind == "str"):
            raise self.fail(start.column, "compares values of different kinds")
        self._check_known(start, op_token.text, end)
        self._check_known(end, op_token.text, start)

        def compare(ctx: _Context) -> bool | None:
            a, b = left(ctx), right(ctx)
            if a is UNKNOWN or b is UNKNOWN:
                return UNKNOWN
            return bool(op(a, b))

        return compare

    def value(self, stage_names: bool = False) -> tuple[Callable, str]:
        token = self.take()
        if token.text == "(":
            # Each level costs a few Python frames; a wall of '(' must not hit the recursion limit.
            self.nesting += 1
            if self.nesting > MAX_NESTING:
                raise self.fail(token.column, f"parentheses nested more than {MAX_NESTING} deep")
            inner = self.or_()
            self.expect(")")
            self.nesting -= 1
            return inner, "bool"
        if token.text == "-":
            number = self.take()
            if number.kind != "num":
                raise self.fail(number.column, "expected a number after '-'")
            value = -float(number.text)
            return (lambda ctx: value), "num"
        if token.kind == "num":
            value = float(token.text)
            return (lambda ctx: value), "num"
        if token.kind == "str":
            text = token.text[1:-1]
            return (lambda ctx: text), "str"
        if token.kind == "name":
            if stage_names:
                name = token.text
                return (lambda ctx: name), "str"
            if token.text in _FUNCS:
                return self.call(token), "num"
            if token.text in _SCALARS:
                name = token.text
                kind = "str" if name in ("stage", "op") else "num"
                return (lambda ctx: ctx.scalar(name)), kind
            if _TENSOR.match(token.text):
                raise self.fail(token.column, f"'{token.text}' is a tensor; compare a number of it, e.g. norm({token.text})")
            raise self.fail(token.column, f"unknown name '{token.text}' (names: {', '.join(_SCALARS)}, nan; functions: {', '.join(_FUNCS)})")
        found = f"'{token.text}'" if token.text else "the end"
        raise self.fail(token.column, f"expected a value, found {found}")

    def call(self, func: _Token) -> Callable:
        self.expect("(")
        arg = self.take()
        if func.text in ("dead", "saturated"):
            if arg.kind != "num" or not arg.text.isdigit():
                raise self.fail(arg.column, f"{func.text}() takes a layer number, e.g. {func.text}(1)")
            units_layer = self._layer(int(arg.text), arg.column)
            self.expect(")")
            name = func.text
            return lambda ctx: ctx.units(name, units_layer)
        match = _TENSOR.match(arg.text)
        layer: int | None = None
        if arg.text == "y_hat":
            tensor = "y_hat"
        elif match:
            tensor, layer = match.group(1), self._layer(int(match.group(2)), arg.column)
        else:
            raise self.fail(arg.column, f"{func.text}() takes a tensor such as dW1, delta2, W1, z1, a1, b1, db1, y_hat")
        self.expect(")")
        reduce = {"norm": l2_norm, "max": np.max, "min": np.min, "mean": safe_mean}[func.text]
        return lambda ctx: ctx.reduce(tensor, layer, reduce)

    def _check_known(self, name: _Token, op: str, other: _Token) -> None:
        """`stage == backwards` or `layer == 7` (of 2) would never hit: say so instead."""
        if name.kind != "name" or op not in ("==", "!="):
            return
        if name.text in _NAMED and other.kind in ("name", "str"):
            text = other.text[1:-1] if other.kind == "str" else other.text
            if text not in _NAMED[name.text]:
                raise self.fail(other.column, f"unknown {name.text} '{text}' ({name.text}s: {', '.join(_NAMED[name.text])})")
        if name.text == "layer" and other.kind == "num":
            if not other.text.isdigit():
                raise self.fail(other.column, f"layer numbers are whole numbers 1..{self.depth}")
            self._layer(int(other.text), other.column)

    def _layer(self, layer: int, column: int) -> int:
        if not 1 <= layer <= self.depth:
            raise self.fail(column, f"layer {layer} does not exist (layers 1..{self.depth})")
        return layer


class _Context:
    """What an expression sees of one record."""

    def __init__(self, record: StepRecord, previous_loss: float | None, activations: tuple[str, ...]) -> None:
        self.record = record
        self.previous_loss = previous_loss
        self.activations = activations

    def non_finite(self) -> bool:
        return any(not np.isfinite(t).all() for t in self.record.tensors.values())

    def loss_moved(self, up: bool) -> bool | None:
        loss = self.record.loss
        if loss is None or self.previous_loss is None:
            return UNKNOWN
        return loss > self.previous_loss if up else loss < self.previous_loss

    def scalar(self, name: str) -> Any:
        if name == "loss":
            return self.record.loss
        return getattr(self.record, name)

    def reduce(self, tensor: str, layer: int | None, reduce: Callable) -> float | None:
        record = self.record
        if tensor == "y_hat":
            array = record.tensors.get("y_hat")
        elif record.layer == layer and tensor in record.tensors:
            array = record.tensors[tensor]
        else:
            return UNKNOWN
        return None if array is None else float(reduce(array))

    def units(self, kind: str, layer: int) -> float | None:
        record = self.record
        if record.layer != layer or record.op != "activation":
            return UNKNOWN
        name = self.activations[layer - 1]
        if kind == "dead":
            if name not in ("relu", "leaky_relu"):
                return 0.0
            return float(np.mean(np.all(record.tensors["z"] <= 0, axis=0)))
        return saturated_fraction(name, record.tensors["a"])


def saturated_fraction(activation: str, a: np.ndarray) -> float:
    """Fraction of sigmoid/tanh outputs within 1e-3 of the function's bounds."""
    if activation == "sigmoid":
        return float(np.mean((a < 1e-3) | (a > 1 - 1e-3)))
    if activation == "tanh":
        return float(np.mean(np.abs(a) > 1 - 1e-3))
    return 0.0


@dataclass(frozen=True)
class Breakpoint:
    """A parsed breakpoint; `hits(record, previous_loss)` says if it stops there."""

    text: str
    _test: Callable[[_Context], bool | None]
    _activations: tuple[str, ...]

    def hits(self, record: StepRecord, previous_loss: float | None = None) -> bool:
        """True when the expression holds at `record` (unknown values never hit)."""
        try:
            return self._test(_Context(record, previous_loss, self._activations)) is True
        except (TypeError, ValueError, FloatingPointError):
            return False


def parse_breakpoint(text: str, activations: tuple[str, ...]) -> Breakpoint:
    """Parse `text` for a network with these activations (one per layer).

    Raises NnstepError pointing at the column of the first problem.
    """
    if not isinstance(text, str) or len(text) > 500:
        raise NnstepError("breakpoint: expected an expression of at most 500 characters")
    test = _Parser(text, len(activations)).parse()
    return Breakpoint(text.strip(), test, tuple(activations))



@dataclass(frozen=True)
class Watch:
    """A value pinned to watch as training goes (`norm(dW1)`, `max(z2)`, `loss`, `dead(1)`).

    `value(record)` is its number at that op, or None where the op does not
    hold it (as with breakpoints, `norm(dW1)` is known on layer 1's grad
    and update ops only).
    """

    text: str
    _value: Callable[[_Context], Any]
    _activations: tuple[str, ...]

    def value(self, record: StepRecord, previous_loss: float | None = None) -> float | None:
        """The watched number at `record`, None when unknown there."""
        try:
            value = self._value(_Context(record, previous_loss, self._activations))
        except (TypeError, ValueError, FloatingPointError):
            return None
        return None if value is UNKNOWN else float(value)


def parse_watch(text: str, activations: tuple[str, ...]) -> Watch:
    """Parse a watch: one value of the breakpoint grammar (a number, not a comparison).

    Raises NnstepError pointing at the column of the first problem.
    """
    if not isinstance(text, str) or len(text) > 500:
        raise NnstepError("watch: expected an expression of at most 500 characters")
    parser = _Parser(text, len(activations), "watch")
    if parser.peek.kind == "end":
        raise NnstepError(f"watch '{text}': column 1: empty expression")
    start = parser.peek
    value, kind = parser.value()
    if parser.peek.kind != "end":
        raise NnstepError(f"watch '{text}': column {parser.peek.column}: unexpected '{parser.peek.text}' "
                          "(a watch is one value, e.g. norm(dW1), max(z2), loss, dead(1))")
    if kind != "num":
        raise NnstepError(f"watch '{text}': column {start.column}: watch a number, e.g. norm(dW1), max(z2), loss")
    return Watch(text.strip(), value, tuple(activations))

"""Walking a parsed config (or a [data] table) key by key, with one-line errors naming file and key.

`Reader` is what config.py and data.py check values with: numbers, whole
numbers, choices, booleans and matrices, each refusal a NnstepError such as
``net.toml: optimizer.lr must be > 0, got 0``. Batch rows: a matrix of data
has shape (N, n_0); W⁽ˡ⁾ has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import NnstepError


class Reader:
    """Walks the raw dict, raising one-line errors that name file and key."""

    def __init__(self, where: str, keys: Mapping[str, tuple[str, ...]]) -> None:
        self.where = where
        self.keys = keys  # the keys each table may hold, by its schema name

    def fail(self, key: str, message: str) -> NnstepError:
        return NnstepError(f"{self.where}: {key} {message}" if key else f"{self.where}: {message}")

    def check_keys(self, table: Any, path: str, schema: str) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise self.fail(path, f"must be a table, got {kind_of(table)}")
        allowed = self.keys[schema]
        for key in table:
            if key not in allowed:
                full = f"{path}.{key}" if path else key
                hint = difflib.get_close_matches(key, allowed, n=1)
                tip = f" (did you mean '{hint[0]}'?)" if hint else f" (allowed: {', '.join(allowed)})"
                raise self.fail("", f"unknown key '{full}'{tip}")
        return table

    def number(self, value: Any, key: str, *, minimum: float | None = None, strict: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"must be a number, got {kind_of(value)}")
        if not finite(value):
            raise self.fail(key, f"must be finite, got {shown(value)}")
        if minimum is not None and (value <= minimum if strict else value < minimum):
            sign = ">" if strict else ">="
            raise self.fail(key, f"must be {sign} {minimum:g}, got {value:g}")
        return float(value)

    def integer(self, value: Any, key: str, *, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, got {kind_of(value)}")
        if value < minimum:
            raise self.fail(key, f"must be >= {minimum}, got {value}")
        return value

    def choice(self, value: Any, key: str, choices: tuple[str, ...], what: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {kind_of(value)}")
        if value not in choices:
            hint = difflib.get_close_matches(value, choices, n=1)
            tip = f"did you mean '{hint[0]}'? " if hint else ""
            raise self.fail(key, f"is an unknown {what} '{value}' ({tip}one of: {', '.join(choices)})")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {kind_of(value)}")
        return value

    def matrix(self, value: Any, key: str, ndim: int) -> np.ndarray:
        """A nested list of finite numbers with `ndim` dimensions."""
        dims = "list of numbers" if ndim == 1 else "list of rows of numbers"
        if not isinstance(value, list):
            raise self.fail(key, f"must be a {dims}, got {kind_of(value)}")
        rows = value if ndim == 2 else [value]
        width = None
        for i, row in enumerate(rows):
            cell_key = f"{key}[{i}]" if ndim == 2 else key
            if not isinstance(row, list):
                raise self.fail(cell_key, f"must be a list of numbers, got {kind_of(row)}")
            if width is None:
                width = len(row)
            elif len(row) != width:
                raise self.fail(key, f"is ragged: row {i} has {len(row)} values, row 0 has {width}")
            for j, cell in enumerate(row):
                if isinstance(cell, bool) or not isinstance(cell, (int, float)):
                    raise self.fail(f"{cell_key}[{j}]", f"must be a number, got {kind_of(cell)}")
                if not finite(cell):
                    raise self.fail(f"{cell_key}[{j}]", f"must be finite, got {shown(cell)}")
        array = np.array(value, dtype=np.float64)
        if ndim == 2 and array.ndim == 1:
            array = array.reshape(0, 0)
        return array


def finite(value: int | float) -> bool:
    """math.isfinite, but an integer past float range (10**400 from TOML) is not finite, not an OverflowError."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def shown(value: int | float) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"a number of {len(text)} digits"


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string '{value}'" if len(value) < 40 else "a string"
    if isinstance(value, (int, float)):
        text = str(value)
        return f"number {text}" if len(text) <= 24 else f"a number of {len(text)} digits"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if value is None:
        return "null"
    return type(value).__name__  # TOML dates and times: date, time, datetime

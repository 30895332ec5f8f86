"""Writing a trace's arrays: each one once, its numbers as text, fast.

Why a module of its own: turning floats into text is nearly all of an
export's time, and a trace's arrays recur (W⁽ˡ⁾ is in the linear, delta
and update records of an iteration and in the next one's; a full batch is
the same every iteration). `ArrayTable` numbers each distinct array once
(by identity, then by content), so the writers store it once and refer to
it by number wherever it recurs.

Numbers are the shortest decimals that read back to the same float64 (repr's
digits; float32 values are widened first, exactly), written out when
1e-5 ≤ |x| < 1e16 and in exponent form otherwise (1.2e-6, 1e+16); NaN and
±inf are the strings "NaN", "Infinity", "-Infinity". That spelling is the
one orjson (3.9 and later) gives float64 arrays, so its output is used as it
is; `stdlib_text` makes the same bytes from `json` and repr. orjson is
optional: imported at first use, never required, and not used if a probe of
awkward numbers shows any difference from the standard library.

Tensors are batch rows as the engine holds them: z has shape (B, n_l), W has
shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

import numpy as np

from .errors import NnstepError

ArrayText = Callable[[np.ndarray], bytes]

# Distinct arrays remembered by content for later references (≈ 100 bytes each).
_CONTENT_WINDOW = 65536


# --- numbers as text ----------------------------------------------------------------------------


def _spell_small(text: bytes) -> bytes:
    """repr's small numbers in compact JSON as the trace spells them: 1.234e-05 → 0.00001234, 1.5e-07 → 1.5e-7.

    The exponents -6 to -9 lose their padding zero in four C-level
    replaces; only the numbers in [1e-5, 1e-4), written out, take a step of
    Python each (the piece before each "e-05" ends with that number's digits).
    """
    for digit in b"6789":
        text = text.replace(b"e-0%c" % digit, b"e-%c" % digit)
    if b"e-05" not in text:
        return text
    pieces = text.split(b"e-05")
    for k in range(len(pieces) - 1):
        head, comma, digits = pieces[k].rpartition(b",")
        if b"[" in digits:  # the first number of a row: "…],[1.5"
            before, bracket, digits = digits.rpartition(b"[")
            head, comma = head + comma + before, bracket
        if digits[:1] == b"-":
            pieces[k] = head + comma + b"-0.0000" + digits[1:].replace(b".", b"")
        else:
            pieces[k] = head + comma + b"0.0000" + digits.replace(b".", b"")
    return b"".join(pieces)


def stdlib_text(value: np.ndarray) -> bytes:
    """An array as compact JSON (nested lists) with the standard library: the reference bytes.

    Numbers: repr's digits (the shortest that read back to the same float64),
    written out when 1e-5 ≤ |x| < 1e16 (0.00001234, 1000000000000000.0),
    else in exponent form without padding (1.2e-6, 1e+16); NaN and ±inf as
    the strings "NaN", "Infinity", "-Infinity". That is how orjson (3.9 and
    later) writes float64, so its output needs no rewriting.
    """
    if value.dtype.kind != "f":
        return json.dumps(value.tolist(), separators=(",", ":")).encode("ascii")
    magnitude = np.abs(value)
    if not np.isfinite(magnitude).all():
        cells = value.astype(object)
        cells[np.isnan(value)] = "NaN"
        cells[value == np.inf] = "Infinity"
        cells[value == -np.inf] = "-Infinity"
        text = json.dumps(cells.tolist(), separators=(",", ":")).encode("ascii")
    else:
        text = json.dumps(value.tolist(), separators=(",", ":")).encode("ascii")
    if ((magnitude < 1e-4) & (magnitude != 0)).any():
        text = _spell_small(text)
    return text


def _orjson_text(orjson: Any, value: np.ndarray) -> bytes:
    """`stdlib_text`'s bytes through orjson (its floats are already spelled so; 3.8 leaves out the + of e+16)."""
    kind = value.dtype.kind
    if value.ndim == 0 or kind not in "fiu" or value.dtype.itemsize not in (4, 8):
        return stdlib_text(value)  # a scalar, or a dtype orjson does not take
    option = orjson.OPT_SERIALIZE_NUMPY
    if kind != "f":
        return bytes(orjson.dumps(np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("=")), option=option))
    wide = np.ascontiguousarray(value, dtype=np.float64)  # float32 is written as its float64 value, exactly
    text = bytes(orjson.dumps(wide, option=option))
    if b"n" in text:  # orjson writes NaN and ±inf as null
        return stdlib_text(value)
    if b"e" in text and (np.abs(wide).max() >= 1e16 if wide.size > 1024 else _POSITIVE_EXPONENT.search(text)):
        text = _POSITIVE_EXPONENT.sub(rb"e+\1", text)  # orjson before 3.9 writes 1e16 for 1e+16
    return text


_POSITIVE_EXPONENT = re.compile(rb"e(\d)")


def _probe() -> np.ndarray:
    """Numbers where two float printers are most likely to disagree: edges of the fixed range, extremes."""
    edges = [0.0, -0.0, 1.0, -1.5, 0.1, 2 / 3, 1e-4, -1e-4, 9.999999999999999e-05, 1.0000000000000002e-4, 1e-5,
             9.999999999999999e-06, 1e-7, 5e-324, 2.2250738585072014e-308, 1e15, 9999999999999998.0, 1e16, -1e16,
             1.2345678901234567e16, 1e22, 1.7976931348623157e308, 123456789.123, 100.0, 1e5, 2.0**53, 2.0**53 + 2,
             0.3, 1e-300, 4.35e-5]
    rng = np.random.default_rng(20240515)
    spread = rng.standard_normal(4000) * 10.0 ** rng.integers(-22, 22, 4000)
    values = np.concatenate([np.array(edges), spread, spread.astype(np.float32).astype(np.float64)])
    return values[: len(values) // 8 * 8].reshape(-1, 8)


@lru_cache(maxsize=1)
def _orjson() -> Any:
    try:  # an optional accelerator, never a dependency (tests/test_layout.py allows it only like this)
        import orjson
    except ImportError:
        return None
    return orjson


def fast_loads() -> Callable[[bytes | bytearray], Any] | None:
    """orjson.loads when orjson is installed and its encoder agrees with the standard library (fast_encoder)."""
    return _orjson().loads if fast_encoder() is not None else None


@lru_cache(maxsize=1)
def fast_encoder() -> ArrayText | None:
    """orjson's encoder if it is importable and writes the probe exactly as `stdlib_text` does, else None."""
    orjson = _orjson()
    if orjson is None:
        return None
    fast: ArrayText = partial(_orjson_text, orjson)
    probe = _probe()
    with np.errstate(over="ignore"):  # the float32 copy overflows to ±inf on purpose
        narrow = probe.astype(np.float32)
    arrays = (probe, narrow, probe[:1, :3], np.arange(-50, 50), np.array([[1e-5, np.nan], [1e16, -np.inf]]))
    try:
        same = all(fast(a) == stdlib_text(a) for a in arrays)
    except Exception:  # noqa: BLE001 - an orjson that cannot take these arrays is not used at all
        return None
    return fast if same else None


def encoder(name: str = "auto") -> ArrayText:
    """The array encoder: "auto" (orjson if usable, else the standard library), "orjson" or "stdlib"."""
    if name == "stdlib":
        return stdlib_text
    if name not in ("auto", "orjson"):
        raise ValueError(f"unknown encoder {name!r}; one of auto, orjson, stdlib")
    fast = fast_encoder()
    if name == "orjson" and fast is None:
        raise NnstepError("the orjson encoder is not available (pip install orjson)")
    return fast or stdlib_text


# --- each array once ----------------------------------------------------------------------------


class ArrayTable:
    """Numbers the distinct arrays of a stream of records: 0, 1, 2, … in order of first appearance.

    An array seen again — the same object within this or the previous
    iteration, or equal content (dtype, shape and bytes) among the last
    65,536 distinct arrays — gets its earlier number. Arrays met by identity
    are kept until the iteration after next, so their ids cannot be reused
    by new arrays meanwhile.
    """

    def __init__(self, window: int = _CONTENT_WINDOW) -> None:
        self.count = 0
        self._window = window
        self._iteration: int | None = None
        self._current: dict[int, tuple[np.ndarray, int]] = {}
        self._previous: dict[int, tuple[np.ndarray, int]] = {}
        self._content: OrderedDict[tuple[str, tuple[int, ...], bytes], int] = OrderedDict()

    def start(self, iteration: int) -> None:
        """Called before each record: forget identities older than the previous iteration."""
        if iteration != self._iteration:
            self._iteration = iteration
            self._previous, self._current = self._current, {}

    def number(self, value: np.ndarray) -> tuple[int, bool]:
        """(the array's number, True if it is new and must be written)."""
        key = id(value)
        seen = self._current.get(key) or self._previous.get(key)
        if seen is not None and seen[0] is value:
            self._current[key] = seen
            return seen[1], False
        digest = hashlib.sha1((value if value.flags.c_contiguous else np.ascontiguousarray(value)).data,
                              usedforsecurity=False)
        content = (value.dtype.str, value.shape, digest.digest())
        number = self._content.get(content)
        if number is not None:
            self._content.move_to_end(content)
            self._current[key] = (value, number)
            return number, False
        number = self.count
        self.count += 1
        self._content[content] = number
        if len(self._content) > self._window:
            self._content.popitem(last=False)
        self._current[key] = (value, number)
        return number, True

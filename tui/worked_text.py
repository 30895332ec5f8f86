"""How a worked number is written: values with the digits that show a change, sums, and parts fitted to a width.

Shared by every op's worked number (worked.py), the equation pane and the
iteration log. A part is `<arithmetic> = <result>`, at most followed by a note
in parentheses after two spaces; `fit` puts as many whole parts on a line as
it holds and `shorten` elides the middle of one that does not fit.
"""

from __future__ import annotations

import math
import re

from rich.cells import cell_len

TERMS = 4  # sums with more terms are summarised, not spelled out
DIGITS = 4  # significant digits of a number that is not a before/after pair
SEPARATOR = ";  "
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
# A negative factor after · or / gets parentheses: 0.01·(−0.5), not 0.01·−0.5.
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
    """1-based subscripts: W₁₂ is row 1, column 2; past 9 a comma keeps them apart (W₁₂,₃)."""
    glue = "," if len(indices) > 1 and max(indices) >= 9 else ""
    return glue.join(str(int(i) + 1).translate(_SUB) for i in indices)


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

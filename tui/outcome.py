"""How a move or a job ends, in the status line's words, and the counts a user types.

The controller's moves and jobs return an `Outcome`; `said` words how a run
ended (ops counted from 1, as `nnstep run` does); `parse_count` reads a typed
number of iterations, refusing what only looks like digits. Nothing here
imports textual.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from nnstep.engine.gradcheck import LayerCheck
from nnstep.engine.run import RunResult
from nnstep.tui.numbers import fmt

MAX_ITERATIONS = 10**9  # as `nnstep run --iterations`: the loss history alone would need 8 GB past this
FOREVER = MAX_ITERATIONS  # continue: a run that only a breakpoint, a NaN or esc ends


@dataclass(frozen=True)
class Outcome:
    """How a move or a job ended, in the words of the status line; `checks` for a gradient check."""

    text: str
    error: bool = False
    checks: tuple[LayerCheck, ...] = ()
    iteration: int = 0  # 0-based: the iteration a gradient check was about
    batch: int = 0


class Cancelled(Exception):
    """The user stopped an export; write_trace removes its temporary file."""


def parse_count(text: str, what: str, low: int = 1, high: int = MAX_ITERATIONS) -> int | str:
    """`text` as a whole number from `low` to `high`, or the message saying why it is not one.

    Only the ASCII digits 0-9 (and `,` or `_` between groups): `'²'.isdigit()`
    is True and `int('١٢')` is 12, so neither test alone keeps such text out;
    a 10,000-digit paste is refused before `int` spends time on it.
    """
    plain = text.strip().replace(",", "").replace("_", "")
    limits = f"{what} from {low:,} to {high:,}"
    if not plain:
        return f"type {limits}"
    odd = next((c for c in plain if not "0" <= c <= "9"), None)
    if odd is not None:
        name = unicodedata.name(odd, "").lower()
        shown = f"'{odd}'" + (f" ({name})" if name and not odd.isascii() else "")
        return f"{shown} is not a digit 0-9: type {limits}"
    if len(plain.lstrip("0")) > max(len(str(high)), 12):  # a paste of many digits; "99" of 5 is only out of range
        return f"{len(plain):,} digits is too many: type {limits}"
    value = int(plain)
    if not low <= value <= high:
        return f"{value:,} is out of range: type {limits}"
    return value


def said(result: RunResult, iterations: int, breakpoints: bool) -> str:
    """The status line's words for how a run of `iterations` ended (ops counted from 1, as `nnstep run` does)."""
    record = result.record
    if result.reason == "breakpoint" and result.breakpoint is not None and record is not None:
        return f"breakpoint `{result.breakpoint.text}` hit at op {record.index + 1} (iteration {record.iteration})"
    if result.reason == "non-finite" and record is not None and result.loss is not None:
        return f"stopped: the loss is {fmt(result.loss)} at iteration {record.iteration} (its loss op)"
    if result.reason == "stopped":
        return f"stopped after {result.iterations:,} iteration{'s' * (result.iterations != 1)}"
    if result.reason == "end":
        return "end of the trace" + (", no breakpoint hit" if breakpoints else "")
    if iterations >= FOREVER:
        return "stopped"
    return f"ran {iterations:,} iterations" + (", no breakpoint hit" if breakpoints else "")

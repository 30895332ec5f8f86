"""Text fitted to a pane's width: formulas broken between clauses, lines clipped at a space.

Formulas are long (an Adam update is a dozen clauses) and panes narrow; these
never cut inside a number. Names live in symbols.py, numbers in numbers.py,
colours in colours.py. Nothing here imports textual.
"""

from __future__ import annotations

import re

from rich.cells import cell_len

_CLAUSE_END = re.compile(r"(?<=;)  |(?<=,)  |  (?=\()")  # formulas separate clauses by two spaces


def wrap_clauses(text: str, width: int, lines: int) -> list[str]:
    """`text` in at most `lines` lines of `width` cells, broken only between clauses.

    Clauses end in ";  " or ",  " or are a "  (note)". Preferred, in turn: one
    line; one line without the notes; several lines; several lines without the
    notes; then the first clauses dropped, the text starting with "… " (the
    last clause is the one an op is about: W⁽¹⁾ := W⁽¹⁾ − η·…). A clause wider
    than a line is left for the pane to cut.
    """
    clauses = [c for c in _CLAUSE_END.split(text) if c]
    plain = [c for c in clauses if not c.startswith("(")] or clauses
    for count, start, chosen in [(1, 0, clauses), (1, 0, plain), (lines, 0, clauses), (lines, 0, plain),
                                 *((lines, start, plain) for start in range(1, len(plain)))]:
        packed = _pack(chosen[start:], width, "… " if start else "")
        if len(packed) <= count:
            return packed
    return packed[-lines:] if lines > 0 else []


def _pack(clauses: list[str], width: int, line: str) -> list[str]:
    """Clauses greedily into lines of `width` cells (two spaces between clauses on a line)."""
    packed = []
    fresh = True  # nothing but the "… " prefix on the line yet
    for clause in clauses:
        joined = clause if fresh else f"{line}  {clause}"
        if fresh:
            line += clause
        elif cell_len(joined) > width:
            packed.append(line)
            line = clause
        else:
            line = joined
        fresh = False
    packed.append(line)
    return packed


def clip(text: str, width: int) -> str:
    """`text` in `width` cells, cut at a space (never inside a number) and ended with "…"."""
    if cell_len(text) <= width:
        return text
    cut = text[: max(width - 1, 0)]
    while cell_len(cut) > width - 1:
        cut = cut[:-1]
    space = cut.rfind(" ")
    if space > 0:
        cut = cut[:space]
    return cut.rstrip(" ;,") + "…"

"""How the main screen shares its rows: the top panes, the equation, the watches, the tensors and the log.

Pure arithmetic on the terminal's size, so the layout rules are read (and
tested) in one place; the screen applies what `share` and `top_rows` say.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_SIZE = (40, 10)  # columns, rows: the equation, one tensor pane, status and footer (the `tiny` layout)
LOG_LEAST = 3  # rows: the iteration log's border and one op
TOP_LEAST = 6  # rows: the network pane's layers, shapes, stages and ops, and its border


@dataclass(frozen=True, slots=True)
class Shares:
    """Rows (and a few switches) for a terminal of one size."""

    tiny: bool  # no top row, a short equation
    tall: bool
    too_small: bool  # below MIN_SIZE: a message instead of panes cut mid-border
    top: int  # the network, loss and data panes, before they give way to the tensors (`top_rows`)
    equation: int
    watches: int  # watch lines shown (0: the pane hides)
    room: int  # rows for the tensor panes
    data: bool  # the data pane shows (the loss must stay in view: on a narrow terminal it gives way)
    data_width: int  # the data pane's largest width: it grows with the terminal
    palette: bool  # the footer names the command palette


def share(width: int, height: int, watches: int) -> Shares:
    """Rows for the top panes and the equation, the rest for the tensors, for `watches` watch expressions."""
    tiny = height < 20
    top = 0 if tiny else 12 if height >= 56 else 10 if height >= 40 else 6
    equation = 3 if tiny else 6 if height >= 50 else 5
    shown = 0 if tiny or not watches else min(watches, 2 if height < 30 else 4 if height < 50 else 8)
    room = max(height - top - equation - (shown + 2 if shown else 0) - 2, 1)
    return Shares(tiny, height >= 40, width < MIN_SIZE[0] or height < MIN_SIZE[1], top, equation, shown, room,
                  width >= 100, max(40, width // 4), width >= 100)


def top_rows(current: int, most: int, need: int, room: int) -> int:
    """The top row's height when the tensors of the iteration need `need` rows and have `room`.

    When a few rows more would let every op of the iteration show its tensors whole, the network
    and loss panes give them up (down to TOP_LEAST); they take them back, up to `most`, when the
    tensors need less.
    """
    short = need - room
    if current and (0 < short <= current - TOP_LEAST or (short < 0 and current < most)):
        return min(max(current - short, TOP_LEAST), most)
    return current

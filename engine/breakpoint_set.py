"""Breakpoints with a life: enabled or not, how often each was hit, hits still to ignore.

`parse_breakpoint` gives an expression; a debugger needs more around it, as
gdb's `info breakpoints` shows: a breakpoint can be switched off without
losing it, it counts its hits, and `ignore N` lets the next N hits pass. This
module keeps that state, Textual-free, so the app's continue, run N and
reverse-continue and `nnstep run --break` (`--ignore N`) share it.

The run loop (`run.Run`, `run.run_backwards`) only asks `hits(record,
previous_loss)`: `Counted`, handed to it by `BreakpointSet.active()`, counts
each hit and lets ignored ones pass by answering False. Hits are counted as
the run loop asks, so at the op where one breakpoint stops a run, the ones
after it in the list are not asked (nor counted) there.

Batch rows: z⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from dataclasses import dataclass

from .breakpoints import Breakpoint, parse_breakpoint
from .records import StepRecord


@dataclass
class Entry:
    """One breakpoint of the set: its expression, parsed, and its state."""

    breakpoint: Breakpoint
    enabled: bool = True
    hits: int = 0  # hits seen during runs (continue, run N, reverse), ignored ones included
    ignore: int = 0  # hits still to let pass before one stops a run

    @property
    def text(self) -> str:
        """The expression as typed (stripped)."""
        return self.breakpoint.text

    def describe(self) -> str:
        """`on  · 3 hits · ignore next 2` — the state in words."""
        words = ["on " if self.enabled else "off", f"{self.hits} hit{'s' * (self.hits != 1)}"]
        if self.ignore:
            words.append(f"ignore next {self.ignore}")
        return " · ".join(words)


@dataclass(frozen=True)
class Counted(Breakpoint):
    """A breakpoint that counts its hits in `entry` and lets the ignored ones pass (for the run loop)."""

    entry: Entry

    def hits(self, record: StepRecord, previous_loss: float | None = None) -> bool:
        """True when the expression holds and no ignore count is left; counts the hit either way."""
        if not super().hits(record, previous_loss):
            return False
        entry = self.entry
        entry.hits += 1
        if entry.ignore > 0:
            entry.ignore -= 1
            return False
        return True


class BreakpointSet:
    """The breakpoints of a session, in the order they were added (numbered from 1)."""

    def __init__(self, activations: tuple[str, ...]) -> None:
        """`activations`: one per layer, as `parse_breakpoint` needs them."""
        self.activations = tuple(activations)
        self.entries: list[Entry] = []

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def texts(self) -> list[str]:
        """The expressions, in order."""
        return [entry.text for entry in self.entries]

    def add(self, text: str) -> Entry:
        """Parse and add `text` (raises NnstepError, with the column, for a bad one)."""
        entry = Entry(parse_breakpoint(text, self.activations))
        self.entries.append(entry)
        return entry

    def remove(self, number: int) -> Entry:
        """Remove breakpoint `number` (1-based)."""
        return self.entries.pop(self._at(number))

    def clear(self) -> None:
        """Remove every breakpoint."""
        self.entries.clear()

    def toggle(self, number: int) -> Entry:
        """Enable breakpoint `number` (1-based) if it was off, else disable it."""
        entry = self.entries[self._at(number)]
        entry.enabled = not entry.enabled
        return entry

    def set_ignore(self, number: int, count: int) -> Entry:
        """Let the next `count` hits of breakpoint `number` pass (0: stop at the next)."""
        if count < 0:
            raise ValueError("an ignore count is 0 or more")
        entry = self.entries[self._at(number)]
        entry.ignore = count
        return entry

    def enabled(self) -> int:
        """How many are on."""
        return sum(entry.enabled for entry in self.entries)

    def active(self) -> list[Breakpoint]:
        """The enabled breakpoints, each counting its hits in its entry (for `run` and `run_backwards`)."""
        return [Counted(e.breakpoint.text, e.breakpoint._test, e.breakpoint._activations, e)
                for e in self.entries if e.enabled]

    def holding(self, record: StepRecord, previous_loss: float | None = None) -> Entry | None:
        """The first enabled breakpoint whose expression holds at `record` (nothing counted)."""
        return next((e for e in self.entries if e.enabled and e.breakpoint.hits(record, previous_loss)), None)

    def _at(self, number: int) -> int:
        if not 1 <= number <= len(self.entries):
            raise IndexError(f"no breakpoint {number} (1..{len(self.entries)})")
        return number - 1

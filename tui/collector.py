"""Full garbage collections while the user is not waiting for a frame.

Every line Textual draws becomes garbage that only a *full* collection frees:
a Strip keeps the strips made from it in its own caches, and an operation that
changes nothing (a crop to its own width) caches the strip itself, a cycle.
The panes redraw a few hundred lines per key, so Python's own rule (a full
pass once a quarter as much as was alive has survived since the last one)
started one every fifth key or so, and at 250×70 each cost 20-70 ms of that
key's frame.

Here automatic full passes are made rare (one after `RARE` middle-generation
passes instead of Python's 10), and the app runs one itself once Python's 10
middle passes have happened since the last full one and nobody waits for a
frame: `SETTLE` seconds after a key's frame is out, when no other key came
meanwhile (the pause a user makes between two keys), or when input has been
quiet for `QUIET` seconds (the garbage of a job's or a timer's frames), never
while a job runs. The same collections, moved to where nobody waits for them;
under a held key or a long job the automatic pass still comes, `RARE` / 10
times less often. The objects alive when the app has drawn its first screen
(widgets, styles, the engine) are frozen out of full passes altogether
(`gc.freeze`).
"""

from __future__ import annotations

import gc
import time
from typing import Any

QUIET = 0.25  # seconds without a key or the mouse before the app collects (any time)
SETTLE = 0.03  # seconds after a key's frame (and its last key) before the app collects: the frame is out
RARE = 30  # middle-generation passes before Python itself starts a full one (its default: 10)
DUE = 10  # middle-generation passes after which a quiet moment is used for a full pass


class Collector:
    """The app's schedule of full collections (one per app; the settings it changes are restored on stop)."""

    def __init__(self) -> None:
        self.last_input = time.monotonic()
        self.middle = 0  # middle-generation passes since the last full one
        self.full = 0  # full passes seen (automatic or the app's own)
        self.collected = 0  # full passes the app ran itself
        self._threshold: tuple[int, int, int] | None = None

    def start(self) -> None:
        """Freeze what is alive now and make automatic full passes rare."""
        if self._threshold is not None:
            return
        gc.freeze()
        self._threshold = gc.get_threshold()
        young, middle, _ = self._threshold
        gc.set_threshold(young, middle, RARE)
        gc.callbacks.append(self._seen)

    def stop(self) -> None:
        """Python's own schedule again (the app is closing)."""
        if self._threshold is None:
            return
        gc.set_threshold(*self._threshold)
        self._threshold = None
        if self._seen in gc.callbacks:
            gc.callbacks.remove(self._seen)

    def input(self) -> None:
        """A key or the mouse: the user may be waiting for a frame."""
        self.last_input = time.monotonic()

    def tick(self, busy: bool, quiet: float = QUIET) -> bool:
        """Collect now if a full pass is due, no job runs and no input came for `quiet` s; True if it did."""
        if busy or self.middle < DUE or time.monotonic() - self.last_input < quiet:
            return False
        gc.collect()
        self.collected += 1
        return True

    def _seen(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop":
            return
        if info["generation"] == 1:
            self.middle += 1
        elif info["generation"] == 2:
            self.middle = 0
            self.full += 1

"""One line under the panes: where training is, what is running, the last message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from nnstep.engine import StepRecord
from nnstep.engine.errors import one_line
from nnstep.tui.numbers import fmt
from nnstep.tui.widgets.text_lines import TextLines
from rich.text import Text
from textual.reactive import reactive

if TYPE_CHECKING:
    from nnstep.tui.controller import Controller
    from nnstep.tui.outcome import Outcome


@dataclass(frozen=True)
class Status:
    """What the status line shows."""

    name: str
    epoch: int = 0
    iteration: int = 0
    index: int = -1
    loss: float | None = None
    breakpoints: int = 0
    running: str = ""
    message: str = ""
    error: bool = False
    read_only: bool = False
    note: str = ""  # e.g. "matches PyTorch to 3e-16" for a model converted by nnstep.from_torch
    below: tuple[str, ...] = ()  # tensors whose panes are below the screen (the wheel or tab reaches them)


def status_of(controller: Controller, record: StepRecord | None, losses: np.ndarray | None, progress: str,
              outcome: Outcome, below: tuple[str, ...]) -> Status:
    """What the status line says at `record`: position, the last of `losses`, breakpoints, the running job
    with its `progress`, the last `outcome`, the tensors `below` the screen."""
    running = controller.running
    if running and progress:
        running = f"{running}: {progress}"
    config = controller.config
    return Status(
        name=config.name,
        epoch=record.epoch if record else 0,
        iteration=record.iteration if record else 0,
        index=record.index if record else -1,
        loss=float(losses[-1]) if losses is not None and len(losses) else None,
        breakpoints=controller.breakpoints.enabled(),  # the ones a run stops at
        running=running,
        message=outcome.text,
        error=outcome.error,
        read_only=controller.read_only,
        note=getattr(config, "parity_text", "") or (f"vs {controller.other_name}: d shows Δ"
                                                     if controller.other is not None else ""),
        below=below,
    )


class StatusLine(TextLines):
    """`mazur │ epoch 1 │ iteration 1 │ op 3 │ loss 0.298 │ 1 breakpoint │ message` (ops counted from 1, as everywhere)."""

    DEFAULT_CSS = """
    StatusLine { height: 1; }
    """

    status: reactive[Status] = reactive(lambda: Status(""))

    def render(self) -> Text:
        """Fields separated by │; a running job and the last message at the end.

        A running job's progress is what a user watches: when the line is too long for the
        terminal, the epoch, the loss, the breakpoint count and the panes below (in view
        elsewhere, or back once it ends) give way to it.
        """
        text = self._line(self.status, full=True)
        if self.status.running and text.cell_len > self.size.width:
            text = self._line(self.status, full=False)
        text.truncate(max(self.size.width, 1), overflow="ellipsis")
        return text

    def _line(self, s: Status, full: bool) -> Text:
        # A name or message holding ESC would drive the terminal: control characters are shown escaped.
        text = Text(f" {one_line(s.name)}", style="bold")
        if s.read_only:
            text.append(" (trace, read-only)", style="dim")
        if s.note:
            text.append(f" ({s.note})", style="dim green")
        step = f"op {s.index + 1}" if s.index >= 0 else "not started"
        parts = [f"epoch {s.epoch}", f"iteration {s.iteration}", step]
        if not full:  # a job's progress first: the iteration and op it is at are enough
            parts = [f"it {s.iteration}", step]
        elif len(text) + sum(len(p) + 3 for p in parts) > self.size.width:
            parts = [f"ep {s.epoch}", f"it {s.iteration}", step]  # a narrow terminal: the step must stay in view
        if s.loss is not None and full:
            parts.append(f"loss {fmt(s.loss, 6)}")
        if s.breakpoints and full:
            parts.append(f"{s.breakpoints} breakpoint{'s' if s.breakpoints > 1 else ''}")
        for part in parts:
            text.append(" │ ", style="dim")
            text.append(part)
        if s.below and full:
            text.append(" │ ", style="dim")
            text.append(f"↓ {', '.join(s.below)} below", style="bold")
        if s.running:
            text.append(" │ ", style="dim")
            text.append(f"▶ {s.running}" + (" (esc stops)" if full else ""), style="bold reverse green")
        if s.message:
            text.append(" │ ", style="dim")
            text.append(one_line(s.message), style="bold red" if s.error else "italic")
        return text

"""The ops of the current iteration so far, each with its formula and one number worked out.

A running worked-example sheet: on a small network at a large terminal it
fills the room the tensor panes leave, so the whole chain forward → loss →
backward → update of the iteration stays readable at once.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from nnstep.engine import Config, StepRecord
from nnstep.tui.render import clip
from nnstep.tui.worked import fit, worked_parts

_STAGE_STYLE = {"forward": "green", "loss": "yellow", "backward": "magenta", "update": "cyan"}


class IterationLog(Widget):
    """One line per op of this iteration up to the current one (the newest last, highlighted)."""

    DEFAULT_CSS = """
    IterationLog { height: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    records: reactive[tuple[StepRecord, ...]] = reactive(())

    def __init__(self, config: Config, **kwargs: object) -> None:
        """`config`: the run's config, for the worked numbers."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.config = config
        self.border_title = "this iteration so far"

    def render(self) -> Text:
        """The last ops that fit; equation column aligned, worked numbers after it."""
        records = self.records
        if not records:
            return Text("the ops of the iteration will be listed here as you step", style="dim")
        shown = records[-max(self.size.height, 1):]
        width = min(max(len(r.equation) for r in shown), 34)
        lines = []
        for record in shown:
            current = record is records[-1]
            line = Text(f"{record.index + 1:>4} ", style="dim")
            line.append(f"{record.stage:<8} ", style=_STAGE_STYLE[record.stage])
            equation = clip(record.equation, width)
            line.append(f"{equation:<{width}}  ", style="bold" if current else "")
            worked = fit(worked_parts(record, self.config), self.size.width - line.cell_len)
            line.append(worked, style="italic green" if current else "dim")
            if current:
                line.stylize("reverse", 0, 4)
            lines.append(line)
        return Text("\n").join(lines)

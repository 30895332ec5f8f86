"""The ops of the current iteration so far, each with its formula and one number worked out.

A running worked-example sheet: on a small network at a large terminal it
fills the room the tensor panes leave, so the whole chain forward → loss →
backward → update of the iteration stays readable at once.
"""

from __future__ import annotations

from nnstep.engine import Config, StepRecord
from nnstep.tui.render import clip
from nnstep.tui.worked import worked_parts
from nnstep.tui.worked_text import fit
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

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
        # Keyed by index and identity, holding the record: an id alone could be reused by a new one.
        self._worked: dict[tuple[int, int], list[str]] = {}
        self._lines: dict[tuple[int, int, int, int, bool], Text] = {}

    def _parts(self, record: StepRecord) -> list[str]:
        """The record's worked number, worked out once: records are immutable."""
        key = (record.index, id(record))
        parts = self._worked.get(key)
        if parts is None:
            if len(self._worked) > 64:
                self._worked.clear()
            parts = self._worked[key] = worked_parts(record, self.config)
        return parts

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
            key = (record.index, id(record), width, self.size.width, current)
            line = self._lines.get(key)
            if line is None:  # a line per record, width and highlight, made once: records are immutable
                line = Text(f"{record.index + 1:>4} ", style="dim")
                line.append(f"{record.stage:<8} ", style=_STAGE_STYLE[record.stage])
                equation = clip(record.equation, width)
                line.append(f"{equation:<{width}}  ", style="bold" if current else "")
                worked = fit(self._parts(record), self.size.width - line.cell_len)
                line.append(worked, style="italic green" if current else "dim")
                if current:
                    line.stylize("reverse", 0, 4)
                if len(self._lines) > 128:
                    self._lines.clear()
                self._lines[key] = line
            lines.append(line)
        return Text("\n").join(lines)

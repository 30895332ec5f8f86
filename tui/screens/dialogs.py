"""Small modal screens: ask for a line of text, list breakpoints or watches, show a report."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from nnstep.engine.breakpoint_set import BreakpointSet
from nnstep.tui.outcome import parse_count
from nnstep.tui.watches import Watches
from rich.console import RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option


class InputDialog(ModalScreen[str | None]):
    """Ask for one line; `check` returns an error to show, or None to accept. Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, prompt: str | Text, value: str = "", check: Callable[[str], str | None] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.prompt = prompt
        self.value = value
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = Text(self.title_text)  # plain text: never parsed as markup
            prompt = Text(self.prompt) if isinstance(self.prompt, str) else self.prompt  # plain text, never markup
            yield Label(prompt, classes="prompt")
            yield Input(self.value, select_on_focus=True)
            yield Label("", classes="error")
            yield Label("enter accepts · esc cancels", classes="hint")

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        """Accept the text unless `check` finds a problem, which is shown in the dialog."""
        text = event.value.strip()
        problem = self.check(text) if self.check else None
        if problem:
            self.query_one(".error", Label).update(Text(problem, style="bold red"))
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        """Close without a value."""
        self.dismiss(None)


class BreakpointList(ModalScreen[None]):
    """The breakpoints with their state (on/off, hits, ignore count): space switches the highlighted one
    on or off, i sets its ignore count, d removes it, a removes all; esc closes. Changes apply at once."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("space", "switch", "On/off"),
        Binding("i", "ignore", "Ignore N"),
        Binding("d,delete", "remove", "Remove"),
        Binding("D", "clear", "Remove all", key_display="D"),  # not a: the main screen's a adds a watch
    ]

    def __init__(self, breakpoints: BreakpointSet) -> None:
        super().__init__()
        self.breakpoints = breakpoints

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Breakpoints"
            yield OptionList(*self._options())
            yield Label("", classes="error")
            yield Label("space on/off · i ignore N · d remove · D all · esc close", classes="hint")

    def _options(self) -> list[Option]:
        if not self.breakpoints.entries:
            return [Option("no breakpoints (add with b, e.g. `loss < 0.01`, `nan`)", disabled=True)]
        options = []
        for number, entry in enumerate(self.breakpoints.entries, start=1):
            line = Text(f"{number:>2}. ")
            line.append(f"{entry.describe():<28}  ", style="bold green" if entry.enabled else "dim")
            line.append(entry.text, style="" if entry.enabled else "dim strike")  # user text: never markup
            options.append(Option(line))
        return options

    def _refill(self) -> None:
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        options.add_options(self._options())
        if highlighted is not None and self.breakpoints.entries:
            options.highlighted = min(highlighted, len(self.breakpoints.entries) - 1)

    def _number(self) -> int | None:
        index = self.query_one(OptionList).highlighted
        return index + 1 if index is not None and 0 <= index < len(self.breakpoints.entries) else None

    def action_switch(self) -> None:
        """Switch the highlighted breakpoint on or off."""
        number = self._number()
        if number is not None:
            self.breakpoints.toggle(number)
            self._refill()

    def action_ignore(self) -> None:
        """Ask how many of the highlighted breakpoint's next hits to let pass."""
        number = self._number()
        if number is None:
            return
        entry = self.breakpoints.entries[number - 1]

        def check(text: str) -> str | None:
            value = parse_count(text, "a number of hits", low=0)
            return value if isinstance(value, str) else None

        def apply(text: str | None) -> None:
            if text:
                count = parse_count(text, "", low=0)
                assert isinstance(count, int)
                self.breakpoints.set_ignore(number, count)
                self._refill()

        prompt = Text("Let this many of the next hits of ")
        prompt.append(entry.text, style="bold")
        prompt.append(" pass (0: stop at the next):")
        self.app.push_screen(InputDialog("Ignore hits", prompt, str(entry.ignore), check), apply)

    def action_remove(self) -> None:
        """Remove the highlighted breakpoint."""
        number = self._number()
        if number is not None:
            self.breakpoints.remove(number)
            self._refill()

    def action_clear(self) -> None:
        """Remove every breakpoint."""
        self.breakpoints.clear()
        self._refill()

    def action_close(self) -> None:
        """Back to the main screen."""
        self.dismiss(None)


class WatchList(ModalScreen[None]):
    """The watches: d or delete removes the highlighted one, a removes all; esc closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("d,delete", "remove", "Remove"),
        Binding("D", "clear", "Remove all", key_display="D"),  # not a: the main screen's a adds a watch
    ]

    def __init__(self, watches: Watches) -> None:
        super().__init__()
        self.watches = watches

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Watches"
            yield OptionList(*self._options())
            yield Label("d remove · D remove all · esc close · a in the main screen adds", classes="hint")

    def _options(self) -> list[Option]:
        if not self.watches.items:
            return [Option("no watches (add with a, e.g. norm(dW1), max(z2), loss)", disabled=True)]
        return [Option(Text(f"{number:>2}. ").append(text)) for number, text in enumerate(self.watches.texts, start=1)]

    def _refill(self) -> None:
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        options.add_options(self._options())
        if highlighted is not None and self.watches.items:
            options.highlighted = min(highlighted, len(self.watches.items) - 1)

    def action_remove(self) -> None:
        """Stop watching the highlighted one."""
        index = self.query_one(OptionList).highlighted
        if index is not None and 0 <= index < len(self.watches.items):
            self.watches.remove(index + 1)
            self._refill()

    def action_clear(self) -> None:
        """Stop watching them all."""
        while self.watches.items:
            self.watches.remove(1)
        self._refill()

    def action_close(self) -> None:
        """Back to the main screen."""
        self.dismiss(None)


class Report(ModalScreen[None]):
    """A read-only text report (gradient check, health), scrolled rather than cut; esc, enter or q closes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, title: str, body: RenderableType) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog report") as box:
            box.border_title = Text(self.title_text)
            # Scrolls both ways: a narrow terminal must not cut the numbers of a table into "0.0…".
            with ScrollableContainer(classes="body"):
                content = Static(self.body, classes="content")
                # As wide as the tables need unsqueezed (their columns do not wrap): on a narrow
                # terminal the report scrolls sideways instead of cutting "0.0123" to "0.0…".
                console = self.app.console
                options = console.options.update(max_width=10_000)
                parts = getattr(self.body, "renderables", [self.body])
                tables = [Measurement.get(console, options, part).maximum for part in parts if isinstance(part, Table)]
                content.styles.width = max([*tables, 20])
                yield content
            yield Label("esc closes · arrows and page keys scroll", classes="hint")

    def action_close(self) -> None:
        """Close the report."""
        self.dismiss(None)

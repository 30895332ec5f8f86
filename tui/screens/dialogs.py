"""Small modal screens: ask for a line of text, list breakpoints, show a report."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

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

    def __init__(self, title: str, prompt: str, value: str = "", check: Callable[[str], str | None] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.prompt = prompt
        self.value = value
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = Text(self.title_text)  # plain text: never parsed as markup
            yield Label(Text(self.prompt), classes="prompt")
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


class BreakpointList(ModalScreen[list[str]]):
    """The breakpoints: d or delete removes the highlighted one; esc closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("d,delete", "remove", "Remove"),
        Binding("a", "clear", "Remove all"),
    ]

    def __init__(self, breakpoints: list[str]) -> None:
        super().__init__()
        self.breakpoints = list(breakpoints)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Breakpoints"
            yield OptionList(*self._options())
            yield Label("d remove · a remove all · esc close · b in the main screen adds", classes="hint")

    def _options(self) -> list[Option]:
        if not self.breakpoints:
            return [Option("no breakpoints (add with b, e.g. `loss < 0.01`, `nan`)", disabled=True)]
        return [Option(Text(f"{i + 1}. {text}")) for i, text in enumerate(self.breakpoints)]  # the user's text, not markup

    def _refill(self) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(self._options())

    def action_remove(self) -> None:
        """Remove the highlighted breakpoint."""
        index = self.query_one(OptionList).highlighted
        if index is not None and 0 <= index < len(self.breakpoints):
            del self.breakpoints[index]
            self._refill()

    def action_clear(self) -> None:
        """Remove every breakpoint."""
        self.breakpoints.clear()
        self._refill()

    def action_close(self) -> None:
        """Return the breakpoints that are left."""
        self.dismiss(self.breakpoints)


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

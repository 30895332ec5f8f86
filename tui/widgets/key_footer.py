"""The footer of keys, fitted to the terminal's width so that help and quit never drop off.

Textual's Footer writes the bound keys in the order they are bound and lets
the row run off the right edge. At 80 columns the main screen's keys just
fit — until `esc Stop/clear` shows (a job runs, a number is selected, a pane
has the focus) and pushes `? Help` and `q Quit`, the last ones, out of view.
This footer writes only the keys that fit whole: the `kept` ones (stop, help,
quit) always, the others unless they must give way, in the order `gives_way`
names (the last bound first for those it does not name). Every key still
works, and `?` lists them all.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


def fit(keys: Sequence[tuple[str, int]], room: int, kept: frozenset[str], gives_way: Sequence[str] = ()) -> list[int]:
    """Which of `keys` — (action, width with its margin) in footer order — fit in `room` columns.

    Returns their indices, in order. Keys whose action is in `kept` always stay; the others give
    way in the order of `gives_way`, then from the last to the first, until the rest fit.
    """
    shown = list(range(len(keys)))
    order = {action: rank for rank, action in enumerate(gives_way)}
    candidates = sorted((i for i in shown if keys[i][0] not in kept),
                        key=lambda i: (order.get(keys[i][0], len(order)), -i))
    used = sum(width for _, width in keys) - 1  # the last key's margin may go
    for i in candidates:
        if used <= room:
            break
        shown.remove(i)
        used -= keys[i][1]
    return shown


class KeyFooter(Footer):
    """Textual's Footer (compact) that writes only the keys fitting its width, `kept` ones always.

    It lays itself out again when its width changes.
    """

    def __init__(self, kept: frozenset[str], gives_way: Sequence[str] = ()) -> None:
        """`kept`: actions always shown; `gives_way`: actions in the order they leave a narrow footer."""
        super().__init__(compact=True)
        self.kept = kept
        self.gives_way = tuple(gives_way)
        self._width = 0  # the width the keys were fitted to

    def compose(self) -> ComposeResult:
        """The keys that fit (one per action, as Footer), then the command palette's key if shown."""
        if not self._bindings_ready:
            return
        width = self.size.width or self.app.size.width
        self._width = width
        bindings: dict[str, tuple[Binding, bool, str]] = {}
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in bindings:
                bindings[binding.action] = (binding, enabled, tooltip)
        listed = list(bindings.values())
        room = width
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
            if palette is not None:
                _, binding, _, _ = palette
                room -= 1 + cell_len(self.app.get_key_display(binding)) + 1 + cell_len(binding.description)
        widths = [(b.action, cell_len(self.app.get_key_display(b)) + 1 + cell_len(b.description) + 1)
                  for b, _, _ in listed]
        for i in fit(widths, room, self.kept, self.gives_way):
            binding, enabled, tooltip = listed[i]
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                            disabled=not enabled, tooltip=tooltip).data_bind(compact=Footer.compact)
        if palette is not None:
            _, binding, enabled, _ = palette
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                            classes="-command-palette", disabled=not enabled,
                            tooltip=binding.tooltip or binding.description)

    def on_resize(self) -> None:
        """Another width: fit the keys to it."""
        if self._bindings_ready and self.size.width != self._width:
            self.refresh(recompose=True)

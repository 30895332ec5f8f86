"""Helpers for the app's Pilot tests: the main screen, plain-text screenshots."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rich.console import Console
from textual.app import App


@pytest.fixture
def screen_text(monkeypatch: pytest.MonkeyPatch) -> Callable[[App], str]:
    """The screen as plain text: Textual's own screenshot export, recorded as text instead of SVG."""
    monkeypatch.setattr(Console, "export_svg", lambda self, **_: self.export_text(styles=False))

    def text(app: App) -> str:
        return "\n".join(line.rstrip() for line in app.export_screenshot().splitlines()) + "\n"

    return text

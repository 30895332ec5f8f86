"""Helpers for the app's Pilot tests: the main screen, plain-text screenshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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


def mazur_trace(tmp_path: Path, iterations: int) -> Path:
    """A JSON trace of the first `iterations` iterations of the mazur demo, every op."""
    from nnstep.engine import Session, load_demo
    from nnstep.engine.trace import write_trace

    config = load_demo("mazur")
    live = Session(config)
    live.train(iterations)
    path = tmp_path / "t.json"
    write_trace(path, config.to_dict(), live.iter_records(0, live.position + 1))
    return path

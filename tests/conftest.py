"""Shared helpers for nnstep's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nnstep.engine import Config, build_config


def make_config(**overrides: Any) -> Config:
    """A small valid config (2-3-2 sigmoid, mse) with `overrides` merged per table."""
    raw: dict[str, Any] = {
        "seed": 3,
        "model": {"sizes": [2, 3, 2], "activations": ["sigmoid", "sigmoid"], "init": "xavier"},
        "loss": {"kind": "mse"},
        "optimizer": {"kind": "sgd", "lr": 0.5},
        "data": {"x": [[0.1, 0.2], [0.3, -0.4], [1.0, 0.5]], "y": [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return build_config(raw, "test.toml")


@pytest.fixture
def write(tmp_path: Path):
    """Write a text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write

"""Static checks as part of the test command: mypy on engine/ and tui/, ruff on the whole tree.

They run where the test extras installed them (`pip install -e ".[test]"`
does) and are skipped, saying so, where they are not. mypy cannot follow the
editable install's import hook, so it checks a temporary tree that links the
folders under the names the package installs them as.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LAYOUT = {"engine": "engine", "tui": "tui", "demos": "demos"}  # nnstep.<name> → folder


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (the test extras install it)")
def test_mypy_finds_no_error_in_the_engine_and_the_app(tmp_path: Path) -> None:
    package = tmp_path / "nnstep"
    package.mkdir()
    for name, folder in LAYOUT.items():
        (package / name).symlink_to(ROOT / folder, target_is_directory=True)
    for module in (ROOT / "tui" / "api").glob("*.py"):  # the top-level package `nnstep` is tui/api
        (package / module.name).symlink_to(module)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "-p", "nnstep.engine", "-p", "nnstep.tui", "--ignore-missing-imports",
         "--no-incremental", "--cache-dir", str(tmp_path / "cache")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed (the test extras install it)")
def test_ruff_finds_nothing() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]

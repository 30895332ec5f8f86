"""The package layout: the engine stays headless, the install stays namespaced."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def test_engine_imports_only_numpy_and_the_standard_library() -> None:
    code = "import sys, nnstep.engine; import nnstep.engine.trace, nnstep.engine.breakpoints, nnstep.engine.health; " \
           "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    for path in (ROOT / "engine").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "numpy", f"{path.name} imports {name}"


def test_nnstep_run_does_not_import_textual() -> None:
    code = "import sys; from nnstep.tui.cli import main; main(['run', '--demo', 'mazur', '-n', '2', '-q']); " \
           "print('textual' in sys.modules, 'rich' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False False"


@pytest.mark.slow
def test_wheel_installs_only_under_nnstep(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                            capture_output=True, text=True)
    if result.returncode:
        pytest.skip(f"could not build a wheel here: {result.stderr.strip().splitlines()[-1:]}")
    wheel = next(tmp_path.glob("nnstep-*.whl"))
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"nnstep", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "nnstep/demos/tutorial.toml" in names and "nnstep/engine/trace.schema.json" in names
    assert "nnstep/tui/nnstep.tcss" in names or not (ROOT / "tui" / "nnstep.tcss").exists()

"""The package layout: the engine stays headless, the install stays namespaced."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import tokenize
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


# Accelerators the engine may use when installed: imported only inside `try: … except ImportError`.
OPTIONAL = {"orjson"}


def _guarded(tree: ast.AST) -> set[int]:
    """Line numbers of imports inside a `try` whose handlers catch ImportError."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") for h in node.handlers
        ):
            lines |= {n.lineno for stmt in node.body for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return lines


def test_engine_imports_only_numpy_and_the_standard_library() -> None:
    code = "import sys, nnstep.engine; import nnstep.engine.trace, nnstep.engine.breakpoints, nnstep.engine.health; " \
           "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', *OPTIONAL)))"
    code = code.replace("*OPTIONAL", ", ".join(map(repr, sorted(OPTIONAL))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", "importing the engine must not import the UI or an optional accelerator"
    for path in (ROOT / "engine").glob("*.py"):
        tree = ast.parse(path.read_text())
        guarded = _guarded(tree)
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            for name in names:
                top = name.split(".")[0]
                optional = top in OPTIONAL and node.lineno in guarded
                assert top in sys.stdlib_module_names or top == "numpy" or optional, f"{path.name} imports {name}"


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


# Hand-counted op layouts: `5 * depth + 1` ops, the loss at `2 * depth`, the update from
# `4 * depth + 1`, `5 * (len(sizes) - 1)`, and index arithmetic with ops_per_iteration.
_LAYOUT = [
    re.compile(r"\b\d+\s*\*\s*\(?\s*[\w.]*depth\b"),
    re.compile(r"\b[\w.]*depth\s*\*\s*\d+"),
    re.compile(r"\b\d+\s*\*\s*\(\s*len\(\s*[\w.]*sizes\s*\)\s*-\s*1\s*\)"),
    re.compile(r"ops_per_iteration\s*[-+*/%]|[-+*/%]\s*[\w.]*ops_per_iteration\b"),
]


def _code(text: str) -> list[tuple[int, str]]:
    """Each line of `text` with its comments and strings blanked out (docstrings may describe the layout)."""
    lines = [list(line) for line in text.splitlines()]
    skip = {tokenize.COMMENT, tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)}
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in skip:
            continue
        if token.type == tokenize.STRING and "f" in token.string.split(token.string[-1])[0].lower():
            continue  # an f-string (one token before Python 3.12): its {...} parts are code
        (row, col), (end_row, end_col) = token.start, token.end
        for r in range(row, end_row + 1):
            line = lines[r - 1]
            first, last = (col if r == row else 0), (end_col if r == end_row else len(line))
            line[first:last] = " " * (last - first)
    return [(number, "".join(line)) for number, line in enumerate(lines, start=1)]


def _layout_lines(text: str) -> list[tuple[int, str]]:
    return [(number, line.strip()) for number, line in _code(text) if any(p.search(line) for p in _LAYOUT)]


MODULES = sorted(p for folder in ("engine", "tui") for p in (ROOT / folder).rglob("*.py"))


def test_the_layout_patterns_catch_what_they_should() -> None:
    """The check below must not pass vacuously: each pattern finds its kind of arithmetic."""
    caught = ["ops = 5 * depth + 1", "goto((i - 1) * s.ops_per_iteration + 2 * self.config.depth)",
              "update = op >= 4 * depth + 1", "return 5 * (len(self.sizes) - 1) + 1",
              "current = record.index % self.ops_per_iteration", "n = depth * 5",
              'text = f"the loss op is op {2 * self.depth + 1}"']
    for code in caught:
        assert _layout_lines(code + "\n"), code
    allowed = ['for l in range(1, depth + 1):', 'self.ops_per_iteration = len(self.schedule)  # 5 * depth + 1',
               '"""an iteration is 5 * depth + 1 ops"""', "'''an iteration\nis 5 * depth + 1 ops'''"]
    for code in allowed:
        assert not _layout_lines(code + "\n"), code
    assert any(path.name == "network_pane.py" for path in MODULES) and any(path.name == "loss_plot.py" for path in MODULES)


@pytest.mark.parametrize("path", [p for p in MODULES if p != ROOT / "engine" / "schedule.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_schedule_knows_the_op_layout(path: Path) -> None:
    """A module counting ops by hand (`5 * depth + 1`) breaks as soon as an iteration gains an op
    (dropout did): the panes would mark the wrong stage, a jump would land on the wrong op."""
    found = [f"{path.relative_to(ROOT)}:{number}: {line}" for number, line in _layout_lines(path.read_text(encoding="utf-8"))]
    assert not found, "op-layout arithmetic outside engine/schedule.py (ask the schedule):\n" + "\n".join(found)

"""No code execution from user input: no eval/exec/pickle in the source, strict trace loading,
and untrusted paths that cannot make nnstep read a device, print another file or replace one.

If the scan fails, someone added a call that can run code taken from a
config, a break expression or a trace file; if the loader tests fail, nnstep
would open files of a format or version it does not understand; if the path
tests fail, a crafted config could hang nnstep on a device, print a line of
a system file (as root, /etc/shadow), or an export could replace /dev/null.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from nnstep.engine import NnstepError, load_config
from nnstep.engine.trace import read_trace

from tests.bad_inputs import MAZUR_MODEL, _trace

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*(ROOT / "engine").rglob("*.py"), *(ROOT / "tui").rglob("*.py")])
CALLS = {"eval", "exec", "compile", "__import__", "execfile"}
MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
ATTRIBUTES = {("builtins", "eval"), ("builtins", "exec"), ("builtins", "compile"), ("builtins", "__import__"),
              ("importlib", "import_module"), ("os", "system"), ("os", "popen")}


def findings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for every forbidden construct in `tree`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in CALLS:
                found.append((node.lineno, f"{func.id}()"))
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                if (func.value.id, func.attr) in ATTRIBUTES:
                    found.append((node.lineno, f"{func.value.id}.{func.attr}()"))
            for keyword in node.keywords:
                if keyword.arg == "allow_pickle" and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                ):
                    found.append((node.lineno, "allow_pickle not False"))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if a.name.split(".")[0] in MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in MODULES:
            found.append((node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.Name) and node.id in ("eval", "exec", "__import__"):
            found.append((node.lineno, f"reference to {node.id}"))
    return found


def test_the_scan_finds_what_it_looks_for() -> None:
    """The scanner itself: each forbidden form is caught, the harmless look-alikes are not."""
    bad = (
        "eval(text)\nexec(code)\ncompile(src, 'f', 'exec')\n__import__('os')\nimport pickle\n"
        "from marshal import loads\nnp.load(path, allow_pickle=True)\nbuiltins.eval('1')\nf = eval\n"
        "importlib.import_module(name)\nos.system(cmd)\n"
    )
    assert {line for line, _ in findings(ast.parse(bad))} == set(range(1, 12))
    harmless = "re.compile('x')\nnp.load(path, allow_pickle=False)\nmodel.eval_step()\nself.exec_count = 1\n"
    assert findings(ast.parse(harmless)) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_execution_in_the_source(path: Path) -> None:
    found = findings(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    assert found == [], f"{path.relative_to(ROOT)}: " + ", ".join(f"line {line}: {what}" for line, what in found)


def test_the_scan_covers_engine_and_tui() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in SOURCES}
    assert {"engine/config.py", "engine/trace.py", "engine/breakpoints.py", "tui/cli.py"} <= names


def test_a_valid_trace_loads(tmp_path: Path) -> None:
    """The fixture the rejections below start from is itself accepted."""
    path = tmp_path / "t.json"
    path.write_text(_trace(), encoding="utf-8")
    assert len(read_trace(path)["records"]) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "other-trace"}, 'not an nnstep trace (no "format": "nnstep-trace")'),
        ({"format": None}, 'not an nnstep trace'),
        ({"version": 4}, "trace version 4 is not supported (this nnstep reads versions 1, 2, 3)"),
        ({"version": 0}, "trace version 0 is not supported"),
        ({"version": "1"}, 'trace version "1" is not supported'),
        ({"version": 1.0}, "trace version 1.0 is not supported"),
        ({"version": True}, "trace version true is not supported"),
        ({"version": None}, "trace version null is not supported"),
    ],
)
def test_the_trace_loader_rejects_unknown_formats_and_versions(
    changes: dict[str, object], message: str, tmp_path: Path
) -> None:
    path = tmp_path / "t.json"
    path.write_text(_trace(**changes), encoding="utf-8")
    with pytest.raises(NnstepError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_trace(path)


def test_the_trace_loader_does_not_follow_a_csv_path(tmp_path: Path) -> None:
    """A trace's config holds its data inline; a crafted one must not make nnstep read other files."""
    raw = json.loads(_trace())
    raw["config"]["data"] = {"csv": "/etc/passwd", "target": ["root"]}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(NnstepError, match="data.csv is not allowed in a trace"):
        read_trace(path)


# --- untrusted paths: what a crafted config or trace can make nnstep read, write or print ---------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/stdin"])
def test_special_files_are_never_read(device: str, tmp_path: Path) -> None:
    """A config's data.csv or a `view` argument naming a device is refused before a byte is read."""
    import os

    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(NnstepError, match=r"is not a regular file \(a "):
        read_trace(device)
    config = tmp_path / "net.toml"
    config.write_text(MAZUR_MODEL + f'[data]\ncsv = "{device}"\ntarget = ["t1"]\n')
    with pytest.raises(NnstepError, match=r"which is not a regular file \(a "):
        load_config(config)


def test_a_system_file_named_as_csv_leaks_at_most_20_characters(tmp_path: Path) -> None:
    """As root, data.csv = "/etc/shadow" printed a password hash: now 20 characters of one line at most."""
    hash_ = "$6$" + "Ab1/" * 20
    (tmp_path / "shadow").write_text(f"root:{hash_}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    config = tmp_path / "net.toml"
    config.write_text(MAZUR_MODEL + '[data]\ncsv = "shadow"\ntarget = ["t1"]\n')
    with pytest.raises(NnstepError) as refused:
        load_config(config)
    message = str(refused.value)
    assert "daemon" not in message and hash_[:16] not in message, message
    assert "'root:$6$Ab1/Ab1/Ab1…'" in message


def test_an_export_never_replaces_a_device(tmp_path: Path) -> None:
    """As root, --export /dev/null (or a link to it) used to replace the system's /dev/null with a file."""
    import os
    import stat

    from nnstep.engine import load_demo
    from nnstep.engine.trace import write_trace

    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null")
    (tmp_path / "link.json").symlink_to("/dev/null")
    for target in ("/dev/null", tmp_path / "link.json"):
        with pytest.raises(NnstepError, match=r"not a regular file \(a character device\)"):
            write_trace(target, load_demo("mazur").to_dict(), iter(()))
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and os.path.islink(tmp_path / "link.json")

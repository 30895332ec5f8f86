"""`nnstep run` and `nnstep view` as a user meets them: exit statuses, output, safe exports.

If these fail, a user sees a traceback instead of a line, loses an earlier
trace to a failed export, finds temporary files in their folder, or a
broken trace opens a blank screen instead of an error.
"""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nnstep.engine.trace as trace_module
import pytest
from nnstep.engine import NnstepError
from nnstep.engine.trace import read_trace, write_trace

from tests.bad_inputs import BREAK, CASES, DOC, EXPORT, SIMULATED, VIEW, Case, make_files, markdown
from tests.engine.test_config_errors import assert_one_line, listing, run_main

EARLIER = '{"an": "earlier export"}\n'


def strict_json(text: str) -> Any:
    """Parse as jq would: bare NaN or Infinity is an error."""

    def refuse(name: str) -> None:
        raise ValueError(f"bare {name} is not strict JSON")

    return json.loads(text, parse_constant=refuse)


def simulated(what: str) -> str:
    return next(row[2] for row in SIMULATED if row[1].startswith(what))


# --- nnstep run: success ----------------------------------------------------------


def test_run_prints_the_loss_and_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_main(["run", "--demo", "mazur", "-n", "3"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "iteration 1/3" in out and "loss 0.298371109" in out
    assert out.splitlines()[-1].startswith("done: 3 iterations complete, loss 0.298371 → ")
    assert listing(tmp_path) == []


def test_run_export_writes_strict_json_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out.json").write_text(EARLIER)
    assert run_main(["run", "--demo", "mazur", "-n", "2", "--export", "out.json"]) == 0
    assert "trace: out.json (22 steps)" in capsys.readouterr().out
    trace = strict_json((tmp_path / "out.json").read_text())
    assert trace["format"] == "nnstep-trace" and len(trace["steps"]) == 22
    assert listing(tmp_path) == ["out.json"]


def test_run_stops_at_a_breakpoint_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["run", "--demo", "mazur", "-n", "50", "--break", "iteration == 3 and stage == backward"]) == 0
    out = capsys.readouterr().out
    assert "breakpoint 'iteration == 3 and stage == backward' hit at op 28 (iteration 3" in out
    assert "stopped: 2 iterations complete, stopped in iteration 3" in out


def test_run_counts_and_ignores_hits_as_the_app_does(capsys: pytest.CaptureFixture[str]) -> None:
    """--ignore 2 lets two hits pass and stops at the third; the breakpoints are listed afterwards with
    their hits in the words of the app's B list. Without them a user could not tell a breakpoint that
    never held from one whose hits were let pass."""
    assert run_main(["run", "--demo", "xor", "-n", "5000", "--break", "loss < 0.05", "--ignore", "2",
                     "--break", "nan"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "breakpoint 'loss < 0.05' hit at op 324 (iteration 30, epoch 30, loss, loss)" in lines
    listed = lines.index("breakpoints:")
    assert lines[listed + 1:listed + 3] == ["   1. on  · 3 hits                  loss < 0.05",
                                            "   2. on  · 0 hits                  nan"]
    assert lines[-1].startswith("stopped: 29 iterations complete, stopped in iteration 30")


def test_hits_let_pass_are_counted_when_no_breakpoint_stops_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["run", "--demo", "xor", "-n", "40", "--break", "loss < 0.05", "--ignore", "100"]) == 0
    out = capsys.readouterr().out
    assert "hit at" not in out and "   1. on  · 13 hits · ignore next 87  loss < 0.05" in out
    assert "done: 40 iterations complete" in out


FROZEN_W = """
seed = 3
[model]
sizes = [2, 3, 1]
activations = ["sigmoid", "sigmoid"]
freeze = ["W2", "b1"]
init = "xavier"
[loss]
kind = "bce"
[optimizer]
kind = "adam"
lr = 0.05
[data]
dataset = "xor"
"""


def test_health_of_a_frozen_weight_says_frozen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A frozen W has no update step: --health must say so (ratio 0), not die with a KeyError."""
    (tmp_path / "net.toml").write_text(FROZEN_W)
    assert run_main(["run", "--config", str(tmp_path / "net.toml"), "-n", "3", "--health"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    table = out.split("health at iteration 3:")[1].splitlines()
    assert table[2].split()[0] == "1" and float(table[2].split()[4]) > 0 and table[2].endswith("ok")
    assert table[3].split()[4] == "0" and table[3].endswith("W frozen")
    assert "‖ΔW‖/‖W‖ 0  saturated" in out and out.count("W frozen") == 4


# --- the table of bad inputs: break expressions, traces, export paths -------------


@pytest.mark.parametrize("case", [c for c in CASES if c.section in (BREAK, EXPORT)], ids=lambda c: c.id)
def test_bad_break_or_export_path(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    make_files(tmp_path, case.files)
    before = listing(tmp_path)
    assert run_main(case.argv) == case.status
    out, err = capsys.readouterr()
    assert_one_line(err, case.message)
    assert out == "", "nothing may run before the arguments are checked"
    assert listing(tmp_path) == before


def test_break_errors_point_at_a_column() -> None:
    for case in CASES:
        if case.section == BREAK and "at most 500" not in case.message:
            assert ": column " in case.message, case.id


@pytest.fixture
def no_app(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace make_viewer so that no Textual app can start; collects the traces it was given."""
    import nnstep.tui.app

    opened: list[dict[str, Any]] = []

    class Viewer:
        return_code = None  # as an App that was quit normally
        def __init__(self, trace: dict[str, Any]) -> None:
            opened.append(trace)

        def run(self) -> None:
            pass

    monkeypatch.setattr(nnstep.tui.app, "make_viewer", lambda trace, path: Viewer(trace))
    return opened


@pytest.mark.parametrize("case", [c for c in CASES if c.section == VIEW], ids=lambda c: c.id)
def test_view_of_a_bad_trace_fails_before_the_screen(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_app: list
) -> None:
    monkeypatch.chdir(tmp_path)
    make_files(tmp_path, case.files)
    assert run_main(case.argv) == 2
    assert_one_line(capsys.readouterr().err, case.message)
    assert no_app == [], "the viewer must not be built for a bad trace"


@pytest.mark.parametrize("name", ["trace.json", "trace.json.gz", "trace.npz"])
def test_view_refuses_a_trace_too_large_for_memory_before_reading_it_all(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_app: list
) -> None:
    """The memory limit, scaled down: a plain file is refused by its size, a gzip one while unpacking."""
    monkeypatch.chdir(tmp_path)
    assert run_main(["run", "--demo", "mazur", "-n", "2", "--export", name]) == 0
    capsys.readouterr()
    limit = trace_module.MEMORY_LIMIT
    monkeypatch.setattr(trace_module, "MEMORY_LIMIT", trace_module.CACHE_BYTES)
    assert run_main(["view", name]) == 2
    err = capsys.readouterr().err
    row = simulated("trace of 3.6 GiB of JSON")
    assert err.startswith(f"nnstep: {name}: the trace would take about ") and err.count("\n") == 1 and no_app == []
    assert err.split("GiB of memory to view")[1] == row.split("GiB of memory to view")[1].replace("4 GiB", "0.015625 GiB") + "\n"
    monkeypatch.setattr(trace_module, "MEMORY_LIMIT", limit)
    assert run_main(["view", name]) == 0


def test_the_too_large_row_is_view_memory_at_4_gib() -> None:
    assert f"about {trace_module.view_memory(int(3.6 * 2**30)) / 2**30:.1f} GiB" in simulated("trace of 3.6 GiB of JSON")


def test_view_of_an_export_opens_the_viewer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_app: list
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_main(["run", "--demo", "tutorial", "-n", "2", "--export", "t.json.gz"]) == 0
    assert run_main(["view", "t.json.gz"]) == 0
    assert len(no_app) == 1 and len(no_app[0]["records"]) == 22
    assert capsys.readouterr().err == ""


# --- export failures: earlier file intact, no temporary file ------------------------


def _raw_writer_failing_with(code: int):  # type: ignore[no-untyped-def]
    class Failing(io.FileIO):
        def write(self, data: Any) -> int:
            raise OSError(code, os.strerror(code))

    return lambda fd, mode="r", *args, **kwargs: io.BufferedWriter(Failing(fd, "w"))


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("mkstemp-eacces", simulated("folder without write permission")),
        ("replace-eacces", simulated("folder without write permission")),
        ("write-enospc", simulated("disk full")),
        ("write-eacces", simulated("folder without write permission")),
    ],
)
def test_failed_export_keeps_the_earlier_file(
    patch: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Root can write anywhere and disks are rarely full: the failures are simulated where they happen."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out.json").write_text(EARLIER)
    if patch == "mkstemp-eacces":
        def refuse(*args: object, **kwargs: object) -> None:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

        monkeypatch.setattr(trace_module.tempfile, "mkstemp", refuse)
    elif patch == "replace-eacces":
        def refuse_replace(*args: object) -> None:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

        monkeypatch.setattr(trace_module.os, "replace", refuse_replace)
    else:
        code = errno.ENOSPC if patch == "write-enospc" else errno.EACCES
        monkeypatch.setattr(trace_module.os, "fdopen", _raw_writer_failing_with(code))
    status = run_main(["run", "--demo", "mazur", "-n", "3", "--export", "out.json"])
    monkeypatch.undo()
    out, err = capsys.readouterr()
    assert status == 2
    assert_one_line(err, message)
    assert (tmp_path / "out.json").read_text() == EARLIER
    assert listing(tmp_path) == ["out.json"], "no temporary file may be left behind"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write into a read-only folder")
def test_export_into_a_read_only_folder_for_real(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert run_main(["run", "--demo", "mazur", "-n", "1", "--export", str(folder / "out.json")]) == 2
    finally:
        folder.chmod(0o700)
    assert_one_line(capsys.readouterr().err, f"nnstep: {folder / 'out.json'}: cannot export (Permission denied)")
    assert listing(folder) == []


def test_exception_inside_an_export_keeps_the_earlier_file(tmp_path: Path) -> None:
    """A second Ctrl-C (KeyboardInterrupt) mid-export: earlier file intact, no temporary file."""
    from nnstep.engine import Session, load_demo

    config = load_demo("mazur")
    session = Session(config)
    path = tmp_path / "out.json.gz"
    path.write_text(EARLIER)

    def records():  # type: ignore[no-untyped-def]
        for _ in range(15):
            yield session.step()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_trace(path, config.to_dict(), records())
    assert path.read_text() == EARLIER
    assert listing(tmp_path) == ["out.json.gz"]


# --- Ctrl-C -------------------------------------------------------------------------


def _started(process: subprocess.Popen[str]) -> str:
    """Wait for the first loss line, the sign that training has started."""
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("iteration "), line
    return line


def _nnstep(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "nnstep.tui.cli", *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _interrupt(process: subprocess.Popen, after: float, signum: int = signal.SIGINT) -> tuple[str, str]:
    """Ctrl-C (or another signal) once, `after` seconds into the run; the process's output."""
    try:
        _started(process)
        time.sleep(after)
        process.send_signal(signum)
        return process.communicate(timeout=60)
    finally:
        process.kill()


def test_ctrl_c_during_export_writes_what_was_computed(tmp_path: Path) -> None:
    process = _nnstep("run", "--demo", "tutorial", "-n", "200000", "--export", "out.json", cwd=tmp_path)
    out, err = _interrupt(process, after=0.5)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == simulated("Ctrl-C")
    steps = int(out.split("trace: out.json (")[1].split(" steps)")[0])
    trace = strict_json((tmp_path / "out.json").read_text())
    assert 0 < len(trace["steps"]) == steps < 11 * 200000
    stopped = trace["steps"][-1]
    assert stopped["iteration"] < 200000
    assert listing(tmp_path) == ["out.json"], "no temporary file may be left behind"
    assert len(read_trace(tmp_path / "out.json")["records"]) == steps


def test_ctrl_c_during_fast_run_exits_130(tmp_path: Path) -> None:
    process = _nnstep("run", "--demo", "tutorial", "-n", "100000000", cwd=tmp_path)
    out, err = _interrupt(process, after=0.3)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert out.splitlines()[-1].startswith("stopped: ")
    assert listing(tmp_path) == []


# --- the error table -----------------------------------------------------------------


def test_docs_errors_md_is_generated_from_the_tested_table() -> None:
    """docs/errors.md shows the messages these tests check; regenerate with `python -m tests.bad_inputs`."""
    assert DOC.read_text(encoding="utf-8") == markdown()


def test_trace_loader_errors_are_the_project_error(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"format": "nnstep-trace", "version": 1, "config": {}, "steps": []}')
    with pytest.raises(NnstepError, match="config: missing table"):
        read_trace(path)


@pytest.mark.parametrize("gap", [0.0, 0.03])
def test_second_ctrl_c_keeps_exit_130_and_a_whole_file(gap: float, tmp_path: Path) -> None:
    """Two Ctrl-Cs: either the export of the steps so far finished or it was abandoned with the
    earlier file intact; never a traceback, a partial file, a temporary file, or death by SIGINT
    (a late second Ctrl-C used to arrive during shutdown and turn 130 into -2)."""
    (tmp_path / "out.json").write_text(EARLIER)
    process = _nnstep("run", "--demo", "tutorial", "-n", "200000", "--export", "out.json", cwd=tmp_path)
    try:
        _started(process)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        time.sleep(gap)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "nnstep: interrupted"
    assert listing(tmp_path) == ["out.json"], "no temporary file may be left behind"
    text = (tmp_path / "out.json").read_text()
    if text != EARLIER:
        assert strict_json(text)["format"] == "nnstep-trace"


def test_check_names_the_relu_kink_as_the_cause_of_a_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # b⁽¹⁾ = 0 and a sample of zeros: z⁽¹⁾ = 0 exactly, where ±ε averages ReLU's two slopes.
    (tmp_path / "k.toml").write_text(
        '[model]\nsizes = [2, 2, 1]\nactivations = ["relu", "identity"]\ninit = "explicit"\n'
        "[[model.layers]]\nW = [[0.5, -0.3], [0.2, 0.4]]\nb = [0.0, 0.0]\n"
        "[[model.layers]]\nW = [[1.0, -1.0]]\nb = [0.1]\n"
        '[loss]\nkind = "mse"\n[data]\nx = [[0.0, 0.0], [1.0, 0.5]]\ny = [[1.0], [0.0]]\n')
    assert run_main(["check", "--config", str(tmp_path / "k.toml")]) == 1
    out = capsys.readouterr().out
    assert "layer 1: relative error dW" in out and "FAIL" in out
    assert "note: the ReLU kink is the likely cause" in out and "relu′(0) = 0" in out


def _diverging(tmp_path: Path) -> Path:
    path = tmp_path / "div.toml"
    path.write_text('[model]\nsizes = [2, 3, 2]\nactivations = ["identity", "identity"]\ninit = "normal"\nstd = 3.0\n'
                    '[loss]\nkind = "mse"\n[optimizer]\nlr = 5.0\n'
                    "[data]\nx = [[0.1, 0.2], [0.3, -0.4], [1.0, 0.5]]\ny = [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]\n")
    return path


@pytest.mark.parametrize("extra", [[], ["--break", "nan"]])
def test_run_reports_the_first_non_finite_op_and_its_cause(extra: list[str], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # If this fails, a user whose run turned NaN learns only the symptom, not where it started.
    assert run_main(["run", "--config", str(_diverging(tmp_path)), "-n", "20", *extra]) == 0
    lines = capsys.readouterr().out.splitlines()
    first = next(line for line in lines if line.startswith("first non-finite:"))
    assert first == "first non-finite: index 57, iteration 6, forward layer 2 linear, tensor z[0, 0] = -inf"
    assert any(line.startswith("  cause: the weighted sum z = W·a + b overflowed") for line in lines)
    assert any("grew geometrically from iteration 1" in line for line in lines)


def test_a_healthy_run_prints_no_root_cause(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["run", "--demo", "mazur", "-n", "5"]) == 0
    assert "first non-finite" not in capsys.readouterr().out


def test_diff_of_two_traces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("a", "b"):
        assert run_main(["run", "--demo", "mazur", "-n", "3", "--export", f"{name}.json", "-q"]) == 0
    (tmp_path / "slow.toml").write_text(
        (Path(__file__).parents[1] / "demos" / "mazur.toml").read_text(encoding="utf-8").replace("lr = 0.5", "lr = 0.4"),
        encoding="utf-8")
    assert run_main(["run", "--config", "slow.toml", "-n", "3", "--export", "c.json", "-q"]) == 0
    assert run_main(["run", "--demo", "xor", "-n", "1", "--export", "x.json", "-q"]) == 0
    capsys.readouterr()
    assert run_main(["diff", "a.json", "b.json"]) == 0
    assert capsys.readouterr().out == "identical: 33 steps\n"
    assert run_main(["diff", "a.json", "c.json"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("first difference: index 9, iteration 1, update layer 1 update, tensor step_W, max |Δ| = ")
    assert out[-1] == "compared 33 steps: they differ"
    assert run_main(["diff", "a.json", "c.json", "--tolerance", "1"]) == 0
    assert run_main(["diff", "a.json", "x.json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnstep: a.json and x.json are runs of different networks") and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["run", "--help"]])
def test_version_and_help_import_neither_numpy_nor_textual(argv: list[str]) -> None:
    # If this fails, every `nnstep --version` pays for importing NumPy (~90 ms) or Textual.
    code = ("import sys\nfrom nnstep.tui.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in ('numpy', 'textual', 'rich') if m in sys.modules)\n"
            "sys.stderr.write(repr(heavy))\n")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
    assert done.stderr.strip().endswith("[]"), done.stderr


@pytest.mark.parametrize("signum, status, said", [(signal.SIGTERM, 143, "stopped by SIGTERM"),
                                                  (signal.SIGHUP, 129, "stopped by SIGHUP")])
def test_sigterm_and_sighup_during_export_write_what_was_computed(signum: int, status: int, said: str,
                                                                  tmp_path: Path) -> None:
    # If this fails, `kill` or a closed terminal leaves a half-written .tmp file and loses the run.
    (tmp_path / "out.json").write_text("earlier")
    process = _nnstep("run", "--demo", "tutorial", "-n", "200000", "--export", "out.json", cwd=tmp_path)
    out, err = _interrupt(process, after=0.5, signum=signum)
    assert process.returncode == status, err
    assert err.strip().splitlines()[-1] == f"nnstep: {said}" and "Traceback" not in err
    assert listing(tmp_path) == ["out.json"], "no temporary file may be left behind"
    steps = int(out.split("trace: out.json (")[1].split(" steps)")[0])
    assert len(read_trace(tmp_path / "out.json")["records"]) == steps > 0


def test_standard_output_on_a_full_device_is_named(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "nnstep.tui.cli", "run", "--demo", "mazur", "-n", "3"],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr == "nnstep: standard output: No space left on device\n"


def test_control_characters_in_names_are_escaped_on_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "e\x1b[31mvil.toml"
    (tmp_path / name).write_text((Path(__file__).parents[1] / "demos" / "mazur.toml").read_text(encoding="utf-8"))
    done = subprocess.run([sys.executable, "-m", "nnstep.tui.cli", "check", "--config", name], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert "\x1b" not in done.stdout and "e\\x1b[31mvil" in done.stdout


def test_the_app_without_a_terminal_points_to_run(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "nnstep.tui.cli", "--demo", "mazur"], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("nnstep: the app needs a terminal (standard input and output are not one here); "
                           "`nnstep run` trains without one\n")


def test_view_without_a_terminal_points_to_jq(tmp_path: Path) -> None:
    # If this fails, `nnstep view trace.json > out.txt` writes escape codes into out.txt forever.
    assert run_main(["run", "--demo", "mazur", "-n", "1", "-q", "--export", str(tmp_path / "t.json")]) == 0
    done = subprocess.run([sys.executable, "-m", "nnstep.tui.cli", "view", "t.json"], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("nnstep: the app needs a terminal (standard input and output are not one here); "
                           "jq or `nnstep diff` read a trace without one\n")


def test_the_readme_error_rows_are_the_tested_ones() -> None:
    # If this fails, the README shows an error message nnstep no longer prints.
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Errors"):readme.index("### Breakpoints")]
    tested = DOC.read_text(encoding="utf-8").splitlines()
    own = ("| standard output on a full device", "| SIGTERM / SIGHUP", "| the app with no terminal")  # tested above
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith(("| input", "| ---", *own)):
            assert line in tested, f"README row not in docs/errors.md: {line}"


def test_watches_add_a_column_per_value_to_the_loss_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["run", "--demo", "mazur", "-n", "10", "--watch", "norm(dW1)", "--watch", "max(z2)"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "iteration  1/10  epoch    1  loss 0.298371109  norm(dW1) 0.00148334  max(z2) 1.22492"
    assert len(lines) == 11 and lines[-1].startswith("done: 10 iterations complete")


def test_explain_writes_a_handout_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_main(["explain", "--demo", "mazur", "-o", "mazur.md"]) == 0
    text = (tmp_path / "mazur.md").read_text(encoding="utf-8")
    assert text.startswith("# mazur: iteration 1, worked out op by op") and "0.5932699921" in text
    assert run_main(["explain", "--demo", "xor", "--iteration", "3", "-o", "xor.ipynb"]) == 0
    assert json.loads((tmp_path / "xor.ipynb").read_text(encoding="utf-8"))["nbformat"] == 4
    assert run_main(["explain", "--demo", "mazur", "--format", "tex"]) == 0
    assert capsys.readouterr().out.startswith("\\documentclass")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mazur.md", "xor.ipynb"], "no temporary file left"
    assert run_main(["explain", "--demo", "mazur", "--iteration", "0"]) == 2
    assert run_main(["explain", "--demo", "mazur", "-o", "/dev/null"]) == 2
    err = capsys.readouterr().err
    assert "--iteration must be from 1 to 1,000,000, got 0" in err and "/dev/null: cannot export" in err

"""Bad configs, CSV files and arguments: one stderr line naming file and key, exit 2.

If one of these fails, a user with a typo in a config sees a traceback, a
message that does not say where the problem is, or a half-written export.
The cases (and their exact messages) are in tests/bad_inputs.py, which also
generates docs/errors.md.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from nnstep.engine import NnstepError, load_config
from nnstep.tui.cli import main

from tests.bad_inputs import ARGS, CASES, CONFIG, CSV, MAZUR, SIMULATED, Case, make_files, with_csv

CONFIG_CASES = [case for case in CASES if case.section in (CONFIG, CSV, ARGS)]


def run_main(argv: tuple[str, ...] | list[str]) -> int:
    """`nnstep ARGV` in-process; argparse's SystemExit counts as the status."""
    try:
        return main(list(argv))
    except SystemExit as exit_:
        return int(exit_.code or 0)


def listing(folder: Path) -> list[str]:
    """Every file and folder under `folder`, hidden ones included (temporary exports are hidden)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def assert_one_line(err: str, message: str) -> None:
    assert "Traceback" not in err, err
    assert err.endswith("\n") and err.count("\n") == 1, f"expected one stderr line, got {err!r}"
    assert err.rstrip("\n") == message


@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda case: case.id)
def test_bad_input_gets_one_line_and_exit_2(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    make_files(tmp_path, case.files)
    before = listing(tmp_path)
    status = run_main(case.argv)
    out, err = capsys.readouterr()
    assert status == case.status, err
    assert_one_line(err, case.message)
    assert out == "", "nothing may be printed to stdout before the input is checked"
    assert listing(tmp_path) == before, "bad input must write nothing (no export, no temporary file)"


def test_config_messages_name_the_file_and_the_key() -> None:
    """The issue's shape: `net.toml: model.layers[1].W has shape (2, 3), expected (2, 2)`."""
    shape = next(case for case in CASES if case.id == "wrong-shape")
    assert "net.toml: model.layers[1].W has shape (2, 3), expected (2, 2)" in shape.message
    for case in CASES:
        if case.section == CONFIG:
            name = case.argv[case.argv.index("--config") + 1]
            assert case.message.startswith(f"nnstep: {name}: "), case.id
        if case.section == CSV and " line " in case.message and " cells" not in case.message:
            assert "column" in case.message, case.id


def test_broken_files_say_the_line() -> None:
    for id_ in ("broken-toml", "broken-json"):
        assert " line " in next(case.message for case in CASES if case.id == id_)


def test_unreadable_config_simulated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Root reads any file whatever its mode, so the refusal is simulated where files are opened."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.toml").write_text(MAZUR, encoding="utf-8")
    real = os.open

    def refuse(path: Any, *args: Any, **kwargs: Any) -> int:
        if Path(path).name == "net.toml":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    status = run_main(["run", "--config", "net.toml", "-n", "1"])
    monkeypatch.undo()
    message = next(row[2] for row in SIMULATED if row[1] == "config file without read permission")
    assert status == 2
    assert_one_line(capsys.readouterr().err, message)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read a file whatever its mode")
def test_unreadable_config_for_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "net.toml"
    path.write_text(MAZUR, encoding="utf-8")
    path.chmod(0)
    try:
        assert run_main(["run", "--config", "net.toml", "-n", "1"]) == 2
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert_one_line(capsys.readouterr().err, "nnstep: net.toml: permission denied")


def test_load_config_raises_the_project_error(tmp_path: Path) -> None:
    """The app calls the engine directly: the same line comes as NnstepError, not a crash."""
    path = tmp_path / "net.toml"
    path.write_text(MAZUR.replace("lr = 0.5", "lr = 0"), encoding="utf-8")
    with pytest.raises(NnstepError, match=r"net.toml: optimizer.lr must be > 0, got 0$"):
        load_config(path)


def test_single_output_real_targets_are_regression(tmp_path: Path) -> None:
    """A 1-D y of real numbers for one mse output is a target column, not 'labels that are not whole'."""
    path = tmp_path / "net.toml"
    text = (MAZUR.replace("sizes = [2, 2, 2]", "sizes = [2, 2, 1]")
            .replace("W = [[0.40, 0.45], [0.50, 0.55]]", "W = [[0.40, 0.45]]").replace("b = [0.60, 0.60]", "b = [0.60]")
            .replace('activations = ["sigmoid", "sigmoid"]', 'activations = ["sigmoid", "identity"]')
            .replace("y = [[0.01, 0.99]]", "y = [0.25]"))
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    assert config.y.tolist() == [[0.25]]
    assert config.labels is None


def test_config_over_the_limit_is_refused_by_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config over the limit (scaled down here) is refused by its size from fstat, before it is read."""
    import nnstep.engine.config as config_module

    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "net.toml", "wb") as handle:
        handle.truncate(2 * 2**20)  # sparse: 2 MiB that were never written
    monkeypatch.setattr(config_module, "MAX_CONFIG_BYTES", 2**20)
    assert run_main(["run", "--config", "net.toml"]) == 2
    message = next(row[2] for row in SIMULATED if row[1] == "config over 256 MiB")
    assert_one_line(capsys.readouterr().err, message.replace("256 MiB", "1 MiB"))


def test_csv_too_large_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 1.5 GiB CSV, simulated by the size fstat reports: refused with the size, not read into memory."""
    monkeypatch.chdir(tmp_path)
    make_files(tmp_path, with_csv('csv = "big.csv"\ntarget = ["t1", "t2"]\n', "x1,x2,t1,t2\n1,2,0,1\n"))
    (tmp_path / "train.csv").rename(tmp_path / "big.csv")
    big = os.stat(tmp_path / "big.csv").st_ino
    real_fstat = os.fstat

    def fstat(fd: int) -> os.stat_result:
        result = real_fstat(fd)
        if result.st_ino != big:
            return result
        fields = list(result)
        fields[stat.ST_SIZE] = int(1.5 * 2**30)
        return os.stat_result(fields)

    monkeypatch.setattr(os, "fstat", fstat)
    assert run_main(["run", "--config", "net.toml"]) == 2
    monkeypatch.undo()
    message = next(row[2] for row in SIMULATED if row[1] == "CSV file over 1 GiB")
    assert_one_line(capsys.readouterr().err, message)


def test_csv_from_a_spreadsheet_loads(tmp_path: Path) -> None:
    """A byte-order mark and blank lines (spreadsheet exports) are not errors: 'x1' is found."""
    make_files(tmp_path, with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', ""))
    (tmp_path / "train.csv").write_bytes(b"\xef\xbb\xbfx1,x2,t1,t2\r\n0.05,0.10,0.01,0.99\r\n\r\n0.2,0.3,0.5,0.5\r\n\r\n")
    config = load_config(tmp_path / "net.toml")
    assert config.x.tolist() == [[0.05, 0.10], [0.2, 0.3]]
    assert config.y.tolist() == [[0.01, 0.99], [0.5, 0.5]]

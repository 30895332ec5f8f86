"""Bad configs, CSV files and arguments: one stderr line naming file and key, exit 2.

If one of these fails, a user with a typo in a config sees a traceback, a
message that does not say where the problem is, or a half-written export.
The cases (and their exact messages) are in tests/bad_inputs.py, which also
generates docs/errors.md.
"""

from __future__ import annotations

import os
import pathlib
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
    """Root reads any file whatever its mode, so the refusal is simulated."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.toml").write_text(MAZUR, encoding="utf-8")
    real = pathlib.Path.open

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == "net.toml":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", refuse)
    status = run_main(["run", "--config", "net.toml", "-n", "1"])
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


def test_config_from_an_endless_file_is_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`--config /dev/zero` reads at most the limit (scaled down here), then says so."""
    import nnstep.engine.config as config_module

    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    monkeypatch.setattr(config_module, "MAX_CONFIG_BYTES", 2**20)
    assert run_main(["run", "--config", "/dev/zero"]) == 2
    message = next(row[2] for row in SIMULATED if "/dev/zero" in row[1])
    assert_one_line(capsys.readouterr().err, message.replace("256 MiB", "1 MiB"))


def test_csv_too_large_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 1.5 GiB CSV, simulated by its size: refused with the size, not read into memory."""
    import nnstep.engine.data as data_module

    monkeypatch.chdir(tmp_path)
    make_files(tmp_path, with_csv('csv = "big.csv"\ntarget = ["t1", "t2"]\n', "x1,x2,t1,t2\n1,2,0,1\n"))
    (tmp_path / "train.csv").rename(tmp_path / "big.csv")
    real_stat = Path.stat

    def big(self: Path, *args: Any, **kwargs: Any) -> Any:
        result = real_stat(self, *args, **kwargs)
        if self.name != "big.csv":
            return result
        return os.stat_result((result.st_mode, 0, 0, 1, 0, 0, int(1.5 * 2**30), 0, 0, 0))

    monkeypatch.setattr(Path, "stat", big)
    assert run_main(["run", "--config", "net.toml"]) == 2
    message = next(row[2] for row in SIMULATED if row[1] == "CSV file over 1 GiB")
    assert_one_line(capsys.readouterr().err, message)


def test_csv_from_a_spreadsheet_loads(tmp_path: Path) -> None:
    """A byte-order mark and blank lines (spreadsheet exports) are not errors: 'x1' is found."""
    make_files(tmp_path, with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', ""))
    (tmp_path / "train.csv").write_bytes(b"\xef\xbb\xbfx1,x2,t1,t2\r\n0.05,0.10,0.01,0.99\r\n\r\n0.2,0.3,0.5,0.5\r\n\r\n")
    config = load_config(tmp_path / "net.toml")
    assert config.x.tolist() == [[0.05, 0.10], [0.2, 0.3]]
    assert config.y.tolist() == [[0.01, 0.99], [0.5, 0.5]]

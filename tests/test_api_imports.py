"""`import nnstep` stays cheap and works wherever the script runs.

A training script that imports nnstep for one `nnstep.debug(...)` line must
not pay for numpy, textual or torch at import (nor need torch installed at
all); the functions import what they need when called.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("where", [ROOT, Path("/")], ids=["repo", "elsewhere"])
def test_import_nnstep_imports_neither_torch_textual_nor_numpy(where: Path) -> None:
    code = ("import sys, nnstep; print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'textual', 'numpy', 'rich'})); "
            "print(callable(nnstep.debug), callable(nnstep.from_torch), callable(nnstep.save_config))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=where).stdout
    assert out.split() == ["[]", "True", "True", "True"], out


def test_the_api_names_resolve_lazily() -> None:
    code = ("import nnstep, nnstep.engine, nnstep.tui, nnstep.demos; "
            "assert nnstep.NnstepError is nnstep.engine.NnstepError; "
            "assert nnstep.__version__ == nnstep.engine.__version__; "
            "assert issubclass(nnstep.ConvertedConfig, nnstep.engine.Config); "
            "print(sorted(nnstep.__all__))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/").stdout
    assert "'debug', 'from_torch', 'save_config'" in out
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        import nnstep

        nnstep.nope  # noqa: B018

"""nnstep's numbers equal PyTorch autograd's (fixtures made by golden/make_golden.py).

If these fail, a student comparing nnstep with PyTorch would see different
losses, δ vectors, gradients or updated weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nnstep.engine import Session, build_config

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.json"))


def test_every_case_has_a_fixture() -> None:
    assert {"tutorial", "tanh_sigmoid_momentum"} <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_three_iterations_match_pytorch(case: str) -> None:
    golden = json.loads((GOLDEN / f"{case}.json").read_text())
    session = Session(build_config(golden["config"], case))
    depth = session.config.depth
    for i, expected in enumerate(golden["steps"]):
        records = session.iteration_records(i)
        got = {(r.op, r.layer): r.tensors for r in records}
        np.testing.assert_allclose(float(got[("loss", None)]["loss"]), expected["loss"], rtol=0, atol=1e-10)
        for l in range(1, depth + 1):
            where = f"{case}, iteration {i + 1}, layer {l}"
            np.testing.assert_allclose(got[("delta", l)]["delta"], expected["delta"][l - 1], rtol=0, atol=1e-10, err_msg=f"δ, {where}")
            np.testing.assert_allclose(got[("grad", l)]["dW"], expected["dW"][l - 1], rtol=0, atol=1e-10, err_msg=f"dW, {where}")
            np.testing.assert_allclose(got[("grad", l)]["db"], expected["db"][l - 1], rtol=0, atol=1e-10, err_msg=f"db, {where}")
            np.testing.assert_allclose(got[("update", l)]["W"], expected["W"][l - 1], rtol=0, atol=1e-10, err_msg=f"W after, {where}")
            np.testing.assert_allclose(got[("update", l)]["b"], expected["b"][l - 1], rtol=0, atol=1e-10, err_msg=f"b after, {where}")

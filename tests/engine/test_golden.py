"""nnstep's numbers equal PyTorch's, from fixtures made by golden/make_golden.py (no torch needed here).

If these fail, a student running the same network in PyTorch (float64) would
see another loss, δ, gradient, optimizer state or updated W and b than
nnstep shows, within 30 iterations of mini-batch training.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from nnstep.engine import Session, build_config

from .golden.make_golden import (
    CASES,
    FIXTURE_SKIP,
    RTOL,
    STORED,
    assert_run_matches,
    base_name,
    engine_values,
)

GOLDEN = Path(__file__).parent / "golden"
FIXTURES = sorted(p.stem for p in GOLDEN.glob("*.json"))


def _load(case: str) -> dict:
    return json.loads((GOLDEN / f"{case}.json").read_text())


def test_every_case_of_the_script_has_a_fixture() -> None:
    assert FIXTURES == sorted(CASES), "run python -m tests.engine.golden.make_golden"


def test_the_fixtures_cover_every_optimizer_option_and_part() -> None:
    configs = [build_config(_load(case)["config"], case) for case in FIXTURES]
    seen = set()
    for c in configs:
        h = c.optimizer.hyperparameters()
        seen.add(c.optimizer.kind)
        seen.update(f"{c.optimizer.kind}.{k}" for k, v in h.items()
                    if k in ("momentum", "dampening", "nesterov", "weight_decay", "amsgrad", "centered") and v)
        seen.update(part for part, on in (("dropout", any(c.dropout)), ("l1", c.l1), ("freeze", c.freeze),
                                          ("negative_slope", c.negative_slope != 0.01)) if on)
        seen.add(c.loss)
    wanted = {"sgd", "sgd.momentum", "sgd.dampening", "sgd.nesterov", "sgd.weight_decay", "adam", "adam.amsgrad",
              "adam.weight_decay", "adamw", "adamw.weight_decay", "rmsprop", "rmsprop.momentum", "rmsprop.centered",
              "dropout", "l1", "freeze", "negative_slope", "mse", "cross_entropy", "bce", "bce_with_logits"}
    assert wanted <= seen, f"no fixture covers {sorted(wanted - seen)}"
    for case in FIXTURES:
        fixture = _load(case)
        assert fixture["iterations"] >= 30 and len(fixture["losses"]) == fixture["iterations"]
        config = configs[FIXTURES.index(case)]
        assert config.batch_size < len(config.x) and config.shuffle, f"{case}: not mini-batches"


@pytest.mark.parametrize("case", FIXTURES)
def test_engine_matches_pytorch_fixture(case: str) -> None:
    fixture = _load(case)
    session = Session(build_config(fixture["config"], case))
    n = fixture["iterations"]
    session.train(n)
    np.testing.assert_allclose(session.losses(), fixture["losses"], rtol=RTOL, atol=0,
                               err_msg=f"{case}: the losses of iterations 1…{n}")
    assert sorted(map(int, fixture["steps"])) == [*STORED, n]

    def compared():
        for i, expected in sorted(fixture["steps"].items(), key=lambda item: int(item[0])):
            got = engine_values(session.iteration_records(int(i) - 1))
            yield int(i), {k: v for k, v in got.items() if base_name(k) not in FIXTURE_SKIP}, expected

    assert_run_matches(compared(), case)

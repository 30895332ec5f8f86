"""Time travel in long runs: old checkpoints spill to disk and come back bit-identical.

If these fail, going back in a long run would either eat the machine's
memory, replay thousands of iterations, or show numbers training never made.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest
from nnstep.engine import Session
from nnstep.engine import session as session_module

from tests.conftest import make_config


def _config():
    return make_config(optimizer={"kind": "adam", "lr": 0.01},
                       data={"x": [[0.1, 0.2], [0.3, -0.4], [1.0, 0.5], [-0.7, 0.9]],
                             "y": [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.2, 0.8]], "batch_size": 2})


def test_old_checkpoints_spill_to_disk_and_come_back_bit_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    per = 3 * Session(_config())._checkpoints[0].nbytes  # params + Adam's two state arrays
    monkeypatch.setattr(session_module, "HISTORY_BUDGET", 32 * per)  # half of it: 16 checkpoints in memory
    monkeypatch.setattr(session_module, "DISK_BUDGET", 1000 * per)
    spilled = Session(_config(), checkpoint_every=10)
    spilled.train(1000)
    store = spilled._checkpoints
    assert len(store.in_memory()) <= 16 and len(store) == 101 and store.on_disk() > 0
    assert spilled.checkpoint_every == 10, "spilling must keep the spacing (no thinning)"
    reference = Session(_config(), checkpoint_every=1)
    reference.train(1000)
    for iteration in (0, 20, 370, 555, 990, 10):
        ours, theirs = spilled.iteration_params(iteration), reference.iteration_params(iteration)
        for a, b in zip(ours.arrays(), theirs.arrays(), strict=True):
            assert a.tobytes() == b.tobytes() and not a.flags.writeable
        assert ours.t == theirs.t
    folder = store.folder
    assert folder is not None and folder.exists() and not folder.is_relative_to(__import__("pathlib").Path.cwd())
    del spilled, store
    gc.collect()
    assert not folder.exists(), "the spill folder must go with the session"


def test_past_the_disk_budget_the_spacing_doubles(monkeypatch: pytest.MonkeyPatch) -> None:
    per = 3 * Session(_config())._checkpoints[0].nbytes
    monkeypatch.setattr(session_module, "HISTORY_BUDGET", 32 * per)
    monkeypatch.setattr(session_module, "DISK_BUDGET", 16 * per)
    session = Session(_config(), checkpoint_every=10)
    session.train(1000)
    assert session.checkpoint_every > 10 and len(session._checkpoints) <= 32
    reference = Session(_config())
    reference.train(1000)
    np.testing.assert_array_equal(session.iteration_params(777).W[0], reference.iteration_params(777).W[0])


def test_records_in_memory_are_bounded_by_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "HISTORY_BUDGET", 4 * 2**10)  # a quarter: 1 KiB of records
    session = Session(_config())
    for iteration in range(8):
        session.iteration_records(iteration)
    assert len(session._cache) < 8
    assert session.iteration_records(0)[0].index == 0  # evicted ones are recomputed


def test_the_loss_history_spills_whole_chunks_and_reads_back_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    from nnstep.engine.checkpoints import LossHistory

    monkeypatch.setattr(LossHistory, "CHUNK", 64)
    session = Session(_config())
    session.train(1000)
    history = session._losses
    assert len(history) == 1000 and history.nbytes <= 64 * 8 * 2  # the tail only
    reference = Session(_config(), checkpoint_every=1)
    monkeypatch.setattr(LossHistory, "CHUNK", 1 << 22)
    reference.train(1000)
    np.testing.assert_array_equal(session.losses(), reference.losses())
    np.testing.assert_array_equal(session.losses(130), reference.losses()[130:])
    assert history[999] == reference.losses()[999] and history[63] == reference.losses()[63]

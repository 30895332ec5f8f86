"""Stepping, the fast path, time travel and immutability of the session.

If these fail, a user stepping back sees other numbers than the first time,
`nnstep run` trains a different network than the app shows, or a pane could
change the engine's state through a record.
"""

from __future__ import annotations

import numpy as np
import pytest
from nnstep.engine import Session, load_demo

from ..conftest import make_config


@pytest.mark.parametrize("demo", ["tutorial", "xor", "moons", "mazur", "sine"])
def test_fast_path_is_bit_identical_to_stepping(demo: str) -> None:
    config = load_demo(demo)
    fast, stepped = Session(config), Session(config)
    fast.train(25)
    while stepped.iterations_done < 25:
        stepped.step()
    for a, b in zip(fast.state.W + fast.state.b, stepped.state.W + stepped.state.b):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fast.losses(), stepped.losses())


def test_momentum_and_float32_fast_path_matches_stepping() -> None:
    config = make_config(dtype="float32", optimizer={"lr": 0.3, "momentum": 0.9, "weight_decay": 0.01})
    fast, stepped = Session(config), Session(config)
    fast.train(7)
    stepped.goto(7 * stepped.ops_per_iteration - 1)
    for a, b in zip(fast.state.W, stepped.state.W):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)


def test_records_cannot_change_the_engine() -> None:
    session = Session(load_demo("mazur"))
    for _ in range(session.ops_per_iteration):
        record = session.step()
        for tensor in record.tensors.values():
            with pytest.raises(ValueError):
                tensor[...] = 0
        with pytest.raises(TypeError):
            record.tensors["z"] = np.zeros(1)  # type: ignore[index]
        with pytest.raises(AttributeError):
            record.index = 5  # type: ignore[misc]


def test_back_then_forward_gives_bit_identical_records() -> None:
    config = load_demo("tutorial")
    session = Session(config, checkpoint_every=100)
    first = [session.step() for _ in range(3 * session.ops_per_iteration)]
    session.train(1000)
    session.goto(-1)
    again = [session.step() for _ in range(3 * session.ops_per_iteration)]
    for a, b in zip(first, again):
        assert (a.index, a.op, a.layer, a.equation) == (b.index, b.op, b.layer, b.equation)
        for name in a.tensors:
            np.testing.assert_array_equal(a.tensors[name], b.tensors[name])


def test_jumping_back_1000_iterations_recomputes_the_same_numbers() -> None:
    session = Session(load_demo("xor"), cache_iterations=2)
    session.train(1000)
    late = session.record
    session.goto(517 * session.ops_per_iteration + 3)
    middle = session.record
    fresh = Session(load_demo("xor"))
    fresh.goto(middle.index)
    np.testing.assert_array_equal(middle.tensors["a"], fresh.record.tensors["a"])
    session.goto(late.index)
    np.testing.assert_array_equal(session.record.tensors["W"], late.tensors["W"])
    assert session.history_bytes < 200_000


def test_back_steps_one_op_at_a_time() -> None:
    session = Session(load_demo("mazur"))
    session.step(), session.step()
    assert session.back().index == 0
    assert session.back() is None and session.position == -1
    assert session.back() is None


def test_finish_runs_to_the_end_of_stage_iteration_epoch() -> None:
    session = Session(load_demo("moons"))  # 200 rows, batches of 32: 7 iterations per epoch
    assert session.finish("stage").op == "activation" and session.record.layer == 2
    assert session.finish("stage").op == "loss"
    assert session.finish("iteration").index == session.ops_per_iteration - 1
    record = session.finish("epoch")
    assert (record.iteration, record.epoch, record.op, record.layer) == (7, 1, "update", 2)
    assert session.finish("epoch").iteration == 14


def test_state_shows_updates_layer_by_layer() -> None:
    session = Session(load_demo("mazur"))
    session.goto(9)  # update of layer 1
    state = session.state
    assert state.W[0][0, 0] == pytest.approx(0.149780716)
    assert state.W[1][0, 0] == 0.40  # layer 2 not updated yet
    session.step()
    assert session.state.W[1][0, 0] == pytest.approx(0.35891648)


def test_minibatches_cover_each_epoch_once_and_shuffle_by_seed() -> None:
    config = make_config(data={"x": [[i, -i] for i in range(10)], "y": [[1.0, 0.0]] * 10, "batch_size": 4})
    session = Session(config)
    seen = []
    for i in range(3):
        seen.extend(session.iteration_records(i)[0].tensors["a_prev"][:, 0].tolist())
    assert sorted(seen) == list(range(10))
    assert [len(session.iteration_records(i)[0].tensors["a_prev"]) for i in range(3)] == [4, 4, 2]
    again = Session(config)
    np.testing.assert_array_equal(again.iteration_records(4)[0].tensors["a_prev"], session.iteration_records(4)[0].tensors["a_prev"])


def test_same_config_gives_a_bit_identical_run() -> None:
    a, b = Session(load_demo("spiral")), Session(load_demo("spiral"))
    a.train(20), b.train(20)
    for x, y in zip(a.state.W, b.state.W):
        np.testing.assert_array_equal(x, y)


def test_extreme_logits_stay_finite_without_warnings() -> None:
    # pytest turns RuntimeWarning (overflow) into errors for this suite.
    for acts, loss, out in ((["sigmoid", "sigmoid"], "bce", 1), (["tanh", "softmax"], "mse", 2), (["relu", "identity"], "cross_entropy", 2)):
        W = [[1e4, -1e4], [-1e4, 1e4]]
        config = make_config(
            model={"sizes": [2, 2, out], "activations": acts, "init": "explicit",
                   "layers": [{"W": W, "b": [0.0, 0.0]}, {"W": W[:out], "b": [0.0] * out}]},
            loss={"kind": loss},
            data={"x": [[1.0, 0.0], [0.0, 1.0]], "y": [[1.0] * out if loss != "cross_entropy" else [1.0, 0.0], [0.0] * out if loss != "cross_entropy" else [0.0, 1.0]]},
        )
        for record in Session(config).iteration_records(0):
            for name, tensor in record.tensors.items():
                assert np.isfinite(tensor).all(), (acts, loss, record.op, name)


def test_history_memory_stays_within_budget_by_thinning_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    from nnstep.engine import session as session_module

    monkeypatch.setattr(session_module, "HISTORY_BUDGET", 1)  # forces the 16-checkpoint floor
    monkeypatch.setattr(session_module, "DISK_BUDGET", 0)  # and no room to spill
    session = Session(load_demo("xor"), checkpoint_every=10)
    session.train(1000)
    assert len(session._checkpoints) <= 16 and session.checkpoint_every == 80
    late = session.record_at(333 * session.ops_per_iteration + 5)
    fresh = Session(load_demo("xor"))
    np.testing.assert_array_equal(late.tensors["delta"], fresh.record_at(late.index).tensors["delta"])


def test_stepping_back_through_an_iteration_replays_it_once() -> None:
    """`state` asks for the parameters at the start of the iteration on every op; a replay from a
    checkpoint is done once and its result kept (the same arrays), bit-identical to a fresh session's."""
    session = Session(load_demo("tutorial"), checkpoint_every=64)
    session.train(200)
    fast = session._fast
    calls = [0]

    class Counted:
        def batch(self, i):
            return fast.batch(i)

        def __call__(self, *args):
            calls[0] += 1
            return fast(*args)

    session._fast = Counted()  # type: ignore[assignment]
    last = session.schedule.index(151, 0) - 1  # the last op of iteration 150 (0-based): past its loss
    target = last
    session.goto(target)
    first = session.state
    assert len(session.losses()) == 151  # the next iteration's start is asked for too
    replays = calls[0]
    assert 0 < replays <= 16  # from the nearest remembered iteration, at most √64 for each of the two
    for _ in range(3):
        session.back()
        assert session.state.W
        session.losses()
    for _ in range(3):
        session.step()
        assert session.state.W
        session.losses()
    assert session.position == target
    assert calls[0] == replays  # the same two iterations all along: no replay again
    fresh = Session(load_demo("tutorial"))
    fresh.goto(target)
    for ours, theirs in zip(first.W + first.b, fresh.state.W + fresh.state.b, strict=True):
        assert np.array_equal(ours, theirs)

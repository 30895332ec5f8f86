"""Invariants the speed-ups of issue 5 rely on (no timing here; see benchmarks/).

The stepping path builds records without setting the read-only flag again,
because iterate() hands over only read-only tensors; and the fast path
computes the loss and its gradient in one pass, which must give the same
bits as the separate functions the gradient check uses.
"""

from __future__ import annotations

import numpy as np
import pytest
from nnstep.engine import Session
from nnstep.engine.functions import ACTIVATIONS, loss_and_grad, loss_grad, loss_value

from tests.conftest import make_config

_X = [[0.1, 0.2], [0.3, -0.4], [1.0, 0.5], [-0.7, 0.9], [0.0, -1.2]]


def _configs():
    """Every activation on a hidden layer, every loss, momentum variants, minibatches, float32."""
    hidden = [a for a in ACTIVATIONS if a != "softmax"]
    for act in hidden:
        yield f"{act} hidden, mse", make_config(model={"activations": [act, "identity"]}, data={"x": _X, "y": [[0.0, 1.0]] * 5})
    yield "softmax output, mse", make_config(model={"activations": ["tanh", "softmax"]}, data={"x": _X, "y": [[0.0, 1.0]] * 5})
    yield "cross-entropy on labels, shuffled minibatches", make_config(
        model={"activations": ["relu", "identity"]}, loss={"kind": "cross_entropy"},
        data={"x": _X, "y": [0, 1, 1, 0, 1], "batch_size": 2, "shuffle": True},
    )
    yield "cross-entropy on probability rows", make_config(
        model={"activations": ["relu", "identity"]}, loss={"kind": "cross_entropy"},
        data={"x": _X, "y": [[0.25, 0.75], [1.0, 0.0], [0.5, 0.5], [0.1, 0.9], [0.3, 0.7]]},
    )
    yield "bce, nesterov and weight decay, float32", make_config(
        dtype="float32", model={"sizes": [2, 3, 1], "activations": ["leaky_relu", "sigmoid"]}, loss={"kind": "bce"},
        optimizer={"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
        data={"x": _X, "y": [0, 1, 1, 0, 1]},
    )


CONFIGS = list(_configs())


@pytest.mark.parametrize("name, config", CONFIGS, ids=[name for name, _ in CONFIGS])
def test_every_tensor_of_every_record_is_read_only(name: str, config) -> None:
    # If this fails, a user could change a number shown in the app (or in an
    # exported record) and silently corrupt the history it came from.
    session = Session(config)
    for _ in range(3 * session.ops_per_iteration):
        record = session.step()
        writable = [key for key, value in record.tensors.items() if value.flags.writeable]
        assert not writable, f"{name}: record {record.index} ({record.op}) has writable tensors {writable}"


@pytest.mark.parametrize("name, config", CONFIGS, ids=[name for name, _ in CONFIGS])
def test_parameters_and_momentum_after_train_are_read_only(name: str, config) -> None:
    session = Session(config)
    session.train(3)
    params = session.iteration_params(3)
    arrays = params.arrays()
    assert all(not a.flags.writeable for a in arrays), f"{name}: a parameter array after train() is writable"


@pytest.mark.parametrize("kind", ["cross_entropy", "mse", "bce"])
@pytest.mark.parametrize("one_hot", [True, False])
def test_loss_and_grad_in_one_pass_is_bit_identical_to_the_separate_functions(kind: str, one_hot: bool) -> None:
    # If this fails, the trained numbers would drift from the gradient check's.
    rng = np.random.default_rng(5)
    y_hat = rng.standard_normal((7, 3)) * 4
    if kind == "bce":
        y_hat = 1 / (1 + np.exp(-y_hat))
    if one_hot:
        y = np.eye(3)[rng.integers(0, 3, 7)]
    else:
        y = rng.random((7, 3))
        y /= y.sum(axis=1, keepdims=True)
    loss, grad, _ = loss_and_grad(kind, y_hat, y, one_hot=one_hot)
    assert np.array_equal(loss, loss_value(kind, y_hat, y)), f"{kind}: loss {loss!r} vs {loss_value(kind, y_hat, y)!r}"
    expected = loss_grad(kind, y_hat, y)
    assert np.array_equal(grad, expected), f"{kind}: gradient\n{grad}\nvs separate\n{expected}"


def test_export_writing_each_shared_tensor_once_gives_every_step_its_numbers(tmp_path) -> None:
    # write_trace writes an array shared by several records once and refers to
    # it by number; if this fails, a trace would show stale numbers for some step.
    import json

    from nnstep.engine.trace import read_trace, record_json, write_trace

    config = make_config(optimizer={"lr": 0.5, "momentum": 0.9}, data={"x": _X, "y": [[0.0, 1.0]] * 5, "batch_size": 2})
    session = Session(config)
    session.train(4)
    path = tmp_path / "trace.json"
    write_trace(path, config.to_dict(), session.iter_records())
    trace = json.loads(path.read_text(encoding="utf-8"))
    steps = [{**step, "tensors": {name: trace["arrays"][k] for name, k in step["tensors"].items()}}
             for step in trace["steps"]]
    assert steps == [json.loads(record_json(record)) for record in session.iter_records()]
    assert len(trace["arrays"]) <= sum(len(step["tensors"]) for step in steps) / 2  # each shared array once
    assert len(read_trace(path)["records"]) == 4 * session.ops_per_iteration


def test_stepping_back_from_remembered_iterations_gives_the_same_bits() -> None:
    # Going back resumes from parameters remembered between checkpoints; if
    # this fails, time travel would show numbers training never produced.
    config = make_config(optimizer={"lr": 0.5, "momentum": 0.9}, data={"x": _X, "y": [[0.0, 1.0]] * 5, "batch_size": 2})
    session = Session(config)
    session.train(350)
    reference = Session(config, checkpoint_every=1)  # a checkpoint at every iteration: no replay
    reference.train(350)
    for iteration in (349, 341, 305, 250, 199, 345, 0, 101, 100, 35, 25, 12):
        ours, theirs = session.iteration_params(iteration), reference.iteration_params(iteration)
        for a, b in zip(ours.arrays(), theirs.arrays(), strict=True):
            assert np.array_equal(a, b), f"parameters or state at the start of iteration {iteration} differ after going back"
        session.goto(iteration * session.ops_per_iteration + 3)
        assert session.record.tensors["z"].tobytes() == reference.record_at(session.position).tensors["z"].tobytes()


@pytest.mark.parametrize("name, config", CONFIGS, ids=[name for name, _ in CONFIGS])
def test_fast_path_update_is_bit_identical_to_the_recorded_step(name: str, config) -> None:
    # The fast path writes p − η·g into one array; the stepping path keeps
    # the step −η·g for its record and adds it. If this fails, `run` and the
    # app's continue would train a different network than stepping does.
    fast, stepped = Session(config), Session(config)
    fast.train(4)
    for _ in range(4 * stepped.ops_per_iteration):
        stepped.step()
    for ours, theirs in zip(fast.iteration_params(4).arrays(), stepped.iteration_params(4).arrays(), strict=True):
        assert ours.tobytes() == theirs.tobytes(), f"{name}: fast path differs"
    for ours, theirs in zip(fast.iteration_params(4).W, stepped.state.W, strict=True):
        assert ours.tobytes() == theirs.tobytes(), f"{name}: fast path differs from the stepped state"

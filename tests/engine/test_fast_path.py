"""The buffered fast path (engine/fastpath.py) against iterate(), the definition the stepping path records.

Batch rows: z, a, δ have shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).
If these fail, `nnstep run` and the app's continue would train another
network than the one a user steps through (numbers that change on stepping
back), or a checkpoint would change after it was taken because an array
of the fast path's was reused under it.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import pytest
from nnstep.engine import Session, build_config
from nnstep.engine.fastpath import FastPath, fast_path
from nnstep.engine.network import Params, batch_rows, iterate

from tests.engine.test_parts import OPTIMIZERS, raw_config

OPTIMIZERS = {**OPTIMIZERS,
              "sgd_momentum": {"kind": "sgd", "lr": 0.1, "momentum": 0.9},
              "sgd_decay": {"kind": "sgd", "lr": 0.1, "weight_decay": 0.05},
              "sgd_nesterov_decay_dampening": {"kind": "sgd", "lr": 0.1, "momentum": 0.8, "nesterov": True,
                                               "weight_decay": 0.01}}
# (activations, loss, targets): every activation FastPath covers, every loss, labels and probability rows.
NETS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "relu → identity, cross-entropy on labels": (("relu", "relu", "identity"), "cross_entropy", "labels"),
    "tanh → identity, cross-entropy on probability rows": (("tanh", "leaky_relu", "identity"), "cross_entropy", "rows"),
    "leaky → sigmoid, bce": (("leaky_relu", "tanh", "sigmoid"), "bce", "rows"),
    "sigmoid → identity, bce with logits": (("sigmoid", "relu", "identity"), "bce_with_logits", "rows"),
    "sigmoid → tanh, mse": (("sigmoid", "sigmoid", "tanh"), "mse", "rows"),
}


def config_for(net: str, optimizer: str, *, dtype: str = "float64", shuffle: bool = True) -> Any:
    """10 rows in batches of 4: two full batches and a short one per epoch, shuffled unless told."""
    acts, loss, targets = NETS[net]
    raw = raw_config(loss, acts, optimizer=OPTIMIZERS[optimizer], n=10, batch_size=4, negative_slope=0.2)
    raw["data"]["shuffle"] = shuffle
    raw["dtype"] = dtype
    if targets == "labels":
        raw["data"]["y"] = [int(np.argmax(row)) for row in raw["data"]["y"]]
    elif loss == "cross_entropy":
        y = np.abs(np.asarray(raw["data"]["y"])) + 0.1
        raw["data"]["y"] = (y / y.sum(axis=1, keepdims=True)).tolist()
    return build_config(raw, "fast path")


def assert_same_bits(ours: Params, theirs: Params, where: str) -> None:
    assert ours.t == theirs.t, where
    for name, a, b in [*(("W", a, b) for a, b in zip(ours.W, theirs.W, strict=True)),
                       *(("b", a, b) for a, b in zip(ours.b, theirs.b, strict=True))]:
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), f"{where}: {name} differs\n{a}\nvs iterate's\n{b}"
    for l, (sa, sb) in enumerate(zip(ours.state, theirs.state, strict=True)):
        assert set(sa) == set(sb), f"{where}: layer {l + 1}'s optimizer state {set(sa)} vs {set(sb)}"
        for key in sa:
            assert sa[key].tobytes() == sb[key].tobytes(), f"{where}: {key} of layer {l + 1} differs"


def run_both(config: Any, iterations: int) -> None:
    path = fast_path(config)
    assert isinstance(path, FastPath), "these configs are the buffered path's to run"
    ours = theirs = Params.initial(config)
    records: list = []
    for i in range(iterations):
        rows = batch_rows(config, i)
        x, y = path.batch(i)
        assert np.array_equal(x, config.x[rows]) and np.array_equal(y, config.y[rows]), f"iteration {i}: another batch"
        ours, our_loss = path(ours, x, y, i)
        theirs, their_loss = iterate(config, theirs, config.x[rows], config.y[rows],
                                     lambda spec, tensors: records.append(tensors), iteration=i)
        assert np.float64(our_loss).tobytes() == np.float64(their_loss).tobytes(), f"iteration {i}: loss differs"
        assert_same_bits(ours, theirs, f"iteration {i}")
        assert all(not a.flags.writeable for a in ours.arrays()), f"iteration {i}: writable parameters"


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("net", NETS)
def test_fast_path_gives_the_stepping_paths_bits(net: str, optimizer: str) -> None:
    run_both(config_for(net, optimizer), 7)  # past an epoch's short batch into the next permutation


@pytest.mark.parametrize("net", NETS)
def test_fast_path_gives_the_same_bits_in_float32_and_without_shuffling(net: str) -> None:
    run_both(config_for(net, "adam", dtype="float32"), 4)
    run_both(config_for(net, "sgd_momentum", shuffle=False), 4)


def test_a_diverging_run_gives_the_same_infinities_and_nans() -> None:
    raw = raw_config("mse", ("relu", "relu", "identity"), optimizer={"kind": "sgd", "lr": 1e6}, n=6)
    config = build_config(raw, "diverging")
    with np.errstate(all="ignore"):
        run_both(config, 6)


def test_earlier_parameters_do_not_change_when_training_goes_on() -> None:
    # Checkpoints and the frontier share the arrays the fast path returns:
    # none may be one of its buffers, written again by a later iteration.
    config = config_for("relu → identity, cross-entropy on labels", "sgd_momentum")
    path = fast_path(config)
    params = Params.initial(config)
    kept = []
    for i in range(5):
        params, _ = path(params, *path.batch(i), i)
        kept.append([a.copy() for a in params.arrays()])
        kept[-1].append(params)  # type: ignore[arg-type]
    for i, (*copies, params) in enumerate(kept):
        for copy, array in zip(copies, params.arrays(), strict=True):
            assert copy.tobytes() == array.tobytes(), f"the parameters after iteration {i} changed later"


def test_configs_the_buffers_do_not_cover_train_through_iterate() -> None:
    # Dropout, L1 and frozen parameters: the session still trains them, bit-identically (test_parts.py).
    raw = raw_config("mse", ("tanh", "sigmoid", "identity"), n=6)
    raw["model"]["dropout"] = [0.5, 0.0, 0.0]
    assert not isinstance(fast_path(build_config(raw, "dropout")), FastPath)
    session = Session(config_for("sigmoid → tanh, mse", "adam"))
    assert isinstance(session._fast, FastPath)


@pytest.mark.parametrize("optimizer", ["adam_amsgrad_decay", "sgd_nesterov", "rmsprop_centered_momentum"])
def test_replaying_from_older_parameters_gives_iterates_bits(optimizer: str) -> None:
    # Time travel replays from checkpoints, not from the iteration just made: the
    # optimizer state the fast path remembers from its last call must not leak in.
    config = config_for("tanh → identity, cross-entropy on probability rows", optimizer)
    path = fast_path(config)
    made = [Params.initial(config)]
    for i in range(4):
        made.append(path(made[-1], *path.batch(i), i)[0])
    for i in (1, 3, 0, 2, 2):
        rows = batch_rows(config, i)
        ours, _ = path(made[i], *path.batch(i), i)
        theirs, _ = iterate(config, made[i], config.x[rows], config.y[rows], iteration=i)
        assert_same_bits(ours, theirs, f"iteration {i} again")
        assert_same_bits(ours, made[i + 1], f"iteration {i} again, against the first time")


def test_large_parameters_are_written_again_only_when_nothing_holds_them() -> None:
    # A W of 64 KiB or more (here 128×64) is recycled once only the fast path's pool
    # references it. If this fails, a kept iteration's W would change under a
    # checkpoint, or the pool would never reuse anything.
    raw = raw_config("cross_entropy", ("relu", "identity"), sizes=(64, 128, 3), optimizer={"kind": "sgd", "lr": 0.1},
                     n=8)
    config = build_config(raw, "large W")
    path = fast_path(config)
    assert isinstance(path, FastPath)
    kept, copies = [], []
    params = theirs = Params.initial(config)
    seen: list = []  # weak references to every W⁽¹⁾ returned: a reused one is the same object again
    reused = 0
    for i in range(12):
        x, y = path.batch(i)
        params, _ = path(params, x, y, i)
        theirs, _ = iterate(config, theirs, config.x, config.y, iteration=i)
        assert_same_bits(params, theirs, f"iteration {i}")
        reused += any(ref() is params.W[0] for ref in seen)
        seen.append(weakref.ref(params.W[0]))
        if i % 3 == 0:  # held, as a checkpoint holds parameters
            kept.append(params)
            copies.append(params.W[0].copy())
    assert all(not p.W[0].flags.writeable for p in kept)
    for i, (p, copy) in enumerate(zip(kept, copies, strict=True)):
        assert p.W[0].tobytes() == copy.tobytes(), f"kept parameters {i} were written again"
    assert reused, "no W⁽¹⁾ was ever written again"

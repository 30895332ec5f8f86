"""One training iteration — forward, loss, backward, update — as NumPy math.

Batch rows: z⁽ˡ⁾ = a⁽ˡ⁻¹⁾ W⁽ˡ⁾ᵀ + b⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape
(n_l, n_{l-1}). `iterate` defines an iteration: the stepping path calls it
with `emit` (one call per op of the config's schedule), and without `emit`
it is the fast path for configs fastpath.FastPath does not cover. FastPath
runs the same operations in the same order into reused buffers; that both
give the same bits is tested (tests/engine/test_fast_path.py), not implied.
Parameter and state arrays are never changed in place once returned: each
update makes new arrays (or reuses one nothing holds any more), so earlier
records and checkpoints can share them without copies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from .config import Config
from .functions import activate, activation_backward, loss_and_grad
from .schedule import OpSpec

# emit(spec, tensors): one op of the schedule and its tensors (exactly spec.tensors).
Emit = Callable[[OpSpec, dict], None]
_NO_STATE: Mapping[str, np.ndarray] = MappingProxyType({})
_DROPOUT_STREAM = 0x64726F70  # "drop": keeps dropout masks apart from the batch permutations


class Params(NamedTuple):
    """Parameters and optimizer state between two iterations (read-only arrays).

    W[l-1] is W⁽ˡ⁾ (n_l, n_{l-1}), b[l-1] is b⁽ˡ⁾ (n_l,). `state[l-1]` maps
    the optimizer's state keys of layer l (m_W, v_W, v_b, …) to arrays; `t`
    counts the optimizer steps taken (Adam's bias correction uses it). A
    named tuple, immutable like a frozen dataclass and made three times as
    fast: the fast path makes one per iteration.
    """

    W: tuple[np.ndarray, ...]
    b: tuple[np.ndarray, ...]
    state: tuple[Mapping[str, np.ndarray], ...] = ()
    t: int = 0

    @classmethod
    def initial(cls, config: Config) -> Params:
        """The config's initial W⁽ˡ⁾ and b⁽ˡ⁾ and optimizer state (none for a fresh start)."""
        return cls(
            W=tuple(W for W, _ in config.layers),
            b=tuple(b for _, b in config.layers),
            state=config.state or (_NO_STATE,) * config.depth,
            t=config.t,
        )

    def arrays(self) -> list[np.ndarray]:
        """Every array held: parameters and optimizer state."""
        return [*self.W, *self.b, *(a for layer in self.state for a in layer.values())]

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays, optimizer state included."""
        return sum(a.nbytes for a in self.arrays())


def batch_rows(config: Config, iteration: int) -> np.ndarray | slice:
    """Which rows of the data iteration `iteration` (0-based) trains on.

    Batches are slices of the data in order — the last one of an epoch may be
    short — taken from a new permutation each epoch, drawn from a generator
    seeded with (seed, epoch), so any iteration's batch is known without
    replaying the ones before it. Without shuffling, or with one batch per
    epoch, the rows are taken in file order.
    """
    per_epoch = config.batches_per_epoch
    epoch, j = divmod(iteration, per_epoch)
    start = j * config.batch_size
    stop = start + config.batch_size
    if per_epoch == 1 or not config.shuffle:
        return slice(start, stop)
    order = np.random.default_rng([config.seed, epoch]).permutation(len(config.x))
    return order[start:stop]


def row_indices(config: Config, iteration: int) -> np.ndarray:
    """The data rows of iteration `iteration` (0-based) as an int64 array."""
    rows = batch_rows(config, iteration)
    if isinstance(rows, slice):
        return np.arange(len(config.x), dtype=np.int64)[rows]
    return rows.astype(np.int64)


def dropout_mask(config: Config, iteration: int, layer: int, shape: tuple[int, ...]) -> np.ndarray:
    """Layer `layer`'s mask in 0-based `iteration` (1 kept, 0 dropped), from (seed, iteration, layer).

    Each unit is kept with probability 1 − p, as nn.Dropout in training mode.
    Seeded per iteration and layer, so replays and time travel draw the same mask.
    """
    p = config.dropout[layer - 1]
    rng = np.random.default_rng([config.seed, _DROPOUT_STREAM, iteration, layer])
    return (rng.random(shape) >= p).astype(np.dtype(config.dtype))


def forward(config: Config, W: Sequence[np.ndarray], b: Sequence[np.ndarray], x: np.ndarray) -> np.ndarray:
    """ŷ for inputs x (B, n_0) in evaluation mode: no dropout, as model.eval() in torch."""
    a = x
    slope = config.negative_slope
    for l, name in enumerate(config.activations):
        a = activate(name, a @ W[l].T + b[l], slope)
    return a


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)  # a third cheaper than `flags.writeable = False`
    return array


def iterate(
    config: Config,
    params: Params,
    x: np.ndarray,
    y: np.ndarray,
    emit: Emit | None = None,
    *,
    iteration: int = 0,
    rows: np.ndarray | None = None,
) -> tuple[Params, float]:
    """Train on one batch (x: (B, n_0), y: (B, n_L)) of 0-based `iteration`; return new params and the loss.

    With `emit`, every op of `config.schedule` is reported with its tensors,
    all made read-only (`rows`, the batch's data rows, goes on the first op);
    without it, this is the fast path.
    """
    depth = config.depth
    acts = config.activations
    slope = config.negative_slope
    dropout = config.dropout
    W, b = params.W, params.b
    ops = iter(config.schedule.ops) if emit else None

    def send(tensors: dict) -> None:
        emit(next(ops), tensors)  # type: ignore[misc, arg-type]

    a = [x]  # inputs of each layer: x, then a⁽ˡ⁾ (or ã⁽ˡ⁾ after dropout)
    z = []
    post = []  # a⁽ˡ⁾ before dropout: what the activation's derivative reads
    masks: list[np.ndarray | None] = [None] * depth  # 1 kept, 0 dropped
    noise: list[np.ndarray | None] = [None] * depth  # mask/(1 − p): what torch multiplies by
    for l in range(depth):
        z.append(np.dot(a[l], W[l].T) + b[l])  # np.dot: the fast path's product (fastpath.py)
        if emit:
            tensors = {"a_prev": a[l], "W": W[l], "b": b[l], "z": _frozen(z[l])}
            if l == 0:
                tensors = {"rows": _frozen(np.asarray(rows if rows is not None else row_indices(config, iteration))), **tensors}
            send(tensors)
        post.append(activate(acts[l], z[l], slope))
        if emit:
            send({"z": z[l], "a": _frozen(post[l])})
        if dropout[l]:
            masks[l] = mask = _frozen(dropout_mask(config, iteration, l + 1, post[l].shape))
            # torch on the CPU: noise = mask/(1 − p), output = input·noise.
            noise[l] = mask / (1.0 - dropout[l])
            a.append(post[l] * noise[l])
            if emit:
                send({"a": post[l], "mask": mask, "a_drop": _frozen(a[l + 1])})
        else:
            a.append(post[l])

    y_hat = a[depth]
    loss, g, p = loss_and_grad(config.loss, y_hat, y, one_hot=config.labels is not None)
    data_loss = loss
    penalty = None
    if config.l1:
        total_abs = np.abs(W[0]).sum()
        for W_l in W[1:]:
            total_abs = total_abs + np.abs(W_l).sum()
        penalty = config.l1 * total_abs
        loss = data_loss + penalty
    if emit:
        tensors = {"y_hat": y_hat, "y": y}
        if penalty is not None:
            tensors["data_loss"] = _frozen(np.array(data_loss))
            tensors["penalty"] = _frozen(np.array(penalty))
        tensors["loss"] = _frozen(np.array(loss))
        if p is not None:
            tensors["p"] = _frozen(p)
        tensors["dL_dy_hat"] = _frozen(g)
        send(tensors)

    dW: list[np.ndarray] = [None] * depth  # type: ignore[list-item]
    db: list[np.ndarray] = [None] * depth  # type: ignore[list-item]
    g_delta = g  # δ of the layer above, once there is one
    for l in reversed(range(depth)):
        if noise[l] is not None:
            g = g * noise[l]
        delta = activation_backward(acts[l], g, z[l], post[l], slope)
        if emit:
            if l == depth - 1:
                inputs = {"dL_dy_hat": g, "z": z[l]}
            elif masks[l] is not None:
                inputs = {"W_next": W[l + 1], "delta_next": g_delta, "mask": masks[l], "z": z[l]}
            else:
                inputs = {"W_next": W[l + 1], "delta_next": g_delta, "z": z[l]}
            send({**inputs, "delta": _frozen(delta)})
        dW[l] = np.dot(delta.T, a[l])
        if config.l1:
            dW[l] = dW[l] + config.l1 * np.sign(W[l])
        db[l] = delta.sum(axis=0)
        if emit:
            tensors = {"delta": delta, "a_prev": a[l]}
            if config.l1:
                tensors["W"] = W[l]
            send({**tensors, "dW": _frozen(dW[l]), "db": _frozen(db[l])})
        if l:
            g = np.dot(delta, W[l])
            g_delta = delta

    optimizer = config.optimizer
    kernel = optimizer.kernel
    t = params.t + 1
    grads = (dW, db)
    new_params = (list(W), list(b))
    new_state: list[Mapping[str, np.ndarray]] = []
    for l, layer_plan in enumerate(config.schedule.updates):
        layer_state = params.state[l] if params.state else _NO_STATE
        state: dict[str, np.ndarray] = {}
        tensors = {}
        for i, P, frozen, keys, shown_keys in layer_plan:
            value = new_params[i][l]
            if frozen:
                if emit:
                    tensors[P] = value
                continue
            grad = grads[i][l]
            own = {name: layer_state[key] for name, key in keys if key in layer_state} if keys else _NO_STATE
            if emit:
                new_value, new, shown = optimizer.step(value, grad, own, t)
            else:
                new_value, new = kernel(value, grad, own, t)
            new_value.setflags(write=False)
            new_params[i][l] = new_value
            for name, key in keys:
                state[key] = _frozen(new[name])
            if emit:
                tensors[f"{P}_before"] = value
                tensors[f"d{P}"] = grad
                for name, key in shown_keys:
                    tensors[key] = _frozen(shown[name])
                tensors[f"step_{P}"] = _frozen(shown["step"])
                tensors[P] = new_params[i][l]
        new_state.append(MappingProxyType(state) if state else _NO_STATE)
        if emit:
            send(tensors)
    new_W, new_b = new_params
    return Params(tuple(new_W), tuple(new_b), tuple(new_state), t), float(loss)

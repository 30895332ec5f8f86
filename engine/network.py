"""One training iteration — forward, loss, backward, update — as NumPy math.

Batch rows: z⁽ˡ⁾ = a⁽ˡ⁻¹⁾ W⁽ˡ⁾ᵀ + b⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape
(n_l, n_{l-1}). The same function serves the stepping path (with `emit`,
one call per op) and the fast path (without), so both give bit-identical
parameters by construction. Parameter arrays are never changed in place:
each update makes new arrays, so earlier records and checkpoints can share
them without copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from . import equations as eq
from .config import Config
from .functions import activate, activation_backward, loss_and_grad

# emit(stage, layer, op, equation, tensors, writes)
Emit = Callable[[str, "int | None", str, str, dict, tuple], None]


@dataclass(frozen=True)
class Params:
    """Parameters and SGD momentum buffers between two iterations (read-only arrays)."""

    W: tuple[np.ndarray, ...]
    b: tuple[np.ndarray, ...]
    vW: tuple[np.ndarray | None, ...]
    vb: tuple[np.ndarray | None, ...]

    @classmethod
    def initial(cls, config: Config) -> Params:
        """The config's initial W⁽ˡ⁾ (n_l, n_{l-1}) and b⁽ˡ⁾ (n_l,), no momentum yet."""
        depth = config.depth
        return cls(
            W=tuple(W for W, _ in config.layers),
            b=tuple(b for _, b in config.layers),
            vW=(None,) * depth,
            vb=(None,) * depth,
        )

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays, buffers included."""
        arrays = [*self.W, *self.b, *self.vW, *self.vb]
        return sum(a.nbytes for a in arrays if a is not None)


def batch_rows(config: Config, iteration: int) -> np.ndarray | slice:
    """Which rows of the data iteration `iteration` (0-based) trains on.

    Each epoch has its own permutation from a generator seeded with
    (seed, epoch), so any iteration's batch is known without replaying the
    ones before it. A full batch is taken in file order.
    """
    per_epoch = config.batches_per_epoch
    epoch, j = divmod(iteration, per_epoch)
    start = j * config.batch_size
    stop = start + config.batch_size
    if per_epoch == 1 or not config.shuffle:
        return slice(start, stop)
    order = np.random.default_rng([config.seed, epoch]).permutation(len(config.x))
    return order[start:stop]


def _sgd(
    config: Config, p: np.ndarray, g: np.ndarray, v: np.ndarray | None, keep_step: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """torch.optim.SGD for one tensor: returns (new p, the step added to p or None, new buffer)."""
    if config.weight_decay:
        g = g + config.weight_decay * p
    if config.momentum:
        v = g.copy() if v is None else v * config.momentum + g
        g = g + config.momentum * v if config.nesterov else v
    if keep_step:
        step = -config.lr * g
        return p + step, step, v
    # Without a record to show the step, p − η·g is written into the array
    # holding η·g: one new array instead of two, 3 % of a 784→128→10
    # iteration. Bit-identical: −(η·g) is exact, and p + (−s) is p − s.
    new_p = config.lr * g
    np.subtract(p, new_p, out=new_p)
    return new_p, None, v


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)  # a third cheaper than `flags.writeable = False`
    return array


@lru_cache(maxsize=32)
def _formulas(
    acts: tuple[str, ...], loss: str, momentum: float, weight_decay: float, nesterov: bool
) -> dict[tuple[str, int | None], str]:
    """Every op's equation, keyed by (op, layer), for one kind of network.

    The formulas never change between iterations; building them afresh for
    each stepped iteration took a tenth of its time (benchmarks/NOTES.md).
    """
    depth = len(acts)
    formulas: dict[tuple[str, int | None], str] = {("loss", None): eq.loss(loss)}
    for l in range(1, depth + 1):
        formulas["linear", l] = eq.linear(l)
        formulas["activation", l] = eq.activation(l, depth, acts[l - 1])
        formulas["delta", l] = eq.delta(l, depth, acts[l - 1], loss)
        formulas["grad", l] = eq.grad(l)
        formulas["update", l] = eq.update(l, momentum, weight_decay, nesterov)
    return formulas


def iterate(
    config: Config, params: Params, x: np.ndarray, y: np.ndarray, emit: Emit | None = None
) -> tuple[Params, float]:
    """Train on one batch (x: (B, n_0), y: (B, n_L)); return new params and the loss.

    With `emit`, every op is reported with its equation and its tensors, all
    made read-only; without it, this is the fast path.
    """
    depth = config.depth
    acts = config.activations
    W, b = params.W, params.b
    if emit:
        formulas = _formulas(acts, config.loss, config.momentum, config.weight_decay, config.nesterov)
    a = [x]
    z = []
    for l in range(depth):
        z.append(a[l] @ W[l].T + b[l])
        if emit:
            emit("forward", l + 1, "linear", formulas["linear", l + 1],
                 {"a_prev": a[l], "W": W[l], "b": b[l], "z": _frozen(z[l])}, ("z",))
        a.append(activate(acts[l], z[l]))
        if emit:
            emit("forward", l + 1, "activation", formulas["activation", l + 1],
                 {"z": z[l], "a": _frozen(a[l + 1])}, ("a",))

    y_hat = a[depth]
    loss, g, p = loss_and_grad(config.loss, y_hat, y, one_hot=config.labels is not None)
    if emit:
        tensors = {"y_hat": y_hat, "y": y, "loss": _frozen(np.array(loss))}
        if p is not None:
            tensors["p"] = _frozen(p)
        emit("loss", None, "loss", formulas["loss", None], tensors, ("loss", "p") if p is not None else ("loss",))

    dW: list[np.ndarray] = [None] * depth  # type: ignore[list-item]
    db: list[np.ndarray] = [None] * depth  # type: ignore[list-item]
    g_delta = g  # δ of the layer above, once there is one
    for l in reversed(range(depth)):
        delta = activation_backward(acts[l], g, z[l], a[l + 1])
        if emit:
            if l == depth - 1:
                inputs = {"dL_dy_hat": _frozen(g), "z": z[l]}
            else:
                inputs = {"W_next": W[l + 1], "delta_next": g_delta, "z": z[l]}
            emit("backward", l + 1, "delta", formulas["delta", l + 1],
                 {**inputs, "delta": _frozen(delta)}, ("delta",))
        dW[l] = delta.T @ a[l]
        db[l] = delta.sum(axis=0)
        if emit:
            emit("backward", l + 1, "grad", formulas["grad", l + 1],
                 {"delta": delta, "a_prev": a[l], "dW": _frozen(dW[l]), "db": _frozen(db[l])}, ("dW", "db"))
        if l:
            g = delta @ W[l]
            g_delta = delta

    new_W, new_b, new_vW, new_vb = [], [], [], []
    for l in range(depth):
        W_l, step_W, vW = _sgd(config, W[l], dW[l], params.vW[l], emit is not None)
        b_l, step_b, vb = _sgd(config, b[l], db[l], params.vb[l], emit is not None)
        for array in (W_l, b_l, vW, vb):
            if array is not None:
                _frozen(array)
        new_W.append(W_l)
        new_b.append(b_l)
        new_vW.append(vW)
        new_vb.append(vb)
        if emit:
            assert step_W is not None and step_b is not None  # _sgd keeps the steps when emitting
            tensors = {"W_before": W[l], "dW": dW[l], "step_W": _frozen(step_W), "W": W_l,
                       "b_before": b[l], "db": db[l], "step_b": _frozen(step_b), "b": b_l}
            if vW is not None:
                tensors["vW"], tensors["vb"] = vW, vb  # type: ignore[assignment]  # both set together
            emit("update", l + 1, "update", formulas["update", l + 1], tensors, ("W", "b"))
    return Params(tuple(new_W), tuple(new_b), tuple(new_vW), tuple(new_vb)), float(loss)

"""The fast path: training iterations without records, their temporaries in buffers kept between iterations.

Batch rows: z⁽ˡ⁾, a⁽ˡ⁾ and δ⁽ˡ⁾ have shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).

`network.iterate` defines an iteration and makes the stepping path's
records. `FastPath` runs the same NumPy operations in the same order, so the
new parameters are the bits stepping gives (tests/engine/test_fast_path.py),
without what only records need: every z, a, δ, ∂L/∂ŷ, dW, db and loss
temporary is written with `out=` into arrays made once per batch size; which
activation, loss and update each layer runs is decided once, when the path is
built; products are `np.dot(…, out=)`, the cheapest call for a small matrix
(iterate uses `np.dot` too). Only what outlives the iteration is new: the
parameters and optimizer state, which checkpoints and the session's frontier
share, made read-only as iterate's are. No buffer ever leaves a call: an
optimizer kernel that kept its gradient as state would freeze a buffer, and
the next iteration would fail loudly writing to it.

Dropout, L1, frozen parameters and a softmax layer run `iterate` instead
(`fast_path` decides); so does anything a `FastPath` is not built for.
Not thread-safe (one session, one thread), like the session that owns it.
"""

from __future__ import annotations

from sys import getrefcount
from types import MappingProxyType
from typing import Any

import numpy as np

from .config import Config
from .functions import loss_and_grad
from .network import _NO_STATE, Params, batch_rows, iterate

_make = Params._make  # a named tuple from a tuple, without __new__'s keyword handling
_BCE_EPSILON = float(np.float32(1e-12))  # torch clamps BCE's p(1 − p) at 1e-12 stored as a float32
_ACTIVATIONS = frozenset({"identity", "relu", "leaky_relu", "tanh", "sigmoid"})
dot, add, sub, mul, div = np.dot, np.add, np.subtract, np.multiply, np.divide
maximum, greater, where = np.maximum, np.greater, np.where


class _Buffers:
    """Every temporary of an iteration on B rows, made once (an epoch's last batch may be shorter)."""

    __slots__ = ("a", "dW", "db", "delta", "g", "mask", "o1", "o2", "row", "row2", "t", "x", "y", "z")

    def __init__(self, config: Config, B: int) -> None:
        dtype = np.dtype(config.dtype)
        layers = config.layers
        self.z = [np.empty((B, len(b)), dtype) for _, b in layers]
        # a[l] is the input of layer l + 1 (a[0] is x, filled per call); identity layers pass z on.
        self.a: list[Any] = [None] + [z if f == "identity" else np.empty_like(z)
                                      for z, f in zip(self.z, config.activations)]
        self.delta = [np.empty_like(z) for z in self.z]
        self.g = [np.empty_like(z) for z in self.z]  # ∂L/∂a⁽ˡ⁾; g[-1] is ∂L/∂ŷ
        self.t = [np.empty_like(z) for z in self.z]
        self.mask = [np.empty(z.shape, bool) for z in self.z]
        self.dW = [np.empty_like(W) for W, _ in layers]
        self.db = [np.empty_like(b) for _, b in layers]
        self.row = np.empty((B, 1), dtype)
        self.row2 = np.empty((B, 1), dtype)
        self.o1 = np.empty_like(self.z[-1])
        self.o2 = np.empty_like(self.z[-1])
        self.x = np.empty((B, config.x.shape[1]), config.x.dtype)
        self.y = np.empty((B, config.y.shape[1]), config.y.dtype)


class FastPath:
    """`iterate` without records for one config: `path.batch(i)`, then `path(params, x, y, i)` → (new params, loss).

    Bit-identical to `iterate(config, params, x, y, iteration=i)`. Build it
    with `fast_path(config)`, which falls back to iterate where this class
    does not apply.
    """

    def __init__(self, config: Config) -> None:
        if not applies(config):
            raise ValueError("the fast path's buffers do not cover this config; use fast_path()")
        self.config = config
        self.layers = tuple(range(config.depth))
        self.backward = tuple(reversed(self.layers))
        self.activations = config.activations
        self.slope = config.negative_slope
        self.loss = config.loss
        self.one_hot = config.labels is not None
        optimizer = config.optimizer
        self.lr = optimizer.lr
        self.plain_sgd = optimizer.kind == "sgd" and not (optimizer.momentum or optimizer.weight_decay)  # type: ignore[attr-defined]
        self.kernel = optimizer.kernel
        # Per layer: (0 for W / 1 for b, ((state name, key), …)) of each parameter the optimizer moves.
        self.updates = tuple(tuple((i, keys) for i, _, _, keys, _ in layer) for layer in config.schedule.updates)
        self.no_state = (_NO_STATE,) * config.depth
        self._buffers: dict[int, _Buffers] = {}
        # Large W⁽ˡ⁾ of plain SGD: arrays this path made that nothing holds any more, written again (_recycled).
        self._pools: list[list[np.ndarray] | None] = [[] if W.nbytes >= _POOLED else None for W, _ in config.layers]
        self._made_state: tuple[Any, ...] | None = None
        self._owns: list[list[Any]] = []
        self._one_batch = config.batches_per_epoch == 1 or not config.shuffle
        # Every iteration on all rows, in file order: the data itself, as Session._batch gives it.
        self._whole = (config.x, config.y) if config.batches_per_epoch == 1 else None
        self._epoch = -1
        self._order = np.empty(0, np.int64)

    def _buffers_for(self, B: int) -> _Buffers:
        buffers = self._buffers.get(B)
        if buffers is None:
            buffers = self._buffers[B] = _Buffers(self.config, B)
        return buffers

    def batch(self, iteration: int) -> tuple[np.ndarray, np.ndarray]:
        """The inputs and targets of 0-based `iteration`: views of the data, or rows gathered into a buffer.

        The rows are `network.batch_rows`'s; the epoch's permutation is drawn
        once per epoch instead of once per iteration.
        """
        config = self.config
        if self._whole is not None:
            return self._whole
        if self._one_batch:
            rows = batch_rows(config, iteration)
            return config.x[rows], config.y[rows]
        epoch, j = divmod(iteration, config.batches_per_epoch)
        if epoch != self._epoch:
            self._order = np.random.default_rng([config.seed, epoch]).permutation(len(config.x))
            self._epoch = epoch
        rows = self._order[j * config.batch_size:(j + 1) * config.batch_size]
        buffers = self._buffers_for(len(rows))
        # mode="clip": rows of a permutation are in range, and "raise" would copy through a buffer of its own.
        return (np.take(config.x, rows, axis=0, out=buffers.x, mode="clip"),
                np.take(config.y, rows, axis=0, out=buffers.y, mode="clip"))

    def __call__(self, params: Params, x: np.ndarray, y: np.ndarray, iteration: int = 0) -> tuple[Params, float]:
        """Train on one batch (x: (B, n_0), y: (B, n_L)); return the new parameters and the loss."""
        B = len(x)
        buffers = self._buffers.get(B) or self._buffers_for(B)
        W, b = params.W, params.b
        z, a, t, mask = buffers.z, buffers.a, buffers.t, buffers.mask
        acts, slope = self.activations, self.slope
        a[0] = x
        for l in self.layers:
            z_l = dot(a[l], W[l].T, out=z[l])
            add(z_l, b[l], out=z_l)
            f = acts[l]
            if f == "relu":
                maximum(z_l, 0.0, out=a[l + 1])
            elif f == "tanh":
                np.tanh(z_l, out=a[l + 1])
            elif f == "sigmoid":  # exp(−|z|), then 1/(1 + e) where z ≥ 0, e/(1 + e) elsewhere
                e, d = t[l], buffers.delta[l]
                np.abs(z_l, out=e)
                np.negative(e, out=e)
                np.exp(e, out=e)
                add(1.0, e, out=d)
                div(e, d, out=e)
                div(1.0, d, out=d)
                a[l + 1] = where(np.greater_equal(z_l, 0, out=mask[l]), d, e)
            elif f == "leaky_relu":  # the mask z > 0 serves the backward pass too
                a[l + 1] = where(greater(z_l, 0, out=mask[l]), z_l, mul(z_l, slope, out=t[l]))
        loss, g = self._loss(buffers, a[-1], y, B)
        for l in self.backward:
            f = acts[l]
            if f == "identity":
                delta = g
            elif f == "relu":
                delta = where(greater(z[l], 0, out=mask[l]), g, 0.0)
            elif f == "leaky_relu":
                delta = where(mask[l], g, mul(g, slope, out=t[l]))
            else:
                s, a_l = t[l], a[l + 1]
                if f == "tanh":  # g·(1 − a²)
                    mul(a_l, a_l, out=s)
                    sub(1.0, s, out=s)
                else:  # sigmoid: g·((1 − a)·a)
                    sub(1.0, a_l, out=s)
                    mul(s, a_l, out=s)
                delta = mul(g, s, out=buffers.delta[l])
            dot(delta.T, a[l], out=buffers.dW[l])
            add.reduce(delta, axis=0, out=buffers.db[l])
            if l:
                g = dot(delta, W[l], out=buffers.g[l - 1])
        a[0] = None  # the batch is not kept
        return self._update(params, buffers), float(loss)

    def _loss(self, buffers: _Buffers, y_hat: np.ndarray, y: np.ndarray, B: int) -> tuple[Any, np.ndarray]:
        """(loss, ∂L/∂ŷ) as functions.loss_and_grad computes them, into buffers."""
        kind, o1, o2, G = self.loss, buffers.o1, buffers.o2, buffers.g[-1]
        if kind == "cross_entropy":
            row, row2 = buffers.row, buffers.row2
            shifted = sub(y_hat, maximum.reduce(y_hat, axis=1, keepdims=True, out=row), out=o1)
            e = np.exp(shifted, out=o2)
            total = add.reduce(e, axis=1, keepdims=True, out=row)
            sub(shifted, np.log(total, out=row2), out=o1)
            loss = -add.reduce(mul(y, o1, out=o1), axis=None) / B
            div(e, total, out=G)  # p
            if not self.one_hot:  # one-hot rows sum to exactly 1.0: p·1 − y is p − y to the bit
                mul(G, add.reduce(y, axis=1, keepdims=True, out=row2), out=G)
            sub(G, y, out=G)
            div(G, B, out=G)
            return loss, G
        if kind == "mse":
            d = sub(y_hat, y, out=o1)
            loss = add.reduce(mul(d, d, out=o2), axis=None) / d.size
            return loss, mul(d, 2.0 / d.size, out=G)
        if kind == "bce":  # (y − 1)·max(log1p(−p), −100) − y·max(log p, −100); the session silences log 0
            terms = mul(sub(y, 1.0, out=o2), maximum(np.log1p(np.negative(y_hat, out=o1), out=o1), -100.0, out=o1), out=o1)
            sub(terms, mul(y, maximum(np.log(y_hat, out=o2), -100.0, out=o2), out=o2), out=terms)
            loss = add.reduce(terms, axis=None) / terms.size
            clamp = maximum(mul(sub(1.0, y_hat, out=o1), y_hat, out=o1), _BCE_EPSILON, out=o1)
            div(sub(y_hat, y, out=G), clamp, out=G)
            return loss, div(G, G.size, out=G)
        loss, grad, _ = loss_and_grad(kind, y_hat, y, one_hot=self.one_hot)
        return loss, grad

    def _update(self, params: Params, buffers: _Buffers) -> Params:
        """New parameters and optimizer state from dW and db: new read-only arrays, as iterate makes them."""
        W, b, dW, db = params.W, params.b, buffers.dW, buffers.db
        if self.plain_sgd:  # p − η·g written into the array holding η·g, as SGD.kernel does
            lr, pools = self.lr, self._pools
            new_W, new_b = [], []
            for l in self.layers:
                pool = pools[l]
                W_l = mul(dW[l], lr, out=_recycled(pool, dW[l]) if pool is not None else None)
                sub(W[l], W_l, out=W_l)
                W_l.setflags(write=False)
                new_W.append(W_l)
                b_l = mul(db[l], lr)
                sub(b[l], b_l, out=b_l)
                b_l.setflags(write=False)
                new_b.append(b_l)
            return _make((tuple(new_W), tuple(new_b), self.no_state, params.t + 1))
        kernel, t = self.kernel, params.t + 1
        new: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
        values, grads = (W, b), (dW, db)
        states = params.state or self.no_state
        # The kernel's own state dicts from the call that made `params.state` (held,
        # so the identity cannot be another tuple's): the next call's, as they are.
        owns = self._owns if params.state is self._made_state else None
        new_state, new_owns = [], []
        for l, layer_plan in enumerate(self.updates):
            layer_state = states[l]
            state: dict[str, np.ndarray] = {}
            layer_owns = []
            for i, keys in layer_plan:
                if owns is not None:
                    own = owns[l][i]
                else:
                    own = {name: layer_state[key] for name, key in keys if key in layer_state}
                value, kept = kernel(values[i][l], grads[i][l], own, t)
                value.setflags(write=False)
                new[i].append(value)
                for name, key in keys:
                    array = state[key] = kept[name]
                    array.setflags(write=False)
                layer_owns.append(kept)
            new_state.append(MappingProxyType(state) if state else _NO_STATE)
            new_owns.append(layer_owns)
        self._made_state, self._owns = tuple(new_state), new_owns
        return _make((tuple(new[0]), tuple(new[1]), self._made_state, t))


_POOLED = 64 * 2**10  # bytes: smaller arrays come quickly from NumPy's cache of small blocks
_POOL = 4  # arrays remembered per parameter


def _recycled(pool: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    """A writable array shaped like `like`: one of `pool` that only the pool still references, else a new one.

    A new W of 784→128→10 is 800 KB: the allocator hands such blocks back to
    the system and takes them again, page faults included (tens per
    iteration, a tenth of its time). The session drops the parameters of
    most iterations two iterations later; those arrays are written again
    instead. Only an array no one else can see is reused — a checkpoint, a
    remembered iteration, a record or a view holds a reference — so
    immutability holds for everything outside. CPython's reference count
    says so: the pool's list, the loop's name and getrefcount's argument.
    """
    for array in pool:
        if getrefcount(array) == 3:
            array.setflags(write=True)
            return array
    array = np.empty_like(like)
    if len(pool) >= _POOL:  # those held elsewhere (checkpoints) make way
        del pool[0]
    pool.append(array)
    return array


def applies(config: Config) -> bool:
    """True when FastPath covers the config: no dropout, L1, frozen parameter or softmax layer."""
    return (not any(config.dropout) and not config.l1 and not config.freeze
            and set(config.activations) <= _ACTIVATIONS)


class _Iterate:
    """The fast path for configs FastPath does not cover: iterate() without emit."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def batch(self, iteration: int) -> tuple[np.ndarray, np.ndarray]:
        rows = batch_rows(self.config, iteration)
        return self.config.x[rows], self.config.y[rows]

    def __call__(self, params: Params, x: np.ndarray, y: np.ndarray, iteration: int = 0) -> tuple[Params, float]:
        return iterate(self.config, params, x, y, iteration=iteration)


def fast_path(config: Config) -> FastPath | _Iterate:
    """The quickest bit-identical way to run the config's iterations without records."""
    return FastPath(config) if applies(config) else _Iterate(config)

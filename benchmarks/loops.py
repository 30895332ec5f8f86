"""The yardsticks the engine is measured against: a tight NumPy loop, a plain one, and PyTorch eager.

Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}), as in the engine.

The tight loop is the floor for a NumPy engine: the same forward, loss,
backward and update operations as `engine/network.py`, in the same order, with
every array preallocated and written with `out=` (products by `np.dot(…, out=)`,
reductions by the ufunc's `reduce`), parameters and optimizer state updated in
place, no records, no immutability. The plain loop is the earlier yardstick:
the same math written as plainly as possible (new arrays for every
temporary). Both give bit-identical parameters to the engine
(`check_same_math` proves it before any timing), so a ratio measures only
the engine's overhead.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from nnstep.engine import Config, Session


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# f(z) and ∂L/∂z from (g = ∂L/∂a, z, a): the same expressions as engine/functions.py.
_FORWARD: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "identity": lambda z: z,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
}
_BACKWARD: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "relu": lambda g, z, a: np.where(z > 0, g, 0.0),
    "identity": lambda g, z, a: g,
    "tanh": lambda g, z, a: g * (1.0 - a * a),
    "sigmoid": lambda g, z, a: g * ((1.0 - a) * a),
}


_EPSILON = float(np.float32(1e-12))




class TightLoop:
    """One iteration per `step()` in NumPy with every array preallocated and written with out=.

    The floor for a NumPy engine: the engine's ops in the engine's order
    (so the parameters are bit-identical to it), no records, no immutability,
    parameters and optimizer state updated in place, every temporary a
    buffer reused from one iteration to the next.
    """

    def __init__(self, config: Config) -> None:
        opt = config.optimizer
        if opt.kind not in ("sgd", "adam") or opt.weight_decay or getattr(opt, "nesterov", False) \
                or getattr(opt, "dampening", 0.0) or getattr(opt, "amsgrad", False) or config.loss not in ("cross_entropy", "bce") \
                or config.l1 or config.freeze or any(config.dropout) \
                or not set(config.activations) <= {"relu", "identity", "tanh", "sigmoid"}:
            raise ValueError("the tight loop covers the benchmark nets only")
        assert config.batch_size == len(config.x), "benchmark nets train full-batch"
        if config.loss == "cross_entropy":
            assert config.labels is not None, "the tight loop's cross-entropy takes class labels (one-hot rows)"
        self.x, self.y = config.x, config.y
        B, L = len(config.x), config.depth
        self.W = [W.copy() for W, _ in config.layers]
        self.b = [b.copy() for _, b in config.layers]
        self.WT = [W.T for W in self.W]  # views: they follow the in-place updates
        self.acts = config.activations
        self.z = [np.empty((B, len(b))) for b in self.b]
        # a[l] is the input of layer l + 1; identity layers share z's buffer.
        self.a = [self.x] + [z if f == "identity" else np.empty_like(z) for z, f in zip(self.z, self.acts)]
        self.delta = [np.empty_like(z) for z in self.z]
        self.g = [np.empty_like(z) for z in self.z]  # ∂L/∂a⁽ˡ⁾
        self.t1 = [np.empty_like(z) for z in self.z]
        self.t2 = [np.empty_like(z) for z in self.z]
        self.mask = [np.empty(z.shape, dtype=bool) for z in self.z]
        self.dW = [np.empty_like(W) for W in self.W]
        self.db = [np.empty_like(b) for b in self.b]
        self.sW = [np.empty_like(W) for W in self.W]  # scratch for an update
        self.sb = [np.empty_like(b) for b in self.b]
        out = self.z[-1]
        self.row = np.empty((B, 1))
        self.row2 = np.empty((B, 1))
        self.lt = np.empty_like(out)
        self.lt2 = np.empty_like(out)
        self.cross_entropy = config.loss == "cross_entropy"
        self.lr = config.lr
        self.momentum = getattr(opt, "momentum", 0.0)
        self.vW: list[np.ndarray | None] = [None] * L
        self.vb: list[np.ndarray | None] = [None] * L
        self.adam = opt.kind == "adam"
        if self.adam:
            self.beta1, self.beta2 = opt.betas  # type: ignore[attr-defined]
            self.eps = opt.eps  # type: ignore[attr-defined]
            self.mW = [np.zeros_like(W) for W in self.W]
            self.mb = [np.zeros_like(b) for b in self.b]
            self.vW = [np.zeros_like(W) for W in self.W]
            self.vb = [np.zeros_like(b) for b in self.b]
            self.t = 0
        self.layers = list(range(L))
        self.loss = 0.0

    def step(self) -> None:
        """Forward, loss, backward, update."""
        dot, add, mul, sub, div = np.dot, np.add, np.multiply, np.subtract, np.divide
        z, a, acts, t1, t2 = self.z, self.a, self.acts, self.t1, self.t2
        for l in self.layers:
            zl = z[l]
            dot(a[l], self.WT[l], out=zl)
            add(zl, self.b[l], out=zl)
            f = acts[l]
            if f == "relu":
                np.maximum(zl, 0.0, out=a[l + 1])
            elif f == "tanh":
                np.tanh(zl, out=a[l + 1])
            elif f == "sigmoid":  # exp(−|z|), then 1/(1 + e) or e/(1 + e) by the sign of z
                e, d = t1[l], t2[l]
                np.abs(zl, out=e)
                np.negative(e, out=e)
                np.exp(e, out=e)
                add(1.0, e, out=d)
                np.greater_equal(zl, 0.0, out=self.mask[l])
                a[l + 1] = np.where(self.mask[l], div(1.0, d), div(e, d, out=e))
        y_hat, y, n = a[-1], self.y, len(self.y)
        g = self.g[-1]
        lt, lt2 = self.lt, self.lt2
        if self.cross_entropy:
            np.maximum.reduce(y_hat, axis=1, keepdims=True, out=self.row)
            sub(y_hat, self.row, out=lt)  # shifted
            np.exp(lt, out=lt2)  # e
            add.reduce(lt2, axis=1, keepdims=True, out=self.row)  # Σe
            np.log(self.row, out=self.row2)
            sub(lt, self.row2, out=lt)
            mul(y, lt, out=lt)
            self.loss = -add.reduce(lt, axis=None) / n
            div(lt2, self.row, out=g)  # p
            sub(g, y, out=g)  # one-hot rows: p·Σy − y = p − y exactly
            div(g, n, out=g)
        else:  # bce on probabilities: logs clamped at -100 and p(1 − p) at float32(1e-12), as torch does
            np.negative(y_hat, out=lt)
            np.log1p(lt, out=lt)
            np.maximum(lt, -100.0, out=lt)
            sub(y, 1.0, out=lt2)
            mul(lt2, lt, out=lt)
            np.log(y_hat, out=lt2)
            np.maximum(lt2, -100.0, out=lt2)
            mul(y, lt2, out=lt2)
            sub(lt, lt2, out=lt)
            self.loss = add.reduce(lt, axis=None) / lt.size
            sub(1.0, y_hat, out=lt)
            mul(lt, y_hat, out=lt)
            np.maximum(lt, _EPSILON, out=lt)
            sub(y_hat, y, out=g)
            div(g, lt, out=g)
            div(g, y.size, out=g)
        if self.adam:
            self.t += 1
            bias1, bias2 = 1.0 - self.beta1**self.t, 1.0 - self.beta2**self.t
        for l in reversed(self.layers):
            f = acts[l]
            if f == "identity":
                delta = g
            elif f == "relu":
                np.greater(z[l], 0.0, out=self.mask[l])
                delta = np.where(self.mask[l], g, 0.0)
            else:
                delta, s, al = self.delta[l], t1[l], a[l + 1]
                if f == "tanh":  # g·(1 − a²)
                    mul(al, al, out=s)
                    sub(1.0, s, out=s)
                else:  # sigmoid: g·((1 − a)·a)
                    sub(1.0, al, out=s)
                    mul(s, al, out=s)
                mul(g, s, out=delta)
            dW, db = self.dW[l], self.db[l]
            dot(delta.T, a[l], out=dW)
            add.reduce(delta, axis=0, out=db)
            if l:
                g = dot(delta, self.W[l], out=self.g[l - 1])
            if self.adam:
                self._adam(self.W[l], dW, self.mW[l], self.vW[l], self.sW[l], bias1, bias2)
                self._adam(self.b[l], db, self.mb[l], self.vb[l], self.sb[l], bias1, bias2)
                continue
            if self.momentum:
                if self.vW[l] is None:
                    self.vW[l], self.vb[l] = dW.copy(), db.copy()
                else:
                    vW, vb = self.vW[l], self.vb[l]
                    mul(vW, self.momentum, out=vW)
                    add(vW, dW, out=vW)
                    mul(vb, self.momentum, out=vb)
                    add(vb, db, out=vb)
                dW, db = self.vW[l], self.vb[l]
            W, b, sW, sb = self.W[l], self.b[l], self.sW[l], self.sb[l]
            sub(W, mul(dW, self.lr, out=sW), out=W)
            sub(b, mul(db, self.lr, out=sb), out=b)

    def _adam(self, p, g, m, v, tmp, bias1: float, bias2: float) -> None:
        """torch.optim.Adam's update of one tensor, in place: the same operations as engine/optim.py."""
        np.subtract(g, m, out=tmp)
        tmp *= 1.0 - self.beta1
        m += tmp  # m + (1 − β₁)(g − m): torch's lerp
        v *= self.beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - self.beta2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(bias2)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= -(self.lr / bias1)
        p += tmp


class BareLoop:
    """One iteration per `step()` on the config's first batch, in plain NumPy: the earlier yardstick.

    Supports what the benchmark nets use: relu/identity/tanh/sigmoid,
    cross-entropy on logits with one-hot targets, BCE, plain or momentum SGD,
    and Adam — each updated in place, with preallocated state.
    """

    def __init__(self, config: Config) -> None:
        opt = config.optimizer
        if opt.kind not in ("sgd", "adam") or opt.weight_decay or getattr(opt, "nesterov", False) \
                or getattr(opt, "dampening", 0.0) or getattr(opt, "amsgrad", False) or config.loss == "mse" \
                or config.l1 or config.freeze or any(config.dropout):
            raise ValueError("the bare loop covers the benchmark nets only")
        self.adam = opt.kind == "adam"
        if self.adam:
            self.beta1, self.beta2 = opt.betas  # type: ignore[attr-defined]
            self.eps = opt.eps  # type: ignore[attr-defined]
            self.mW = [np.zeros_like(W) for W, _ in config.layers]
            self.mb = [np.zeros_like(b) for _, b in config.layers]
            self.sW = [np.zeros_like(W) for W, _ in config.layers]
            self.sb = [np.zeros_like(b) for _, b in config.layers]
            self.t = 0
        assert config.batch_size == len(config.x), "benchmark nets train full-batch"
        self.x, self.y = config.x, config.y
        self.W = [W.copy() for W, _ in config.layers]
        self.b = [b.copy() for _, b in config.layers]
        self.vW: list[np.ndarray | None] = [None] * config.depth
        self.vb: list[np.ndarray | None] = [None] * config.depth
        self.f = [_FORWARD[name] for name in config.activations]
        self.df = [_BACKWARD[name] for name in config.activations]
        self.cross_entropy = config.loss == "cross_entropy"
        self.lr, self.momentum = config.lr, getattr(opt, "momentum", 0.0)
        self.loss = 0.0

    def step(self) -> None:
        """Forward, loss, backward, SGD update."""
        W, b, y = self.W, self.b, self.y
        zs, acts = [], [self.x]
        for l in range(len(W)):
            zs.append(acts[-1] @ W[l].T + b[l])
            acts.append(self.f[l](zs[-1]))
        y_hat = acts[-1]
        if self.cross_entropy:
            shifted = y_hat - y_hat.max(axis=1, keepdims=True)
            e = np.exp(shifted)
            total = e.sum(axis=1, keepdims=True)
            self.loss = -(y * (shifted - np.log(total))).sum() / len(y)
            g = (e / total - y) / len(y)  # one-hot rows: p·Σy − y = p − y exactly
        else:  # bce on probabilities, logs clamped at -100 and p(1 − p) at float32(1e-12), as torch does
            with np.errstate(divide="ignore"):
                terms = (y - 1.0) * np.maximum(np.log1p(-y_hat), -100.0) - y * np.maximum(np.log(y_hat), -100.0)
            self.loss = terms.sum() / terms.size
            g = (y_hat - y) / np.maximum((1.0 - y_hat) * y_hat, _EPSILON) / y.size
        if self.adam:
            self.t += 1
            bias1, bias2 = 1.0 - self.beta1**self.t, 1.0 - self.beta2**self.t
        for l in reversed(range(len(W))):
            delta = self.df[l](g, zs[l], acts[l + 1])
            dW, db = delta.T @ acts[l], delta.sum(axis=0)
            if l:
                g = delta @ W[l]
            if self.adam:
                for p, grad, m, v in ((W[l], dW, self.mW[l], self.sW[l]), (b[l], db, self.mb[l], self.sb[l])):
                    self._adam(p, grad, m, v, bias1, bias2)
                continue
            if self.momentum:
                if self.vW[l] is None:
                    self.vW[l], self.vb[l] = dW.copy(), db.copy()
                else:
                    self.vW[l] = self.vW[l] * self.momentum + dW
                    self.vb[l] = self.vb[l] * self.momentum + db
                dW, db = self.vW[l], self.vb[l]
            W[l] -= self.lr * dW
            b[l] -= self.lr * db

    def _adam(self, p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, bias1: float, bias2: float) -> None:
        """torch.optim.Adam's update of one tensor, in place: the same operations as engine/optim.py."""
        tmp = g - m
        tmp *= 1.0 - self.beta1
        m += tmp  # m + (1 − β₁)(g − m): torch's lerp
        v *= self.beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - self.beta2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(bias2)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= -(self.lr / bias1)
        p += tmp


class TorchLoop:
    """The same net and SGD in PyTorch eager: nn.Linear layers, torch.optim.SGD, float64."""

    def __init__(self, config: Config) -> None:
        import torch
        from torch import nn

        acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "identity": nn.Identity}
        layers: list[nn.Module] = []
        for (W, b), name in zip(config.layers, config.activations):
            linear = nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(W.copy()))
                linear.bias.copy_(torch.from_numpy(b.copy()))
            layers += [linear, acts[name]()]
        self.model = nn.Sequential(*layers)
        self.x = torch.from_numpy(config.x.copy())
        if config.loss == "cross_entropy":
            self.y = torch.from_numpy(config.labels.copy())
            self.loss_fn: nn.Module = nn.CrossEntropyLoss()
        else:
            self.y = torch.from_numpy(config.y.copy())
            self.loss_fn = nn.BCELoss()
        opt = config.optimizer
        if opt.kind == "adam":
            self.optimizer: torch.optim.Optimizer = torch.optim.Adam(self.model.parameters(), lr=opt.lr, betas=opt.betas)  # type: ignore[attr-defined]
        else:
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=opt.lr, momentum=getattr(opt, "momentum", 0.0))

    def step(self) -> None:
        """zero_grad, forward, loss, backward, optimizer step."""
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()

    def weights(self) -> list[np.ndarray]:
        """W⁽ˡ⁾ as NumPy arrays."""
        from torch import nn

        return [m.weight.detach().numpy() for m in self.model if isinstance(m, nn.Linear)]


def check_same_math(config: Config, iterations: int = 20, torch_loop: bool = False,
                    loop: type = TightLoop) -> float:
    """Train engine and yardstick side by side; return the largest |ΔW| (0.0 for the NumPy loops).

    Raises AssertionError if the NumPy `loop` (TightLoop or BareLoop) is not
    bit-identical to the engine, or PyTorch differs by more than 1e-10.
    """
    session = Session(config)
    session.train(iterations)
    engine_W = session.state.W
    if torch_loop:
        loop = TorchLoop(config)
        for _ in range(iterations):
            loop.step()
        theirs = loop.weights()
    else:
        numpy_loop = loop(config)
        for _ in range(iterations):
            numpy_loop.step()
        theirs = numpy_loop.W
    worst = max(float(np.max(np.abs(a - b))) for a, b in zip(engine_W, theirs))
    if torch_loop:
        assert worst <= 1e-10, f"{config.name}: PyTorch differs from the engine by {worst:.3g}"
    else:
        assert worst == 0.0, f"{config.name}: the {loop.__name__} is not bit-identical to the engine ({worst:.3g})"
    return worst

"""The two yardsticks the engine is measured against: a bare NumPy loop and PyTorch eager.

Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}), as in the engine.

The bare loop is the floor for a NumPy engine: the same forward, loss,
backward and SGD math as `engine/network.py`, written as plainly as
possible — no records, no immutability, parameters updated in place. It
gives bit-identical parameters to the engine (`check_same_math` proves it
before any timing), so the ratio measures only the engine's overhead.
"""

from __future__ import annotations

import math
from typing import Callable

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


class BareLoop:
    """One iteration per `step()` on the config's first batch, in plain NumPy.

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


def check_same_math(config: Config, iterations: int = 20, torch_loop: bool = False) -> float:
    """Train engine and yardstick side by side; return the largest |ΔW| (0.0 for the bare loop).

    Raises AssertionError if the bare loop is not bit-identical to the
    engine, or PyTorch differs by more than 1e-10.
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
        bare = BareLoop(config)
        for _ in range(iterations):
            bare.step()
        theirs = bare.W
    worst = max(float(np.max(np.abs(a - b))) for a, b in zip(engine_W, theirs))
    if torch_loop:
        assert worst <= 1e-10, f"{config.name}: PyTorch differs from the engine by {worst:.3g}"
    else:
        assert worst == 0.0, f"{config.name}: the bare loop is not bit-identical to the engine ({worst:.3g})"
    return worst

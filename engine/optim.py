"""Optimizers as parts: SGD, Adam, AdamW and RMSprop, each exactly as torch.optim computes it.

An optimizer is a frozen dataclass whose fields are its hyperparameters. It
declares the state it keeps per parameter tensor (`state_names`), its update
formula with the values filled in (`formula`), how one number of the update
works out (`worked`), and `step`, which applies one update to one tensor.
Nothing else in nnstep knows what an optimizer does: the schedule asks it
for names and formulas, the network asks it for steps.

Shapes: a parameter P is W⁽ˡ⁾ (n_l, n_{l-1}) or b⁽ˡ⁾ (n_l,); its gradient g
and every state tensor have P's shape. `step` never changes an array in
place: it returns new ones, so records and checkpoints can share them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import cached_property
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

State = Mapping[str, np.ndarray]
_EMPTY: Mapping[str, np.ndarray] = MappingProxyType({})


# The symbols of torch.optim's documentation: η lr, μ momentum, τ dampening, λ weight decay.
SYMBOLS = {"lr": "η", "momentum": "μ", "dampening": "τ", "weight_decay": "λ", "betas": "β", "eps": "ε", "alpha": "α"}
SUBSCRIPTS = "₁₂"


def num(value: float) -> str:
    """A hyperparameter as a person writes it: 0.9, 1e-08, 0.001."""
    return f"{value:g}"


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """torch.lerp on the CPU: start + w·(end − start) for w < 0.5, else end − (end − start)·(1 − w)."""
    d = end - start
    if weight < 0.5:
        d *= weight
        return np.add(start, d, out=d)
    d *= 1.0 - weight
    return np.subtract(end, d, out=d)


@dataclass(frozen=True)
class Optimizer:
    """What every optimizer part declares. Subclasses add their hyperparameters as fields."""

    kind: ClassVar[str] = ""
    # Short names of the state kept per parameter, in display order: for P = W
    # the record's tensors are f"{name}_W" (e.g. m_W, v_W). `shown` adds
    # values computed for the record only (Adam's m̂, v̂).
    state: ClassVar[tuple[str, ...]] = ()
    shown: ClassVar[tuple[str, ...]] = ()
    symbols: ClassVar[dict[str, str]] = {}

    lr: float = 0.001
    weight_decay: float = 0.0

    def hyperparameters(self) -> dict[str, Any]:
        """Every hyperparameter by its config key, with its value."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def settings(self) -> str:
        """The hyperparameters that shape the update, by their symbols: "η = 0.5, μ = 0.9" (flags by name when on)."""
        parts = []
        for key, value in self.hyperparameters().items():
            if isinstance(value, bool):
                parts += [key] if value else []
            elif isinstance(value, tuple):
                parts += [f"{SYMBOLS[key]}{SUBSCRIPTS[i]} = {num(v)}" for i, v in enumerate(value)]
            elif value or key == "lr":
                parts.append(f"{SYMBOLS.get(key, key)} = {num(value)}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The [optimizer] table that makes this optimizer again."""
        return {"kind": self.kind, **{k: list(v) if isinstance(v, tuple) else v for k, v in self.hyperparameters().items()}}

    def state_names(self) -> tuple[str, ...]:
        """The state kept between iterations, given these hyperparameters."""
        return self.state

    def record_names(self) -> tuple[str, ...]:
        """State plus the values an update record shows (e.g. m̂, v̂)."""
        return self.state_names() + self.shown

    def step(self, p: np.ndarray, g: np.ndarray, state: State, t: int) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """One update of tensor `p` with gradient `g` at step t (1-based).

        Returns (new p, new state, values to show: new state plus any extras).
        """
        raise NotImplementedError

    def fast_step(self, p: np.ndarray, g: np.ndarray, state: State, t: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """`step` without the values only a record shows: (new p, new state), the same bits."""
        new_p, new, _ = self.step(p, g, state, t)
        return new_p, new

    @cached_property
    def kernel(self) -> Callable[[np.ndarray, np.ndarray, State, int], tuple[np.ndarray, dict[str, np.ndarray]]]:
        """The fast path's update, chosen once for these hyperparameters (`fast_step` unless a part has a quicker one)."""
        return self.fast_step

    def formula(self, P: str) -> str:
        """The update of parameter P (e.g. "W⁽²⁾"), hyperparameters filled in."""
        raise NotImplementedError

    def worked(self, P: str, tensors: Mapping[str, np.ndarray], t: int, cell: tuple[int, ...], fmt: Any) -> str:
        """One number of the update worked out: P⁽ˡ⁾ᵢⱼ := … = value (fmt formats a number)."""
        raise NotImplementedError


@dataclass(frozen=True)
class SGD(Optimizer):
    """torch.optim.SGD: weight decay, momentum with dampening, Nesterov."""

    kind: ClassVar[str] = "sgd"
    symbols: ClassVar[dict[str, str]] = {"v": "v"}
    lr: float = 0.01
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False

    def state_names(self) -> tuple[str, ...]:
        return ("v",) if self.momentum else ()

    def step(self, p, g, state, t):  # type: ignore[no-untyped-def]
        if self.weight_decay:
            g = g + self.weight_decay * p
        new: dict[str, np.ndarray] = {}
        if self.momentum:
            v = state.get("v")
            # torch: the buffer starts as a copy of the first gradient.
            v = g.copy() if v is None else v * self.momentum + (1.0 - self.dampening) * g
            new["v"] = v
            g = g + self.momentum * v if self.nesterov else v
        step = -self.lr * g
        return p + step, new, {**new, "step": step}

    @cached_property
    def kernel(self):  # type: ignore[no-untyped-def]
        lr, mu, decay, nesterov = self.lr, self.momentum, self.weight_decay, self.nesterov
        damping = 1.0 - self.dampening

        def plain(p, g, state, t):  # type: ignore[no-untyped-def]
            # p − η·g written into the array holding η·g: one new array instead of
            # two. Bit-identical to step(): −(η·g) is exact, and p + (−s) is p − s.
            new_p = lr * g
            np.subtract(p, new_p, out=new_p)
            return new_p, _EMPTY

        if not mu and not decay:
            return plain

        def momentum(p, g, state, t):  # type: ignore[no-untyped-def]
            # step()'s operations, each into an array it made: 1.0·g is g to the
            # bit, so without dampening that product is skipped.
            if decay:
                g = np.add(g, np.multiply(p, decay))  # g + λ·p
            if not mu:
                return plain(p, g, state, t)
            v = state.get("v")
            if v is None:
                v = g.copy()
            else:
                v = np.multiply(v, mu)
                np.add(v, np.multiply(g, damping) if damping != 1.0 else g, out=v)
            applied = np.add(g, np.multiply(v, mu)) if nesterov else v
            new_p = np.multiply(applied, lr, out=None if applied is v else applied)
            np.subtract(p, new_p, out=new_p)
            return new_p, {"v": v}

        return momentum

    def formula(self, P: str) -> str:
        lr = num(self.lr)
        g = f"∂L/∂{P}" if not self.weight_decay else f"(∂L/∂{P} + {num(self.weight_decay)}·{P})"
        if not self.momentum:
            return f"{P} := {P} − {lr}·{g}"
        mu = num(self.momentum)
        damp = f"(1 − {num(self.dampening)})·" if self.dampening else ""
        applied = f"(g + {mu}·v)" if self.nesterov else "v"
        return f"g = {g};  v := {mu}·v + {damp}g;  {P} := {P} − {lr}·{applied}"

    def worked(self, P, tensors, t, cell, fmt):  # type: ignore[no-untyped-def]
        before, after = fmt(tensors[f"{P}_before"][cell]), fmt(tensors[P][cell])
        g = fmt(tensors[f"d{P}"][cell])
        if self.weight_decay:
            g = f"({g} + {num(self.weight_decay)}·{before})"
        if self.momentum:
            v = fmt(tensors[f"v_{P}"][cell])
            g = f"({g} + {num(self.momentum)}·{v})" if self.nesterov else v
        return f"{before} − {num(self.lr)}·{g} = {after}"


@dataclass(frozen=True)
class Adam(Optimizer):
    """torch.optim.Adam (and AdamW with decoupled weight decay); amsgrad keeps the largest v."""

    kind: ClassVar[str] = "adam"
    shown: ClassVar[tuple[str, ...]] = ("m_hat", "v_hat")
    symbols: ClassVar[dict[str, str]] = {"m": "m", "v": "v", "v_max": "vₘₐₓ", "m_hat": "m̂", "v_hat": "v̂"}
    decoupled: ClassVar[bool] = False
    lr: float = 0.001
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    amsgrad: bool = False

    def state_names(self) -> tuple[str, ...]:
        return ("m", "v", "v_max") if self.amsgrad else ("m", "v")

    def step(self, p, g, state, t):  # type: ignore[no-untyped-def]
        new_p, new, step = self._update(p, g, state, t, True)
        beta1, beta2 = self.betas
        second = new.get("v_max", new["v"])
        shown = {**new, "m_hat": new["m"] / (1.0 - beta1**t), "v_hat": second / (1.0 - beta2**t), "step": step}
        return new_p, new, shown

    @cached_property
    def kernel(self):  # type: ignore[no-untyped-def]
        update = self._update

        def fast(p, g, state, t):  # type: ignore[no-untyped-def]
            new_p, new, _ = update(p, g, state, t, False)
            return new_p, new

        return fast

    @cached_property
    def _update(self):  # type: ignore[no-untyped-def]
        """torch's single-tensor Adam, in as few new arrays as immutability allows (m, v, p and a temporary).

        A closure over the hyperparameters, built once: the fast path calls it
        for every tensor of every iteration. `_update(p, g, state, t, keep_step)`
        returns (new p, new state, the step or None).
        """
        (beta1, beta2), lr, eps, decay = self.betas, self.lr, self.eps, self.weight_decay
        decoupled, amsgrad = self.decoupled, self.amsgrad
        w1, w2 = 1.0 - beta1, 1.0 - beta2
        lerp_fast = w1 < 0.5
        bias_of: dict[int, tuple[float, float]] = {}

        def update(p, g, state, t, keep_step):  # type: ignore[no-untyped-def]
            before = p
            if decay:
                if decoupled:
                    p = p * (1.0 - lr * decay)
                else:
                    g = g + decay * p
            m = state.get("m")
            v = state.get("v")
            if m is None:  # torch starts both moments at zero
                m = np.zeros_like(g)
            if v is None:
                v = np.zeros_like(g)
            # m + (1 − β₁)(g − m): torch's lerp, in one new array.
            d = g - m
            if lerp_fast:
                d *= w1
                m = np.add(m, d, out=d)
            else:
                d *= 1.0 - w1
                m = np.subtract(g, d, out=d)
            tmp = g * g
            tmp *= w2
            v = v * beta2
            v += tmp  # v·β₂ + (1 − β₂)·g², as torch's mul_ then addcmul_
            new = {"m": m, "v": v}
            bias = bias_of.get(t)
            if bias is None:
                bias = bias_of[t] = (-(lr / (1.0 - beta1**t)), math.sqrt(1.0 - beta2**t))
                if len(bias_of) > 8:
                    bias_of.pop(next(iter(bias_of)))
            second = v
            if amsgrad:
                previous = state.get("v_max")
                second = v if previous is None else np.maximum(previous, v)
                new["v_max"] = second
            np.sqrt(second, out=tmp)
            tmp /= bias[1]
            tmp += eps  # the denominator √v̂ + ε
            np.divide(m, tmp, out=tmp)
            tmp *= bias[0]  # the step −(η/(1 − β₁ᵗ))·m/(√v/√(1 − β₂ᵗ) + ε)
            if keep_step:
                new_p = p + tmp
                # The step shown is the whole change, AdamW's decay included: P = P_before + step.
                return new_p, new, (new_p - before if p is not before else tmp)
            np.add(p, tmp, out=tmp)
            return tmp, new, None

        return update

    def formula(self, P: str) -> str:
        b1, b2 = (num(b) for b in self.betas)
        lr = num(self.lr)
        g = f"∂L/∂{P}"
        if self.weight_decay and not self.decoupled:
            g = f"(∂L/∂{P} + {num(self.weight_decay)}·{P})"
        v_used = "vₘₐₓ" if self.amsgrad else "v"
        keep = ",  vₘₐₓ := max(vₘₐₓ, v)" if self.amsgrad else ""
        decay = f"{P} := (1 − {lr}·{num(self.weight_decay)})·{P};  " if self.weight_decay and self.decoupled else ""
        return (f"{decay}g = {g};  m := {b1}·m + (1 − {b1})·g,  v := {b2}·v + (1 − {b2})·g²{keep};  "
                f"m̂ = m/(1 − {b1}ᵗ),  v̂ = {v_used}/(1 − {b2}ᵗ);  "
                f"{P} := {P} − {lr}·m̂/(√v̂ + {num(self.eps)})")

    def worked(self, P, tensors, t, cell, fmt):  # type: ignore[no-untyped-def]
        before, after = tensors[f"{P}_before"], tensors[P]
        m_hat, v_hat = tensors[f"m_hat_{P}"][cell], tensors[f"v_hat_{P}"][cell]
        start = fmt(before[cell])
        if self.weight_decay and self.decoupled:
            start = f"(1 − {num(self.lr)}·{num(self.weight_decay)})·{start}"
        return (f"{start} − {num(self.lr)}·{fmt(m_hat)}/(√{fmt(v_hat)} + {num(self.eps)}) = {fmt(after[cell])}"
                f"  (t = {t})")


@dataclass(frozen=True)
class AdamW(Adam):
    """torch.optim.AdamW: Adam whose weight decay shrinks W directly (default 0.01)."""

    kind: ClassVar[str] = "adamw"
    decoupled: ClassVar[bool] = True
    weight_decay: float = 0.01


@dataclass(frozen=True)
class RMSprop(Optimizer):
    """torch.optim.RMSprop: square average, optionally centered, optionally with momentum."""

    kind: ClassVar[str] = "rmsprop"
    symbols: ClassVar[dict[str, str]] = {"v": "v", "g_avg": "ḡ", "buf": "buf"}
    lr: float = 0.01
    alpha: float = 0.99
    eps: float = 1e-8
    momentum: float = 0.0
    centered: bool = False

    def state_names(self) -> tuple[str, ...]:
        return ("v",) + (("g_avg",) if self.centered else ()) + (("buf",) if self.momentum else ())

    def step(self, p, g, state, t):  # type: ignore[no-untyped-def]
        if self.weight_decay:
            g = g + self.weight_decay * p
        zeros = np.zeros_like(g)
        v = state.get("v", zeros) * self.alpha + (1.0 - self.alpha) * (g * g)
        new = {"v": v}
        if self.centered:
            g_avg = _lerp(state.get("g_avg", zeros), g, 1.0 - self.alpha)
            new["g_avg"] = g_avg
            avg = np.sqrt(v - g_avg * g_avg) + self.eps
        else:
            avg = np.sqrt(v) + self.eps
        if self.momentum:
            buf = state.get("buf", zeros) * self.momentum + g / avg
            new["buf"] = buf
            step = -self.lr * buf
        else:
            step = -self.lr * (g / avg)
        return p + step, new, {**new, "step": step}

    def formula(self, P: str) -> str:
        a, lr, eps = num(self.alpha), num(self.lr), num(self.eps)
        g = f"∂L/∂{P}" if not self.weight_decay else f"(∂L/∂{P} + {num(self.weight_decay)}·{P})"
        text = f"g = {g};  v := {a}·v + (1 − {a})·g²;  "
        denom = f"(√v + {eps})"
        if self.centered:
            text += f"ḡ := {a}·ḡ + (1 − {a})·g;  "
            denom = f"(√(v − ḡ²) + {eps})"
        if self.momentum:
            return text + f"buf := {num(self.momentum)}·buf + g/{denom};  {P} := {P} − {lr}·buf"
        return text + f"{P} := {P} − {lr}·g/{denom}"

    def worked(self, P, tensors, t, cell, fmt):  # type: ignore[no-untyped-def]
        before, after, step = tensors[f"{P}_before"], tensors[P], tensors[f"step_{P}"]
        if self.momentum or self.centered or self.weight_decay:
            return f"{fmt(before[cell])} + ({fmt(step[cell])}) = {fmt(after[cell])}"
        grad, v = tensors[f"d{P}"][cell], tensors[f"v_{P}"][cell]
        return (f"{fmt(before[cell])} − {num(self.lr)}·{fmt(grad)}/(√{fmt(v)} + {num(self.eps)}) = {fmt(after[cell])}")


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.kind: cls for cls in (SGD, Adam, AdamW, RMSprop)}

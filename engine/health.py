"""Gradient health per layer: norms, update ratio, dead and saturated units, judged against the output layer.

A layer is vanishing when its ‖δ‖ is SHRINK× smaller than the output
layer's and its weights barely move (update ratio below RATIO_LOW), as in a
deep sigmoid net stuck at loss ln 2; exploding when ‖δ‖ grew SHRINK× on the
way down and the steps are large for the weights.

Read from the records of one iteration, by op name (the schedule says which
tensors each op holds). A frozen W⁽ˡ⁾ has no update step: its update ratio
is 0 and the layer is marked frozen. Batch rows: δ⁽ˡ⁾ has shape (B, n_l),
W⁽ˡ⁾ and dW⁽ˡ⁾ shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .breakpoints import saturated_fraction
from .functions import l2_norm
from .records import StepRecord

VANISHING = 1e-7  # ‖dW‖ below this: the layer has all but stopped learning
EXPLODING = 1e3  # ‖dW‖ above this: the next update will wreck the weights
RATIO_HIGH = 1e-1  # ‖ΔW‖/‖W‖ above this: steps too large for the weights
RATIO_LOW = 1e-4  # ‖ΔW‖/‖W‖ below this: the weights barely move
SHRINK = 10.0  # ‖δ‖ this many times smaller (or larger) than the output layer's: the signal vanished (exploded) on the way down


@dataclass(frozen=True)
class LayerHealth:
    """Health figures of layer `layer` for one iteration."""

    layer: int
    activation: str
    norm_W: float
    norm_dW: float
    norm_delta: float
    update_ratio: float
    dead: int
    units: int
    saturated: float
    frozen: bool = False  # W⁽ˡ⁾ is frozen: no update step
    shrink: float = 1.0  # ‖δ⁽ᴸ⁾‖ / ‖δ⁽ˡ⁾‖: how much the error signal shrank from the output layer down to this one
    solved: bool = False  # the loss is 0: no gradient is the right answer, not a vanishing one
    missing: tuple[str, ...] = ()  # figures the records do not hold (a partial trace): FIGURES names

    def known(self, figure: str) -> bool:
        """True when the records held what `figure` (one of FIGURES) is computed from."""
        return figure not in self.missing

    @property
    def warnings(self) -> tuple[str, ...]:
        """Plain-words warnings, empty when the layer looks healthy."""
        found = []
        # A figure the records lack is nan too: it is missing, not non-finite (a --stages trace).
        shown = [v for f, v in (("norm_dW", self.norm_dW), ("norm_W", self.norm_W)) if self.known(f)]
        if not all(np.isfinite(v) for v in shown):
            found.append("non-finite values")
        elif not self.known("norm_dW"):
            pass
        elif self.norm_dW < VANISHING:
            if not self.solved:
                found.append("vanishing gradient")
        elif self.norm_dW > EXPLODING:
            found.append("exploding gradient")
        elif self.shrink >= SHRINK and not self.frozen and self.update_ratio < RATIO_LOW:
            found.append(f"vanishing gradient: ‖δ‖ {self.shrink:.3g}× smaller than the output layer's, "
                         f"update ratio {self.update_ratio:.2g}")
        elif self.shrink <= 1 / SHRINK and self.update_ratio > RATIO_HIGH:
            found.append(f"exploding gradient: ‖δ‖ {1 / self.shrink:.3g}× larger than the output layer's")
        if np.isfinite(self.update_ratio) and self.update_ratio > RATIO_HIGH:
            found.append("update too large for the weights")
        if not self.known("dead"):
            pass
        elif self.activation in ("relu", "leaky_relu") and self.dead == self.units:
            found.append("every unit dead")
        elif self.dead > self.units // 2:
            found.append("most units dead")
        if self.saturated > 0.5 and self.known("saturated"):
            found.append("saturated")
        return tuple(found)

    @property
    def notes(self) -> tuple[str, ...]:
        """The warnings, after 'W frozen' for a frozen W⁽ˡ⁾ (a fact, not a warning)."""
        return (("W frozen",) if self.frozen else ()) + self.warnings


def _norm(array: np.ndarray) -> float:
    return l2_norm(array)


# The figures of a LayerHealth and the ops they are read from.
FIGURES = {"norm_W": "update", "norm_dW": "grad or update", "norm_delta": "delta", "update_ratio": "update",
           "dead": "activation", "saturated": "activation"}


def layer_health(records: Sequence[StepRecord], activations: Sequence[str]) -> list[LayerHealth]:
    """Health of every layer from one iteration's records (one per op of the schedule, or some of them)."""
    found: dict[int, dict[str, float]] = {}
    for record in records:
        if record.layer is None:
            continue
        entry = found.setdefault(record.layer, {})
        t = record.tensors
        if record.op == "linear":  # W before the update: what a forward-only trace has (an update op overrides it)
            entry.setdefault("norm_W", _norm(t["W"]))
        elif record.op == "activation":
            entry["dead"] = float(np.sum(np.all(t["z"] <= 0, axis=0)))
            entry["saturated"] = saturated_fraction(activations[record.layer - 1], t["a"])
        elif record.op == "delta":
            entry["norm_delta"] = _norm(t["delta"])
        elif record.op == "grad":
            entry["norm_dW"] = _norm(t["dW"])
        elif record.op == "update":
            entry["norm_W"] = _norm(t["W"])
            if "dW" in t:
                entry["norm_dW"] = _norm(t["dW"])
            if "step_W" not in t:  # W frozen: the update only reads it
                entry["frozen"] = 1.0
                entry["update_ratio"] = 0.0
                continue
            step = _norm(t["step_W"])
            entry["update_ratio"] = step / entry["norm_W"] if entry["norm_W"] else float("inf")
    result = []
    for layer in sorted(found):
        entry = found[layer]
        act = activations[layer - 1]
        result.append(
            LayerHealth(
                layer=layer,
                activation=act,
                norm_W=entry.get("norm_W", float("nan")),
                norm_dW=entry.get("norm_dW", float("nan")),
                norm_delta=entry.get("norm_delta", float("nan")),
                update_ratio=entry.get("update_ratio", float("nan")),
                dead=int(entry.get("dead", 0)) if act in ("relu", "leaky_relu") else 0,
                units=next((r.tensors["z"].shape[1] for r in records if r.layer == layer and "z" in r.tensors), 0),
                saturated=entry.get("saturated", 0.0),
                frozen=bool(entry.get("frozen", 0.0)),
                missing=tuple(f for f in FIGURES if f not in entry),
            )
        )
    # Judged against the output layer: what sigmoid′ ≤ 1/4 does to δ, layer after layer on the way down.
    top = result[-1].norm_delta if result else float("nan")
    solved = any(r.op == "loss" and r.loss == 0.0 for r in records)
    return [
        replace(h, solved=solved, shrink=top / h.norm_delta if h.norm_delta > 0 and np.isfinite(h.norm_delta)
                and np.isfinite(top) else 1.0)
        for h in result
    ]

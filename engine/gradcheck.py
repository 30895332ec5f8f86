"""Gradient check: analytic dW, db against central finite differences (float64).

Batch rows: W⁽ˡ⁾ has shape (n_l, n_{l-1}); the check uses one batch and the
parameters as they stand, and never changes them. It runs in evaluation
mode: dropout is off (a random mask would make L(θ ± ε) two different
functions), the L1 penalty is part of L.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .config import Config
from .functions import loss_value
from .network import Params, forward, iterate
from .schedule import OpSpec

FINE = 1e-7  # below: the gradient is right
WRONG = 1e-4  # above: the gradient is wrong


@dataclass(frozen=True)
class LayerCheck:
    """Largest relative error of dW⁽ˡ⁾ and db⁽ˡ⁾ against finite differences."""

    layer: int
    error_W: float
    error_b: float
    kinks: int = 0  # ReLU pre-activations that a ±ε change of a parameter can carry across 0, this layer on

    @property
    def error(self) -> float:
        return max(self.error_W, self.error_b)

    @property
    def verdict(self) -> str:
        """PASS below 1e-7, FAIL above 1e-4, WARN between."""
        return "PASS" if self.error < FINE else ("FAIL" if self.error > WRONG else "WARN")


def _loss(config: Config, W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    loss = float(loss_value(config.loss, forward(config, W, b, x), y))
    if config.l1:
        loss += config.l1 * sum(float(np.abs(w).sum()) for w in W)
    return loss


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """‖a − n‖ / (‖a‖ + ‖n‖), 0 when both are zero.

    The norm-based difference of the usual gradient-check recipe: one entry
    whose ±ε straddles a ReLU kink cannot fail a whole layer on its own.
    """
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / scale) if scale > 0 else 0.0


def numeric_gradients(
    config: Config, params: Params, x: np.ndarray, y: np.ndarray, eps: float = 1e-5
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """∂L/∂W⁽ˡ⁾ and ∂L/∂b⁽ˡ⁾ by central differences, (L(θ+ε) − L(θ−ε)) / 2ε."""
    W = [w.astype(np.float64) for w in params.W]
    b = [v.astype(np.float64) for v in params.b]
    x, y = x.astype(np.float64), y.astype(np.float64)
    grads_W: list[np.ndarray] = []
    grads_b: list[np.ndarray] = []
    for group, grads in ((W, grads_W), (b, grads_b)):
        for tensor in group:
            grad = np.zeros_like(tensor)
            for index in np.ndindex(tensor.shape):
                saved = tensor[index]
                tensor[index] = saved + eps
                plus = _loss(config, W, b, x, y)
                tensor[index] = saved - eps
                minus = _loss(config, W, b, x, y)
                tensor[index] = saved
                grad[index] = (plus - minus) / (2 * eps)
            grads.append(grad)
    return grads_W, grads_b


def check_gradients(config: Config, params: Params, x: np.ndarray, y: np.ndarray) -> list[LayerCheck]:
    """Compare the engine's dW, db on batch (x, y) with finite differences, per layer."""
    config64 = replace(config, dtype="float64", dropout=(0.0,) * config.depth)
    params64 = Params(
        tuple(w.astype(np.float64) for w in params.W),
        tuple(v.astype(np.float64) for v in params.b),
        params.state,
        params.t,
    )
    analytic: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    kinks: dict[int, int] = {}
    eps = 1e-5

    def emit(spec: OpSpec, tensors: dict) -> None:
        layer = spec.layer
        if layer is None:  # the loss op
            return
        if spec.op == "grad":
            analytic[layer] = (tensors["dW"], tensors["db"])
        if spec.op == "linear" and config.activations[layer - 1] in ("relu", "leaky_relu"):
            # A ±ε change of one weight moves z by at most ε·max|a_prev|; a
            # unit closer than that to 0 straddles the kink, where the
            # analytic gradient takes relu′(0) = 0 (as autograd does).
            # Changes in lower layers reach z amplified by the weights between:
            # 10× that, and never under 1e-4.
            reach = max(1e-4, 10 * eps * (1.0 + float(np.abs(tensors["a_prev"]).max(initial=0.0))))
            kinks[layer] = int(np.sum(np.abs(tensors["z"]) <= reach))

    iterate(config64, params64, x.astype(np.float64), y.astype(np.float64), emit)
    numeric_W, numeric_b = numeric_gradients(config64, params64, x, y, eps)
    return [
        LayerCheck(
            l,
            relative_error(analytic[l][0], numeric_W[l - 1]),
            relative_error(analytic[l][1], numeric_b[l - 1]),
            sum(n for k, n in kinks.items() if k >= l),
        )
        for l in range(1, config.depth + 1)
    ]

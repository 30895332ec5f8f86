"""Activations and losses with their derivatives, as autograd computes them.

Batch rows: z and a have shape (B, n_l). Every function is stable for
|z| up to 1e4 (no overflow warnings, no NaN from finite input), and every
derivative follows PyTorch's backward formulas so that δ matches autograd.
"""

from __future__ import annotations

import numpy as np

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")
LOSSES = ("mse", "cross_entropy", "bce", "bce_with_logits")
LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU's default negative_slope
# torch clamps BCE's p(1 − p) at its EPSILON 1e-12 stored as a float32.
_BCE_EPSILON = float(np.float32(1e-12))

# How each activation is written in an equation (NOTATION.md uses σ for sigmoid).
SYMBOLS = {
    "identity": "id",
    "sigmoid": "σ",
    "tanh": "tanh",
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "softmax": "softmax",
}


# Past these magnitudes a sum of squares (or of values) could overflow float64 although its
# result, the norm or the mean, is finite: those are computed on the array scaled by its largest |value|.
_SAFE_LARGE = 1e150
_SAFE_SMALL = 1e-150  # squares of values below this underflow to 0: a norm of 1e-200s must not read 0


def l2_norm(array: np.ndarray) -> float:
    """‖array‖₂, finite whenever it is representable: 1e200 entries overflowed the sum of squares to inf,
    which reads as an infinity the tensor does not hold. NaN in, NaN out; ±inf in, inf out."""
    values = np.asarray(array, dtype=np.float64).ravel()
    if not values.size:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        largest = float(np.max(np.abs(values)))
        if not np.isfinite(largest) or largest == 0.0:
            return largest
        if _SAFE_SMALL < largest < _SAFE_LARGE:
            return float(np.linalg.norm(values))
        return float(largest * np.linalg.norm(values / largest))


def safe_mean(array: np.ndarray) -> float:
    """The mean, finite whenever it is representable (a sum of values near 1e308 would overflow)."""
    values = np.asarray(array, dtype=np.float64).ravel()
    if not values.size:
        return float("nan")
    with np.errstate(over="ignore", invalid="ignore"):
        largest = float(np.max(np.abs(values)))
        if not np.isfinite(largest) or largest < _SAFE_LARGE:
            return float(np.mean(values))
        return float(largest * np.mean(values / largest))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic sigmoid, evaluated so that exp never overflows."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits of shape (B, n)."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, exact for extreme logits."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def activate(name: str, z: np.ndarray, slope: float = LEAKY_SLOPE) -> np.ndarray:
    """a = f(z) for the activation called `name` (`slope`: leaky_relu's negative_slope)."""
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "identity":
        return z
    if name == "leaky_relu":
        return np.where(z > 0, z, z * slope)
    if name == "softmax":
        return softmax(z)
    raise ValueError(f"unknown activation {name!r}")


def activation_backward(
    name: str, g: np.ndarray, z: np.ndarray, a: np.ndarray, slope: float = LEAKY_SLOPE
) -> np.ndarray:
    """∂L/∂z from g = ∂L/∂a, the pre-activation z and the activation a.

    Uses the same expressions as PyTorch's backward kernels: sigmoid and tanh
    differentiate through their output, ReLU has derivative 0 at z = 0,
    leaky ReLU has its slope at z <= 0.
    """
    if name == "relu":
        return np.where(z > 0, g, 0.0)
    if name == "sigmoid":
        return g * ((1.0 - a) * a)
    if name == "tanh":
        return g * (1.0 - a * a)
    if name == "identity":
        return g
    if name == "leaky_relu":
        return np.where(z > 0, g, g * slope)
    if name == "softmax":
        return a * (g - (g * a).sum(axis=1, keepdims=True))
    raise ValueError(f"unknown activation {name!r}")


def _clamp_log(log: np.ndarray) -> np.ndarray:
    # torch.nn.BCELoss clamps each log at -100.
    return np.maximum(log, -100.0)


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log σ(z) = min(z, 0) − log1p(exp(−|z|)), exact for extreme z (torch's log_sigmoid)."""
    return np.minimum(z, 0.0) - np.log1p(np.exp(-np.abs(z)))


def loss_value(kind: str, y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The mean loss as a 0-d array.

    mse: mean over all elements; cross_entropy: y_hat are logits, y are
    target rows (one-hot or probabilities), mean over the batch; bce: y_hat
    are probabilities, mean over all elements; bce_with_logits: y_hat are
    logits, mean over all elements. Each is written as torch writes it.
    """
    if kind == "cross_entropy":
        return -(y * log_softmax(y_hat)).sum() / y_hat.shape[0]
    if kind == "mse":
        d = y_hat - y
        return (d * d).sum() / d.size
    if kind == "bce":
        # torch: (y − 1)·max(log1p(−p), −100) − y·max(log p, −100); log1p keeps
        # a tiny p's loss tiny (log(1 − p) would round it to −0.0).
        with np.errstate(divide="ignore"):
            terms = (y - 1.0) * _clamp_log(np.log1p(-y_hat)) - y * _clamp_log(np.log(y_hat))
        return terms.sum() / terms.size
    if kind == "bce_with_logits":
        terms = (1.0 - y) * y_hat - log_sigmoid(y_hat)
        return terms.sum() / terms.size
    raise ValueError(f"unknown loss {kind!r}")


def loss_grad(kind: str, y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂L/∂ŷ, reduction factor included, shape (B, n_L)."""
    if kind == "cross_entropy":
        p = softmax(y_hat)
        return (p * y.sum(axis=1, keepdims=True) - y) / y_hat.shape[0]
    if kind == "mse":
        # (ŷ − y)·(2/n) as autograd computes it: 2·(ŷ − y) overflows first.
        return (y_hat - y) * (2.0 / y_hat.size)
    if kind == "bce":
        # torch: grad · (p − y) / max((1 − p)·p, EPSILON)
        return (y_hat - y) / np.maximum((1.0 - y_hat) * y_hat, _BCE_EPSILON) / y_hat.size
    if kind == "bce_with_logits":
        return (sigmoid(y_hat) - y) / y_hat.size
    raise ValueError(f"unknown loss {kind!r}")


def loss_and_grad(
    kind: str, y_hat: np.ndarray, y: np.ndarray, *, one_hot: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(loss, ∂L/∂ŷ, p): loss_value and loss_grad in one pass, bit-identical to them.

    Shapes as loss_grad: ŷ, y and ∂L/∂ŷ are (B, n_L). For cross-entropy the
    shifted logits and their exponentials are computed once and shared by the
    log-softmax of the loss and the softmax p of the gradient (p is returned
    for the loss record; σ(ŷ) for bce_with_logits; None for the other losses). The operations and their
    order are those of log_softmax, softmax, loss_value and loss_grad, so the
    numbers are the same to the bit; computing them twice was a fifth of a
    small net's iteration (benchmarks/NOTES.md).

    `one_hot` says every target row is one-hot (class labels): each row then
    sums to exactly 1.0, and p·1.0 − y is p − y to the bit, so the row sums
    and the product — two of the loss's fifteen array ops — are skipped.
    """
    if kind == "cross_entropy":
        shifted = y_hat - y_hat.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        loss = -(y * (shifted - np.log(total))).sum() / y_hat.shape[0]
        p = e / total
        if one_hot:
            return loss, (p - y) / y_hat.shape[0], p
        return loss, (p * y.sum(axis=1, keepdims=True) - y) / y_hat.shape[0], p
    if kind == "bce_with_logits":  # p = σ(ŷ), the probabilities the logits stand for
        return loss_value(kind, y_hat, y), loss_grad(kind, y_hat, y), sigmoid(y_hat)
    return loss_value(kind, y_hat, y), loss_grad(kind, y_hat, y), None

"""Activations and losses with their derivatives, as autograd computes them.

Batch rows: z and a have shape (B, n_l). Every function is stable for
|z| up to 1e4 (no overflow warnings, no NaN from finite input), and every
derivative follows PyTorch's backward formulas so that δ matches autograd.
"""

from __future__ import annotations

import numpy as np

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")
LOSSES = ("mse", "cross_entropy", "bce")
LEAKY_SLOPE = 0.01

# How each activation is written in an equation (NOTATION.md uses σ for sigmoid).
SYMBOLS = {
    "identity": "id",
    "sigmoid": "σ",
    "tanh": "tanh",
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "softmax": "softmax",
}


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


def activate(name: str, z: np.ndarray) -> np.ndarray:
    """a = f(z) for the activation called `name`."""
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "identity":
        return z
    if name == "leaky_relu":
        return np.where(z > 0, z, z * LEAKY_SLOPE)
    if name == "softmax":
        return softmax(z)
    raise ValueError(f"unknown activation {name!r}")


def activation_backward(name: str, g: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
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
        return np.where(z > 0, g, g * LEAKY_SLOPE)
    if name == "softmax":
        return a * (g - (g * a).sum(axis=1, keepdims=True))
    raise ValueError(f"unknown activation {name!r}")


def _clamped_log(p: np.ndarray) -> np.ndarray:
    # torch.nn.BCELoss clamps each log at -100; 1e-300 keeps log(0) silent.
    return np.maximum(np.log(np.maximum(p, 1e-300)), -100.0)


def loss_value(kind: str, y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The mean loss as a 0-d array.

    mse: mean over all elements; cross_entropy: y_hat are logits, y are
    target rows (one-hot or probabilities), mean over the batch; bce: y_hat
    are probabilities, mean over all elements.
    """
    if kind == "cross_entropy":
        return -(y * log_softmax(y_hat)).sum() / y_hat.shape[0]
    if kind == "mse":
        d = y_hat - y
        return (d * d).sum() / d.size
    if kind == "bce":
        terms = y * _clamped_log(y_hat) + (1.0 - y) * _clamped_log(1.0 - y_hat)
        return -terms.sum() / terms.size
    raise ValueError(f"unknown loss {kind!r}")


def loss_grad(kind: str, y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂L/∂ŷ, reduction factor included, shape (B, n_L)."""
    if kind == "cross_entropy":
        p = softmax(y_hat)
        return (p * y.sum(axis=1, keepdims=True) - y) / y_hat.shape[0]
    if kind == "mse":
        return 2.0 * (y_hat - y) / y_hat.size
    if kind == "bce":
        # torch: grad * (input - target) / max((1 - input) * input, 1e-12)
        return (y_hat - y) / np.maximum((1.0 - y_hat) * y_hat, 1e-12) / y_hat.size
    raise ValueError(f"unknown loss {kind!r}")


def loss_and_grad(
    kind: str, y_hat: np.ndarray, y: np.ndarray, *, one_hot: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(loss, ∂L/∂ŷ, p): loss_value and loss_grad in one pass, bit-identical to them.

    Shapes as loss_grad: ŷ, y and ∂L/∂ŷ are (B, n_L). For cross-entropy the
    shifted logits and their exponentials are computed once and shared by the
    log-softmax of the loss and the softmax p of the gradient (p is returned
    for the loss record; None for the other losses). The operations and their
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
    return loss_value(kind, y_hat, y), loss_grad(kind, y_hat, y), None

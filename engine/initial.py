"""Where a run starts: the initial W⁽ˡ⁾, b⁽ˡ⁾ (an init scheme or explicit
[[model.layers]]), the optimizer state a half-trained model brings, and the
memory a config implies, checked before any array is made.

W⁽ˡ⁾ has shape (n_l, n_{l-1}), b⁽ˡ⁾ shape (n_l,); batch rows: activations of
one batch have shape (B, n_l).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from . import data as datasets
from .errors import MEMORY_LIMIT, gib
from .optim import Optimizer
from .reader import Reader, kind_of

# Arrays of one batch per unit: z, a and δ of every layer, and a temporary the next op makes.
ACTIVATION_ARRAYS = 4


def initial_state(
    r: Reader, model: dict[str, Any], table: dict[str, Any], optimizer: Optimizer, freeze: frozenset[str],
    layers: tuple[tuple[np.ndarray, np.ndarray], ...],
) -> tuple[tuple[Mapping[str, np.ndarray], ...], int]:
    """[[model.layers]] state tables (m_W = [[…]], …) and optimizer.t: where a half-trained optimizer stands."""
    t = r.integer(table.get("t", 0), "optimizer.t", minimum=0)
    raw_layers: list[Any] = model["layers"] if isinstance(model.get("layers"), list) else []
    states: list[Mapping[str, np.ndarray]] = []
    for l, (W, b) in enumerate(layers, start=1):
        key = f"model.layers[{l - 1}].state"
        raw = raw_layers[l - 1].get("state", {}) if l <= len(raw_layers) and isinstance(raw_layers[l - 1], dict) else {}
        if not isinstance(raw, dict):
            raise r.fail(key, f"must be a table of arrays (m_W = [[…]], …), got {kind_of(raw)}")
        allowed = {f"{name}_{P}": value for name in optimizer.state_names() for P, value in (("W", W), ("b", b))
                   if f"{P}{l}" not in freeze}
        state = {}
        for name, value in raw.items():
            if name not in allowed:
                known = ", ".join(allowed) or "none"
                raise r.fail(f"{key}.{name}", f"is not state of this optimizer for layer {l} (its state: {known})")
            array = r.matrix(value, f"{key}.{name}", allowed[name].ndim)
            if array.shape != allowed[name].shape:
                raise r.fail(f"{key}.{name}", f"has shape {array.shape}, expected {allowed[name].shape}")
            state[name] = cast(r, array, f"{key}.{name}", allowed[name].dtype)
        states.append(MappingProxyType(state))
    if t == 0 and any(states):
        raise r.fail("optimizer.t", "must say how many steps the optimizer has taken when a layer gives its state")
    return (tuple(states) if any(states) else ()), t


def cast(r: Reader, array: np.ndarray, key: str, dtype: np.dtype) -> np.ndarray:
    """`array` as `dtype`, read-only; a value float32 cannot hold is named, not silently inf."""
    largest = float(np.finfo(dtype).max)
    if array.size and float(np.abs(array).max()) > largest:
        value = float(array.flat[int(np.argmax(np.abs(array)))])
        raise r.fail(key, f"holds {value:g}, too large for dtype {dtype} (largest {largest:.6g})")
    return frozen(array.astype(dtype))


def frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def rows_given(data: dict[str, Any]) -> int:
    """Data rows a [data] table implies before its data are made (0 for a CSV file, not read yet)."""
    if isinstance(data.get("x"), list):
        return len(data["x"])
    if isinstance(data.get("dataset"), str):
        n = data.get("n", datasets.DEFAULT_N.get(data["dataset"], 0))
        return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 0
    return 0


def check_memory(r: Reader, sizes: tuple[int, ...], data: dict[str, Any], states: int = 1, rows: int = 0) -> None:
    """Refuse a config whose arrays would pass MEMORY_LIMIT, before any is made.

    Counted: the parameters with their gradients, checkpoints and the
    optimizer's `states` arrays; the data (x, y and the copies made while
    loading, `rows` rows); and the activations of one batch (batch rows ×
    every layer's units × ACTIVATION_ARRAYS), which a wide hidden layer makes
    the largest part. The message names the part to shrink.
    """
    params = sum(sizes[i] * sizes[i + 1] + sizes[i + 1] for i in range(len(sizes) - 1))
    batch = data.get("batch_size")
    batch = min(batch, rows) if isinstance(batch, int) and not isinstance(batch, bool) and batch > 0 else rows
    # Parameters, the optimizer's state arrays, gradients and two checkpoints, 8 bytes each.
    weights = params * 8 * (5 + max(1, states))
    data_bytes = rows * (sizes[0] + sizes[-1]) * 8 * 4
    activations = batch * sum(sizes) * 8 * ACTIVATION_ARRAYS
    estimate = weights + data_bytes + activations
    if estimate <= MEMORY_LIMIT:
        return
    limit = f"more than the {MEMORY_LIMIT / 2**30:g} GiB nnstep allows"
    if weights >= max(data_bytes, activations):
        raise r.fail("model.sizes", f"needs {gib(estimate)}, {limit}")
    if data_bytes < min(activations, MEMORY_LIMIT // 2):  # the batch is wide, not the data long
        raise r.fail("model.sizes", f"with batches of {batch:,} rows needs {gib(estimate)} (mostly the "
                                    f"activations of one batch), {limit}; use a smaller data.batch_size or smaller layers")
    key = next((f"data.{k}" for k in ("n", "x", "csv", "dataset") if k in data), "data")
    raise r.fail(key, f"({rows:,} rows) needs {gib(estimate)}, {limit}")


def initial_layers(
    r: Reader,
    model: dict[str, Any],
    init: str,
    std: float,
    sizes: tuple[int, ...],
    seed: int,
    dtype: np.dtype,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """W⁽ˡ⁾ (n_l, n_{l-1}) and b⁽ˡ⁾ (n_l,) for every layer, read-only."""
    depth = len(sizes) - 1
    if init == "explicit":
        if "layers" not in model:
            raise r.fail("model.init", "is 'explicit' but there are no [[model.layers]] tables")
        raw_layers = model["layers"]
        if not isinstance(raw_layers, list):
            raise r.fail("model.layers", f"must be a list of tables, got {kind_of(raw_layers)}")
        if len(raw_layers) != depth:
            raise r.fail("model.layers", f"has {len(raw_layers)} entr{'y' if len(raw_layers) == 1 else 'ies'}, expected {depth} (one per layer)")
    elif "layers" in model:
        raise r.fail("model.layers", f"is given but model.init is '{init}' (set init = \"explicit\")")

    rng = np.random.default_rng(seed)
    layers = []
    for l in range(1, depth + 1):
        fan_out, fan_in = sizes[l], sizes[l - 1]
        if init == "explicit":
            key = f"model.layers[{l - 1}]"
            table = r.check_keys(raw_layers[l - 1], key, "model.layers")
            for part in ("W", "b"):
                if part not in table:
                    raise r.fail("", f"missing key {key}.{part}")
            W = r.matrix(table["W"], f"{key}.W", 2)
            b = r.matrix(table["b"], f"{key}.b", 1)
            if W.shape != (fan_out, fan_in):
                raise r.fail(f"{key}.W", f"has shape {W.shape}, expected {(fan_out, fan_in)} (layer {l})")
            if b.shape != (fan_out,):
                raise r.fail(f"{key}.b", f"has shape {b.shape}, expected {(fan_out,)} (layer {l})")
        elif init == "xavier":
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            W, b = rng.uniform(-bound, bound, (fan_out, fan_in)), np.zeros(fan_out)
        elif init == "he":
            W, b = rng.normal(0.0, math.sqrt(2.0 / fan_in), (fan_out, fan_in)), np.zeros(fan_out)
        elif init == "normal":
            W, b = rng.normal(0.0, std, (fan_out, fan_in)), np.zeros(fan_out)
        elif init == "torch":
            bound = 1.0 / math.sqrt(fan_in)
            W = rng.uniform(-bound, bound, (fan_out, fan_in))
            b = rng.uniform(-bound, bound, fan_out)
        else:
            W, b = np.zeros((fan_out, fan_in)), np.zeros(fan_out)
        key = f"model.layers[{l - 1}]"
        layers.append((cast(r, W, f"{key}.W", dtype), cast(r, b, f"{key}.b", dtype)))
    return tuple(layers)

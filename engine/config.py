"""Read and check a training config (TOML or JSON) into an immutable Config.

Every problem becomes one NnstepError line naming the file and the key, e.g.
``net.toml: model.layers[1].W has shape (2, 3), expected (2, 2)``.
Shape convention: W⁽ˡ⁾ has shape (n_l, n_{l-1}), b⁽ˡ⁾ shape (n_l,), and data
are batch rows: x has shape (N, n_0), targets y shape (N, n_L).
"""

from __future__ import annotations

import difflib
import json
import math
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from . import data as datasets
from .errors import MEMORY_LIMIT, NnstepError, check_text, gib, one_line, parsed_memory, read_user_file
from .schedule import PARAMETERS, Schedule, build_schedule
from .functions import ACTIVATIONS, LEAKY_SLOPE, LOSSES
from .optim import OPTIMIZERS, Optimizer

INITS = ("xavier", "he", "normal", "zeros", "torch", "explicit")
DTYPES = ("float64", "float32")
# MEMORY_LIMIT (errors.py): networks, data and text whose arrays would not fit comfortably are refused.
MAX_CONFIG_BYTES = 256 * 2**20
# Arrays of one batch per unit: z, a and δ of every layer, and a temporary the next op makes.
ACTIVATION_ARRAYS = 4

_KEYS: dict[str, tuple[str, ...]] = {
    "": ("seed", "dtype", "description", "model", "loss", "optimizer", "data"),
    "model": ("sizes", "activations", "init", "std", "layers", "dropout", "freeze", "negative_slope"),
    "model.layers": ("W", "b", "state"),
    "loss": ("kind", "l1"),
    "optimizer": ("kind", "lr", "betas", "eps", "weight_decay", "amsgrad", "alpha", "centered", "momentum",
                  "dampening", "nesterov", "t"),
    "data": ("x", "y", "dataset", "n", "noise", "csv", "target", "features", "batch_size", "shuffle"),
}


@dataclass(frozen=True)
class Config:
    """A checked config. Arrays are read-only; `layers` holds the initial (W, b).

    Batch rows: x has shape (N, n_0) and y shape (N, n_L); W⁽ˡ⁾ has shape
    (n_l, n_{l-1}).
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str
    optimizer: Optimizer
    init: str
    std: float
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    x: np.ndarray
    y: np.ndarray
    labels: np.ndarray | None
    batch_size: int
    shuffle: bool
    seed: int
    dtype: str
    source: str
    description: str = ""
    name: str = "config"
    dropout: tuple[float, ...] = ()
    freeze: frozenset[str] = frozenset()
    negative_slope: float = LEAKY_SLOPE
    l1: float = 0.0
    # The optimizer's state before the first iteration (a half-trained model's
    # momentum, Adam's moments): per layer, state key (m_W, v_b, …) → array;
    # `t` the optimizer steps already taken. Empty and 0 for a fresh start.
    state: tuple[Mapping[str, np.ndarray], ...] = ()
    t: int = 0

    def __post_init__(self) -> None:
        if not self.dropout:  # built in code without dropout: none on any layer
            object.__setattr__(self, "dropout", (0.0,) * self.depth)

    @property
    def lr(self) -> float:
        """η, the optimizer's learning rate."""
        return self.optimizer.lr

    @cached_property
    def schedule(self) -> Schedule:
        """The ops of one iteration of this network (schedule.py)."""
        return build_schedule(self)

    @property
    def depth(self) -> int:
        """L, the number of layers with weights."""
        return len(self.sizes) - 1

    @property
    def batches_per_epoch(self) -> int:
        """Iterations in one pass over the data (the last batch may be short)."""
        return -(-len(self.x) // self.batch_size)

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain JSON-ready data, initial W and b included."""
        return {
            "seed": self.seed,
            "dtype": self.dtype,
            "description": self.description,
            "model": {
                "sizes": list(self.sizes),
                "activations": list(self.activations),
                "dropout": list(self.dropout),
                "freeze": sorted(self.freeze),
                "negative_slope": self.negative_slope,
                "init": "explicit",
                "layers": [
                    {"W": W.tolist(), "b": b.tolist(), **({"state": {k: v.tolist() for k, v in state.items()}} if state else {})}
                    for (W, b), state in zip(self.layers, self.state or ({},) * self.depth)
                ],
            },
            "loss": {"kind": self.loss, "l1": self.l1},
            "optimizer": {**self.optimizer.to_dict(), **({"t": self.t} if self.t else {})},
            "data": {
                "x": self.x.tolist(),
                "y": self.y.tolist() if self.labels is None else self.labels.tolist(),
                "batch_size": self.batch_size,
                "shuffle": self.shuffle,
            },
        }


class _Reader:
    """Walks the raw dict, raising one-line errors that name file and key."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, message: str) -> NnstepError:
        return NnstepError(f"{self.where}: {key} {message}" if key else f"{self.where}: {message}")

    def check_keys(self, table: Any, path: str, schema: str) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise self.fail(path, f"must be a table, got {_kind(table)}")
        allowed = _KEYS[schema]
        for key in table:
            if key not in allowed:
                full = f"{path}.{key}" if path else key
                hint = difflib.get_close_matches(key, allowed, n=1)
                tip = f" (did you mean '{hint[0]}'?)" if hint else f" (allowed: {', '.join(allowed)})"
                raise self.fail("", f"unknown key '{full}'{tip}")
        return table

    def number(self, value: Any, key: str, *, minimum: float | None = None, strict: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"must be a number, got {_kind(value)}")
        if not _finite(value):
            raise self.fail(key, f"must be finite, got {_shown(value)}")
        if minimum is not None and (value <= minimum if strict else value < minimum):
            sign = ">" if strict else ">="
            raise self.fail(key, f"must be {sign} {minimum:g}, got {value:g}")
        return float(value)

    def integer(self, value: Any, key: str, *, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, got {_kind(value)}")
        if value < minimum:
            raise self.fail(key, f"must be >= {minimum}, got {value}")
        return value

    def choice(self, value: Any, key: str, choices: tuple[str, ...], what: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {_kind(value)}")
        if value not in choices:
            hint = difflib.get_close_matches(value, choices, n=1)
            tip = f"did you mean '{hint[0]}'? " if hint else ""
            raise self.fail(key, f"is an unknown {what} '{value}' ({tip}one of: {', '.join(choices)})")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {_kind(value)}")
        return value

    def matrix(self, value: Any, key: str, ndim: int) -> np.ndarray:
        """A nested list of finite numbers with `ndim` dimensions."""
        dims = "list of numbers" if ndim == 1 else "list of rows of numbers"
        if not isinstance(value, list):
            raise self.fail(key, f"must be a {dims}, got {_kind(value)}")
        rows = value if ndim == 2 else [value]
        width = None
        for i, row in enumerate(rows):
            cell_key = f"{key}[{i}]" if ndim == 2 else key
            if not isinstance(row, list):
                raise self.fail(cell_key, f"must be a list of numbers, got {_kind(row)}")
            if width is None:
                width = len(row)
            elif len(row) != width:
                raise self.fail(key, f"is ragged: row {i} has {len(row)} values, row 0 has {width}")
            for j, cell in enumerate(row):
                if isinstance(cell, bool) or not isinstance(cell, (int, float)):
                    raise self.fail(f"{cell_key}[{j}]", f"must be a number, got {_kind(cell)}")
                if not _finite(cell):
                    raise self.fail(f"{cell_key}[{j}]", f"must be finite, got {_shown(cell)}")
        array = np.array(value, dtype=np.float64)
        if ndim == 2 and array.ndim == 1:
            array = array.reshape(0, 0)
        return array


def _finite(value: int | float) -> bool:
    """math.isfinite, but an integer past float range (10**400 from TOML) is not finite, not an OverflowError."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _shown(value: int | float) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"a number of {len(text)} digits"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string '{value}'" if len(value) < 40 else "a string"
    if isinstance(value, (int, float)):
        text = str(value)
        return f"number {text}" if len(text) <= 24 else f"a number of {len(text)} digits"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if value is None:
        return "null"
    return type(value).__name__  # TOML dates and times: date, time, datetime


def parse_text(text: str, where: str, *, is_json: bool) -> dict[str, Any]:
    """Parse TOML or JSON text into a dict, with the line of any syntax error."""
    try:
        raw = json.loads(text) if is_json else tomllib.loads(text)
    except json.JSONDecodeError as error:
        raise NnstepError(f"{where}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    except tomllib.TOMLDecodeError as error:
        raise NnstepError(f"{where}: invalid TOML: {error}") from None
    except RecursionError:
        raise NnstepError(f"{where}: nested too deeply to read") from None
    except ValueError as error:  # Python's cap on integer digits; impossible TOML dates
        kind = "JSON" if is_json else "TOML"
        why = "a whole number has too many digits" if "digits" in str(error) else str(error)
        raise NnstepError(f"{where}: invalid {kind}: {why}") from None
    if not isinstance(raw, dict):
        raise NnstepError(f"{where}: the top level must be a table (an object), got {_kind(raw)}")
    if is_json:  # TOML refuses a lone surrogate itself; JSON spells it "\ud800"
        check_text(raw, text, where)
    return raw


def load_config(path: str | Path, *, name: str | None = None) -> Config:
    """Read, parse and check the config file at `path`."""
    path = Path(path)
    where = str(path)
    data = read_user_file(
        path,
        "a config file",
        MAX_CONFIG_BYTES,
        lambda size: f"larger than {MAX_CONFIG_BYTES // 2**20} MiB, too large for a config "
        "(put large data in a CSV file: data.csv)",
    )
    commas = data.count(b",")
    estimate = parsed_memory(len(data), commas)
    if estimate > MEMORY_LIMIT:
        raise NnstepError(f"{where}: holds about {commas:,} numbers, which would take {gib(estimate)} "
                          f"to read, more than the {MEMORY_LIMIT / 2**30:g} GiB nnstep allows "
                          "(put large data in a CSV file: data.csv)")
    try:
        text = data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        raise NnstepError(f"{where}: not a text file (not UTF-8)") from None
    del data
    raw = parse_text(text, where, is_json=path.suffix.lower() == ".json")
    return build_config(raw, where, base=path.parent, name=name or path.stem)


def build_config(raw: dict[str, Any], where: str, *, base: Path | None = None, name: str = "config") -> Config:
    """Check a parsed config dict and resolve it (init weights, load data)."""
    r = _Reader(where)
    r.check_keys(raw, "", "")
    seed = r.integer(raw.get("seed", 0), "seed", minimum=0)
    dtype = r.choice(raw.get("dtype", "float64"), "dtype", DTYPES, "dtype")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise r.fail("description", f"must be a string, got {_kind(description)}")
    try:  # a dict built in code skipped parse_text's check; an export could not write this
        description.encode("utf-8")
    except UnicodeEncodeError as error:
        raise r.fail("description", f"holds a lone surrogate {one_line(description[error.start])} at character "
                                    f"{error.start + 1}, which is not text") from None

    for table in ("model", "loss", "data"):
        if table not in raw:
            raise r.fail("", f"missing table [{table}]")
    model = r.check_keys(raw["model"], "model", "model")
    loss_table = r.check_keys(raw["loss"], "loss", "loss")
    optimizer = r.check_keys(raw.get("optimizer", {}), "optimizer", "optimizer")
    data = r.check_keys(raw["data"], "data", "data")

    if "sizes" not in model:
        raise r.fail("", "missing key model.sizes")
    raw_sizes = model["sizes"]
    if not isinstance(raw_sizes, list):
        raise r.fail("model.sizes", f"must be a list of whole numbers, got {_kind(raw_sizes)}")
    if len(raw_sizes) < 2:
        raise r.fail("model.sizes", f"needs at least 2 entries (input and output), got {len(raw_sizes)}")
    sizes = tuple(r.integer(n, f"model.sizes[{i}]", minimum=1) for i, n in enumerate(raw_sizes))
    depth = len(sizes) - 1

    if "activations" not in model:
        raise r.fail("", "missing key model.activations")
    raw_acts = model["activations"]
    if not isinstance(raw_acts, list):
        raise r.fail("model.activations", f"must be a list of strings, got {_kind(raw_acts)}")
    if len(raw_acts) != depth:
        raise r.fail(
            "model.activations",
            f"has {len(raw_acts)} entr{'y' if len(raw_acts) == 1 else 'ies'} but model.sizes has {len(sizes)} (needs {depth}, one per layer)",
        )
    activations = tuple(
        r.choice(act, f"model.activations[{i}]", ACTIVATIONS, "activation") for i, act in enumerate(raw_acts)
    )
    for i, act in enumerate(activations[:-1]):
        if act == "softmax":
            raise r.fail(f"model.activations[{i}]", "is softmax, which is allowed on the output layer only")

    if "kind" not in loss_table:
        raise r.fail("", "missing key loss.kind")
    loss = r.choice(loss_table["kind"], "loss.kind", LOSSES, "loss")

    optimizer_part = _optimizer(r, optimizer)
    dropout, freeze, slope = _model_parts(r, model, depth)
    l1 = r.number(loss_table.get("l1", 0.0), "loss.l1", minimum=0.0)
    if loss == "bce_with_logits" and activations[-1] != "identity":
        raise r.fail(f"model.activations[{depth - 1}]", f"is {activations[-1]}, but bce_with_logits takes logits: "
                     "use identity on the output layer (the loss applies the sigmoid)")

    init = r.choice(model.get("init", "xavier"), "model.init", INITS, "init")
    std = r.number(model.get("std", 0.1), "model.std", minimum=0.0, strict=True)
    states = len(optimizer_part.state_names())
    _check_memory(r, sizes, data, states, _rows_given(data))

    x, y, labels = datasets.read_data(r, data, sizes, loss, seed, base)
    batch_size = r.integer(data.get("batch_size", len(x)), "data.batch_size", minimum=1)
    batch_size = min(batch_size, len(x))
    if "csv" in data:  # its rows are known only now
        _check_memory(r, sizes, data, states, len(x))
    shuffle = r.boolean(data.get("shuffle", True), "data.shuffle")

    np_dtype = np.dtype(dtype)
    layers = _initial_layers(r, model, init, std, sizes, seed, np_dtype)
    state, t = _initial_state(r, model, optimizer, optimizer_part, freeze, layers)
    source_key = next((f"data.{k}" for k in ("x", "csv", "dataset") if k in data), "data")
    x = _cast(r, x, source_key, np_dtype)
    y = _cast(r, y, "data.y" if "y" in data else source_key, np_dtype)
    if labels is not None:
        labels = _frozen(labels)
    return Config(
        sizes=sizes,
        activations=activations,
        loss=loss,
        optimizer=optimizer_part,
        init=init,
        std=std,
        layers=layers,
        x=x,
        y=y,
        labels=labels,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        dtype=dtype,
        source=where,
        description=description,
        name=name,
        dropout=dropout,
        freeze=freeze,
        negative_slope=slope,
        l1=l1,
        state=state,
        t=t,
    )


def _initial_state(
    r: _Reader, model: dict[str, Any], table: dict[str, Any], optimizer: Optimizer, freeze: frozenset[str],
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
            raise r.fail(key, f"must be a table of arrays (m_W = [[…]], …), got {_kind(raw)}")
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
            state[name] = _cast(r, array, f"{key}.{name}", allowed[name].dtype)
        states.append(MappingProxyType(state))
    if t == 0 and any(states):
        raise r.fail("optimizer.t", "must say how many steps the optimizer has taken when a layer gives its state")
    return (tuple(states) if any(states) else ()), t


# Which optimizers each [optimizer] key applies to (kind and lr apply to all).
_APPLIES = {
    "betas": ("adam", "adamw"),
    "eps": ("adam", "adamw", "rmsprop"),
    "amsgrad": ("adam", "adamw"),
    "alpha": ("rmsprop",),
    "centered": ("rmsprop",),
    "momentum": ("sgd", "rmsprop"),
    "dampening": ("sgd",),
    "nesterov": ("sgd",),
}


def _optimizer(r: _Reader, table: dict[str, Any]) -> Optimizer:
    """The optimizer part of an [optimizer] table, with torch's defaults for what it omits."""
    kind = r.choice(table.get("kind", "sgd"), "optimizer.kind", tuple(OPTIMIZERS), "optimizer")
    for key in table:
        if key in _APPLIES and kind not in _APPLIES[key]:
            raise r.fail(f"optimizer.{key}", f"does not apply to {kind} (it applies to {', '.join(_APPLIES[key])})")
    cls = OPTIMIZERS[kind]
    defaults = cls()
    values: dict[str, Any] = {}
    for key, default in defaults.hyperparameters().items():
        full = f"optimizer.{key}"
        if key not in table:
            continue
        value = table[key]
        if isinstance(default, bool):
            values[key] = r.boolean(value, full)
        elif key == "betas":
            if not isinstance(value, list) or len(value) != 2:
                raise r.fail(full, f"must be a list of two numbers [β₁, β₂], got {_kind(value)}")
            betas = tuple(r.number(v, f"{full}[{i}]", minimum=0.0) for i, v in enumerate(value))
            for i, beta in enumerate(betas):
                if beta >= 1.0:
                    raise r.fail(f"{full}[{i}]", f"must be < 1, got {beta:g}")
            values[key] = betas
        else:
            strict = key in ("lr", "eps")
            values[key] = r.number(value, full, minimum=0.0, strict=strict)
    if "alpha" in values and values["alpha"] > 1.0:
        raise r.fail("optimizer.alpha", f"must be <= 1, got {values['alpha']:g}")
    part = cls(**values)
    if isinstance(part, OPTIMIZERS["sgd"]) and part.nesterov:  # type: ignore[attr-defined]
        if not part.momentum or part.dampening:  # type: ignore[attr-defined]
            raise r.fail("optimizer.nesterov", "needs optimizer.momentum > 0 and optimizer.dampening = 0")
    return part


def _model_parts(r: _Reader, model: dict[str, Any], depth: int) -> tuple[tuple[float, ...], frozenset[str], float]:
    """model.dropout (one p per layer, the output's 0), model.freeze and model.negative_slope."""
    dropout = (0.0,) * depth
    if "dropout" in model:
        raw = model["dropout"]
        if not isinstance(raw, list):
            raise r.fail("model.dropout", f"must be a list of probabilities, one per layer, got {_kind(raw)}")
        if len(raw) != depth:
            raise r.fail("model.dropout", f"has {len(raw)} entr{'y' if len(raw) == 1 else 'ies'}, expected {depth} (one per layer)")
        dropout = tuple(r.number(p, f"model.dropout[{i}]", minimum=0.0) for i, p in enumerate(raw))
        for i, p in enumerate(dropout):
            if p >= 1.0:
                raise r.fail(f"model.dropout[{i}]", f"must be < 1 (the probability of dropping a unit), got {p:g}")
        if dropout[-1]:
            raise r.fail(f"model.dropout[{depth - 1}]", f"must be 0: the output layer is not dropped out, got {dropout[-1]:g}")
    names = [f"{P}{l}" for l in range(1, depth + 1) for P in PARAMETERS]
    freeze: set[str] = set()
    raw_freeze = model.get("freeze", [])
    if not isinstance(raw_freeze, list):
        raise r.fail("model.freeze", f"must be a list of parameter names such as \"b1\", got {_kind(raw_freeze)}")
    for i, name in enumerate(raw_freeze):
        if not isinstance(name, str):
            raise r.fail(f"model.freeze[{i}]", f"must be a parameter name such as \"W1\", got {_kind(name)}")
        if name not in names:
            hint = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
            tip = f"did you mean '{hint[0]}'? " if hint else ""
            raise r.fail(f"model.freeze[{i}]", f"names no parameter of this network: '{name}' ({tip}parameters: {', '.join(names)})")
        freeze.add(name)
    slope = r.number(model.get("negative_slope", LEAKY_SLOPE), "model.negative_slope")
    return dropout, frozenset(freeze), slope


def _cast(r: _Reader, array: np.ndarray, key: str, dtype: np.dtype) -> np.ndarray:
    """`array` as `dtype`, read-only; a value float32 cannot hold is named, not silently inf."""
    largest = float(np.finfo(dtype).max)
    if array.size and float(np.abs(array).max()) > largest:
        value = float(array.flat[int(np.argmax(np.abs(array)))])
        raise r.fail(key, f"holds {value:g}, too large for dtype {dtype} (largest {largest:.6g})")
    return _frozen(array.astype(dtype))


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _rows_given(data: dict[str, Any]) -> int:
    """Data rows a [data] table implies before its data are made (0 for a CSV file, not read yet)."""
    if isinstance(data.get("x"), list):
        return len(data["x"])
    if isinstance(data.get("dataset"), str):
        n = data.get("n", datasets.DEFAULT_N.get(data["dataset"], 0))
        return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 0
    return 0


def _check_memory(r: _Reader, sizes: tuple[int, ...], data: dict[str, Any], states: int = 1, rows: int = 0) -> None:
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


def _initial_layers(
    r: _Reader,
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
            raise r.fail("model.layers", f"must be a list of tables, got {_kind(raw_layers)}")
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
        layers.append((_cast(r, W, f"{key}.W", dtype), _cast(r, b, f"{key}.b", dtype)))
    return tuple(layers)

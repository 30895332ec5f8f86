"""Read and check a training config (TOML or JSON) into an immutable Config.

Every problem becomes one NnstepError line naming the file and the key, e.g.
``net.toml: model.layers[1].W has shape (2, 3), expected (2, 2)``.
Shape convention: W⁽ˡ⁾ has shape (n_l, n_{l-1}), b⁽ˡ⁾ shape (n_l,), and data
are batch rows: x has shape (N, n_0), targets y shape (N, n_L).
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from . import data as datasets
from .errors import (
    MEMORY_LIMIT,
    NnstepError,
    check_text,
    gib,
    one_line,
    parsed_memory,
    read_user_file,
)
from .functions import ACTIVATIONS, LEAKY_SLOPE, LOSSES
from .initial import (
    cast,
    check_memory,
    frozen,
    initial_layers,
    initial_state,
    rows_given,
)
from .optim import OPTIMIZERS, Optimizer
from .reader import Reader, kind_of
from .schedule import PARAMETERS, Schedule, build_schedule

INITS = ("xavier", "he", "normal", "zeros", "torch", "explicit")
DTYPES = ("float64", "float32")
# MEMORY_LIMIT (errors.py): networks, data and text whose arrays would not fit comfortably are refused.
MAX_CONFIG_BYTES = 256 * 2**20

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
        raise NnstepError(f"{where}: the top level must be a table (an object), got {kind_of(raw)}")
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
    r = Reader(where, _KEYS)
    r.check_keys(raw, "", "")
    seed = r.integer(raw.get("seed", 0), "seed", minimum=0)
    dtype = r.choice(raw.get("dtype", "float64"), "dtype", DTYPES, "dtype")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise r.fail("description", f"must be a string, got {kind_of(description)}")
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
        raise r.fail("model.sizes", f"must be a list of whole numbers, got {kind_of(raw_sizes)}")
    if len(raw_sizes) < 2:
        raise r.fail("model.sizes", f"needs at least 2 entries (input and output), got {len(raw_sizes)}")
    sizes = tuple(r.integer(n, f"model.sizes[{i}]", minimum=1) for i, n in enumerate(raw_sizes))
    depth = len(sizes) - 1

    if "activations" not in model:
        raise r.fail("", "missing key model.activations")
    raw_acts = model["activations"]
    if not isinstance(raw_acts, list):
        raise r.fail("model.activations", f"must be a list of strings, got {kind_of(raw_acts)}")
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
    check_memory(r, sizes, data, states, rows_given(data))

    x, y, labels = datasets.read_data(r, data, sizes, loss, seed, base)
    batch_size = r.integer(data.get("batch_size", len(x)), "data.batch_size", minimum=1)
    batch_size = min(batch_size, len(x))
    if "csv" in data:  # its rows are known only now
        check_memory(r, sizes, data, states, len(x))
    shuffle = r.boolean(data.get("shuffle", True), "data.shuffle")

    np_dtype = np.dtype(dtype)
    layers = initial_layers(r, model, init, std, sizes, seed, np_dtype)
    state, t = initial_state(r, model, optimizer, optimizer_part, freeze, layers)
    source_key = next((f"data.{k}" for k in ("x", "csv", "dataset") if k in data), "data")
    x = cast(r, x, source_key, np_dtype)
    y = cast(r, y, "data.y" if "y" in data else source_key, np_dtype)
    if labels is not None:
        labels = frozen(labels)
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


def _optimizer(r: Reader, table: dict[str, Any]) -> Optimizer:
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
                raise r.fail(full, f"must be a list of two numbers [β₁, β₂], got {kind_of(value)}")
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


def _model_parts(r: Reader, model: dict[str, Any], depth: int) -> tuple[tuple[float, ...], frozenset[str], float]:
    """model.dropout (one p per layer, the output's 0), model.freeze and model.negative_slope."""
    dropout = (0.0,) * depth
    if "dropout" in model:
        raw = model["dropout"]
        if not isinstance(raw, list):
            raise r.fail("model.dropout", f"must be a list of probabilities, one per layer, got {kind_of(raw)}")
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
        raise r.fail("model.freeze", f"must be a list of parameter names such as \"b1\", got {kind_of(raw_freeze)}")
    for i, name in enumerate(raw_freeze):
        if not isinstance(name, str):
            raise r.fail(f"model.freeze[{i}]", f"must be a parameter name such as \"W1\", got {kind_of(name)}")
        if name not in names:
            hint = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
            tip = f"did you mean '{hint[0]}'? " if hint else ""
            raise r.fail(f"model.freeze[{i}]", f"names no parameter of this network: '{name}' ({tip}parameters: {', '.join(names)})")
        freeze.add(name)
    slope = r.number(model.get("negative_slope", LEAKY_SLOPE), "model.negative_slope")
    return dropout, frozenset(freeze), slope

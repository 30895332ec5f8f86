"""Bad input and what the user sees: one table for the tests and for docs/errors.md.

Each Case is a command line run in a folder holding `files`, the exact line
nnstep must print on stderr, and its exit status. The tests run every case
through `nnstep.tui.cli.main`; `python -m tests.bad_inputs` rewrites
docs/errors.md from the same table (a test checks that it is up to date), so
the documented messages are the ones the tests saw.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nnstep.engine import demo_names

DEMOS = ", ".join(demo_names())  # whatever demos ship

# The 2-2-2 sigmoid worked example: every config case changes one thing in it.
MAZUR = """\
seed = 0

[model]
sizes = [2, 2, 2]
activations = ["sigmoid", "sigmoid"]
init = "explicit"

[[model.layers]]
W = [[0.15, 0.20], [0.25, 0.30]]
b = [0.35, 0.35]

[[model.layers]]
W = [[0.40, 0.45], [0.50, 0.55]]
b = [0.60, 0.60]

[loss]
kind = "mse"

[optimizer]
kind = "sgd"
lr = 0.5
momentum = 0.0

[data]
x = [[0.05, 0.10]]
y = [[0.01, 0.99]]
batch_size = 1
"""

# The part above [data], for configs that read a CSV file.
MAZUR_MODEL = MAZUR.split("[data]")[0]
FOLDER = None  # a `files` value that makes a folder instead of a file


@dataclass(frozen=True)
class Special:
    """A `files` value that is not a regular file: a FIFO, a socket, or a symbolic link to `target`."""

    kind: str
    target: str = ""


FIFO = Special("fifo")  # a named pipe: reading it would wait for a writer forever
SOCKET = Special("socket")


def link(target: str) -> Special:
    """A symbolic link to `target` (which need not exist)."""
    return Special("link", target)


LONG_NAME = "x" * 300  # longer than any file system's 255-byte name
# data.csv naming a file that is not CSV, as root could: /etc/shadow's first line.
SHADOW = "root:$6$Zq0Lx8aVfN2kP1mQ$2b4Fd9kJ0sXw8YtR1vHc6eLq3uT7iO5pA0zS9dG4fK2hJ1lM8nB6vC3xZ7qW5eR0tY9uI4oP2aS6dF8gH1jK3lL:19000:0:99999:7:::\n"


def mazur(old: str, new: str) -> str:
    """MAZUR with `old` (which must occur once) replaced by `new`."""
    assert MAZUR.count(old) == 1, old
    return MAZUR.replace(old, new)


def mazur_json(**changes: object) -> str:
    """MAZUR as indented JSON, with dotted keys set to raw JSON text, e.g. {'data.x': '[[NaN, 0.1]]'}."""
    import tomllib

    raw = tomllib.loads(MAZUR)
    marks = {}
    for i, (dotted, text) in enumerate(changes.items()):
        table = raw
        *parents, last = dotted.split(".")
        for key in parents:
            table = table[key]
        table[last] = f"@{i}@"
        marks[f'"@{i}@"'] = str(text)
    out = json.dumps(raw, indent=2)
    for mark, text in marks.items():
        out = out.replace(mark, text)
    return out


def with_csv(text: str, data: str) -> dict[str, str | bytes | Special | None]:
    """A config reading `train.csv` (columns x1, x2, t1, t2) through [data] lines `text`."""
    return {"net.toml": f"{MAZUR_MODEL}[data]\n{text}", "train.csv": data}


GOOD_CSV = "x1,x2,t1,t2\n0.05,0.10,0.01,0.99\n0.20,0.30,0.50,0.50\n"
RUN = ("run", "--config", "net.toml", "-n", "1", "--export", "out.json")


def _trace(**changes: object) -> str:
    """A small valid trace of one mazur step (the first linear op), with top-level `changes`."""
    import tomllib

    config = tomllib.loads(MAZUR)
    config["data"]["shuffle"] = False
    step = {
        "index": 0, "iteration": 1, "epoch": 1, "stage": "forward", "layer": 1, "op": "linear",
        "equation": "z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾", "writes": ["z"],
        "tensors": {"rows": [0], "a_prev": [[0.05, 0.1]], "W": [[0.15, 0.2], [0.25, 0.3]], "b": [0.35, 0.35],
                    "z": [[0.3775, 0.3925]]},
    }
    trace: dict[str, object] = {"format": "nnstep-trace", "version": 2, "config": config, "steps": [step]}
    for key, value in changes.items():
        if key.startswith("step_"):
            step[key[5:]] = value
        elif key.startswith("tensor_") and value is None:
            del step["tensors"][key[7:]]  # type: ignore[attr-defined]
        elif key.startswith("tensor_"):
            step["tensors"][key[7:]] = value  # type: ignore[index]
        else:
            trace[key] = value
    return json.dumps(trace, ensure_ascii=False)


@dataclass(frozen=True)
class Case:
    """One bad input: the command, the files beside it, the stderr line, the status."""

    id: str
    section: str
    what: str
    argv: tuple[str, ...]
    message: str
    files: dict[str, str | bytes | Special | None] = field(default_factory=dict)
    status: int = 2


CONFIG = "Config files"
CSV = "CSV data"
ARGS = "Command-line arguments"
BREAK = "Break expressions (`nnstep run --break`)"
VIEW = "Trace files (`nnstep view`)"
EXPORT = "Export paths (`nnstep run --export`)"

CASES: list[Case] = [
    # Config files -----------------------------------------------------------
    Case("missing-file", CONFIG, "config file that does not exist", RUN,
         "nnstep: net.toml: no such file"),
    Case("folder", CONFIG, "config path that is a folder", RUN,
         "nnstep: net.toml: is a folder, expected a config file", {"net.toml": FOLDER}),
    Case("not-utf8", CONFIG, "config file that is not text", RUN,
         "nnstep: net.toml: not a text file (not UTF-8)", {"net.toml": b"\xff\xfe\x00\x01seed"}),
    Case("broken-toml", CONFIG, "TOML syntax error", RUN,
         "nnstep: net.toml: invalid TOML: Invalid value (at line 21, column 6)",
         {"net.toml": mazur("lr = 0.5", "lr = ")}),
    Case("broken-json", CONFIG, "JSON syntax error", ("run", "--config", "net.json", "-n", "1"),
         "nnstep: net.json: invalid JSON at line 4, column 6: Expecting property name enclosed in double quotes",
         {"net.json": '{\n  "seed": 0,\n  "model": {\n  }, }\n'}),
    Case("json-not-object", CONFIG, "JSON whose top level is not an object", ("run", "--config", "net.json"),
         "nnstep: net.json: the top level must be a table (an object), got a list",
         {"net.json": "[1, 2]"}),
    Case("unknown-key", CONFIG, "misspelt key", RUN,
         "nnstep: net.toml: unknown key 'optimizer.momentun' (did you mean 'momentum'?)",
         {"net.toml": mazur("momentum = 0.0", "momentun = 0.0")}),
    Case("unknown-key-far", CONFIG, "unknown key with no close match", RUN,
         "nnstep: net.toml: unknown key 'colour' (allowed: seed, dtype, description, model, loss, optimizer, data)",
         {"net.toml": 'colour = "red"\n' + MAZUR}),
    Case("missing-table", CONFIG, "missing [loss] table", RUN,
         "nnstep: net.toml: missing table [loss]",
         {"net.toml": mazur('[loss]\nkind = "mse"\n', "")}),
    Case("missing-key", CONFIG, "missing loss.kind", RUN,
         "nnstep: net.toml: missing key loss.kind",
         {"net.toml": mazur('kind = "mse"\n', "")}),
    Case("wrong-type", CONFIG, "a string where a number belongs", RUN,
         "nnstep: net.toml: optimizer.lr must be a number, got string 'fast'",
         {"net.toml": mazur("lr = 0.5", 'lr = "fast"')}),
    Case("wrong-type-int", CONFIG, "a fraction where a whole number belongs", RUN,
         "nnstep: net.toml: model.sizes[1] must be a whole number, got number 2.5",
         {"net.toml": mazur("sizes = [2, 2, 2]", "sizes = [2, 2.5, 2]")}),
    Case("wrong-type-date", CONFIG, "a TOML date where a number belongs", RUN,
         "nnstep: net.toml: seed must be a whole number, got date",
         {"net.toml": mazur("seed = 0", "seed = 2024-01-01")}),
    Case("huge-integer", CONFIG, "an integer of 5000 digits", RUN,
         "nnstep: net.toml: invalid TOML: a whole number has too many digits",
         {"net.toml": mazur("seed = 0", "seed = " + "9" * 5000)}),
    Case("wrong-shape", CONFIG, "W of the wrong shape", RUN,
         "nnstep: net.toml: model.layers[1].W has shape (2, 3), expected (2, 2) (layer 2)",
         {"net.toml": mazur("W = [[0.40, 0.45], [0.50, 0.55]]", "W = [[0.40, 0.45, 0.1], [0.50, 0.55, 0.1]]")}),
    Case("wrong-shape-b", CONFIG, "b of the wrong length", RUN,
         "nnstep: net.toml: model.layers[0].b has shape (3,), expected (2,) (layer 1)",
         {"net.toml": mazur("b = [0.35, 0.35]", "b = [0.35, 0.35, 0.35]")}),
    Case("ragged", CONFIG, "rows of different lengths", RUN,
         "nnstep: net.toml: model.layers[0].W is ragged: row 1 has 1 values, row 0 has 2",
         {"net.toml": mazur("W = [[0.15, 0.20], [0.25, 0.30]]", "W = [[0.15, 0.20], [0.25]]")}),
    Case("layer-count", CONFIG, "fewer [[model.layers]] than layers", RUN,
         "nnstep: net.toml: model.layers has 1 entry, expected 2 (one per layer)",
         {"net.toml": mazur("[[model.layers]]\nW = [[0.40, 0.45], [0.50, 0.55]]\nb = [0.60, 0.60]\n", "")}),
    Case("unknown-activation", CONFIG, "unknown activation", RUN,
         "nnstep: net.toml: model.activations[1] is an unknown activation 'sigmod' "
         "(did you mean 'sigmoid'? one of: identity, sigmoid, tanh, relu, leaky_relu, softmax)",
         {"net.toml": mazur('activations = ["sigmoid", "sigmoid"]', 'activations = ["sigmoid", "sigmod"]')}),
    Case("unknown-loss", CONFIG, "unknown loss", RUN,
         "nnstep: net.toml: loss.kind is an unknown loss 'mae' (did you mean 'mse'? one of: mse, cross_entropy, bce, bce_with_logits)",
         {"net.toml": mazur('kind = "mse"', 'kind = "mae"')}),
    Case("unknown-optimizer", CONFIG, "unknown optimizer", RUN,
         "nnstep: net.toml: optimizer.kind is an unknown optimizer 'adan' (did you mean 'adam'? one of: sgd, adam, adamw, rmsprop)",
         {"net.toml": mazur('kind = "sgd"', 'kind = "adan"')}),
    Case("key-of-another-optimizer", CONFIG, "an Adam key on SGD", RUN,
         "nnstep: net.toml: optimizer.betas does not apply to sgd (it applies to adam, adamw)",
         {"net.toml": mazur("momentum = 0.0", "betas = [0.9, 0.999]")}),
    Case("beta-one", CONFIG, "β₂ = 1", RUN,
         "nnstep: net.toml: optimizer.betas[1] must be < 1, got 1",
         {"net.toml": mazur('kind = "sgd"\nlr = 0.5\nmomentum = 0.0', 'kind = "adam"\nbetas = [0.9, 1.0]')}),
    Case("beta-negative", CONFIG, "β₁ < 0", RUN,
         "nnstep: net.toml: optimizer.betas[0] must be >= 0, got -0.1",
         {"net.toml": mazur('kind = "sgd"\nlr = 0.5\nmomentum = 0.0', 'kind = "adamw"\nbetas = [-0.1, 0.9]')}),
    Case("betas-shape", CONFIG, "betas not a pair", RUN,
         "nnstep: net.toml: optimizer.betas must be a list of two numbers [β₁, β₂], got number 0.9",
         {"net.toml": mazur('kind = "sgd"\nlr = 0.5\nmomentum = 0.0', 'kind = "adam"\nbetas = 0.9')}),
    Case("eps-zero", CONFIG, "eps = 0", RUN,
         "nnstep: net.toml: optimizer.eps must be > 0, got 0",
         {"net.toml": mazur('kind = "sgd"\nlr = 0.5\nmomentum = 0.0', 'kind = "rmsprop"\neps = 0')}),
    Case("amsgrad-type", CONFIG, "amsgrad not a boolean", RUN,
         "nnstep: net.toml: optimizer.amsgrad must be true or false, got string 'yes'",
         {"net.toml": mazur('kind = "sgd"\nlr = 0.5\nmomentum = 0.0', 'kind = "adam"\namsgrad = "yes"')}),
    Case("nesterov-dampening", CONFIG, "nesterov with dampening", RUN,
         "nnstep: net.toml: optimizer.nesterov needs optimizer.momentum > 0 and optimizer.dampening = 0",
         {"net.toml": mazur("momentum = 0.0", "momentum = 0.9\ndampening = 0.1\nnesterov = true")}),
    Case("dropout-one", CONFIG, "dropout p = 1", RUN,
         "nnstep: net.toml: model.dropout[0] must be < 1 (the probability of dropping a unit), got 1",
         {"net.toml": mazur('init = "explicit"', 'init = "explicit"\ndropout = [1.0, 0.0]')}),
    Case("dropout-output", CONFIG, "dropout on the output layer", RUN,
         "nnstep: net.toml: model.dropout[1] must be 0: the output layer is not dropped out, got 0.5",
         {"net.toml": mazur('init = "explicit"', 'init = "explicit"\ndropout = [0.0, 0.5]')}),
    Case("dropout-count", CONFIG, "dropout list of the wrong length", RUN,
         "nnstep: net.toml: model.dropout has 1 entry, expected 2 (one per layer)",
         {"net.toml": mazur('init = "explicit"', 'init = "explicit"\ndropout = [0.5]')}),
    Case("freeze-unknown", CONFIG, "freezing a parameter the network lacks", RUN,
         "nnstep: net.toml: model.freeze[0] names no parameter of this network: 'b3' "
         "(did you mean 'b2'? parameters: W1, b1, W2, b2)",
         {"net.toml": mazur('init = "explicit"', 'init = "explicit"\nfreeze = ["b3"]')}),
    Case("state-unknown", CONFIG, "optimizer state the optimizer does not keep", RUN,
         "nnstep: net.toml: model.layers[0].state.m_W is not state of this optimizer for layer 1 (its state: none)",
         {"net.toml": mazur("b = [0.35, 0.35]", "b = [0.35, 0.35]\nstate = { m_W = [[0.0, 0.0], [0.0, 0.0]] }")}),
    Case("state-shape", CONFIG, "optimizer state of the wrong shape", RUN,
         "nnstep: net.toml: model.layers[0].state.v_W has shape (1, 2), expected (2, 2)",
         {"net.toml": mazur("momentum = 0.0", "momentum = 0.9\nt = 1").replace(
             "b = [0.35, 0.35]", "b = [0.35, 0.35]\nstate = { v_W = [[0.0, 0.0]] }")}),
    Case("state-without-t", CONFIG, "optimizer state but no step count", RUN,
         "nnstep: net.toml: optimizer.t must say how many steps the optimizer has taken when a layer gives its state",
         {"net.toml": mazur("momentum = 0.0", "momentum = 0.9").replace(
             "b = [0.35, 0.35]", "b = [0.35, 0.35]\nstate = { v_W = [[0.0, 0.0], [0.0, 0.0]] }")}),
    Case("l1-negative", CONFIG, "a negative L1 penalty", RUN,
         "nnstep: net.toml: loss.l1 must be >= 0, got -0.1",
         {"net.toml": mazur('kind = "mse"', 'kind = "mse"\nl1 = -0.1')}),
    Case("logits-after-sigmoid", CONFIG, "bce_with_logits after a sigmoid", RUN,
         "nnstep: net.toml: model.activations[1] is sigmoid, but bce_with_logits takes logits: "
         "use identity on the output layer (the loss applies the sigmoid)",
         {"net.toml": mazur('kind = "mse"', 'kind = "bce_with_logits"')}),
    Case("unknown-init", CONFIG, "unknown init", RUN,
         "nnstep: net.toml: model.init is an unknown init 'glorot' (one of: xavier, he, normal, zeros, torch, explicit)",
         {"net.toml": mazur('init = "explicit"', 'init = "glorot"')}),
    Case("lr-zero", CONFIG, "lr = 0", RUN,
         "nnstep: net.toml: optimizer.lr must be > 0, got 0",
         {"net.toml": mazur("lr = 0.5", "lr = 0")}),
    Case("lr-negative", CONFIG, "lr < 0", RUN,
         "nnstep: net.toml: optimizer.lr must be > 0, got -0.1",
         {"net.toml": mazur("lr = 0.5", "lr = -0.1")}),
    Case("momentum-negative", CONFIG, "momentum < 0", RUN,
         "nnstep: net.toml: optimizer.momentum must be >= 0, got -0.9",
         {"net.toml": mazur("momentum = 0.0", "momentum = -0.9")}),
    Case("size-zero", CONFIG, "a layer of 0 units", RUN,
         "nnstep: net.toml: model.sizes[1] must be >= 1, got 0",
         {"net.toml": mazur("sizes = [2, 2, 2]", "sizes = [2, 0, 2]")}),
    Case("lengths", CONFIG, "sizes and activations lengths differ", RUN,
         "nnstep: net.toml: model.activations has 1 entry but model.sizes has 3 (needs 2, one per layer)",
         {"net.toml": mazur('activations = ["sigmoid", "sigmoid"]', 'activations = ["sigmoid"]')}),
    Case("softmax-hidden", CONFIG, "softmax on a hidden layer", RUN,
         "nnstep: net.toml: model.activations[0] is softmax, which is allowed on the output layer only",
         {"net.toml": mazur('activations = ["sigmoid", "sigmoid"]', 'activations = ["softmax", "sigmoid"]')}),
    Case("too-big", CONFIG, "a network too large for memory", RUN,
         "nnstep: net.toml: model.sizes needs about 447.1 GiB of memory, more than the 4 GiB nnstep allows",
         {"net.toml": mazur("sizes = [2, 2, 2]", "sizes = [2, 100000, 100000, 2]").replace(
             'activations = ["sigmoid", "sigmoid"]', 'activations = ["tanh", "tanh", "sigmoid"]')}),
    Case("too-many-rows", CONFIG, "a built-in dataset too large for memory", RUN,
         "nnstep: net.toml: data.n (400,000,000 rows) needs about 119.2 GiB of memory, more than the 4 GiB nnstep allows",
         {"net.toml": f'{MAZUR_MODEL}[data]\ndataset = "random"\nn = 400_000_000\n'}),
    Case("astronomical-size", CONFIG, "a layer of 10^400 units", RUN,
         "nnstep: net.toml: model.sizes needs more memory than any computer has, more than the 4 GiB nnstep allows",
         {"net.toml": mazur("sizes = [2, 2, 2]", "sizes = [2, 1" + "0" * 400 + ", 2]")}),
    Case("huge-lr", CONFIG, "a 400-digit learning rate", RUN,
         "nnstep: net.toml: optimizer.lr must be finite, got a number of 401 digits",
         {"net.toml": mazur("lr = 0.5", "lr = 1" + "0" * 400)}),
    Case("data-width", CONFIG, "data rows wider than sizes[0]", RUN,
         "nnstep: net.toml: data.x has 3 features per row but model.sizes[0] is 2",
         {"net.toml": mazur("x = [[0.05, 0.10]]", "x = [[0.05, 0.10, 0.2]]")}),
    Case("target-width", CONFIG, "target rows narrower than sizes[-1]", RUN,
         "nnstep: net.toml: data.y has 1 values per row but model.sizes[-1] is 2",
         {"net.toml": mazur("y = [[0.01, 0.99]]", "y = [[0.01]]")}),
    Case("row-count", CONFIG, "more inputs than targets", RUN,
         "nnstep: net.toml: data.y has 1 rows but the inputs have 2",
         {"net.toml": mazur("x = [[0.05, 0.10]]", "x = [[0.05, 0.10], [0.2, 0.3]]")}),
    Case("class-range", CONFIG, "class index out of range (cross_entropy)", RUN,
         "nnstep: net.toml: data.y has class index 2 at row 0, outside 0..1 (model.sizes[-1] = 2 classes)",
         {"net.toml": mazur('kind = "mse"', 'kind = "cross_entropy"').replace("y = [[0.01, 0.99]]", "y = [2]")}),
    Case("class-huge", CONFIG, "class index 1e300 (cross_entropy)", RUN,
         "nnstep: net.toml: data.y has class index 1e+300 at row 0, outside 0..1 (model.sizes[-1] = 2 classes)",
         {"net.toml": mazur('kind = "mse"', 'kind = "cross_entropy"').replace("y = [[0.01, 0.99]]", "y = [1e300]")}),
    Case("class-fraction", CONFIG, "class label that is not whole (cross_entropy)", RUN,
         "nnstep: net.toml: data.y holds class label 0.5 at row 0, which is not a whole number",
         {"net.toml": mazur('kind = "mse"', 'kind = "cross_entropy"').replace("y = [[0.01, 0.99]]", "y = [0.5]")}),
    Case("bce-range", CONFIG, "bce target outside [0, 1]", RUN,
         "nnstep: net.toml: data.y has a target outside [0, 1] at row 0, which bce cannot take",
         {"net.toml": mazur('kind = "mse"', 'kind = "bce"').replace("y = [[0.01, 0.99]]", "y = [[0.01, 1.5]]")}),
    Case("empty-data", CONFIG, "no data rows", RUN,
         "nnstep: net.toml: data.x has no rows (empty data)",
         {"net.toml": mazur("x = [[0.05, 0.10]]\ny = [[0.01, 0.99]]", "x = []\ny = []")}),
    Case("two-sources", CONFIG, "both inline data and a dataset", RUN,
         "nnstep: net.toml: data has both x and dataset; give one source",
         {"net.toml": mazur("batch_size = 1", 'batch_size = 1\ndataset = "xor"')}),
    Case("unknown-dataset", CONFIG, "unknown built-in dataset", RUN,
         "nnstep: net.toml: data.dataset is an unknown dataset 'mooons' "
         "(did you mean 'moons'? one of: xor, moons, spiral, sine, random)",
         {"net.toml": f'{MAZUR_MODEL}[data]\ndataset = "mooons"\n'}),
    Case("noise-huge", CONFIG, "a dataset noise so large the data overflow", RUN,
         "nnstep: net.toml: data.noise is too large (1e+308): the generated data are not finite",
         {"net.toml": f'{MAZUR_MODEL}[data]\ndataset = "spiral"\nnoise = 1e308\n'}),
    Case("batch-zero", CONFIG, "batch_size = 0", RUN,
         "nnstep: net.toml: data.batch_size must be >= 1, got 0",
         {"net.toml": mazur("batch_size = 1", "batch_size = 0")}),
    Case("toml-nan", CONFIG, "TOML nan in the data", RUN,
         "nnstep: net.toml: data.x[0][0] must be finite, got nan",
         {"net.toml": mazur("x = [[0.05, 0.10]]", "x = [[nan, 0.10]]")}),
    Case("toml-inf", CONFIG, "TOML inf in the data", RUN,
         "nnstep: net.toml: data.y[0][1] must be finite, got inf",
         {"net.toml": mazur("y = [[0.01, 0.99]]", "y = [[0.01, inf]]")}),
    Case("toml-inf-weights", CONFIG, "TOML -inf in a weight", RUN,
         "nnstep: net.toml: model.layers[0].W[1][0] must be finite, got -inf",
         {"net.toml": mazur("W = [[0.15, 0.20], [0.25, 0.30]]", "W = [[0.15, 0.20], [-inf, 0.30]]")}),
    Case("float32-overflow", CONFIG, "a value too large for dtype float32", RUN,
         "nnstep: net.toml: data.x holds 1e+39, too large for dtype float32 (largest 3.40282e+38)",
         {"net.toml": 'dtype = "float32"\n' + mazur("x = [[0.05, 0.10]]", "x = [[1e39, 0.10]]")}),
    Case("json-nan", CONFIG, "JSON NaN literal in the data", ("run", "--config", "net.json", "-n", "1"),
         "nnstep: net.json: data.x[0][1] must be finite, got nan",
         {"net.json": mazur_json(**{"data.x": "[[0.05, NaN]]"})}),
    Case("json-infinity", CONFIG, "JSON Infinity literal in the data", ("run", "--config", "net.json", "-n", "1"),
         "nnstep: net.json: data.y[0][0] must be finite, got -inf",
         {"net.json": mazur_json(**{"data.y": "[[-Infinity, 0.99]]"})}),
    Case("json-lr-string", CONFIG, "JSON: lr given as a string", ("run", "--config", "net.json", "-n", "1"),
         "nnstep: net.json: optimizer.lr must be a number, got string '0.5'",
         {"net.json": mazur_json(**{"optimizer.lr": '"0.5"'})}),
    Case("newline-in-name", CONFIG, "a key holding a newline (kept on one line)", ("run", "--config", "net.json"),
         "nnstep: net.json: unknown key 'a\\nb' (allowed: seed, dtype, description, model, loss, optimizer, data)",
         {"net.json": '{"a\\nb": 1}'}),
    Case("activations-too-big", CONFIG, "a 10 KB config: a 10⁶-unit hidden layer and 500 rows (activations of one batch)", RUN,
         "nnstep: net.toml: model.sizes with batches of 500 rows needs about 15.1 GiB of memory (mostly the "
         "activations of one batch), more than the 4 GiB nnstep allows; use a smaller data.batch_size or smaller layers",
         {"net.toml": mazur("sizes = [2, 2, 2]", "sizes = [2, 1_000_000, 2]").split("[[model.layers]]")[0].replace(
             'init = "explicit"', 'init = "zeros"') + '[loss]\nkind = "mse"\n[data]\ndataset = "random"\nn = 500\n'}),
    Case("json-surrogate", CONFIG, "JSON text holding a lone surrogate (\\ud800), which no file can hold",
         ("run", "--config", "net.json", "-n", "1", "--export", "out.json"),
         "nnstep: net.json: description holds a lone surrogate \\ud800 at character 4, which is not text "
         "(write the character itself, or a \\ud83d\\ude00 pair)",
         {"net.json": mazur_json()[:-1].rstrip() + ',\n  "description": "abc\\ud800"\n}'}),
    Case("json-surrogate-key", CONFIG, "a JSON key holding a lone surrogate", ("run", "--config", "net.json"),
         "nnstep: net.json: \\udc00 holds a lone surrogate \\udc00 at character 1, which is not text "
         "(write the character itself, or a \\ud83d\\ude00 pair)",
         {"net.json": '{"\\udc00": 1}'}),
    Case("config-fifo", CONFIG, "a config that is a FIFO (would wait for a writer forever)", RUN,
         "nnstep: net.toml: is not a regular file (a FIFO), expected a config file", {"net.toml": FIFO}),
    Case("config-device", CONFIG, "`--config /dev/zero` (endless)", ("run", "--config", "/dev/zero"),
         "nnstep: /dev/zero: is not a regular file (a character device), expected a config file"),
    Case("config-socket", CONFIG, "a config that is a socket", RUN,
         "nnstep: net.toml: is not a regular file (a socket), expected a config file", {"net.toml": SOCKET}),
    Case("config-name-too-long", CONFIG, "a config name of 300 characters (ENAMETOOLONG)",
         ("run", "--config", LONG_NAME + ".toml"), f"nnstep: {LONG_NAME}.toml: cannot read (File name too long)"),
    Case("config-link-loop", CONFIG, "a config that is a symbolic link to itself", RUN,
         "nnstep: net.toml: cannot read (Too many levels of symbolic links)", {"net.toml": link("net.toml")}),
    # CSV ---------------------------------------------------------------------
    Case("csv-cell", CSV, "a cell that is not a number", RUN,
         "nnstep: net.toml: data.csv: train.csv line 3, column 2 ('x2'): 'abc' is not a number",
         with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', "x1,x2,t1,t2\n0.05,0.10,0.01,0.99\n0.2,abc,0.5,0.5\n")),
    Case("csv-nan", CSV, "a NaN cell", RUN,
         "nnstep: net.toml: data.csv: train.csv line 2, column 3 ('t1'): 'nan' is not finite",
         with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', "x1,x2,t1,t2\n0.05,0.10,nan,0.99\n")),
    Case("csv-cell-after-blank", CSV, "a bad cell after blank lines (the line number is the file's)", RUN,
         "nnstep: net.toml: data.csv: train.csv line 5, column 1 ('x1'): '1,5' is not a number",
         with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', 'x1,x2,t1,t2\n\n0.05,0.10,0.01,0.99\n\n"1,5",2,0,1\n')),
    Case("csv-short-row", CSV, "a row with too few cells", RUN,
         "nnstep: net.toml: data.csv: train.csv line 3 has 3 cells, the header has 4",
         with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', "x1,x2,t1,t2\n0.05,0.10,0.01,0.99\n0.2,0.3,0.5\n")),
    Case("csv-target", CSV, "target column missing", RUN,
         "nnstep: net.toml: data.target names column 't3', which train.csv does not have "
         "(4 columns: 'x1', 'x2', 't1', …)",
         with_csv('csv = "train.csv"\ntarget = ["t1", "t3"]\n', GOOD_CSV)),
    Case("csv-no-target", CSV, "no data.target", RUN,
         "nnstep: net.toml: missing key data.target (the CSV columns to predict)",
         with_csv('csv = "train.csv"\n', GOOD_CSV)),
    Case("csv-feature", CSV, "features naming a missing column", RUN,
         "nnstep: net.toml: data.features names column 'x9', which train.csv does not have",
         with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\nfeatures = ["x1", "x9"]\n', GOOD_CSV)),
    Case("csv-missing", CSV, "CSV file that does not exist", RUN,
         "nnstep: net.toml: data.csv names gone.csv, which does not exist",
         with_csv('csv = "gone.csv"\ntarget = ["t1", "t2"]\n', GOOD_CSV)),
    Case("csv-empty", CSV, "empty CSV file", RUN,
         "nnstep: net.toml: data.csv names train.csv, which is empty (no header row)",
         with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', "")),
    Case("csv-header-only", CSV, "CSV with a header and no rows", RUN,
         "nnstep: net.toml: data.csv has no rows (empty data)",
         with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', "x1,x2,t1,t2\n")),
    Case("csv-binary", CSV, "CSV file that is not text", RUN,
         "nnstep: net.toml: data.csv names train.csv, which is not UTF-8 text",
         {"net.toml": f'{MAZUR_MODEL}[data]\ncsv = "train.csv"\ntarget = ["t1"]\n', "train.csv": b"\xff\xfe\x00x1"}),
    Case("csv-width", CSV, "more feature columns than sizes[0]", RUN,
         "nnstep: net.toml: data.csv has 3 features per row but model.sizes[0] is 2",
         with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', "x1,x2,x3,t1,t2\n1,2,3,0.1,0.9\n")),
    Case("csv-duplicate-column", CSV, "a header naming a column twice (would train on the first twice)", RUN,
         "nnstep: net.toml: data.csv names train.csv, whose header names column 'x1' twice (columns 1 and 2); rename one",
         with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', "x1,x1,t1,t2\n1,2,0.1,0.9\n")),
    Case("csv-blank-only", CSV, "a CSV file of blank lines only", RUN,
         "nnstep: net.toml: data.csv names train.csv, which holds only blank lines (no header row)",
         with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', "\n\r\n\n")),
    Case("csv-fifo", CSV, "a CSV file that is a FIFO", RUN,
         "nnstep: net.toml: data.csv names train.csv, which is not a regular file (a FIFO)",
         {"net.toml": f'{MAZUR_MODEL}[data]\ncsv = "train.csv"\ntarget = ["t1"]\n', "train.csv": FIFO}),
    Case("csv-device", CSV, "`csv = \"/dev/zero\"` (endless)", RUN,
         "nnstep: net.toml: data.csv names /dev/zero, which is not a regular file (a character device)",
         {"net.toml": f'{MAZUR_MODEL}[data]\ncsv = "/dev/zero"\ntarget = ["t1"]\n'}),
    Case("csv-other-file", CSV, "data.csv naming a file that is not CSV (as root, /etc/shadow): 20 characters quoted", RUN,
         "nnstep: net.toml: data.target names column 't1', which shadow does not have "
         "(columns: 'root:$6$Zq0Lx8aVfN2…')",
         {"net.toml": f'{MAZUR_MODEL}[data]\ncsv = "shadow"\ntarget = ["t1"]\n', "shadow": SHADOW}),
    Case("csv-long-cell", CSV, "a bad cell of 100 characters (20 quoted)", RUN,
         "nnstep: net.toml: data.csv: train.csv line 2, column 1 ('x1'): 'aaaaaaaaaaaaaaaaa...' is not a number",
         with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', "x1,x2,t1,t2\n" + "a" * 100 + ",2,0.1,0.9\n")),
    Case("csv-bad-cell-late", CSV, "a bad cell after 100,000 good rows (found by the csv module after the fast parser)", RUN,
         "nnstep: net.toml: data.csv: train.csv line 100002, column 2 ('x2'): '1.2.3' is not a number",
         with_csv('csv = "train.csv"\ntarget = ["t1", "t2"]\n', "x1,x2,t1,t2\n" + "0.5,1,0,1\n" * 100_000 + "1,1.2.3,0,1\n")),
    # Command-line arguments ----------------------------------------------------
    Case("demo", ARGS, "unknown demo name", ("run", "--demo", "mnist"),
         f"nnstep: --demo: no demo named 'mnist' (demos: {DEMOS})"),
    Case("config-empty", ARGS, "an empty --config", ("run", "--config", ""),
         "nnstep: --config: give a file path, e.g. --config net.toml"),
    Case("demo-empty", ARGS, "an empty --demo", ("run", "--demo", ""),
         f"nnstep: --demo: no demo named '' (demos: {DEMOS})"),
    Case("iterations-zero", ARGS, "--iterations 0", ("run", "--demo", "mazur", "--iterations", "0"),
         "nnstep: --iterations must be from 1 to 1,000,000,000, got 0"),
    Case("iterations-text", ARGS, "--iterations that is not a number", ("run", "--demo", "mazur", "-n", "ten"),
         "nnstep run: argument --iterations/-n: 'ten' is not a whole number written with the digits 0-9 (see nnstep run --help)"),
    Case("iterations-arabic-digits", ARGS, "--iterations in Arabic-Indic digits (int() reads 3: was taken silently)",
         ("run", "--demo", "mazur", "-n", "٣"),
         "nnstep run: argument --iterations/-n: '٣' is not a whole number written with the digits 0-9 (see nnstep run --help)"),
    Case("explain-unknown-format", ARGS, "`nnstep explain -o out.docx` (Markdown in a .docx was written silently)",
         ("explain", "--demo", "mazur", "-o", "out.docx"),
         "nnstep: -o out.docx: no handout format ends in .docx (.md, .tex or .ipynb; or say which with --format)"),
    Case("every-zero", ARGS, "--every 0", ("run", "--demo", "mazur", "--every", "0", "--export", "out.json"),
         "nnstep: --every must be >= 1, got 0"),
    Case("unknown-option", ARGS, "unknown option", ("run", "--demo", "mazur", "--epochs", "3"),
         "nnstep run: unrecognized arguments: --epochs 3 (see nnstep run --help)"),
    Case("unknown-option-top", ARGS, "unknown option without a command", ("--colour",),
         "nnstep: unrecognized arguments: --colour (see nnstep --help)"),
    Case("stages", ARGS, "unknown stage in --stages", ("run", "--demo", "mazur", "--stages", "forward,sideways"),
         "nnstep: --stages: unknown stage 'sideways' (stages: forward, loss, backward, update)"),
    Case("stages-empty", ARGS, "--stages naming no stage", ("run", "--demo", "mazur", "--stages", ",", "--export", "out.json"),
         "nnstep: --stages: name at least one stage (forward, loss, backward, update)"),
    Case("demo-and-config", ARGS, "--demo and --config together", ("run", "--demo", "mazur", "--config", "net.toml"),
         "nnstep run: argument --config: not allowed with argument --demo (see nnstep run --help)"),
    Case("view-no-file", ARGS, "`nnstep view` without a file", ("view",),
         "nnstep view: the following arguments are required: TRACE (see nnstep view --help)"),
    Case("app-config", ARGS, "the app (`nnstep` without a command) on a missing config", ("--config", "net.toml"),
         "nnstep: net.toml: no such file"),
    Case("app-demo", ARGS, "the app on an unknown demo", ("--demo", "mnist"),
         f"nnstep: --demo: no demo named 'mnist' (demos: {DEMOS})"),
    Case("check-config", ARGS, "`nnstep check` of a missing config", ("check", "--config", "net.toml"),
         "nnstep: net.toml: no such file"),
    # Break expressions ---------------------------------------------------------
    Case("break-malformed", BREAK, "comparison without a right side", ("run", "--demo", "mazur", "--break", "loss <", "--export", "out.json"),
         "nnstep: breakpoint 'loss <': column 7: expected a value, found the end"),
    Case("break-unknown-name", BREAK, "unknown name", ("run", "--demo", "mazur", "--break", "los < 0.1"),
         "nnstep: breakpoint 'los < 0.1': column 1: unknown name 'los' "
         "(names: loss, iteration, epoch, index, layer, stage, op, nan; functions: norm, max, min, mean, dead, saturated)"),
    Case("break-import", BREAK, "`__import__('os')`", ("run", "--demo", "mazur", "--break", "__import__('os')"),
         "nnstep: breakpoint '__import__('os')': column 1: unknown name '__import__' "
         "(names: loss, iteration, epoch, index, layer, stage, op, nan; functions: norm, max, min, mean, dead, saturated)"),
    Case("break-eval", BREAK, "`eval('1')`", ("run", "--demo", "mazur", "--break", "eval('1')"),
         "nnstep: breakpoint 'eval('1')': column 1: unknown name 'eval' "
         "(names: loss, iteration, epoch, index, layer, stage, op, nan; functions: norm, max, min, mean, dead, saturated)"),
    Case("break-attribute", BREAK, "attribute access `().__class__`", ("run", "--demo", "mazur", "--break", "().__class__"),
         "nnstep: breakpoint '().__class__': column 3: unexpected character '.'"),
    Case("break-statement", BREAK, "a second statement", ("run", "--demo", "mazur", "--break", "loss < 1; import os"),
         "nnstep: breakpoint 'loss < 1; import os': column 9: unexpected character ';'"),
    Case("break-lambda", BREAK, "`lambda: 0`", ("run", "--demo", "mazur", "--break", "lambda: 0"),
         "nnstep: breakpoint 'lambda: 0': column 7: unexpected character ':'"),
    Case("break-layer", BREAK, "a layer the network does not have", ("run", "--demo", "mazur", "--break", "norm(dW3) > 1"),
         "nnstep: breakpoint 'norm(dW3) > 1': column 6: layer 3 does not exist (layers 1..2)"),
    Case("ignore-first", ARGS, "--ignore before any --break (it would apply to none)",
         ("run", "--demo", "mazur", "--ignore", "3", "--break", "loss increased"),
         "nnstep run: --ignore N follows the --break it applies to, e.g. --break 'loss increased' --ignore 3 "
         "(see nnstep run --help)"),
    Case("ignore-negative", ARGS, "a negative --ignore", ("run", "--demo", "mazur", "--break", "nan", "--ignore", "-1"),
         "nnstep run: --ignore must be 0 or more, got -1 (see nnstep run --help)"),
    Case("break-stage", BREAK, "a stage that does not exist (would never stop)",
         ("run", "--demo", "mazur", "--break", "stage == backwards"),
         "nnstep: breakpoint 'stage == backwards': column 10: unknown stage 'backwards' "
         "(stages: forward, loss, backward, update)"),
    Case("break-op", BREAK, "an op that does not exist", ("run", "--demo", "mazur", "--break", "op == 'lineer'"),
         "nnstep: breakpoint 'op == 'lineer'': column 7: unknown op 'lineer' "
         "(ops: linear, activation, dropout, loss, delta, grad, update)"),
    Case("break-layer-number", BREAK, "`layer ==` a layer the network does not have",
         ("run", "--demo", "mazur", "--break", "layer == 7"),
         "nnstep: breakpoint 'layer == 7': column 10: layer 7 does not exist (layers 1..2)"),
    Case("break-tensor", BREAK, "a bare tensor", ("run", "--demo", "mazur", "--break", "dW1 > 1"),
         "nnstep: breakpoint 'dW1 > 1': column 1: 'dW1' is a tensor; compare a number of it, e.g. norm(dW1)"),
    Case("break-increased", BREAK, "`increased` on something other than loss",
         ("run", "--demo", "mazur", "--break", "iteration increased"),
         "nnstep: breakpoint 'iteration increased': column 11: 'increased' applies to loss only"),
    Case("break-nesting", BREAK, "40 nested parentheses", ("run", "--demo", "mazur", "--break", "(" * 40 + "nan" + ")" * 40),
         f"nnstep: breakpoint '{'(' * 40 + 'nan' + ')' * 40}': column 33: parentheses nested more than 32 deep"),
    Case("break-long", BREAK, "an expression over 500 characters", ("run", "--demo", "mazur", "--break", "nan or " * 80 + "nan"),
         "nnstep: breakpoint: expected an expression of at most 500 characters"),
    Case("break-empty", BREAK, "an empty expression", ("run", "--demo", "mazur", "--break", " "),
         "nnstep: breakpoint ' ': column 1: empty expression"),
    Case("break-arabic-digits", BREAK, "Arabic-Indic digits `loss < ١٢` (float() reads 12: was taken silently)",
         ("run", "--demo", "mazur", "--break", "loss < ١٢"),
         "nnstep: breakpoint 'loss < ١٢': column 8: unexpected character '١' (numbers are written with the digits 0-9)"),
    Case("break-superscript", BREAK, "a superscript digit `loss < ²`", ("run", "--demo", "mazur", "--break", "loss < ²"),
         "nnstep: breakpoint 'loss < ²': column 8: unexpected character '²' (numbers are written with the digits 0-9)"),
    Case("break-layer-digits", BREAK, "a layer in Arabic-Indic digits `norm(dW١)`",
         ("run", "--demo", "mazur", "--break", "norm(dW١) > 1"),
         "nnstep: breakpoint 'norm(dW١) > 1': column 8: unexpected character '١' (numbers are written with the digits 0-9)"),
    Case("watch-arabic-digits", BREAK, "a `--watch` with an Arabic-Indic layer", ("run", "--demo", "mazur", "--watch", "max(z١)"),
         "nnstep: watch 'max(z١)': column 6: unexpected character '١' (numbers are written with the digits 0-9)"),
    Case("break-markup", BREAK, "Rich markup `loss < [/]`", ("run", "--demo", "mazur", "--break", "loss < [/]"),
         "nnstep: breakpoint 'loss < [/]': column 8: unexpected character '['"),
    # Trace files for view --------------------------------------------------------
    Case("view-missing", VIEW, "file that does not exist", ("view", "trace.json"),
         "nnstep: trace.json: no such file"),
    Case("view-empty-path", VIEW, "an empty path", ("view", ""), "nnstep: no trace file given (an empty path)"),
    Case("view-folder", VIEW, "a folder", ("view", "trace.json"),
         "nnstep: trace.json: is a folder, expected a trace file", {"trace.json": FOLDER}),
    Case("view-truncated", VIEW, "truncated trace (cut off mid-file)", ("view", "trace.json"),
         "nnstep: trace.json: truncated at line 1, column 401: Expecting ',' delimiter",
         {"trace.json": _trace()[:400]}),
    Case("view-not-json", VIEW, "not JSON at all", ("view", "trace.json"),
         "nnstep: trace.json: not valid JSON at line 1, column 1: Expecting value",
         {"trace.json": "seed = 0\n[model]\n"}),
    Case("view-binary", VIEW, "not text", ("view", "trace.json"),
         "nnstep: trace.json: not a trace (not UTF-8 text)", {"trace.json": b"\x89PNG\r\n\x1a\n\xff\x00"}),
    Case("view-not-trace", VIEW, "JSON that is not a trace (a config)", ("view", "net.json"),
         'nnstep: net.json: not an nnstep trace (no "format": "nnstep-trace")', {"net.json": mazur_json()}),
    Case("view-version", VIEW, "trace of an unknown version", ("view", "trace.json"),
         "nnstep: trace.json: trace version 4 is not supported (this nnstep reads versions 1, 2, 3)",
         {"trace.json": _trace(version=4)}),
    Case("view-version-text", VIEW, 'version given as "1"', ("view", "trace.json"),
         'nnstep: trace.json: trace version "1" is not supported (this nnstep reads versions 1, 2, 3)',
         {"trace.json": _trace(version="1")}),
    Case("view-edited", VIEW, "a trace whose numbers disagree with its own config", ("view", "trace.json"),
         "nnstep: trace.json: steps[0] (index 0, iteration 1, linear layer 1): z differs from the replay of the "
         "config by max |Δ| = 0.1225 (the trace was edited, or made by another program; --unverified opens it anyway)",
         {"trace.json": _trace(tensor_z=[[0.5, 0.3925]])}),
    Case("view-step-out-of-place", VIEW, "a step whose op is not the one its index holds", ("view", "trace.json"),
         "nnstep: trace.json: steps[0] is op 'linear' of layer 1, but index 1 of this network is op 'activation' of layer 1",
         {"trace.json": _trace(step_index=1)}),
    Case("view-step-no-rows", VIEW, "a version-2 first op without its data rows", ("view", "trace.json"),
         "nnstep: trace.json: steps[0].tensors has no 'rows', which a linear step holds",
         {"trace.json": _trace(tensor_rows=None)}),
    Case("view-gzip-damaged", VIEW, "gzip file with damaged data", ("view", "trace.json.gz"),
         "nnstep: trace.json.gz: the gzip data is truncated or damaged",
         {"trace.json.gz": gzip.compress(_trace().encode(), mtime=0)[:10] + b"\x00garbage" * 8}),
    Case("view-gzip-truncated", VIEW, "gzip file cut off", ("view", "trace.json.gz"),
         "nnstep: trace.json.gz: the gzip data is truncated or damaged",
         {"trace.json.gz": gzip.compress(_trace().encode(), mtime=0)[:-12]}),
    Case("view-bad-config", VIEW, "trace whose config does not check", ("view", "trace.json"),
         "nnstep: trace.json: config: missing table [model]", {"trace.json": _trace(config={"seed": 0})}),
    Case("view-no-steps", VIEW, "trace with no steps (a run interrupted before its first op)", ("view", "trace.json"),
         "nnstep: trace.json: the trace has no steps (nothing to view)", {"trace.json": _trace(steps=[])}),
    Case("view-step-op", VIEW, "step with an unknown op", ("view", "trace.json"),
         "nnstep: trace.json: steps[0].op is not an op nnstep writes (linear, activation, dropout, loss, delta, grad, update)",
         {"trace.json": _trace(step_op="conv")}),
    Case("view-step-shape", VIEW, "step tensor of the wrong shape", ("view", "trace.json"),
         "nnstep: trace.json: steps[0].tensors.W has shape (1, 2), expected (2, 2) (layer 1)",
         {"trace.json": _trace(tensor_W=[[0.15, 0.2]])}),
    Case("view-step-ragged", VIEW, "ragged tensor", ("view", "trace.json"),
         "nnstep: trace.json: steps[0].tensors.z is not an array of numbers (ragged, or not numbers)",
         {"trace.json": _trace(tensor_z=[[0.3775, 0.3925], [1.0]])}),
    Case("view-step-missing", VIEW, "step without a field", ("view", "trace.json"),
         "nnstep: trace.json: steps[0] has no 'tensors'", {"trace.json": _trace().replace('"tensors"', '"tensor"')}),
    Case("view-fifo", VIEW, "a FIFO (would wait for a writer forever)", ("view", "trace.json"),
         "nnstep: trace.json: is not a regular file (a FIFO), expected a trace file", {"trace.json": FIFO}),
    Case("view-device", VIEW, "/dev/zero (endless: refused before reading, not after 2 GiB)", ("view", "/dev/zero"),
         "nnstep: /dev/zero: is not a regular file (a character device), expected a trace file"),
    Case("view-name-too-long", VIEW, "a name of 300 characters", ("view", LONG_NAME + ".json"),
         f"nnstep: {LONG_NAME}.json: cannot read (File name too long)"),
    Case("view-surrogate", VIEW, "a trace whose text holds a lone surrogate", ("view", "trace.json"),
         "nnstep: trace.json: steps[0].equation holds a lone surrogate \\ud800 at character 1, which is not text "
         "(write the character itself, or a \\ud83d\\ude00 pair)",
         {"trace.json": _trace().replace('"equation": "', '"equation": "\\ud800')}),
    # Export paths ------------------------------------------------------------------
    Case("export-no-folder", EXPORT, "a folder that does not exist",
         ("run", "--demo", "mazur", "-n", "1", "--export", "nowhere/out.json"),
         "nnstep: nowhere/out.json: cannot export, the folder nowhere does not exist"),
    Case("export-under-a-file", EXPORT, "a folder part that is a file",
         ("run", "--demo", "mazur", "-n", "1", "--export", "notes.txt/out.json"),
         "nnstep: notes.txt/out.json: cannot export, the folder notes.txt is a file, not a folder", {"notes.txt": "x"}),
    Case("export-empty", EXPORT, "an empty path", ("run", "--demo", "mazur", "-n", "1", "--export", ""),
         "nnstep: --export: give a file path, e.g. --export trace.json"),
    Case("export-folder", EXPORT, "a path that is a folder", ("run", "--demo", "mazur", "-n", "1", "--export", "out"),
         "nnstep: out: cannot export, it is a folder", {"out": FOLDER}),
    Case("export-fifo", EXPORT, "a FIFO (it would be replaced by a regular file)",
         ("run", "--demo", "mazur", "-n", "1", "--export", "out.json"),
         "nnstep: out.json: cannot export, it is not a regular file (a FIFO)", {"out.json": FIFO}),
    Case("export-device", EXPORT, "a device: as root, /dev/null would be replaced",
         ("run", "--demo", "mazur", "-n", "1", "--export", "/dev/null"),
         "nnstep: /dev/null: cannot export, it is not a regular file (a character device)"),
    Case("export-socket", EXPORT, "a socket", ("run", "--demo", "mazur", "-n", "1", "--export", "out.json"),
         "nnstep: out.json: cannot export, it is not a regular file (a socket)", {"out.json": SOCKET}),
    Case("export-link-device", EXPORT, "a symbolic link to /dev/null (a link is followed; its target must be a file)",
         ("run", "--demo", "mazur", "-n", "1", "--export", "out.json"),
         "nnstep: out.json: cannot export, it links to /dev/null, which is not a regular file (a character device)",
         {"out.json": link("/dev/null")}),
    Case("export-link-folder", EXPORT, "a symbolic link to a folder", ("run", "--demo", "mazur", "-n", "1", "--export", "out.json"),
         "nnstep: out.json: cannot export, it is a folder", {"out.json": link("dir"), "dir": FOLDER}),
    Case("export-link-loop", EXPORT, "a symbolic link to itself", ("run", "--demo", "mazur", "-n", "1", "--export", "out.json"),
         "nnstep: out.json: cannot export (Too many levels of symbolic links)", {"out.json": link("out.json")}),
    Case("export-name-too-long", EXPORT, "a name of 300 characters (ENAMETOOLONG)",
         ("run", "--demo", "mazur", "-n", "1", "--export", LONG_NAME + ".json"),
         f"nnstep: {LONG_NAME}.json: cannot export (File name too long)"),
]

# Rows that need a simulated failure (tests/test_cli.py checks each of them).
SIMULATED = [
    (EXPORT, "folder without write permission (EACCES)", "nnstep: out.json: cannot export (Permission denied)", 2),
    (EXPORT, "disk full while writing (ENOSPC)", "nnstep: out.json: cannot export (No space left on device)", 2),
    (CONFIG, "config file without read permission", "nnstep: net.toml: permission denied", 2),
    (CONFIG, "config over 256 MiB",
     "nnstep: net.toml: larger than 256 MiB, too large for a config (put large data in a CSV file: data.csv)", 2),
    (CONFIG, "a 120 MB config of short inline numbers (`[0,1]` rows; 160 MB of them took 3.5 GB): counted before parsing",
     "nnstep: net.toml: holds about 40,000,001 numbers, which would take about 4.1 GiB of memory to read, "
     "more than the 4 GiB nnstep allows (put large data in a CSV file: data.csv)", 2),
    (CSV, "CSV file over 1 GiB",
     "nnstep: net.toml: data.csv names big.csv (1.5 GiB), more than the 1 GiB of CSV nnstep reads", 2),
    (CSV, "CSV of 1 GiB of short rows (its rows would not fit in memory)",
     "nnstep: net.toml: data.csv names big.csv, which has up to 134,217,727 rows of 4 columns, which would take "
     "about 13.0 GiB of memory, more than the 4 GiB nnstep allows", 2),
    (VIEW, "trace of 3.6 GiB of JSON (text, index and decoded arrays would pass 4 GiB): refused by its size "
     "before it is read, a gzip file while it unpacks",
     "nnstep: trace.json: the trace would take about 4.1 GiB of memory to view, more than the 4 GiB nnstep allows; "
     "export fewer steps with --every or --stages, or to .npz", 2),
    (VIEW, "gzip file of 8 MB unpacking to 1.95 GB of zeros (a gzip bomb; not a version-3 trace, so it would be "
     "parsed whole): refused while unpacking",
     "nnstep: trace.json.gz: the trace would take about 4.0 GiB of memory to view, more than the 4 GiB nnstep allows; "
     "export fewer steps with --every or --stages, or to .npz", 2),
    (ARGS, "Ctrl-C during `nnstep run` (with `--export`: the steps so far are written, atomically)",
     "nnstep: interrupted", 130),
]


def make_files(folder: Path, files: dict[str, str | bytes | Special | None]) -> None:
    """Create `files` in `folder` (None makes a folder; FIFO, SOCKET and link(...) what they say)."""
    import socket

    for name, content in files.items():
        path = folder / name
        if content is None:
            path.mkdir()
        elif isinstance(content, Special) and content.kind == "fifo":
            os.mkfifo(path)
        elif isinstance(content, Special) and content.kind == "socket":
            with socket.socket(socket.AF_UNIX) as server:
                server.bind(str(path))  # the socket file stays after the socket closes
        elif isinstance(content, Special):
            path.symlink_to(content.target)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def run_case(case: Case, folder: Path, main: Callable[[list[str]], int]) -> tuple[int, str, str]:
    """Run `case` in `folder`; (status, stdout, stderr), SystemExit counted as a status."""
    make_files(folder, case.files)
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(list(case.argv))
            except SystemExit as exit_:
                status = int(exit_.code or 0)
    finally:
        os.chdir(cwd)
    return status, out.getvalue(), err.getvalue()


def _arg(arg: str) -> str:
    """One command-line argument as a shell user would type it (long ones shortened)."""
    if len(arg) > 50:
        arg = arg[:47] + "…"
    if arg and all(c.isalnum() or c in "-_./=," for c in arg):
        return arg
    return '"' + arg.replace('"', '\\"') + '"'


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """docs/errors.md: every case and simulated row, grouped by section."""
    lines = [
        "# Errors: what nnstep says about bad input",
        "",
        "Every bad input gets one line on stderr naming what is wrong and where (file and key,",
        "line and column, or the column of a break expression), exit status 2, no traceback,",
        "and nothing written: an earlier export at the same path stays as it was and no temporary",
        "file is left behind. Exit statuses: 0 success, 1 a check failed (`nnstep check`),",
        "2 bad input, 130 interrupted (Ctrl-C).",
        "",
        "Generated by `python -m tests.bad_inputs` from the table the tests run",
        "(tests/bad_inputs.py); every row is a test.",
    ]
    sections = list(dict.fromkeys([c.section for c in CASES] + [s[0] for s in SIMULATED]))
    for section in sections:
        lines += ["", f"## {section}", ""]
        if section in (CONFIG, CSV):
            lines += ["Each row runs `nnstep run --config net.toml` (`nnstep`, `nnstep check` and the app say the same)"
                      " on the mazur config with one thing changed.", ""]
        if section == EXPORT:
            lines += ["An export writes only to a regular file or a new name, through a temporary file",
                      "`.nnstep-XXXXXXXX.tmp` beside it that replaces it once complete. A symbolic link is followed:",
                      "its target is replaced and the link kept. An existing file keeps its mode (and, as root, its",
                      "owner); a new one gets 0666 less the umask.", ""]
        if section in (CONFIG, CSV, VIEW):
            lines += ["Only regular files are read (a FIFO, a device or a socket is refused before a byte is read),",
                      "and an input whose parsed numbers would take more than 4 GiB of memory is refused before",
                      "it is parsed." if section != CSV else "it is parsed. Blank lines (before the header too) are skipped.", ""]
        lines += ["| Input | What the user sees (stderr) | Exit |", "|---|---|---|"]
        for case in CASES:
            if case.section == section:
                what = case.what
                if section not in (CONFIG, CSV):
                    command = " ".join(_arg(a) for a in case.argv)
                    what = f"{what}: `nnstep {command}`"
                message = case.message if len(case.message) < 220 else case.message[:200] + "…"
                lines.append(f"| {_cell(what)} | `{_cell(message)}` | {case.status} |")
        for row_section, what, message, status in SIMULATED:
            if row_section == section:
                lines.append(f"| {_cell(what)} | `{_cell(message)}` | {status} |")
    return "\n".join(lines) + "\n"


DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"

if __name__ == "__main__":
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(markdown(), encoding="utf-8")
    print(f"wrote {DOC} ({len(CASES) + len(SIMULATED)} rows)", file=sys.stderr)

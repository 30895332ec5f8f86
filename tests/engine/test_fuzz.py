"""Fuzzing the loaders: whatever the bytes, only NnstepError with a one-line message.

Random bytes, valid files with random edits (cut, inserted tokens, swapped
numbers) and valid documents with a random value put at a random key go
through the config, CSV and trace loaders; configs drawn from every Engine
v2 key (optimizer kinds and their hyperparameters, dropout, freeze,
negative_slope, optimizer state, l1, bce_with_logits, text with lone
surrogates) must load, train, export, read back and verify against their own
replay, or be refused. If one of these fails, some half-written or
hand-edited file makes nnstep crash with a traceback (or a numpy warning)
instead of saying what is wrong; hypothesis prints the input.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nnstep.engine import NnstepError, Session, build_config, load_config, load_demo
from nnstep.engine.trace import read_trace, verify_trace, write_trace

from tests.bad_inputs import GOOD_CSV, MAZUR, MAZUR_MODEL, mazur_json

FUZZ = settings(
    # 200 per property keeps the file near 6 s; NNSTEP_FUZZ_EXAMPLES=5000 for a long hunt.
    max_examples=int(os.environ.get("NNSTEP_FUZZ_EXAMPLES", "200")),
    deadline=None,
    database=None,  # nothing written into the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Tokens that make a file wrong in an interesting way rather than just garbled.
TOKENS = [
    "", "0", "-1", "2", "0.5", "1e999", "-1e999", "1e-999", "nan", "inf", "-inf", "NaN", "Infinity", "-Infinity",
    "9" * 30, "9" * 400, "9" * 5000, "1e300", "[", "]", "[[", "]]", "{", "}", '"', "'", ",", "=", ":", "\n", "#", "true", "false", "null",
    "[]", "{}", '""', "x", "relu", "softmax", "cross_entropy", "bce", "explicit", "\x00", "é", "\t", "\r\n",
    "[model]", "[[model.layers]]", "[data]", "sizes", "W", "b", "y", "csv", "target", "dataset", "n", "version",
    '"steps"', '"tensors"', '"layer"', '"op"', '"update"', '"loss"', "1.0", "-0", "1_000",
]
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
NUMBER_TOKENS = [
    "0", "1", "2", "3", "-1", "0.5", "-0.5", "1.5", "2.0", "100000", "1e300", "-1e300", "1e999", "1e-320",
    "3.5e38", "9" * 400, "9" * 5000, "nan", "inf", "NaN", "Infinity", "true", "null", '"1"', "[]", "[1]",
]
TUTORIAL = MAZUR_MODEL.replace("[data]", "") + '[data]\ndataset = "random"\nn = 10\n'
SPIRAL = MAZUR_MODEL + '[data]\ndataset = "spiral"\nn = 12\nnoise = 0.1\n'
# Class labels (a 1-D y) for cross-entropy: the label checks see the edited values.
LABELS = MAZUR.replace('kind = "mse"', 'kind = "cross_entropy"').replace("y = [[0.01, 0.99]]", "y = [1]")


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """`text` after 1-4 random edits: delete, insert a token, replace a span, truncate, repeat a line."""
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "repeat", "digits", "renumber", "renumber"]))
        i = draw(st.integers(0, len(text)))
        j = min(len(text), i + draw(st.integers(0, 24)))
        token = draw(st.sampled_from(TOKENS) | st.text(max_size=6))
        if kind == "delete":
            text = text[:i] + text[j:]
        elif kind == "insert":
            text = text[:i] + token + text[i:]
        elif kind == "replace":
            text = text[:i] + token + text[j:]
        elif kind == "truncate":
            text = text[:i]
        elif kind == "repeat":
            lines = text.splitlines(keepends=True)
            if lines:
                k = draw(st.integers(0, len(lines) - 1))
                text = "".join(lines[: k + 1] + lines[k:])
        elif kind == "digits":  # swap every occurrence of one digit: shapes, sizes and indices change together
            digit, other = draw(st.sampled_from("0123456789")), draw(st.sampled_from("0123456789"))
            text = text.replace(digit, other)
        else:  # one number (a size, an index, a cell, the version) becomes another value
            spans = [m.span() for m in NUMBER.finditer(text)]
            if spans:
                a, b = draw(st.sampled_from(spans))
                text = text[:a] + draw(st.sampled_from(NUMBER_TOKENS)) + text[b:]
    return text


# Numbers at the edges: past float range (as integers too), past int64, past float32.
EDGE_NUMBERS = st.sampled_from([10**400, -(10**400), 2**63, 2**64 + 1, 1e300, -1e300, 1e-320, 3.5e38])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | EDGE_NUMBERS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside a parsed JSON/TOML document."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value[:3]):
            found += _paths(inner, (*prefix, index))
    return found


@st.composite
def changed(draw: st.DrawFn, document: Any) -> Any:
    """A deep copy of `document` with a random value put at (or a key removed from) a random path."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(document)))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON_VALUES)
        if not _paths(document):
            break
    return document


def only_our_error(load: Callable[[], Any]) -> None:
    """`load()` succeeds or raises NnstepError with one line; anything else fails the test."""
    try:
        load()
    except NnstepError as error:
        message = str(error)
        assert message and "\n" not in message and "\r" not in message, repr(message)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def trace_text(folder: Path) -> str:
    """A real export: two iterations of mazur, every op."""
    config = load_demo("mazur")
    session = Session(config)
    path = folder / "base-trace.json"
    write_trace(path, config.to_dict(), (session.step() for _ in range(22)))
    return path.read_text(encoding="utf-8")


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    path.write_bytes(content)
    return path


# --- configs ------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=600), suffix=st.sampled_from([".toml", ".json"]))
def test_config_loader_on_random_bytes(folder: Path, data: bytes, suffix: str) -> None:
    only_our_error(lambda: load_config(_write(folder / f"net{suffix}", data)))


@FUZZ
@given(text=st.one_of(mutated(MAZUR), mutated(TUTORIAL), mutated(LABELS), mutated(SPIRAL)))
def test_config_loader_on_edited_toml(folder: Path, text: str) -> None:
    only_our_error(lambda: load_config(_write(folder / "net.toml", text)))


@FUZZ
@given(text=mutated(mazur_json()))
def test_config_loader_on_edited_json(folder: Path, text: str) -> None:
    only_our_error(lambda: load_config(_write(folder / "net.json", text)))


@FUZZ
@given(raw=st.one_of(changed(tomllib.loads(MAZUR)), changed(tomllib.loads(TUTORIAL)), changed(tomllib.loads(LABELS)),
                    changed(tomllib.loads(SPIRAL)),
                    changed(tomllib.loads('dtype = "float32"\n' + MAZUR))))
def test_config_checker_on_wrong_values(raw: Any) -> None:
    """Any value of any type at any key: build_config names it or accepts it."""
    only_our_error(lambda: build_config(raw, "net.toml"))


# --- CSV ------------------------------------------------------------------------------

CSV_CONFIG = f'{MAZUR_MODEL}[data]\ncsv = "data.csv"\ntarget = ["t1", "t2"]\n'


@FUZZ
@given(data=st.one_of(st.binary(max_size=400).map(lambda b: b), mutated(GOOD_CSV)))
def test_csv_loader(folder: Path, data: str | bytes) -> None:
    _write(folder / "data.csv", data)
    only_our_error(lambda: load_config(_write(folder / "csv.toml", CSV_CONFIG)))


@FUZZ
@given(config=mutated(CSV_CONFIG))
def test_csv_config_keys(folder: Path, config: str) -> None:
    """Edited csv/target/features keys against a good CSV file."""
    _write(folder / "data.csv", GOOD_CSV)
    only_our_error(lambda: load_config(_write(folder / "csv.toml", config)))


# --- traces ----------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=600), gz=st.booleans())
def test_trace_loader_on_random_bytes(folder: Path, data: bytes, gz: bool) -> None:
    if gz:
        data = b"\x1f\x8b" + data
    only_our_error(lambda: read_trace(_write(folder / "t.json", data)))


@FUZZ
@given(data=st.data())
def test_trace_loader_on_edited_traces(folder: Path, trace_text: str, data: st.DataObject) -> None:
    text = data.draw(mutated(trace_text))
    only_our_error(lambda: read_trace(_write(folder / "t.json", text)))


@FUZZ
@given(data=st.data())
def test_trace_loader_on_wrong_values(folder: Path, trace_text: str, data: st.DataObject) -> None:
    """Any value at any key of a real trace (config, steps, tensors)."""
    document = data.draw(changed(json.loads(trace_text)))
    text = json.dumps(document)
    only_our_error(lambda: read_trace(_write(folder / "t.json", text)))


@FUZZ
@given(data=st.data())
def test_trace_loader_on_damaged_gzip(folder: Path, trace_text: str, data: st.DataObject) -> None:
    packed = bytearray(gzip.compress(trace_text.encode("utf-8"), mtime=0))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(packed) - 1))
        packed[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(2, len(packed)))
    only_our_error(lambda: read_trace(_write(folder / "t.json.gz", bytes(packed[:cut]))))


# --- Engine v2's config keys -----------------------------------------------------------------
# Values near and past each key's edges, of the right type and of wrong ones.
KNOB = st.one_of(
    st.sampled_from([0, 0.0, 1, 1.0, 0.5, 0.9, 0.99, 0.999, 1e-8, 1e-3, -0.1, -1, 2, 10, 1e300, 10**400, True, False]),
    st.floats(), st.text(max_size=4), st.none(), st.lists(st.floats(-2, 2), max_size=3),
)
PAIR = st.one_of(st.lists(st.one_of(st.floats(-0.5, 1.5), KNOB), min_size=0, max_size=3), KNOB)
OPTIMIZER_KEYS = {
    "lr": KNOB, "betas": PAIR, "eps": KNOB, "weight_decay": KNOB, "amsgrad": KNOB, "alpha": KNOB, "centered": KNOB,
    "momentum": KNOB, "dampening": KNOB, "nesterov": KNOB, "t": st.one_of(st.integers(-2, 5), KNOB),
}
# Text, lone surrogates included: a config's text must load and export, or be refused.
TEXT = st.text(st.characters(categories=["L", "N", "P", "S", "Z", "Cs", "Cc"]), max_size=6)


def _matrix(rows: int, cols: int) -> st.SearchStrategy[Any]:
    return st.lists(st.lists(st.floats(-2, 2), min_size=cols, max_size=cols), min_size=rows, max_size=rows)


@st.composite
def v2_config(draw: st.DrawFn) -> dict[str, Any]:
    """The mazur network with a random [optimizer], dropout, freeze, slope, state tables and loss.

    Half the configs use values of any kind (most are refused, each for its
    own reason); the other half draw each key from values it accepts, so
    that most of those load, and train, export and verify.
    """
    raw = tomllib.loads(MAZUR)
    wild = draw(st.booleans())
    kind = draw(st.sampled_from(["sgd", "adam", "adamw", "rmsprop"]))
    optimizer: dict[str, Any] = {"kind": kind}
    keys = OPTIMIZER_KEYS if wild else {k: _plausible(k) for k in _OWN_KEYS[kind]}
    for key in draw(st.lists(st.sampled_from(sorted(keys)), max_size=4, unique=True)):
        optimizer[key] = draw(st.one_of(keys[key], _plausible(key)) if wild else keys[key])
    raw["optimizer"] = optimizer
    model = raw["model"]
    if draw(st.booleans()):
        model["dropout"] = draw(st.one_of(st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.999, 1.0, -0.1]), max_size=3), KNOB)
                                if wild else st.tuples(st.sampled_from([0.0, 0.25, 0.5]), st.just(0.0)).map(list))
    if draw(st.booleans()):
        names = ["W1", "b1", "W2", "b2"] + (["W3", "w1", "", 1] if wild else [])
        model["freeze"] = draw(st.lists(st.sampled_from(names), max_size=4, unique=not wild))
    if draw(st.booleans()):
        model["negative_slope"] = draw(KNOB if wild else st.floats(-1, 1))
    loss = draw(st.sampled_from(["mse", "cross_entropy", "bce", "bce_with_logits"]))
    hidden = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"] + (["softmax"] if wild else [])
    output = ["identity"] if loss == "bce_with_logits" and not wild else hidden + ["softmax"]
    model["activations"] = [draw(st.sampled_from(hidden)), draw(st.sampled_from(output))]
    states = _STATE[kind] if not wild else ["m_W", "m_b", "v_W", "v_b", "v_max_W", "g_avg_W", "buf_b", "momentum_b"]
    for layer in model["layers"]:
        if draw(st.integers(0, 3)) == 0:
            names = draw(st.lists(st.sampled_from(states), max_size=3, unique=True))
            layer["state"] = {n: draw(st.one_of(_matrix(2, 2), st.lists(st.floats(-1, 1), max_size=3), KNOB) if wild
                                      else (_matrix(2, 2) if n.endswith("_W") else st.lists(st.floats(0, 1), min_size=2,
                                                                                              max_size=2)))
                              for n in names}
            if not wild:
                optimizer.update(t=draw(st.integers(1, 5)), amsgrad=True, centered=True, momentum=0.5)
                for key in [k for k in ("amsgrad", "centered", "momentum") if k not in _OWN_KEYS[kind]]:
                    del optimizer[key]
    raw["loss"] = {"kind": loss}
    if draw(st.booleans()):
        raw["loss"]["l1"] = draw(KNOB if wild else st.sampled_from([0.0, 0.001, 0.1]))
    if draw(st.integers(0, 3)) == 0:
        raw["description"] = draw(TEXT)
    return raw


# The keys each optimizer takes, and the state it keeps (with amsgrad, centered, momentum on).
_OWN_KEYS = {
    "sgd": ("lr", "weight_decay", "momentum", "dampening", "nesterov", "t"),
    "adam": ("lr", "weight_decay", "betas", "eps", "amsgrad", "t"),
    "adamw": ("lr", "weight_decay", "betas", "eps", "amsgrad", "t"),
    "rmsprop": ("lr", "weight_decay", "eps", "alpha", "centered", "momentum", "t"),
}
_STATE = {
    "sgd": ["v_W", "v_b"], "adam": ["m_W", "m_b", "v_W", "v_b", "v_max_W"], "adamw": ["m_W", "v_b", "v_max_b"],
    "rmsprop": ["v_W", "v_b", "g_avg_W", "buf_b"],
}


def _plausible(key: str) -> st.SearchStrategy[Any]:
    """A value that passes the key's own check, so that the checks between keys are reached too."""
    return {
        "betas": st.just([0.9, 0.999]), "amsgrad": st.booleans(), "centered": st.booleans(), "nesterov": st.just(False),
        "t": st.integers(0, 3), "alpha": st.sampled_from([0.0, 0.99, 1.0]), "eps": st.just(1e-8),
        "lr": st.sampled_from([0.01, 0.5]), "dampening": st.sampled_from([0.0, 0.5]),
    }.get(key, st.sampled_from([0.0, 0.01, 0.9]))


@FUZZ
@given(raw=v2_config())
def test_v2_config_keys_load_or_say_why(folder: Path, raw: dict[str, Any]) -> None:
    """Every combination of optimizer, dropout, freeze, slope, state and loss keys loads or raises
    NnstepError; one that loads also trains, exports, reads back and verifies against itself."""
    try:
        config = build_config(raw, "net.toml")
    except NnstepError as error:
        assert "\n" not in str(error) and "\r" not in str(error), repr(str(error))
        return
    session = Session(config)
    path = folder / "v2-trace.json"
    write_trace(path, config.to_dict(), (session.step() for _ in range(2 * len(config.schedule))))
    trace = read_trace(path)
    assert verify_trace(build_config(trace["config"], "t"), trace["records"]) is None


@FUZZ
@given(raw=st.one_of(changed(tomllib.loads(MAZUR.replace('kind = "sgd"\nlr = 0.5\nmomentum = 0.0',
                                                       'kind = "adam"\nlr = 0.01\nbetas = [0.9, 0.999]\neps = 1e-8\n'
                                                       'amsgrad = true\nt = 2').replace(
    "b = [0.35, 0.35]", "b = [0.35, 0.35]\nstate = { m_W = [[0.0, 0.1], [0.2, 0.0]], v_b = [0.01, 0.02] }")
    .replace('init = "explicit"', 'init = "explicit"\ndropout = [0.5, 0.0]\nfreeze = ["b2"]\nnegative_slope = 0.02')
    .replace('kind = "mse"', 'kind = "mse"\nl1 = 0.001'))),
    changed(tomllib.loads(MAZUR.replace('kind = "sgd"\nlr = 0.5\nmomentum = 0.0',
                                        'kind = "rmsprop"\nalpha = 0.9\ncentered = true\nmomentum = 0.5\nt = 1').replace(
        "b = [0.35, 0.35]", "b = [0.35, 0.35]\nstate = { v_W = [[0.0, 0.1], [0.2, 0.0]], g_avg_b = [0.0, 0.1], buf_W = [[0.0, 0.0], [0.0, 0.0]] }")))))
def test_v2_configs_with_wrong_values(raw: Any) -> None:
    """Any value of any type at any key of a config that uses every v2 key."""
    only_our_error(lambda: build_config(raw, "net.toml"))

"""`nnstep.save_config`: a Config as a self-contained TOML file, every number exact.

Batch rows: data.x has shape (N, n_0), data.y (N, n_L) or class labels (N,);
[[model.layers]] W has shape (n_l, n_{l-1}), b (n_l,).

tomllib reads TOML but cannot write it, and nnstep needs little of it: the
shape of `Config.to_dict()` — numbers, strings, booleans, nested lists,
tables and one array of tables. Floats are written by repr(), the shortest
text that reads back as the same double, so the file trains bit for bit as
the config does (a float32 value is a double exactly, so it survives too).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from nnstep.engine.config import Config
from nnstep.engine.errors import NnstepError, write_atomically

HEADER = "# An nnstep config, written by nnstep.save_config. Open it with: nnstep --config {name}\n"


def save_config(config: Config, path: str | os.PathLike[str]) -> None:
    """Write `config` to `path` as TOML, atomically (see `nnstep.save_config`)."""
    if not isinstance(config, Config):
        raise NnstepError(f"save_config: expected an nnstep Config (from nnstep.from_torch), got {type(config).__name__}")
    target = Path(path)
    text = HEADER.format(name=target.name) + to_toml(config.to_dict())
    _write_atomically(target, text)


def to_toml(table: dict[str, Any]) -> str:
    """TOML text for a dict of plain values (what `Config.to_dict()` returns)."""
    lines: list[str] = []
    _table(lines, table, [])
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(lines: list[str], table: dict[str, Any], path: list[str]) -> None:
    # Keys first, then sub-tables, then arrays of tables: a key after a [header] would belong to it.
    subtables = {k: v for k, v in table.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in table.items() if isinstance(v, list) and v and all(isinstance(e, dict) for e in v)}
    for key, value in table.items():
        if key not in subtables and key not in arrays:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in subtables.items():
        lines.extend(["", f"[{'.'.join(map(_key, path + [key]))}]"])
        _table(lines, value, path + [key])
    for key, elements in arrays.items():
        for element in elements:
            lines.extend(["", f"[[{'.'.join(map(_key, path + [key]))}]]"])
            _table(lines, element, path + [key])


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # the shortest text that reads back as this double: '1e-08', '0.1', '-0.0'
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], (list, tuple)):  # a matrix: one row a line
            return "[\n" + "".join(f"    {_value(row)},\n" for row in value) + "]"
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise NnstepError(f"save_config: cannot write a {type(value).__name__} as TOML")


def _string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _write_atomically(target: Path, text: str) -> None:
    """Through the one writer every export uses (engine/errors.py): a regular file or a new name only, all or nothing."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in a name or the description
        raise NnstepError(f"{target}: cannot save text that is not valid Unicode (a lone surrogate)") from None
    write_atomically(target, lambda raw: raw.write(data), verb="save")

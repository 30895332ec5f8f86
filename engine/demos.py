"""The demo configs shipped in the `nnstep.demos` package."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from .config import Config, load_config
from .errors import NnstepError

DEFAULT_DEMO = "tutorial"


def _folder() -> Path:
    return Path(str(resources.files("nnstep.demos")))


def demo_names() -> list[str]:
    """Names of the shipped demos, the default first."""
    names = sorted(p.stem for p in _folder().glob("*.toml"))
    return sorted(names, key=lambda name: name != DEFAULT_DEMO)


def demo_path(name: str) -> Path:
    """The config file of demo `name`; NnstepError naming the demos if unknown."""
    path = _folder() / f"{name}.toml"
    if not path.is_file():
        raise NnstepError(f"--demo: no demo named '{name}' (demos: {', '.join(demo_names())})")
    return path


def demo_description(name: str) -> str:
    """The one-line description at the top of a demo's config."""
    with demo_path(name).open("rb") as handle:
        return str(tomllib.load(handle).get("description", ""))


def load_demo(name: str = DEFAULT_DEMO) -> Config:
    """The checked Config of demo `name`."""
    return load_config(demo_path(name), name=name)

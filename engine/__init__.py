"""nnstep's engine: training as discrete, inspectable steps, in NumPy only.

Batch rows: z⁽ˡ⁾ = a⁽ˡ⁻¹⁾W⁽ˡ⁾ᵀ + b⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).

    >>> from nnstep.engine import Session, load_demo
    >>> session = Session(load_demo("mazur"))
    >>> session.step().equation
    'z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Imported on first use (PEP 562): `nnstep --version` and `--help` need only
# the version and the error type, and NumPy alone costs ~90 ms to import.
_WHERE = {
    "Config": "config", "build_config": "config", "load_config": "config",
    "demo_names": "demos", "demo_path": "demos", "load_demo": "demos",
    "NnstepError": "errors",
    "Params": "network", "iterate": "network",
    "STAGES": "schedule", "StepRecord": "records",
    "Run": "run", "RunResult": "run",  # not `run`: the name stays the module nnstep.engine.run
    "NetworkState": "session", "Session": "session",
    "Timeline": "timeline", "TraceTimeline": "timeline",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'nnstep.engine' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from .config import Config, build_config, load_config
    from .demos import demo_names, demo_path, load_demo
    from .errors import NnstepError
    from .network import Params, iterate
    from .records import StepRecord
    from .run import Run, RunResult
    from .schedule import STAGES
    from .session import NetworkState, Session
    from .timeline import Timeline, TraceTimeline

__all__ = [
    "STAGES",
    "Config",
    "NetworkState",
    "NnstepError",
    "Params",
    "Run",
    "RunResult",
    "Session",
    "StepRecord",
    "Timeline",
    "TraceTimeline",
    "__version__",
    "build_config",
    "demo_names",
    "demo_path",
    "iterate",
    "load_config",
    "load_demo",
]

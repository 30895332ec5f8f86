"""nnstep's engine: training as discrete, inspectable steps, in NumPy only.

Batch rows: z⁽ˡ⁾ = a⁽ˡ⁻¹⁾W⁽ˡ⁾ᵀ + b⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).

    >>> from nnstep.engine import Session, load_demo
    >>> session = Session(load_demo("mazur"))
    >>> session.step().equation
    'z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾'
"""

from __future__ import annotations

from .config import Config, build_config, load_config
from .demos import demo_names, demo_path, load_demo
from .errors import NnstepError
from .network import Params, iterate
from .records import STAGES, StepRecord
from .run import Run, RunResult  # not `run`: the name stays the module nnstep.engine.run
from .session import NetworkState, Session
from .timeline import Timeline, TraceTimeline

__version__ = "0.1.0"

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

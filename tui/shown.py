"""What the tensor panes show for an op: its tensors with their symbols, roles and what each is compared with.

The controller decides *which* record is shown; this module turns a record
(or, before the first op, the initial state) into `Tensor`s, the one shape
every pane, the Δ view and find read. Nothing here imports textual.
Batch rows: z⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nnstep.engine import Config, NetworkState, StepRecord
from nnstep.engine.network import batch_rows
from nnstep.engine.schedule import PARAMETERS, state_key
from nnstep.tui.symbols import sup, symbol


@dataclass(frozen=True, eq=False)
class Tensor:
    """A tensor as a pane shows it: engine name, tutorial symbol, values, role, what it is compared with.

    `role` is "read" (an input of the op), "written" (computed by the op) or
    "start" (before the first op: the initial parameters and the first batch).
    """

    name: str
    symbol: str
    values: np.ndarray
    written: bool
    reference: np.ndarray | None = None
    role: str = ""
    layer: int | None = None  # a start tensor's layer (a record's tensors have the record's)

    @property
    def kind(self) -> str:
        """The role, defaulting to what `written` says."""
        return self.role or ("written" if self.written else "read")


def carried(config: Config) -> frozenset[str]:
    """Tensors that carry over from batch to batch: W, b (before, after, the next layer's) and the optimizer's state.

    Compared with the previous iteration even when its batch held other samples.
    """
    state = {state_key(name, P) for name in config.optimizer.state_names() for P in PARAMETERS}
    return frozenset({*PARAMETERS, "W_next", "W_before", "b_before", *state})


def op_tensors(record: StepRecord, config: Config, previous: StepRecord | None, *, short: bool = False,
               kept: frozenset[str] | None = None) -> tuple[Tensor, ...]:
    """The op's tensors with their symbols, roles and what each is compared with (▴/▾).

    `previous`: the same op of the previous iteration (None: no change marks
    but an update's before/after). `kept`: `carried(config)`, passed in to
    save working it out per op. `short`: a short terminal, where plain SGD's
    ΔW = −η·∂L/∂W (the equation says so) makes room.
    """
    kept = carried(config) if kept is None else kept
    same_batch = config.batches_per_epoch == 1
    plain_sgd = not (config.optimizer.state_names() or config.optimizer.weight_decay)
    skip = ("step_W", "step_b") if plain_sgd and short else ()
    result = []
    for name, values in record.tensors.items():
        if name in skip or name == "rows":  # the batch's row numbers: data, not a tensor to study
            continue
        if record.op == "update" and name in PARAMETERS:
            reference = record.tensors.get(f"{name}_before")
        elif previous is not None and (same_batch or name in kept):
            reference = previous.tensors.get(name)
        else:
            reference = None  # another batch: its rows are other samples, changes would mean nothing
        written = name in record.writes
        result.append(Tensor(name, symbol(name, record, config.depth, config.schedule), values, written, reference,
                             "written" if written else "read"))
    if record.op == "update":
        # W's story on one row, b's on the next: before, gradient, state, step, after.
        result.sort(key=lambda t: t.name == "b" or t.name.endswith("_b") or t.name == "db")
    return tuple(result)


def start_tensors(config: Config, state: NetworkState) -> tuple[Tensor, ...]:
    """Before the first op: the first batch x, y and the initial W⁽ˡ⁾, b⁽ˡ⁾ of every layer (from `state`)."""
    rows = batch_rows(config, 0)
    x, y = config.x[rows], config.y[rows]
    tensors = [Tensor("x", "x", x, False, role="start", layer=0), Tensor("y", "y", y, False, role="start")]
    for layer, (W, b) in enumerate(zip(state.W, state.b), start=1):
        tensors.append(Tensor("W", f"W{sup(layer)}", W, False, role="start", layer=layer))
        tensors.append(Tensor("b", f"b{sup(layer)}", b, False, role="start", layer=layer))
    return tuple(tensors)

"""The one place that knows how an iteration is laid out.

For a given config, an iteration is a fixed sequence of ops:

    forward   linear l, activation l, dropout l (when p⁽ˡ⁾ > 0)   for l = 1…L
    loss      loss
    backward  delta l, grad l                                     for l = L…1
    update    update l                                            for l = 1…L

Each op's `OpSpec` says its position, stage, layer, the tensors it reads and
writes (the exact keys of its record's `tensors`), its formula in the
tutorial's notation with every hyperparameter filled in, and a one-line hint.
The session, the trace reader and writer, breakpoints, health, the gradient
check and every pane ask the schedule; nothing else counts ops or lists
tensor names.

Tensor names (batch rows: z, a, delta have shape (B, n_l); W, dW (n_l, n_{l-1})):
rows (the data rows of the batch, first op only), a_prev, W, b, z, a, mask,
a_drop, y_hat, y, loss, data_loss, penalty, p, dL_dy_hat, W_next, delta_next,
delta, dW, db, and in the update W_before, b_before, step_W, step_b, W, b
plus the optimizer's state as <state>_W and <state>_b (m_W, v_W, …).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from . import equations as eq

if TYPE_CHECKING:
    from .config import Config

STAGES = ("forward", "loss", "backward", "update")
OPS = ("linear", "activation", "dropout", "loss", "delta", "grad", "update")
UNITS = ("op", "stage", "iteration", "epoch")
PARAMETERS = ("W", "b")

HINTS = {
    "linear": "weighted sum of the layer's inputs",
    "activation": "non-linearity, element by element",
    "dropout": "units dropped at random, the kept ones scaled by 1/(1 − p)",
    "loss": "how far ŷ is from y",
    "delta": "error signal δ = ∂L/∂z, by the chain rule",
    "grad": "gradients of the loss for W and b",
    "update": "the optimizer's step",
}
STAGE_OF = {"linear": "forward", "activation": "forward", "dropout": "forward", "loss": "loss",
            "delta": "backward", "grad": "backward", "update": "update"}


@dataclass(frozen=True, slots=True)
class OpSpec:
    """One op of an iteration: where it is, what it reads and writes, its formula."""

    offset: int  # 0-based position within the iteration
    stage: str
    layer: int | None  # 1-based; None for the loss
    op: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    formula: str
    hint: str

    @property
    def tensors(self) -> tuple[str, ...]:
        """Every tensor of the op's record: what it reads, then what it writes."""
        return self.reads + self.writes


@dataclass(frozen=True)
class Schedule:
    """The ops of one iteration for one kind of network, and arithmetic on op indices.

    A global op index counts from 0 at the first op of iteration 1;
    `len(schedule)` ops make an iteration.
    """

    ops: tuple[OpSpec, ...]
    depth: int
    frozen: frozenset[str] = frozenset()
    # Per layer, per parameter: (0 for W / 1 for b, "W", frozen?, ((state, key), …),
    # ((shown, key), …)) — what the update loop needs, worked out once.
    updates: tuple[tuple[tuple, ...], ...] = ()

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[OpSpec]:
        return iter(self.ops)

    @property
    def loss_offset(self) -> int:
        """Offset of the loss op within an iteration."""
        return next(spec.offset for spec in self.ops if spec.op == "loss")

    def first(self, stage: str) -> int:
        """Offset of the first op of `stage`."""
        return next(spec.offset for spec in self.ops if spec.stage == stage)

    def spec(self, index: int) -> OpSpec:
        """The op at global index `index`."""
        return self.ops[index % len(self.ops)]

    def locate(self, index: int) -> tuple[int, int]:
        """(iteration, offset), both 0-based, of global op index `index`."""
        return divmod(index, len(self.ops))

    def index(self, iteration: int, offset: int) -> int:
        """Global op index of `offset` in 0-based `iteration`."""
        return iteration * len(self.ops) + offset

    def find(self, op: str, layer: int | None = None) -> OpSpec:
        """The spec of `op` (of `layer`)."""
        for spec in self.ops:
            if spec.op == op and spec.layer == layer:
                return spec
        raise KeyError((op, layer))

    def iterations_done(self, position: int) -> int:
        """Iterations complete once the op at `position` is done (-1: none)."""
        return (position + 1) // len(self.ops)

    def losses_seen(self, position: int) -> int:
        """Iterations whose loss op is at or before `position`."""
        if position < 0:
            return 0
        return max(0, (position - self.loss_offset) // len(self.ops) + 1)

    def end_of(self, unit: str, index: int, batches_per_epoch: int) -> int:
        """Global index of the last op of the stage, iteration or epoch holding `index`."""
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; one of {UNITS}")
        index = max(index, 0)
        n = len(self.ops)
        if unit == "op":
            return index
        if unit == "iteration":
            return (index // n + 1) * n - 1
        if unit == "epoch":
            return ((index // n) // batches_per_epoch + 1) * batches_per_epoch * n - 1
        iteration, offset = divmod(index, n)
        stage = self.ops[offset].stage
        while offset + 1 < n and self.ops[offset + 1].stage == stage:
            offset += 1
        return iteration * n + offset


def state_key(name: str, P: str) -> str:
    """The record key of optimizer state `name` for parameter P: ('m', 'W') → 'm_W'."""
    return f"{name}_{P}"


def build_schedule(config: Config) -> Schedule:
    """The schedule of `config`'s network, optimizer, dropout, penalty and frozen parameters."""
    return _build(
        config.activations,
        config.loss,
        config.dropout,
        config.l1,
        config.freeze,
        config.optimizer,
        config.negative_slope,
    )


@lru_cache(maxsize=64)
def _build(acts, loss, dropout, l1, freeze, optimizer, slope) -> Schedule:  # type: ignore[no-untyped-def]
    depth = len(acts)
    specs: list[tuple[str, int | None, tuple[str, ...], tuple[str, ...], str]] = []
    reads: tuple[str, ...]
    for l in range(1, depth + 1):
        reads = ("rows", "a_prev", "W", "b") if l == 1 else ("a_prev", "W", "b")
        dropped = l > 1 and bool(dropout[l - 2])  # the layer below was dropped out: its output is ã
        specs.append(("linear", l, reads, ("z",), eq.linear(l, dropped)))
        specs.append(("activation", l, ("z",), ("a",), eq.activation(l, depth, acts[l - 1], slope)))
        if dropout[l - 1]:
            specs.append(("dropout", l, ("a",), ("mask", "a_drop"), eq.dropout(l, dropout[l - 1])))
    loss_writes: tuple[str, ...] = ("loss",)
    if loss in ("cross_entropy", "bce_with_logits"):
        loss_writes += ("p",)
    if l1:
        loss_writes = ("data_loss", "penalty") + loss_writes
    specs.append(("loss", None, ("y_hat", "y"), loss_writes + ("dL_dy_hat",), eq.loss(loss, l1)))
    for l in range(depth, 0, -1):
        drop = ("mask",) if dropout[l - 1] else ()
        if l == depth:
            reads = ("dL_dy_hat", "z")
        else:
            reads = ("W_next", "delta_next") + drop + ("z",)
        specs.append(("delta", l, reads, ("delta",), eq.delta(l, depth, acts[l - 1], loss, slope, dropout[l - 1])))
        grad_reads = ("delta", "a_prev") + (("W",) if l1 else ())
        specs.append(("grad", l, grad_reads, ("dW", "db"), eq.grad(l, l1, l > 1 and bool(dropout[l - 2]))))
    state = optimizer.record_names()
    for l in range(1, depth + 1):
        reads = ()
        writes: tuple[str, ...] = ()
        updated = []
        for P in PARAMETERS:
            if f"{P}{l}" in freeze:
                reads += (P,)
                continue
            updated.append(f"{P}{eq.sup(l)}")
            reads += (f"{P}_before", f"d{P}")
            writes += tuple(state_key(s, P) for s in state) + (f"step_{P}", P)
        frozen = [f"{P}{eq.sup(l)}" for P in PARAMETERS if f"{P}{l}" in freeze]
        if not updated:
            formula = f"{' and '.join(frozen)} frozen: unchanged"
        else:
            formula = optimizer.formula(updated[0])
            formula += f"  ({updated[1]} likewise)" if len(updated) == 2 else f"  ({frozen[0]} frozen: unchanged)"
        specs.append(("update", l, reads, writes, formula))
    ops = tuple(
        OpSpec(i, STAGE_OF[op], layer, op, reads, writes, formula, HINTS[op])
        for i, (op, layer, reads, writes, formula) in enumerate(specs)
    )
    updates = tuple(
        tuple(
            (i, P, f"{P}{l}" in freeze, tuple((n, state_key(n, P)) for n in optimizer.state_names()),
             tuple((n, state_key(n, P)) for n in state))
            for i, P in enumerate(PARAMETERS)
        )
        for l in range(1, depth + 1)
    )
    return Schedule(ops, depth, freeze, updates)

"""PyTorch's numbers for an nnstep config, and the golden fixtures made from them.

    python -m tests.engine.golden.make_golden      # rewrites tests/engine/golden/*.json

torch is not a dependency of nnstep: it is imported only inside `reference`,
so the torch-free golden test can share `engine_values` and `assert_run_matches`.

`reference(raw, iterations)` trains, in float64, the network a raw config
describes the way a PyTorch user would: z = a @ W.T + b (nn.Linear's
convention; batch rows: z has shape (B, n_l), W shape (n_l, n_{l-1})), the
real torch.optim optimizer with the config's hyperparameters, the real loss
module, the same mini-batches (`row_indices`), dropout as nn.Dropout does it
but with nnstep's masks (a · mask/(1 − p)), L1 added to the loss as
λ·Σ|W|, frozen parameters with requires_grad=False. Every iteration gives
the tensors the engine's records write, under the keys `engine_values`
gives the engine's: "loss", "p", "dL_dy_hat", and per layer l "z1", "a1",
"a_drop1", "delta1", "dW1", "db1", "W1", "b1" (after the step), "step_W1"
(W1 after − W1 before), and the optimizer state under nnstep's names ("m_W1", "v_b2", …).

A frozen parameter still has a dW in nnstep's record: torch gets it from a
detached copy that requires grad (the frozen tensor itself has
requires_grad=False, so torch.optim neither steps it nor keeps state).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from nnstep.engine import StepRecord, build_config
from nnstep.engine.network import dropout_mask, row_indices

HERE = Path(__file__).parent
RTOL = 1e-10
# Entries near 0 next to large ones (a db summed with cancellation) get an
# absolute tolerance relative to the largest entry of their tensor.
ATOL_SCALE = 1e-13
# torch.optim state → nnstep state, per optimizer kind.
TORCH_STATE = {
    "sgd": {"momentum_buffer": "v"},
    "adam": {"exp_avg": "m", "exp_avg_sq": "v", "max_exp_avg_sq": "v_max"},
    "adamw": {"exp_avg": "m", "exp_avg_sq": "v", "max_exp_avg_sq": "v_max"},
    "rmsprop": {"square_avg": "v", "grad_avg": "g_avg", "momentum_buffer": "buf"},
}
# What the fixtures leave out (the live parity test checks them): forward values,
# values derived from stored ones (step = W − W_before, Adam's m̂ and v̂, p) and ∂L/∂ŷ.
FIXTURE_SKIP = ("z", "a", "a_drop", "step_W", "step_b", "m_hat_W", "m_hat_b", "v_hat_W", "v_hat_b", "p", "dL_dy_hat")
STORED = (1, 2, 3)  # iterations stored in full in a fixture, besides the last
# Significant digits a fixture keeps: rounding costs at most 5e-13 relative, far inside RTOL.
DIGITS = 12


def key(name: str, layer: int | None) -> str:
    """The key of tensor `name` of `layer`: ('dW', 2) → 'dW2', ('loss', None) → 'loss'."""
    return name if layer is None else f"{name}{layer}"


def base_name(k: str) -> str:
    """'m_hat_W12' → 'm_hat_W': the tensor name of a key."""
    return k.rstrip("0123456789")


def engine_values(records: Iterable[StepRecord]) -> dict[str, np.ndarray]:
    """What one iteration of the engine computed, keyed as `reference` keys torch's.

    Every tensor an op writes (except the dropout mask, which torch is fed),
    and W, b as each update leaves them (a frozen one unchanged).
    """
    values: dict[str, np.ndarray] = {}
    for record in records:
        names = [n for n in record.writes if n != "mask"]
        if record.op == "update":
            names += [P for P in ("W", "b") if P not in names]
        for name in names:
            if name in record.tensors:  # a name written but missing fails assert_matches's key check
                values[key(name, record.layer)] = record.tensors[name]
    return values


def mismatches(got: Mapping[str, Any], expected: Mapping[str, Any], *, same_keys: bool = True) -> dict[str, str]:
    """Each key whose tensor in `got` is not within RTOL of `expected`, with what differs.

    With `same_keys`, a key only one side has is a mismatch too (else only a
    key `got` lacks). A step_P is P_after − P_before in torch, exact only to
    the last bit of P, so its absolute tolerance scales with P.
    """
    found: dict[str, str] = {}
    for k in sorted(set(expected) - set(got)):
        found[k] = "missing from the engine's records"
    if same_keys:
        for k in sorted(set(got) - set(expected)):
            found[k] = "in the engine's records but not computed by torch"
    for k, want in expected.items():
        if k not in got:
            continue
        want = np.asarray(want, dtype=np.float64)
        have = np.asarray(got[k], dtype=np.float64)
        if have.shape != want.shape:
            found[k] = f"has shape {have.shape} in nnstep, {want.shape} in torch"
            continue
        scale = np.abs(want).max(initial=0.0)
        if k.startswith("step_"):
            scale = max(scale, np.abs(np.asarray(expected[k[5:]])).max(initial=0.0) * 10)
        atol = ATOL_SCALE * scale
        with np.errstate(invalid="ignore"):
            bad = ~np.isclose(have, want, rtol=RTOL, atol=atol, equal_nan=True)
        if bad.any():
            i = np.unravel_index(int(np.argmax(bad)), bad.shape) if bad.ndim else ()
            with np.errstate(all="ignore"):
                worst = float(np.max(np.abs(have - want)[bad] / np.maximum(np.abs(want[bad]), 1e-300)))
            found[k] = (f"{k}{list(map(int, i)) if i else ''} is {float(have[i])!r} in nnstep, {float(want[i])!r} in torch "
                        f"({int(bad.sum())} of {bad.size} entries beyond rtol {RTOL:g}, atol {atol:.1e}; "
                        f"worst relative difference {worst:.2e})")
    return found


def assert_run_matches(iterations: Iterable[tuple[int, Mapping[str, Any], Mapping[str, Any]]], where: str,
                       *, same_keys: bool = True) -> None:
    """Compare (iteration, engine's values, torch's values) for every iteration given; fail naming,
    for each tensor that differs, the first iteration it differs in and how."""
    first: dict[str, tuple[int, str]] = {}
    count: dict[str, int] = {}
    for n, got, expected in iterations:
        for k, message in mismatches(got, expected, same_keys=same_keys).items():
            first.setdefault(k, (n, message))
            count[k] = count.get(k, 0) + 1
    if first:
        lines = [f"  {k}: from iteration {n} ({count[k]} iterations): {message}"
                 for k, (n, message) in sorted(first.items(), key=lambda item: item[1][0])]
        raise AssertionError(f"{where}: nnstep differs from torch\n" + "\n".join(lines))


def _optimizer(torch: Any, part: Any, params: list) -> Any:
    """The torch.optim optimizer `part` stands for, with its hyperparameters."""
    h = part.hyperparameters()
    if part.kind == "sgd":
        return torch.optim.SGD(params, lr=h["lr"], momentum=h["momentum"], dampening=h["dampening"],
                               weight_decay=h["weight_decay"], nesterov=h["nesterov"])
    if part.kind in ("adam", "adamw"):
        cls = torch.optim.Adam if part.kind == "adam" else torch.optim.AdamW
        return cls(params, lr=h["lr"], betas=tuple(h["betas"]), eps=h["eps"], weight_decay=h["weight_decay"],
                   amsgrad=h["amsgrad"])
    if part.kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=h["lr"], alpha=h["alpha"], eps=h["eps"], weight_decay=h["weight_decay"],
                                   momentum=h["momentum"], centered=h["centered"])
    raise ValueError(f"no torch optimizer for {part.kind!r}")


def reference(raw: dict, iterations: int) -> tuple[dict, list[dict[str, np.ndarray]]]:
    """(the resolved config, one dict of torch's tensors per iteration) for `iterations` iterations."""
    import torch

    f64 = torch.float64
    config = build_config(raw, "golden")
    depth, slope = config.depth, config.negative_slope
    acts = {
        "identity": lambda z: z, "sigmoid": torch.nn.Sigmoid(), "tanh": torch.nn.Tanh(), "relu": torch.nn.ReLU(),
        "leaky_relu": torch.nn.LeakyReLU(slope), "softmax": torch.nn.Softmax(dim=1),
    }
    losses = {"mse": torch.nn.MSELoss(), "cross_entropy": torch.nn.CrossEntropyLoss(), "bce": torch.nn.BCELoss(),
              "bce_with_logits": torch.nn.BCEWithLogitsLoss()}
    loss_fn = losses[config.loss]
    params: dict[str, Any] = {}
    for l, (W, b) in enumerate(config.layers, start=1):
        for P, value in (("W", W), ("b", b)):
            name = f"{P}{l}"
            params[name] = torch.tensor(np.array(value), dtype=f64, requires_grad=name not in config.freeze)
    opt = _optimizer(torch, config.optimizer, list(params.values()))
    state_names = TORCH_STATE[config.optimizer.kind]
    x_all = torch.from_numpy(np.array(config.x, dtype=np.float64))
    y_all = torch.from_numpy(np.array(config.y, dtype=np.float64))
    labels = None if config.labels is None else torch.from_numpy(np.array(config.labels, dtype=np.int64))

    steps = []
    for i in range(iterations):
        rows = torch.from_numpy(row_indices(config, i))
        x, y = x_all[rows], y_all[rows]
        out: dict[str, np.ndarray] = {}
        # Frozen tensors take part through a detached copy that requires grad: its .grad is nnstep's dW.
        used = {n: p if p.requires_grad else p.detach().clone().requires_grad_() for n, p in params.items()}
        a, zs = x, []
        for l in range(1, depth + 1):
            z = a @ used[f"W{l}"].T + used[f"b{l}"]
            z.retain_grad()
            zs.append(z)
            h = acts[config.activations[l - 1]](z)
            out[key("z", l)], out[key("a", l)] = z, h
            p = config.dropout[l - 1]
            if p:
                mask = torch.from_numpy(dropout_mask(config, i, l, tuple(h.shape)))
                a = h * (mask / (1.0 - p))  # nn.Dropout: input · bernoulli(1 − p)/(1 − p)
                out[key("a_drop", l)] = a
            else:
                a = h
        y_hat = a
        y_hat.retain_grad()
        target = labels[rows] if config.loss == "cross_entropy" and labels is not None else y
        loss = loss_fn(y_hat, target)
        if config.l1:
            out["data_loss"] = loss
            penalty = config.l1 * sum(used[f"W{l}"].abs().sum() for l in range(1, depth + 1))
            out["penalty"] = penalty
            loss = loss + penalty
        out["loss"] = loss
        if config.loss == "cross_entropy":
            out["p"] = torch.softmax(y_hat, dim=1)
        elif config.loss == "bce_with_logits":
            out["p"] = torch.sigmoid(y_hat)
        opt.zero_grad()
        loss.backward()
        out["dL_dy_hat"] = y_hat.grad
        for l, z in enumerate(zs, start=1):
            out[key("delta", l)] = z.grad
            out[key("dW", l)] = used[f"W{l}"].grad
            out[key("db", l)] = used[f"b{l}"].grad
        before = {n: p.detach().clone() for n, p in params.items()}
        opt.step()
        for n, p in params.items():
            P, l = n[0], int(n[1:])
            out[key(P, l)] = p
            if not p.requires_grad:
                continue
            out[key(f"step_{P}", l)] = p - before[n]
            state = opt.state[p]
            for torch_name, name in state_names.items():
                if torch_name in state:
                    out[key(f"{name}_{P}", l)] = state[torch_name]
            if config.optimizer.kind in ("adam", "adamw"):
                t = float(state["step"])
                beta1, beta2 = config.optimizer.betas  # type: ignore[attr-defined]
                second = state["max_exp_avg_sq"] if config.optimizer.amsgrad else state["exp_avg_sq"]  # type: ignore[attr-defined]
                out[key(f"m_hat_{P}", l)] = state["exp_avg"] / (1.0 - beta1**t)
                out[key(f"v_hat_{P}", l)] = second / (1.0 - beta2**t)
        steps.append({k: v.detach().numpy().copy() for k, v in out.items()})
    return config.to_dict(), steps


def _short(value: Any) -> Any:
    """Nested lists of floats to DIGITS significant digits (a fixture a third the size)."""
    if isinstance(value, list):
        return [_short(v) for v in value]
    return float(f"{value:.{DIGITS}g}")


def fixture(raw: dict, iterations: int = 30) -> dict:
    """A golden fixture: the config (initial W, b to 4 decimals), every loss, and iterations 1, 2, 3 and the last in full."""
    import torch

    resolved = build_config(raw, "golden").to_dict()
    for layer in resolved["model"]["layers"]:
        layer["W"] = np.round(layer["W"], 4).tolist()
        layer["b"] = np.round(layer["b"], 4).tolist()
    resolved, steps = reference(resolved, iterations)
    stored = {}
    for n in (*STORED, iterations):
        stored[str(n)] = {k: _short(v.tolist()) for k, v in steps[n - 1].items() if base_name(k) not in FIXTURE_SKIP}
    return {"config": resolved, "torch": torch.__version__, "iterations": iterations,
            "losses": _short([float(s["loss"]) for s in steps]), "steps": stored}


def _data(seed: int, n: int, width: int, classes: int | None = None, outputs: int = 1) -> dict:
    """Inline data: x ~ N(0, 1), labels in 0..classes−1 or targets in [0, 1]."""
    rng = np.random.default_rng([seed, 99])
    x = np.round(rng.standard_normal((n, width)), 3).tolist()
    y = rng.integers(0, classes, n).tolist() if classes else np.round(rng.random((n, outputs)), 3).tolist()
    return {"x": x, "y": y, "batch_size": 4, "shuffle": True}


# Small nets (a few KB a fixture); together they cover every optimizer option and every new part.
CASES: dict[str, dict] = {
    "sgd_momentum_dampening_l1": {
        "seed": 1, "model": {"sizes": [2, 3, 2], "activations": ["tanh", "identity"], "init": "torch"},
        "loss": {"kind": "mse", "l1": 0.01},
        "optimizer": {"kind": "sgd", "lr": 0.1, "momentum": 0.9, "dampening": 0.2, "weight_decay": 0.01},
        "data": _data(1, 6, 2, outputs=2),
    },
    "sgd_nesterov_dropout_cross_entropy": {
        "seed": 2, "model": {"sizes": [2, 3, 3], "activations": ["relu", "identity"], "init": "torch", "dropout": [0.3, 0.0]},
        "loss": {"kind": "cross_entropy"},
        "optimizer": {"kind": "sgd", "lr": 0.2, "momentum": 0.8, "nesterov": True, "weight_decay": 0.001},
        "data": _data(2, 6, 2, classes=3),
    },
    "adam_freeze_bce": {
        "seed": 3, "model": {"sizes": [2, 3, 1], "activations": ["sigmoid", "sigmoid"], "init": "torch",
                             "freeze": ["b1", "W2"]},
        "loss": {"kind": "bce"},
        "optimizer": {"kind": "adam", "lr": 0.05},
        "data": _data(3, 6, 2, classes=2),
    },
    "adam_amsgrad_decay_l1_dropout": {
        "seed": 4, "model": {"sizes": [2, 3, 2], "activations": ["tanh", "softmax"], "init": "torch", "dropout": [0.5, 0.0]},
        "loss": {"kind": "mse", "l1": 0.001},
        "optimizer": {"kind": "adam", "lr": 0.02, "betas": [0.8, 0.99], "amsgrad": True, "weight_decay": 0.05},
        "data": _data(4, 6, 2, outputs=2),
    },
    "adamw_leaky_bce_with_logits": {
        "seed": 5, "model": {"sizes": [2, 3, 1], "activations": ["leaky_relu", "identity"], "init": "torch",
                             "negative_slope": 0.2},
        "loss": {"kind": "bce_with_logits"},
        "optimizer": {"kind": "adamw", "lr": 0.03, "weight_decay": 0.1, "amsgrad": True},
        "data": _data(5, 6, 2),
    },
    "rmsprop": {
        "seed": 6, "model": {"sizes": [2, 3, 1], "activations": ["relu", "identity"], "init": "torch"},
        "loss": {"kind": "mse"},
        "optimizer": {"kind": "rmsprop", "lr": 0.01},
        "data": _data(6, 6, 2),
    },
    "rmsprop_centered_momentum_dropout_freeze": {
        "seed": 7, "model": {"sizes": [2, 3, 2], "activations": ["leaky_relu", "sigmoid"], "init": "torch",
                             "negative_slope": 0.05, "dropout": [0.25, 0.0], "freeze": ["W1"]},
        "loss": {"kind": "bce"},
        "optimizer": {"kind": "rmsprop", "lr": 0.01, "alpha": 0.9, "momentum": 0.5, "centered": True,
                      "weight_decay": 0.01},
        "data": _data(7, 6, 2, outputs=2),
    },
}


def main() -> None:
    """Rewrite every fixture of CASES (and remove fixtures of cases no longer listed)."""
    for old in HERE.glob("*.json"):
        if old.stem not in CASES:
            old.unlink()
            print("removed", old.name)
    for name, raw in CASES.items():
        path = HERE / f"{name}.json"
        path.write_text(json.dumps(fixture(raw), separators=(",", ":")) + "\n")
        print(f"wrote {path.name} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

"""`nnstep.from_torch`, `debug` and `save_config` against PyTorch itself (skipped without torch).

If these fail, a user who writes `nnstep.debug(model, x, y, loss_fn, optimizer)`
steps through numbers that are not their model's, finds their model or
optimizer changed behind their back, or gets a refusal that does not say
what to change. Every comparison is against PyTorch training a deep copy of
the very objects converted, on the same batches (shuffle=False), 20
iterations, every tensor (z, δ, dW, db, W, b, the optimizer's state, the loss).
"""

from __future__ import annotations

import copy
import os
import random
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import nnstep
from nnstep.engine import NnstepError, Session, load_config
from nnstep.engine.network import dropout_mask
from nnstep.engine.trace import read_trace
from nnstep.parity import relative_difference
from nnstep.torch_training import TORCH_STATE
from nnstep.tui.cli import main as cli

from .engine.golden.make_golden import engine_values, mismatches

ITERATIONS = 20
ROOT = Path(__file__).parent.parent


# -- PyTorch as the user's loop runs it ------------------------------------------------------------


def torch_run(model: Any, optimizer: Any, loss_fn: Any, x: Any, y: Any, batch_size: int, config: Any,
              iterations: int = ITERATIONS) -> list[dict[str, np.ndarray]]:
    """Train `model` with `optimizer` as a user's loop does, on batches in order; per iteration the
    tensors keyed as `engine_values` keys the engine's (z1, delta1, dW1, W1, m_W1, loss, …).
    Dropout is fed nnstep's masks (config's seed), the only thing not torch's own."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    z: dict[int, Any] = {}
    now = [0]

    def keep(l: int) -> Callable:
        def hook(module: Any, inputs: Any, output: Any) -> None:
            if output.requires_grad:
                output.retain_grad()
            z[l] = output
        return hook

    def fed(l: int, p: float) -> Callable:
        def hook(module: Any, inputs: Any, output: Any) -> Any:
            mask = dropout_mask(config, now[0], l, tuple(output.shape))
            return inputs[0] * torch.from_numpy(mask / (1.0 - p))
        return hook

    handles, layer = [], 0
    for module in model.modules():
        if isinstance(module, nn.Linear):
            layer += 1
            handles.append(module.register_forward_hook(keep(layer)))
        elif isinstance(module, nn.Dropout) and module.p:
            handles.append(module.register_forward_hook(fed(layer, module.p)))
    kind = config.optimizer.kind
    per_epoch = -(-len(x) // batch_size)
    steps = []
    for i in range(iterations):
        now[0] = i
        j = i % per_epoch
        xb, yb = x[j * batch_size:(j + 1) * batch_size], y[j * batch_size:(j + 1) * batch_size]
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        values = {"loss": loss}
        for l, linear in enumerate(linears, start=1):
            values[f"z{l}"] = z[l]
            if z[l].grad is not None:
                values[f"delta{l}"] = z[l].grad
            for P, p in (("W", linear.weight), ("b", linear.bias)):
                if p is None:
                    continue
                values[f"{P}{l}"] = p
                if p.grad is not None:
                    values[f"d{P}{l}"] = p.grad
                for torch_name, value in optimizer.state.get(p, {}).items():
                    if torch_name in TORCH_STATE[kind] and torch.is_tensor(value):
                        values[f"{TORCH_STATE[kind][torch_name]}_{P}{l}"] = value
        steps.append({k: v.detach().numpy().copy() for k, v in values.items()})
        optimizer.zero_grad()
    for handle in handles:
        handle.remove()
    return steps


def assert_trains_as_torch(engine: list[dict], expected: list[dict], dtype: str, where: str) -> None:
    """Every tensor torch computed, every iteration: float64 within make_golden's 1e-10 (relative,
    with an absolute floor of 1e-13 of the tensor's largest entry); float32 within 1e-5 of its largest entry."""
    for n, (got, want) in enumerate(zip(engine, expected), start=1):
        assert want.keys() - got.keys() == set(), f"{where}: the engine lacks {sorted(want.keys() - got.keys())}"
        if dtype == "float64":
            found = mismatches(got, want, same_keys=False)
        else:
            found = {k: f"relative difference {d:.1e}" for k in want if (d := relative_difference(got[k], want[k])) > 1e-5}
        assert not found, f"{where}: iteration {n} differs from PyTorch:\n" + "\n".join(f"  {v}" for v in found.values())
    assert len(engine) == len(expected) == ITERATIONS


def session_values(config: Any, iterations: int = ITERATIONS) -> list[dict[str, np.ndarray]]:
    session = Session(config)
    return [engine_values(session.iteration_records(i)) for i in range(iterations)]


def check_against_torch(model: Any, x: Any, y: Any, loss_fn: Any, optimizer: Any, where: str, **options: Any) -> Any:
    """from_torch, then 20 engine iterations equal 20 PyTorch iterations of a deep copy."""
    config = nnstep.from_torch(model, x, y, loss_fn, optimizer, **options)
    twin, twin_optimizer = copy.deepcopy((model, optimizer))  # one memo: the copy's optimizer holds the copy's parameters
    if isinstance(x, torch.utils.data.DataLoader):  # batches in order, as the loader (shuffle=False) gives them
        x, y = x.dataset.tensors
    expected = torch_run(twin, twin_optimizer, loss_fn, x, y, config.batch_size, config)
    assert_trains_as_torch(session_values(config), expected, config.dtype, where)
    return config


# -- the programs ----------------------------------------------------------------------------------


def tutorial(dtype: Any = torch.float32) -> tuple[Any, Any, Any, Any, Any]:
    """The tutorial's PyTorch program (NOTATION.md), as demos/torch_tutorial.py writes it."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        x = torch.randn(10, 5)
        y = torch.randint(0, 2, (10,))
        model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))
    model = model.to(dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    return model, x.to(dtype), y, nn.CrossEntropyLoss(), optimizer


OPTIMIZERS = {
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99)),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05, amsgrad=True),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.005, momentum=0.5, centered=True, weight_decay=0.01),
}
LOSSES = {"mse": nn.MSELoss, "cross_entropy": nn.CrossEntropyLoss, "bce_with_logits": nn.BCEWithLogitsLoss}
HIDDEN = [nn.ReLU, lambda: nn.LeakyReLU(0.2), nn.Sigmoid, nn.Tanh, nn.Identity]


def random_case(seed: int, loss: str) -> tuple[Any, Any, Any]:
    """A random float64 Sequential and data: seed 0 nests Sequentials, 1 starts with Flatten,
    2 has a Linear without bias and a frozen parameter, 3 has Dropout."""
    rng = np.random.default_rng([seed, len(loss)])
    depth = int(rng.integers(2, 4))
    sizes = [int(n) for n in rng.integers(2, 6, depth + 1)]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        layers: list[Any] = [nn.Flatten()] if seed == 1 else []
        for l in range(depth):
            layers.append(nn.Linear(sizes[l], sizes[l + 1], bias=not (seed == 2 and l == 0)))
            if l < depth - 1:
                layers.append(HIDDEN[int(rng.integers(len(HIDDEN)))]())
                if seed == 3:
                    layers.append(nn.Dropout(0.3))
            elif loss == "mse":
                layers.append([nn.Identity(), nn.Sigmoid(), nn.Tanh(), nn.Softmax(dim=-1)][seed])
        model = nn.Sequential(*layers[:2], nn.Sequential(*layers[2:])) if seed == 0 else nn.Sequential(*layers)
        model = model.double()
        if seed == 2:
            [m for m in layers if isinstance(m, nn.Linear)][-1].bias.requires_grad_(False)
        n = 12
        x = torch.randn(n, 1, sizes[0], dtype=torch.float64) if seed == 1 else torch.randn(n, sizes[0], dtype=torch.float64)
        y = torch.randint(0, sizes[-1], (n,)) if loss == "cross_entropy" else torch.rand(n, sizes[-1], dtype=torch.float64)
    return model, x, y


# -- parity ---------------------------------------------------------------------------------------


def test_the_tutorial_program_trains_as_pytorch_in_float32() -> None:
    model, x, y, loss_fn, optimizer = tutorial()
    config = check_against_torch(model, x, y, loss_fn, optimizer, "the tutorial, float32")
    assert config.dtype == "float32" and config.sizes == (5, 16, 2) and config.activations == ("relu", "identity")
    assert 0 < config.parity <= 1e-5
    assert config.parity_text in config.description and config.parity_text.startswith("matches PyTorch to ")


def test_the_tutorial_in_float64_saved_and_run_by_the_cli_trains_as_pytorch(tmp_path: Path, capsys: Any) -> None:
    model, x, y, loss_fn, optimizer = tutorial(torch.float64)
    config = nnstep.from_torch(model, x, y, loss_fn, optimizer)
    assert config.parity <= 1e-10
    path, trace = tmp_path / "net.toml", tmp_path / "trace.json"
    nnstep.save_config(config, path)
    assert cli(["run", "--config", str(path), "-n", str(ITERATIONS), "--export", str(trace), "-q"]) == 0
    records = read_trace(trace)["records"]
    engine = [engine_values([r for r in records if r.iteration == i]) for i in range(1, ITERATIONS + 1)]
    twin, twin_optimizer = copy.deepcopy((model, optimizer))
    assert_trains_as_torch(engine, torch_run(twin, twin_optimizer, loss_fn, x, y, 10, config), "float64",
                           "nnstep run --config on the saved tutorial")


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("optimizer_name", OPTIMIZERS)
@pytest.mark.parametrize("seed", range(4))
def test_random_sequential_trains_as_pytorch(seed: int, optimizer_name: str, loss: str) -> None:
    model, x, y = random_case(seed, loss)
    optimizer = OPTIMIZERS[optimizer_name](model.parameters())
    config = check_against_torch(model, x, y, LOSSES[loss](), optimizer, f"seed {seed}, {optimizer_name}, {loss}",
                                 batch_size=5)
    assert config.dtype == "float64" and config.parity <= 1e-10 and config.batches_per_epoch == 3
    if seed == 2:
        assert {"b1", f"b{config.depth}"} <= config.freeze  # the missing bias, the requires_grad=False one
    if seed == 3:
        assert any(config.dropout)


@pytest.mark.parametrize("optimizer_name", OPTIMIZERS)
def test_a_half_trained_optimizer_carries_on_where_it_stands(optimizer_name: str) -> None:
    model, x, y, loss_fn, _ = tutorial(torch.float64)
    optimizer = OPTIMIZERS[optimizer_name](model.parameters())
    for _ in range(3):  # three steps of the user's own loop before nnstep is called
        loss_fn(model(x), y).backward()
        optimizer.step()
        optimizer.zero_grad()
    config = check_against_torch(model, x, y, loss_fn, optimizer, f"{optimizer_name} after 3 steps", batch_size=4)
    assert config.state and all(config.state)
    assert config.t == (1 if optimizer_name == "sgd_momentum" else 3)


def test_nll_after_log_softmax_functional_losses_and_a_dataloader_train_as_pytorch() -> None:
    model, x, y, _, _ = tutorial(torch.float64)
    model.append(nn.LogSoftmax(dim=1))
    config = check_against_torch(model, x, y, nn.NLLLoss(), torch.optim.Adam(model.parameters()), "NLLLoss")
    assert config.loss == "cross_entropy" and config.activations[-1] == "identity"
    model, x, y, _, optimizer = tutorial(torch.float64)
    check_against_torch(model, x, y, torch.nn.functional.cross_entropy, optimizer, "F.cross_entropy")
    model, x, _, _, optimizer = tutorial(torch.float64)
    target = torch.rand(10, 2, dtype=torch.float64)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, target), batch_size=4)
    config = check_against_torch(model, loader, None, nn.MSELoss(), optimizer, "DataLoader")
    assert (config.batch_size, config.shuffle) == (4, False)
    shuffled = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, target), batch_size=3, shuffle=True)
    config = nnstep.from_torch(model, shuffled, None, nn.MSELoss(), optimizer)
    assert (config.batch_size, config.shuffle) == (3, True)


# -- nothing of the user's changes ------------------------------------------------------------------


def test_the_users_objects_and_random_states_are_unchanged() -> None:
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Dropout(0.5), nn.Linear(6, 3)).double()
    model[3].weight.requires_grad_(False)
    x, y = torch.randn(8, 4, dtype=torch.float64), torch.randint(0, 3, (8,))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    nn.CrossEntropyLoss()(model(x), y).backward()
    optimizer.step()  # state to carry over; .grad left set, as a user's loop may leave it
    model.eval()
    before = copy.deepcopy((model.state_dict(), [p.grad for p in model.parameters()], optimizer.state_dict(),
                            [p.requires_grad for p in model.parameters()], [m.training for m in model.modules()]))
    rng = (torch.random.get_rng_state(), np.random.get_state(), random.getstate())
    config = nnstep.from_torch(model, x, y, nn.CrossEntropyLoss(), optimizer)
    assert config.dropout[0] == 0.5 and config.freeze == {"W2"}
    after = (model.state_dict(), [p.grad for p in model.parameters()], optimizer.state_dict(),
             [p.requires_grad for p in model.parameters()], [m.training for m in model.modules()])
    _assert_same(before, after)
    assert torch.equal(torch.random.get_rng_state(), rng[0])
    _assert_same(np.random.get_state(), rng[1])
    assert random.getstate() == rng[2]
    assert all(not hooks for m in model.modules() for hooks in (m._forward_hooks, m._backward_hooks))


def _assert_same(a: Any, b: Any) -> None:
    if torch.is_tensor(a) or isinstance(a, np.ndarray):
        assert type(a) is type(b) and a.shape == b.shape and (a == b).all()
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _assert_same(u, v)
    else:
        assert a == b


# -- save_config ----------------------------------------------------------------------------------


def test_save_config_round_trips_every_array_and_the_training(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 4, bias=False), nn.LeakyReLU(0.3), nn.Dropout(0.25), nn.Linear(4, 2))
    x, y = torch.randn(7, 3), torch.rand(7, 2)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01, momentum=0.9, centered=True)
    nn.BCEWithLogitsLoss()(model(x), y).backward()
    optimizer.step()
    config = nnstep.from_torch(model, x, y, nn.BCEWithLogitsLoss(), optimizer, batch_size=3, shuffle=True)
    path = tmp_path / "net.toml"
    nnstep.save_config(config, path)
    nnstep.save_config(config, path)  # over an existing file, atomically
    assert [p.name for p in tmp_path.iterdir()] == ["net.toml"]
    loaded = load_config(path)
    for name in ("sizes", "activations", "loss", "optimizer", "dropout", "freeze", "negative_slope", "batch_size",
                 "shuffle", "seed", "dtype", "t", "description"):
        assert getattr(loaded, name) == getattr(config, name), name
    def arrays(c: Any) -> list[np.ndarray]:
        return [c.x, c.y, *(a for layer in c.layers for a in layer), *(s[k] for s in c.state for k in sorted(s))]

    for got, want in zip(arrays(loaded), arrays(config), strict=True):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    ours, theirs = Session(config), Session(loaded)
    assert ours.train(ITERATIONS) == theirs.train(ITERATIONS)
    for a, b in zip(ours.iteration_params(ITERATIONS).arrays(), theirs.iteration_params(ITERATIONS).arrays(), strict=True):
        assert np.array_equal(a, b)


def test_save_config_names_a_path_it_cannot_write(tmp_path: Path) -> None:
    config = nnstep.from_torch(*tutorial())
    with pytest.raises(NnstepError, match="cannot save, the folder .* does not exist"):
        nnstep.save_config(config, tmp_path / "missing" / "net.toml")
    with pytest.raises(NnstepError, match="is a folder"):
        nnstep.save_config(config, tmp_path)


# -- refusals --------------------------------------------------------------------------------------


def _net(*modules: Any) -> Any:
    return nn.Sequential(nn.Linear(4, 3), *modules)


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: Any) -> Any:
        return self.fc(x) * 2


class _Residual(nn.Sequential):
    def forward(self, x: Any) -> Any:
        return x + super().forward(x)


def _case(model: Any = None, x: Any = None, y: Any = None, loss: Any = None, optimizer: Any = None,
          **options: Any) -> Callable[[], Any]:
    """A call of from_torch with the tutorial-sized defaults (4 → 3, MSE, SGD) where not given."""
    def call() -> Any:
        m = model() if callable(model) and not isinstance(model, nn.Module) else model
        m = m if m is not None else _net()
        o = optimizer(m) if optimizer is not None else torch.optim.SGD(m.parameters(), lr=0.1)
        return nnstep.from_torch(m, torch.randn(6, 4) if x is None else x, torch.rand(6, 3) if y is None else y,
                                 nn.MSELoss() if loss is None else loss, o, **options)
    return call


def _different_steps(m: Any) -> Any:
    optimizer = torch.optim.Adam(m.parameters())
    nn.MSELoss()(m(torch.randn(6, 4)), torch.rand(6, 3)).backward()
    optimizer.step()
    optimizer.state[m[0].bias]["step"] = torch.tensor(5.0)
    return optimizer


def _tied(shared: Any) -> Any:
    return nn.Sequential(nn.Linear(4, 4), nn.ReLU(), shared, nn.ReLU(), shared)


REFUSALS = {
    "conv": (_case(lambda: _net(nn.ReLU(), nn.Linear(3, 3), nn.Conv2d(1, 1, 1))),
             "model[3]: Conv2d is not supported (supported: Linear, ReLU, LeakyReLU, Sigmoid, Tanh, Identity, Softmax, Dropout, Flatten)"),
    "nested path": (_case(lambda: nn.Sequential(nn.Linear(4, 3), nn.Sequential(nn.ReLU(), nn.BatchNorm1d(3)))),
                    "model[1][1]: BatchNorm1d is not supported"),
    "custom forward": (_case(_Net), "model: _Net defines its own forward(), which nnstep cannot follow"),
    "sequential forward": (_case(lambda: _Residual(nn.Linear(4, 4))), "model: _Residual defines its own forward()"),
    "dropout before activation": (_case(lambda: _net(nn.Dropout(0.2), nn.ReLU(), nn.Linear(3, 3))),
                                  "model[2]: ReLU after Dropout (model[1]) is not supported"),
    "softmax hidden": (_case(lambda: _net(nn.Softmax(dim=-1), nn.Linear(3, 3))), "model[1]: Softmax on a hidden layer"),
    "softmax dim": (_case(lambda: _net(nn.Softmax(dim=0))), "model[1]: Softmax(dim=0) is not supported"),
    "dropout output": (_case(lambda: _net(nn.Dropout(0.1))), "model[1]: Dropout after the output layer"),
    "reduction": (_case(loss=nn.MSELoss(reduction="sum")), "loss_fn: MSELoss(reduction='sum') is not supported"),
    "loss": (_case(loss=nn.HuberLoss()), "loss_fn: HuberLoss is not supported (supported: MSELoss, CrossEntropyLoss"),
    "nll without log_softmax": (_case(y=torch.randint(0, 3, (6,)), loss=nn.NLLLoss()), "NLLLoss takes log-probabilities"),
    "log_softmax before ce": (_case(lambda: _net(nn.LogSoftmax(dim=1)), y=torch.randint(0, 3, (6,)), loss=nn.CrossEntropyLoss()),
                              "model[1]: LogSoftmax is supported only before NLLLoss"),
    "sigmoid before logits loss": (_case(lambda: _net(nn.Sigmoid()), loss=nn.BCEWithLogitsLoss()),
                                   "model[1]: Sigmoid before BCEWithLogitsLoss is not supported"),
    "optimizer": (_case(optimizer=lambda m: torch.optim.Adagrad(m.parameters())),
                  "optimizer: Adagrad is not supported (supported: SGD, Adam, AdamW, RMSprop)"),
    "groups": (_case(optimizer=lambda m: torch.optim.SGD([{"params": [m[0].weight]}, {"params": [m[0].bias], "lr": 0.01}], lr=0.1)),
               "optimizer: its 2 parameter groups differ in lr (0.1 and 0.01)"),
    "maximize": (_case(optimizer=lambda m: torch.optim.Adam(m.parameters(), maximize=True)),
                 "optimizer: Adam(maximize=True) is not supported"),
    "steps differ": (_case(optimizer=_different_steps),
                     "optimizer: its parameters have taken different numbers of steps (model[0].weight 1, model[0].bias 5)"),
    "y shape": (_case(lambda: nn.Sequential(nn.Linear(4, 1)), y=torch.rand(6)),
                "y has shape (6,) but the model's output has shape (6, 1): MSELoss needs them equal (y.view(6, 1))"),
    "y dtype": (_case(y=torch.randint(0, 2, (6, 3))), "y is torch.int64; MSELoss takes float32 or float64 targets"),
    "ce float labels": (_case(y=torch.rand(6), loss=nn.CrossEntropyLoss()), "y has shape (6,) but the model's output"),
    "ce class range": (_case(y=torch.tensor([0, 1, 2, 3, 0, 1]), loss=nn.CrossEntropyLoss()), "y[3] is class 3, outside 0..2"),
    "ignore_index": (_case(y=torch.tensor([0, 1, -100, 2, 0, 1]), loss=nn.CrossEntropyLoss()), "y[2] is -100"),
    "x rows": (_case(x=torch.randn(5, 4)), "y has 6 rows but x has 5"),
    "x width": (_case(x=torch.randn(6, 5)), "x has 5 features per row but model[0] (Linear) takes 4"),
    "x 3-d": (_case(x=torch.randn(6, 2, 2)), "x has shape (6, 2, 2); nnstep feeds the model rows, shape (N, 4)"),
    "model dtype": (_case(lambda: _net().half()), "model: its parameters are torch.float16"),
    "tied": (_case(lambda: _tied(nn.Linear(4, 4)), y=torch.rand(6, 4)), "model[4]: shares its parameters with model[2]"),
    "loader and y": (_case(x=torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(6, 4), torch.rand(6, 3)))),
                     "y: give None when x is a DataLoader"),
    "not the model's": (_case(optimizer=lambda m: torch.optim.SGD([nn.Parameter(torch.zeros(2))], lr=0.1)),
                        "optimizer: holds a tensor of shape (2,) that is not a parameter of the model"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_refusal(case: str) -> None:
    call, message = REFUSALS[case]
    with pytest.raises(NnstepError) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_model_pytorch_computes_differently_is_refused_naming_the_tensor() -> None:
    """A user's forward hook doubles z⁽¹⁾: nnstep cannot show that model's numbers, and says where they part."""
    model, x, y, loss_fn, optimizer = tutorial(torch.float64)
    model[0].register_forward_hook(lambda module, inputs, output: output * 2)
    with pytest.raises(NnstepError, match=r"from_torch: \S+ differs from PyTorch by [0-9.e+-]+ \(relative; float64 allows 1e-10\)"):
        nnstep.from_torch(model, x, y, loss_fn, optimizer)


# -- debug, as a user runs it ----------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_debug_opens_the_app_and_q_returns_to_the_script(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import torch, torch.nn as nn, nnstep
        torch.manual_seed(0)
        x, y = torch.randn(10, 5), torch.randint(0, 2, (10,))
        model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        nnstep.debug(model, x, y, nn.CrossEntropyLoss(), optimizer)
        print("back in the script", flush=True)
    """))
    socket = f"nnstep-test-{os.getpid()}"
    tmux = ["tmux", "-L", socket]
    subprocess.run([*tmux, "new-session", "-d", "-x", "120", "-y", "40",
                    f"{sys.executable} {script}; echo exit status $?; sleep 30"], check=True, cwd=tmp_path)
    try:
        def screen_shows(text: str, timeout: float = 15.0) -> str:
            deadline = time.monotonic() + timeout
            while True:
                screen = subprocess.run([*tmux, "capture-pane", "-p"], check=False, capture_output=True, text=True).stdout
                if text in screen or time.monotonic() > deadline:
                    return screen
                time.sleep(0.2)

        assert "Quit" in screen_shows("Quit"), "the app did not open"
        subprocess.run([*tmux, "send-keys", "n"], check=True)
        assert "z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾" in screen_shows("z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾"), "n did not show the first z"
        subprocess.run([*tmux, "send-keys", "q"], check=True)
        screen = screen_shows("exit status")
        assert "back in the script" in screen and "exit status 0" in screen, screen
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)

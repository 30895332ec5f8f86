"""The PyTorch optimizer and data read for nnstep: hyperparameters, carried-over state, frozen parameters, x and y.

Batch rows: x has shape (N, n_0), y (N, n_L) or class labels (N,); each
state tensor has its parameter's shape, W⁽ˡ⁾ (n_l, n_{l-1}) or b⁽ˡ⁾ (n_l,).
Nothing here steps, copies back or changes the user's objects (optimizer.state
is read with .get, never through its defaultdict).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from nnstep.engine.errors import NnstepError
from nnstep.engine.optim import OPTIMIZERS
from nnstep.torch_model import Loss, Network

SUPPORTED_OPTIMIZERS = "SGD, Adam, AdamW, RMSprop"
# torch.optim's state name → nnstep's (optim.py), per optimizer.
TORCH_STATE = {
    "sgd": {"momentum_buffer": "v"},
    "adam": {"exp_avg": "m", "exp_avg_sq": "v", "max_exp_avg_sq": "v_max"},
    "adamw": {"exp_avg": "m", "exp_avg_sq": "v", "max_exp_avg_sq": "v_max"},
    "rmsprop": {"square_avg": "v", "grad_avg": "g_avg", "momentum_buffer": "buf"},
}
HYPERPARAMETERS = {
    "sgd": ("lr", "momentum", "dampening", "weight_decay", "nesterov"),
    "adam": ("lr", "betas", "eps", "weight_decay", "amsgrad"),
    "adamw": ("lr", "betas", "eps", "weight_decay", "amsgrad"),
    "rmsprop": ("lr", "alpha", "eps", "weight_decay", "momentum", "centered"),
}


@dataclass
class Training:
    """The optimizer read: nnstep's [optimizer] table, state and frozen parameters."""

    base: Any  # the torch.optim class the optimizer is
    kind: str
    hyperparameters: dict[str, Any]
    settings: dict[str, Any]  # the parameter group's settings, as torch holds them
    trainable: list[tuple[int, str, Any]]  # (layer, "W" or "b", parameter), in the optimizer's order
    freeze: list[str]
    state: list[dict[str, list[Any]]]
    t: int


# -- the optimizer -----------------------------------------------------------------------------


def read_optimizer(torch: Any, optimizer: Any, network: Network) -> Training:
    """Hyperparameters, current state and frozen parameters of `optimizer` over the model's parameters."""
    optim = torch.optim
    bases = {optim.AdamW: "adamw", optim.Adam: "adam", optim.SGD: "sgd", optim.RMSprop: "rmsprop"}
    base = next((cls for cls in bases if isinstance(optimizer, cls)), None)
    name = type(optimizer).__name__
    if base is None or type(optimizer).step is not base.step:
        raise NnstepError(f"optimizer: {name} is not supported (supported: {SUPPORTED_OPTIMIZERS})")
    kind = bases[base]
    groups = optimizer.param_groups
    settings = {k: v for k, v in groups[0].items() if k != "params"}
    for group in groups[1:]:
        for key in sorted(set(settings) | set(group) - {"params"}):
            if _plain(group.get(key)) != _plain(settings.get(key)):
                raise NnstepError(f"optimizer: its {len(groups)} parameter groups differ in {key} ({_plain(settings.get(key))!r} "
                                  f"and {_plain(group.get(key))!r}); nnstep takes one setting for every parameter")
    if settings.get("maximize"):
        raise NnstepError(f"optimizer: {name}(maximize=True) is not supported (nnstep minimises the loss)")
    if kind == "adam" and settings.get("decoupled_weight_decay"):
        kind = "adamw"  # Adam(decoupled_weight_decay=True) is AdamW
    hyperparameters = {key: _plain(settings[key]) for key in HYPERPARAMETERS[kind]}

    owner: dict[int, tuple[int, str, Any]] = {}
    for l, layer in enumerate(network.layers, start=1):
        for P, parameter in (("W", layer.linear.weight), ("b", layer.linear.bias)):
            if parameter is not None:
                owner[id(parameter)] = (l, P, parameter)
    held: list[tuple[int, str, Any]] = []
    for group in groups:
        for parameter in group["params"]:
            if id(parameter) not in owner:
                raise NnstepError(f"optimizer: holds a tensor of shape {tuple(parameter.shape)} that is not a parameter "
                                  "of the model")
            held.append(owner[id(parameter)])
    trainable = [(l, P, p) for l, P, p in held if p.requires_grad]
    names = {f"{P}{l}" for l, P, _ in trainable}
    freeze = [f"{P}{l}" for l in range(1, len(network.layers) + 1) for P in ("W", "b") if f"{P}{l}" not in names]

    part: Any = OPTIMIZERS[kind]
    keep = part(**{k: tuple(v) if isinstance(v, list) else v for k, v in hyperparameters.items()}).state_names()
    state: list[dict[str, list[Any]]] = [{} for _ in network.layers]
    steps: dict[str, int] = {}
    for l, P, parameter in trainable:
        held_state = optimizer.state.get(parameter, {})
        for torch_name, value in held_state.items():
            ours = TORCH_STATE[kind].get(torch_name)
            if ours in keep and torch.is_tensor(value):
                state[l - 1][f"{ours}_{P}"] = value.detach().to("cpu").tolist()
        steps[_parameter_path(network, l, P)] = int(float(held_state["step"])) if "step" in held_state else 0
    if kind in ("adam", "adamw") and len(set(steps.values())) > 1:
        shown = ", ".join(f"{path} {n}" for path, n in steps.items())
        raise NnstepError(f"optimizer: its parameters have taken different numbers of steps ({shown}); "
                          "nnstep keeps one step count t for Adam's bias correction")
    # SGD counts no steps; any t > 0 says "this state is where a run stands" (SGD's maths never reads t).
    t = max(steps.values(), default=0) if kind != "sgd" else int(any(state))
    return Training(base, kind, hyperparameters, settings, trainable, freeze, state, t)


def _parameter_path(network: Network, l: int, P: str) -> str:
    return f"{network.layers[l - 1].path}.{'weight' if P == 'W' else 'bias'}"


def _plain(value: Any) -> Any:
    """A hyperparameter as plain Python (a tensor lr as a float, betas as a list)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


# -- the data ----------------------------------------------------------------------------------


@dataclass
class Data:
    """x (N, n_0), y (N, n_L) and class labels (N,) as the config holds them."""

    x: np.ndarray
    y: np.ndarray
    labels: np.ndarray | None
    batch_size: int
    shuffle: bool


def read_data(torch: Any, x: Any, y: Any, batch_size: int | None, shuffle: bool | None,
              network: Network, loss: Loss, dtype: str) -> Data:
    """x and y (tensors or a DataLoader over a TensorDataset) as NumPy arrays in the model's dtype."""
    if isinstance(x, torch.utils.data.DataLoader):
        x, y, loader_batch, loader_shuffle = _loader(torch, x, y, batch_size)
        batch_size = loader_batch if batch_size is None else batch_size
        shuffle = loader_shuffle if shuffle is None else shuffle
    for name, value in (("x", x), ("y", y)):
        if not torch.is_tensor(value):
            also = " or a DataLoader" if name == "x" else ""
            raise NnstepError(f"{name}: expected a torch.Tensor{also}, got {type(value).__name__}")
    if x.dtype not in (torch.float32, torch.float64):
        raise NnstepError(f"x is {x.dtype}; nnstep takes float32 or float64 inputs (x.float())")
    first = network.layers[0]
    n_in = first.linear.in_features
    if x.ndim == 0 or len(x) == 0:
        raise NnstepError(f"x has shape {tuple(x.shape)}: no rows to train on")
    if network.flatten:
        x = x.reshape(len(x), -1)
    elif x.ndim != 2:
        hint = " (x.unsqueeze(0) for one sample)" if x.ndim == 1 else " (or put nn.Flatten() first)"
        raise NnstepError(f"x has shape {tuple(x.shape)}; nnstep feeds the model rows, shape (N, {n_in}){hint}")
    N = len(x)
    if x.shape[1] != n_in:
        raise NnstepError(f"x has {x.shape[1]} features per row but {first.path} (Linear) takes {n_in}")
    if len(y) != N:
        raise NnstepError(f"y has {len(y)} rows but x has {N}")
    if batch_size is None:
        batch_size = N
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise NnstepError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    np_dtype = np.dtype(dtype)
    x_np = np.array(x.detach().to("cpu").numpy(), dtype=np_dtype)
    check_finite("x", x_np)
    labels, y_np = _targets(torch, y, network.sizes[-1], loss, np_dtype)
    for array in (x_np, y_np, labels):
        if array is not None:
            array.flags.writeable = False
    return Data(x_np, y_np, labels, min(batch_size, N), bool(shuffle))


def _loader(torch: Any, loader: Any, y: Any, batch_size: int | None) -> tuple[Any, Any, int, bool]:
    """(x, y, batch size, shuffle) of a DataLoader over a TensorDataset."""
    data = torch.utils.data
    if y is not None:
        raise NnstepError("y: give None when x is a DataLoader (its dataset holds the targets)")
    dataset = loader.dataset
    if not isinstance(dataset, data.TensorDataset) or len(dataset.tensors) != 2:
        raise NnstepError(f"x: a DataLoader over {type(dataset).__name__} is not supported (a TensorDataset(x, y) is)")
    if loader.batch_size is None:
        raise NnstepError("x: a DataLoader with its own batch_sampler is not supported (give batch_size)")
    if loader.collate_fn is not data.default_collate:
        raise NnstepError("x: a DataLoader with its own collate_fn is not supported")
    sampler = loader.sampler
    if type(sampler) is data.SequentialSampler:
        shuffle = False
    elif type(sampler) is data.RandomSampler and not sampler.replacement and sampler._num_samples is None:
        shuffle = True
    else:
        raise NnstepError(f"x: a DataLoader with {type(sampler).__name__} is not supported (shuffle=True or False)")
    x, y = dataset.tensors
    size = loader.batch_size if batch_size is None else batch_size
    if loader.drop_last and isinstance(size, int) and size > 0 and len(x) % size:
        raise NnstepError("x: a DataLoader with drop_last=True is not supported (nnstep trains the last, shorter batch too)")
    return x, y, loader.batch_size, shuffle


def _targets(torch: Any, y: Any, outputs: int, loss: Loss, dtype: np.dtype) -> tuple[np.ndarray | None, np.ndarray]:
    """(class labels or None, target rows (N, n_L)) for the loss; refuse what the loss cannot take."""
    N = len(y)
    shape = tuple(y.shape)
    if loss.kind == "cross_entropy" and not y.is_floating_point():
        if y.dtype == torch.bool or y.is_complex() or y.ndim != 1:
            raise NnstepError(f"y is {y.dtype} of shape {shape}; {loss.name} takes class indices (integers) of shape "
                              f"({N},){'' if loss.nll else f' or probabilities of shape ({N}, {outputs})'}")
        labels = y.detach().to("cpu").numpy().astype(np.int64)
        if loss.ignore_index is not None and (labels == loss.ignore_index).any():
            row = int(np.flatnonzero(labels == loss.ignore_index)[0])
            raise NnstepError(f"y[{row}] is {loss.ignore_index}, {loss.name}'s ignore_index: ignored rows are not supported")
        bad = np.flatnonzero((labels < 0) | (labels >= outputs))
        if len(bad):
            raise NnstepError(f"y[{bad[0]}] is class {labels[bad[0]]}, outside 0..{outputs - 1} (the model has {outputs} outputs)")
        return labels, np.eye(outputs)[labels].astype(dtype)
    if not y.is_floating_point() or y.dtype not in (torch.float32, torch.float64):
        raise NnstepError(f"y is {y.dtype}; {loss.name} takes {'class indices or ' if loss.kind == 'cross_entropy' and not loss.nll else ''}"
                          "float32 or float64 targets" + ("" if loss.kind == "cross_entropy" else " (y.float())"))
    if loss.nll:
        raise NnstepError(f"y is {y.dtype}; {loss.name} takes class indices (integers) of shape ({N},)")
    if shape != (N, outputs):
        raise NnstepError(f"y has shape {shape} but the model's output has shape ({N}, {outputs}): {loss.name} needs them "
                          f"equal (y.view({N}, {outputs}))")
    targets = np.array(y.detach().to("cpu").numpy(), dtype=dtype)
    check_finite("y", targets)
    if loss.kind == "bce" and ((targets < 0) | (targets > 1)).any():
        i, j = np.argwhere((targets < 0) | (targets > 1))[0]
        raise NnstepError(f"y[{i}, {j}] is {targets[i, j]:g}, outside [0, 1], which {loss.name} cannot take")
    if loss.kind == "cross_entropy" and (targets < 0).any():
        i, j = np.argwhere(targets < 0)[0]
        raise NnstepError(f"y[{i}, {j}] is {targets[i, j]:g}: {loss.name} takes probabilities, not negative targets")
    return None, targets


def check_finite(name: str, array: np.ndarray) -> None:
    """Refuse a NaN or infinity in `array`, naming the first by its index."""
    if not np.isfinite(array).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise NnstepError(f"{name}{list(where)} is {array[where]}: nnstep needs finite numbers")

"""`nnstep.from_torch`: a PyTorch nn.Sequential, loss, optimizer and data as a Config, proven equal.

Batch rows, as nn.Linear computes them: z⁽ˡ⁾ = a⁽ˡ⁻¹⁾W⁽ˡ⁾ᵀ + b⁽ˡ⁾ has shape
(B, n_l); W⁽ˡ⁾ is layer l's Linear weight, shape (n_l, n_{l-1}), b⁽ˡ⁾ its
bias, shape (n_l,).

The steps: torch_model.py reads the model and loss, torch_training.py the
optimizer and data, each refusing in one line (naming the part by its path
in the model) whatever nnstep's engine would compute differently; this
module builds the Config through build_config, and parity.py proves it on
one iteration against PyTorch. torch is imported here, when from_torch is
called, and passed down, so `import nnstep` never imports it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from nnstep.engine.config import Config, build_config
from nnstep.engine.errors import NnstepError
from nnstep.parity import prove
from nnstep.torch_model import Loss, Network, model_dtype, read_loss, read_model, summary
from nnstep.torch_training import TORCH_STATE, Data, Training, check_finite, read_data, read_optimizer

__all__ = ["TORCH_STATE", "ConvertedConfig", "from_torch"]


@dataclass(frozen=True)
class ConvertedConfig(Config):
    """A Config made by `from_torch`, with how closely one iteration matches PyTorch.

    Batch rows: x has shape (N, n_0), W⁽ˡ⁾ shape (n_l, n_{l-1}), as in Config.
    `parity` is the largest relative difference (to each tensor's largest
    entry) over ŷ, the loss, δ, dW, db, the new W, b and optimizer state of
    one iteration; `parity_tensor` names the tensor where it occurs.
    """

    parity: float = 0.0
    parity_tensor: str = ""

    @property
    def parity_text(self) -> str:
        """What the app's status line says: 'matches PyTorch to 3e-16'."""
        return "matches PyTorch exactly" if self.parity == 0 else f"matches PyTorch to {self.parity:.0e}"


def from_torch(model: Any, x: Any, y: Any, loss_fn: Any, optimizer: Any, *,
               batch_size: int | None = None, shuffle: bool | None = None) -> ConvertedConfig:
    """The Config that trains as `model`, `loss_fn` and `optimizer` do on x, y (see `nnstep.from_torch`)."""
    try:
        import torch
    except ImportError:
        raise NnstepError('from_torch needs PyTorch: pip install "nnstep[torch]"') from None
    saved = _random_states(torch)
    try:
        network = read_model(torch, model)
        loss = read_loss(torch, loss_fn, network)
        training = read_optimizer(torch, optimizer, network)
        dtype = model_dtype(torch, network)
        data = read_data(torch, x, y, batch_size, shuffle, network, loss, dtype)
        config = _config(network, loss, training, dtype, data)
        parity, tensor = prove(torch, config, network, loss_fn, optimizer, training)
    finally:
        _restore_random_states(torch, saved)
    description = (f"Converted from PyTorch: {summary(network)}, {loss.name}, {training.base.__name__}; "
                   f"{replace(config, parity=parity).parity_text} (largest relative difference, in {tensor}, "
                   "over one iteration)")
    return replace(config, parity=parity, parity_tensor=tensor, description=description)


# -- the config --------------------------------------------------------------------------------


def _config(network: Network, loss: Loss, training: Training, dtype: str, data: Data) -> ConvertedConfig:
    """The checked Config. The model goes through build_config (every check of a TOML file); the data,
    already checked above, is set afterwards so a large x never becomes Python lists."""
    layers = []
    for l, layer in enumerate(network.layers, start=1):
        for P, parameter in (("weight", layer.linear.weight), ("bias", layer.linear.bias)):
            if parameter is not None:
                check_finite(f"{layer.path}.{P}", parameter.detach().to("cpu").numpy())
        W = layer.linear.weight.detach().to("cpu").tolist()
        bias = layer.linear.bias
        b = bias.detach().to("cpu").tolist() if bias is not None else [0.0] * layer.linear.out_features
        state = training.state[l - 1]
        layers.append({"W": W, "b": b, **({"state": state} if state else {})})
    freeze = list(training.freeze)
    freeze += [f"b{l}" for l, layer in enumerate(network.layers, start=1) if layer.linear.bias is None and f"b{l}" not in freeze]
    raw = {
        "seed": 0,
        "dtype": dtype,
        "model": {
            "sizes": network.sizes,
            "activations": [layer.activation for layer in network.layers],
            "dropout": [layer.dropout for layer in network.layers],
            "freeze": sorted(freeze),
            **({"negative_slope": network.negative_slope} if network.negative_slope is not None else {}),
            "init": "explicit",
            "layers": layers,
        },
        "loss": {"kind": loss.kind},
        "optimizer": {"kind": training.kind, **training.hyperparameters, **({"t": training.t} if training.t else {})},
        "data": {"x": [data.x[0].tolist()], "y": [int(data.labels[0])] if data.labels is not None else [data.y[0].tolist()],
                 "batch_size": 1, "shuffle": False},
    }
    base = build_config(raw, "from_torch", name="pytorch")
    values = {f.name: getattr(base, f.name) for f in fields(Config)}
    values.update(x=data.x, y=data.y, labels=data.labels, batch_size=data.batch_size, shuffle=data.shuffle)
    return ConvertedConfig(**values)


def _random_states(torch: Any) -> tuple[Any, ...]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    return random.getstate(), np.random.get_state(), torch.random.get_rng_state(), cuda


def _restore_random_states(torch: Any, saved: tuple[Any, ...]) -> None:
    python, numpy, cpu, cuda = saved
    random.setstate(python)
    np.random.set_state(numpy)
    torch.random.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)

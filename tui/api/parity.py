"""The proof behind `from_torch`: one iteration in PyTorch and in nnstep's engine, every tensor compared.

Batch rows: z⁽ˡ⁾ and δ⁽ˡ⁾ = ∂L/∂z⁽ˡ⁾ have shape (B, n_l); W⁽ˡ⁾ and ∂L/∂W⁽ˡ⁾
have shape (n_l, n_{l-1}).

PyTorch runs on a deep copy of the user's model (on the CPU), through the
model's own forward, the user's loss and a fresh optimizer of the user's
class and settings over the copied parameters, holding a copy of the
optimizer's state. Forward hooks on each Linear keep z⁽ˡ⁾ (retain_grad gives
δ⁽ˡ⁾); Dropout is fed nnstep's mask for iteration 1 instead of drawing its
own. The engine runs `iterate` on the same first batch. A converted config
whose numbers are not the model's is refused rather than shown.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np
from nnstep.engine.config import Config
from nnstep.engine.errors import NnstepError
from nnstep.engine.network import Params, dropout_mask, iterate
from nnstep.engine.schedule import OpSpec
from nnstep.torch_training import TORCH_STATE

# Largest relative difference accepted, per dtype: float64 agrees to rounding, float32 to its own.
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def sup(l: int) -> str:
    """'⁽¹²⁾' for layer 12."""
    return f"⁽{str(l).translate(_SUPERSCRIPT)}⁾"


def relative_difference(got: Any, want: Any) -> float:
    """max |got − want| over the largest |entry| of either: 0 when equal (NaN where both are NaN), inf if the shapes differ."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return float("inf")
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    if same.all():
        return 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(got - want)[~same]
    scale = max(np.abs(a[np.isfinite(a)]).max(initial=0.0) for a in (got, want))
    if not np.isfinite(diff).all() or scale == 0:
        return float("inf")
    return float(diff.max() / scale)


def prove(torch: Any, config: Config, network: Any, loss_fn: Any, optimizer: Any, training: Any) -> tuple[float, str]:
    """(largest relative difference, the tensor it is in) of one iteration; NnstepError past TOLERANCE."""
    ours = engine_iteration(config)
    theirs = torch_iteration(torch, config, network, loss_fn, optimizer, training)
    worst, where = 0.0, "loss"
    for name, want in theirs.items():
        if name not in ours:
            raise NnstepError(f"from_torch: PyTorch computes {name} but nnstep's engine does not (please report this)")
        difference = relative_difference(ours[name], want)
        if difference > worst:
            worst, where = difference, name
    limit = TOLERANCE[config.dtype]
    if worst > limit:
        raise NnstepError(f"from_torch: {where} differs from PyTorch by {worst:.1e} (relative; {config.dtype} allows "
                          f"{limit:g}), so nnstep would not show this model's numbers")
    return worst, where


def engine_iteration(config: Config) -> dict[str, np.ndarray]:
    """ŷ, loss, δ, dW, db, new W, b and optimizer state of iteration 1 on the first batch in order, by name."""
    B = config.batch_size
    values: dict[str, np.ndarray] = {}

    def emit(spec: OpSpec, tensors: dict[str, Any]) -> None:
        if spec.op == "loss":
            values["ŷ"], values["the loss"] = tensors["y_hat"], tensors["loss"]
        elif spec.op == "delta":
            values[f"δ{sup(spec.layer)}"] = tensors["delta"]  # type: ignore[arg-type]
        elif spec.op == "grad":
            values[f"∂L/∂W{sup(spec.layer)}"] = tensors["dW"]  # type: ignore[arg-type]
            values[f"∂L/∂b{sup(spec.layer)}"] = tensors["db"]  # type: ignore[arg-type]

    with np.errstate(all="ignore"):  # a diverging model is compared, not warned about
        after, _ = iterate(config, Params.initial(config), config.x[:B], config.y[:B], emit,
                           iteration=0, rows=np.arange(B))
    for l in range(1, config.depth + 1):
        values[f"W{sup(l)} after the update"] = after.W[l - 1]
        values[f"b{sup(l)} after the update"] = after.b[l - 1]
        for key, array in (after.state[l - 1] if after.state else {}).items():
            values[_state_name(config, key, l)] = array
    return values


def _state_name(config: Config, key: str, l: int) -> str:
    """'m_W' of layer 1 → 'm of W⁽¹⁾ (exp_avg)'."""
    name, P = key.rsplit("_", 1)
    torch_name = next(t for t, ours in TORCH_STATE[config.optimizer.kind].items() if ours == name)
    return f"{name} of {P}{sup(l)} ({torch_name})"


def torch_iteration(torch: Any, config: Config, network: Any, loss_fn: Any, optimizer: Any,
                    training: Any) -> dict[str, np.ndarray]:
    """The same tensors as `engine_iteration`, computed by PyTorch on copies of the user's objects."""
    B = config.batch_size
    memo: dict[int, Any] = {}
    model = copy.deepcopy(network.root, memo)
    model.to("cpu")
    for parameter in model.parameters():
        # Frozen parameters too, so δ reaches every layer and their dW exists (nnstep shows it).
        parameter.requires_grad_(True)
        parameter.grad = None
    for module in model.modules():
        if getattr(module, "inplace", False):  # an in-place activation would overwrite the z kept below
            module.inplace = False
    z: dict[int, Any] = {}
    for l, layer in enumerate(network.layers, start=1):
        memo[id(layer.linear)].register_forward_hook(_keep(z, l))
        if layer.dropout:
            mask = dropout_mask(config, 0, l, (B, config.sizes[l]))
            dropout = memo[id(layer.dropout_module)]
            dropout.eval()  # draws nothing; the hook applies nnstep's mask as nn.Dropout would
            dropout.register_forward_hook(_fed(torch.from_numpy(mask / (1.0 - layer.dropout))))
    settings = dict(training.settings)
    if "capturable" in settings:  # the same maths; capturable needs a GPU
        settings["capturable"] = False
    if any(p.device.type != "cpu" for _, _, p in training.trainable):
        settings.update({k: None for k in ("foreach", "fused") if k in settings})  # device-specific kernels
    copies = [memo[id(p)] for _, _, p in training.trainable]
    accepted = inspect.signature(training.base.__init__).parameters
    reference = training.base(copies, **{k: v for k, v in settings.items() if k in accepted})
    reference.param_groups[0].update(settings)  # what the constructor does not take (AdamW's decoupled_weight_decay)
    for (_, _, parameter), copied in zip(training.trainable, copies):
        held = optimizer.state.get(parameter)
        if held:
            reference.state[copied] = {k: v.detach().to("cpu").clone() if torch.is_tensor(v) else copy.deepcopy(v)
                                       for k, v in held.items()}
    x = torch.from_numpy(config.x[:B].copy())
    target = torch.from_numpy((config.labels if config.labels is not None else config.y)[:B].copy())
    try:
        with torch.enable_grad():
            out = model(x)
            loss = copy.deepcopy(loss_fn)(out, target)
            loss.backward()
            values = {"ŷ": z[config.depth] if network.log_softmax else out, "the loss": loss}
            for l, layer in enumerate(network.layers, start=1):
                values[f"δ{sup(l)}"] = z[l].grad
                linear = memo[id(layer.linear)]
                values[f"∂L/∂W{sup(l)}"] = linear.weight.grad
                if linear.bias is not None:
                    values[f"∂L/∂b{sup(l)}"] = linear.bias.grad
            values = {k: v.detach().clone() for k, v in values.items()}
            reference.step()
    except RuntimeError as error:
        raise NnstepError(f"from_torch: PyTorch cannot run one iteration of this model on x, y: "
                          f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    for l, layer in enumerate(network.layers, start=1):
        linear = memo[id(layer.linear)]
        values[f"W{sup(l)} after the update"] = linear.weight
        if linear.bias is not None:
            values[f"b{sup(l)} after the update"] = linear.bias
    for (l, P, _), copied in zip(training.trainable, copies):
        for torch_name, value in reference.state[copied].items():
            name = TORCH_STATE[config.optimizer.kind].get(torch_name)
            if name in config.optimizer.state_names() and torch.is_tensor(value):
                values[f"{name} of {P}{sup(l)} ({torch_name})"] = value
    return {k: v.detach().to("cpu").numpy() for k, v in values.items()}


def _keep(z: dict[int, Any], l: int) -> Any:
    def hook(module: Any, inputs: Any, output: Any) -> None:
        output.retain_grad()
        z[l] = output

    return hook


def _fed(noise: Any) -> Any:
    def hook(module: Any, inputs: Any, output: Any) -> Any:
        return inputs[0] * noise  # torch's CPU dropout: input · (bernoulli(1 − p)/(1 − p))

    return hook

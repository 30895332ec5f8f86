"""The PyTorch model and loss read as nnstep layers: what runs, in order, and what nnstep refuses.

Batch rows, as nn.Linear computes them: z⁽ˡ⁾ = a⁽ˡ⁻¹⁾W⁽ˡ⁾ᵀ + b⁽ˡ⁾ has shape
(B, n_l); W⁽ˡ⁾ is layer l's Linear weight, shape (n_l, n_{l-1}).

Each module is named by its path in the model (model[2][1], model.fc1), so a
refusal says which line of the user's nn.Sequential to change. torch is
passed in by the caller: this module never imports it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nnstep.engine.errors import NnstepError

SUPPORTED = "Linear, ReLU, LeakyReLU, Sigmoid, Tanh, Identity, Softmax, Dropout, Flatten"
SUPPORTED_LOSSES = "MSELoss, CrossEntropyLoss, BCELoss, BCEWithLogitsLoss, NLLLoss after LogSoftmax"
ACTIVATIONS = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softmax": "softmax"}


@dataclass
class Layer:
    """One Linear with the activation and dropout that follow it (paths as in the model)."""

    path: str
    linear: Any
    activation: str = "identity"
    activation_path: str = ""
    activation_name: str = ""
    dropout: float = 0.0
    dropout_path: str = ""
    dropout_module: Any = None


@dataclass
class Network:
    """The model read as nnstep layers."""

    root: Any
    layers: list[Layer] = field(default_factory=list)
    flatten: bool = False
    negative_slope: float | None = None
    log_softmax: str = ""  # path of a final LogSoftmax (for NLLLoss), "" without one

    @property
    def sizes(self) -> list[int]:
        """n_0, n_1, …, n_L."""
        return [self.layers[0].linear.in_features] + [layer.linear.out_features for layer in self.layers]


@dataclass
class Loss:
    """The loss as nnstep names it, and as the user wrote it."""

    kind: str
    name: str  # "CrossEntropyLoss", "F.mse_loss", …
    ignore_index: int | None = None
    nll: bool = False


# -- the model ---------------------------------------------------------------------------------


def walk(torch: Any, module: Any, path: str = "model") -> Iterator[tuple[str, Any]]:
    """(path, module) of every module the Sequential runs, nested Sequentials flattened, in order."""
    nn = torch.nn
    if isinstance(module, nn.Sequential):
        if type(module).forward is not nn.Sequential.forward:
            raise NnstepError(f"{path}: {type(module).__name__} defines its own forward(), which nnstep cannot follow "
                              f"(supported: nn.Sequential of {SUPPORTED})")
        for name, child in module._modules.items():  # as Sequential.forward runs them: a repeated module twice
            if child is None:
                continue
            yield from walk(torch, child, f"{path}[{name}]" if name.isdigit() else f"{path}.{name}")
    elif path == "model" and not isinstance(module, nn.Module):
        raise NnstepError(f"model: expected a torch.nn.Module, got {type(module).__name__}")
    else:
        yield path, module


def _kind(torch: Any, path: str, module: Any) -> str:
    """The supported class `module` is ("Linear", "ReLU", …); refuse anything else."""
    nn = torch.nn
    classes = (nn.Linear, nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.Identity, nn.Softmax, nn.LogSoftmax,
               nn.Dropout, nn.Flatten)
    base = next((cls for cls in classes if isinstance(module, cls)), None)
    name = type(module).__name__
    if base is None:
        if path == "model":
            raise NnstepError(f"model: {name} defines its own forward(), which nnstep cannot follow "
                              f"(supported: nn.Sequential of {SUPPORTED})")
        raise NnstepError(f"{path}: {name} is not supported (supported: {SUPPORTED})")
    if type(module).forward is not base.forward:
        raise NnstepError(f"{path}: {name} defines its own forward(), which nnstep cannot follow (supported: {SUPPORTED})")
    return str(base.__name__)


def read_model(torch: Any, model: Any) -> Network:
    """The model's layers: each Linear with its activation and dropout, checked for what nnstep computes."""
    network = Network(model)
    modules = list(walk(torch, model))
    seen: dict[int, str] = {}
    for i, (path, module) in enumerate(modules):
        kind = _kind(torch, path, module)
        last = network.layers[-1] if network.layers else None
        if kind == "Flatten":
            if i:
                raise NnstepError(f"{path}: Flatten is supported only as the first module (it flattens each input row)")
            if (module.start_dim, module.end_dim) != (1, -1):
                raise NnstepError(f"{path}: Flatten(start_dim={module.start_dim}, end_dim={module.end_dim}) is not "
                                  "supported (only Flatten(), which flattens each row)")
            network.flatten = True
        elif kind == "Linear":
            _check_linear(torch, path, module, last, seen)
            network.layers.append(Layer(path, module))
        elif kind == "Identity":
            continue
        elif kind == "Dropout":
            if last is None:
                raise NnstepError(f"{path}: Dropout on the inputs is not supported (nnstep drops units of a layer, after its activation)")
            if last.dropout_path:
                raise NnstepError(f"{path}: a second Dropout after {last.dropout_path} is not supported (one per layer)")
            last.dropout, last.dropout_path, last.dropout_module = float(module.p), path, module
        else:
            if last is None:
                raise NnstepError(f"{path}: {kind} before the first Linear is not supported (an activation follows a Linear)")
            if last.dropout_path:
                raise NnstepError(f"{path}: {kind} after Dropout ({last.dropout_path}) is not supported "
                                  "(nnstep drops a⁽ˡ⁾ after the activation: put Dropout after it)")
            if last.activation_path:
                raise NnstepError(f"{path}: {kind} after {last.activation_name} ({last.activation_path}) is not supported "
                                  "(one activation per Linear)")
            if kind in ("Softmax", "LogSoftmax") and module.dim not in (None, 1, -1):
                raise NnstepError(f"{path}: {kind}(dim={module.dim}) is not supported (only dim=-1: over each row's outputs)")
            if kind == "LogSoftmax":
                if i != len(modules) - 1:
                    raise NnstepError(f"{path}: LogSoftmax is supported only as the last module, before NLLLoss")
                network.log_softmax = path
            else:
                last.activation = ACTIVATIONS[kind]
            last.activation_path, last.activation_name = path, kind
            if kind == "LeakyReLU":
                slope = float(module.negative_slope)
                if network.negative_slope is not None and slope != network.negative_slope:
                    raise NnstepError(f"{path}: LeakyReLU(negative_slope={slope:g}) differs from an earlier LeakyReLU's "
                                      f"{network.negative_slope:g} (nnstep takes one slope for the network)")
                network.negative_slope = slope
    if not network.layers:
        raise NnstepError(f"model: has no Linear layer (supported: nn.Sequential of {SUPPORTED})")
    for layer in network.layers[:-1]:
        if layer.activation == "softmax":
            raise NnstepError(f"{layer.activation_path}: Softmax on a hidden layer is not supported (only on the output layer)")
    if network.layers[-1].dropout:
        raise NnstepError(f"{network.layers[-1].dropout_path}: Dropout after the output layer is not supported "
                          "(nnstep does not drop the outputs ŷ)")
    return network


def _check_linear(torch: Any, path: str, module: Any, last: Layer | None, seen: dict[int, str]) -> None:
    if isinstance(module.weight, torch.nn.parameter.UninitializedParameter):
        raise NnstepError(f"{path}: {type(module).__name__} is not initialised yet (run one forward pass first)")
    for parameter in (module.weight, module.bias):
        if parameter is not None:
            if id(parameter) in seen:
                raise NnstepError(f"{path}: shares its parameters with {seen[id(parameter)]} "
                                  "(tied or repeated layers are not supported)")
            seen[id(parameter)] = path
    if last is not None and module.in_features != last.linear.out_features:
        raise NnstepError(f"{path}: Linear takes {module.in_features} inputs but {last.path} gives "
                          f"{last.linear.out_features}")


def model_dtype(torch: Any, network: Network) -> str:
    """"float32" or "float64": the one dtype of the model's parameters."""
    dtypes = {p.dtype for layer in network.layers for p in (layer.linear.weight, layer.linear.bias) if p is not None}
    if len(dtypes) > 1:
        raise NnstepError(f"model: its parameters mix {' and '.join(sorted(str(d) for d in dtypes))} "
                          "(nnstep computes in one dtype: model.double() or model.float())")
    dtype = dtypes.pop()
    if dtype not in (torch.float32, torch.float64):
        raise NnstepError(f"model: its parameters are {dtype}; nnstep computes in float32 or float64 "
                          "(model.float() or model.double())")
    return "float64" if dtype == torch.float64 else "float32"


def summary(network: Network) -> str:
    """'5→16→2 (relu, identity)'."""
    return f"{'→'.join(map(str, network.sizes))} ({', '.join(layer.activation for layer in network.layers)})"


# -- the loss ----------------------------------------------------------------------------------


def read_loss(torch: Any, loss_fn: Any, network: Network) -> Loss:
    """nnstep's loss for `loss_fn` (a loss module, or its torch.nn.functional form)."""
    nn, F = torch.nn, torch.nn.functional
    modules = {nn.MSELoss: "mse", nn.CrossEntropyLoss: "cross_entropy", nn.BCELoss: "bce",
               nn.BCEWithLogitsLoss: "bce_with_logits", nn.NLLLoss: "nll"}
    functions = {F.mse_loss: "mse", F.cross_entropy: "cross_entropy", F.binary_cross_entropy: "bce",
                 F.binary_cross_entropy_with_logits: "bce_with_logits", F.nll_loss: "nll"}
    if isinstance(loss_fn, nn.Module):
        base = next((cls for cls in modules if isinstance(loss_fn, cls)), None)
        name = type(loss_fn).__name__
        if base is None or type(loss_fn).forward is not base.forward:
            raise NnstepError(f"loss_fn: {name} is not supported (supported: {SUPPORTED_LOSSES})")
        if loss_fn.reduction != "mean":
            raise NnstepError(f"loss_fn: {name}(reduction='{loss_fn.reduction}') is not supported "
                              "(nnstep's losses are means: reduction='mean')")
        for option in ("weight", "pos_weight"):
            if getattr(loss_fn, option, None) is not None:
                raise NnstepError(f"loss_fn: {name}({option}=…) is not supported (no per-class or per-output weights)")
        if getattr(loss_fn, "label_smoothing", 0.0):
            raise NnstepError(f"loss_fn: {name}(label_smoothing={loss_fn.label_smoothing:g}) is not supported")
        loss = Loss(modules[base], name, getattr(loss_fn, "ignore_index", None))
    else:
        kind = next((kind for f, kind in functions.items() if loss_fn is f), None)
        name = getattr(loss_fn, "__name__", type(loss_fn).__name__)
        if kind is None:
            raise NnstepError(f"loss_fn: {name} is not supported (supported: {SUPPORTED_LOSSES}, "
                              "or their torch.nn.functional forms)")
        loss = Loss(kind, f"F.{name}", -100 if kind in ("cross_entropy", "nll") else None)
    if loss.kind == "nll":
        if not network.log_softmax:
            raise NnstepError(f"loss_fn: {loss.name} takes log-probabilities: the model must end with LogSoftmax "
                              "(or use CrossEntropyLoss on the logits)")
        loss.kind, loss.nll = "cross_entropy", True
    elif network.log_softmax:
        raise NnstepError(f"{network.log_softmax}: LogSoftmax is supported only before NLLLoss, not before {loss.name}")
    last = network.layers[-1]
    if loss.kind == "bce_with_logits" and last.activation != "identity":
        raise NnstepError(f"{last.activation_path}: {last.activation_name} before {loss.name} is not supported "
                          f"({loss.name} applies the sigmoid itself: end the model with the Linear's logits)")
    return loss

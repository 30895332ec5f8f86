"""nnstep: step through neural-network training op by op — and through your own PyTorch model.

    import nnstep
    nnstep.debug(model, x, y, loss_fn, optimizer)       # the app on an exact copy; returns when you quit
    config = nnstep.from_torch(model, x, y, loss_fn, optimizer)
    nnstep.save_config(config, "net.toml")              # `nnstep --config net.toml` opens it, without torch

Batch rows, as nn.Linear: z⁽ˡ⁾ = a⁽ˡ⁻¹⁾W⁽ˡ⁾ᵀ + b⁽ˡ⁾ has shape (B, n_l); W⁽ˡ⁾ has shape (n_l, n_{l-1}).

`import nnstep` is cheap: it imports neither torch, textual nor numpy. Each
function imports what it needs when called, so a script that only trains
with torch pays nothing for the line that imports nnstep.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nnstep.convert import ConvertedConfig
    from nnstep.engine import Config, NnstepError

__all__ = ["ConvertedConfig", "NnstepError", "__version__", "debug", "from_torch", "save_config"]


def from_torch(
    model: Any,
    x: Any,
    y: Any,
    loss_fn: Any,
    optimizer: Any,
    *,
    batch_size: int | None = None,
    shuffle: bool | None = None,
) -> ConvertedConfig:
    """A PyTorch model, its data, loss and optimizer as an nnstep Config, proven equal to PyTorch.

    Batch rows: x has shape (N, n_0) (or (N, …) after a leading nn.Flatten),
    z⁽ˡ⁾ has shape (B, n_l) and W⁽ˡ⁾ is the Linear's weight, shape (n_l, n_{l-1}).

    Converts an nn.Sequential (nested ones flattened) of Linear (bias=False
    becomes a frozen zero b), ReLU, LeakyReLU, Sigmoid, Tanh, Identity,
    Softmax(dim=-1), Dropout(p) after an activation, and a leading Flatten;
    the loss MSELoss, CrossEntropyLoss, BCELoss, BCEWithLogitsLoss (reduction
    "mean", or their torch.nn.functional forms), or NLLLoss after a final
    LogSoftmax (as cross-entropy on the logits); the optimizer SGD, Adam,
    AdamW or RMSprop with its hyperparameters and its current state (momentum
    buffers, Adam's moments and step count), so a half-trained model goes on
    where it stands. The learning rate is the one the optimizer holds now (a
    scheduler is not followed). Parameters with requires_grad=False, or that
    the optimizer does not hold, are frozen. Dropout is applied as in
    training, whatever model.train()/eval() says: nnstep steps through training.

    x and y are tensors on any device, float32 or float64 (the config takes
    the model's dtype); y holds class indices or probabilities for
    cross-entropy, targets shaped like the output otherwise. x may instead be
    a DataLoader over a TensorDataset (then y is None): its batch size, its
    tensors and, unless `shuffle` is given, shuffle=True for a RandomSampler.
    `batch_size` defaults to all rows in one batch. With shuffle, nnstep
    draws its own permutations (seeded, so a replay is exact): the batches
    differ from those of torch's DataLoader.

    Proven on conversion: one iteration on the first batch in order (with
    dropout, nnstep's masks fed to torch) runs in PyTorch on a copy of the
    model and optimizer and in nnstep's engine; ŷ, the loss, every δ, dW,
    db, the new W and b and the optimizer's state are compared. The largest
    relative difference (relative to each tensor's largest entry) is
    `config.parity` and is written into `config.description` ("matches
    PyTorch to 3e-16"); past 1e-10 in float64 or 1e-5 in float32 nnstep
    refuses, naming the tensor. Nothing of the caller's changes: parameters,
    gradients, optimizer state and the torch, NumPy and Python random states
    are as they were.

    Anything else raises NnstepError, one line naming the part by its path in
    the model: ``model[3]: Conv2d is not supported (supported: Linear, …)``.
    """
    from nnstep.convert import from_torch as convert

    return convert(model, x, y, loss_fn, optimizer, batch_size=batch_size, shuffle=shuffle)


def debug(
    model: Any,
    x: Any,
    y: Any,
    loss_fn: Any,
    optimizer: Any,
    *,
    batch_size: int | None = None,
    shuffle: bool | None = None,
) -> None:
    """Open nnstep's app on an exact copy of this PyTorch training; return when the user quits.

    Like breakpoint() drops into pdb: `nnstep.debug(model, x, y, loss_fn,
    optimizer)` converts with `from_torch` (same arguments; batch rows: x has
    shape (N, n_0), W⁽ˡ⁾ shape (n_l, n_{l-1})) and opens the same app as
    `nnstep`: every key, time travel, breakpoints, export. The model and
    optimizer are not changed: what you step through is the copy.
    """
    config = from_torch(model, x, y, loss_fn, optimizer, batch_size=batch_size, shuffle=shuffle)
    from nnstep.tui.app import make_app

    make_app(config).run()


def save_config(config: Config, path: Any) -> None:
    """Write `config` as a self-contained TOML file that `nnstep --config PATH` opens.

    Batch rows: data.x has shape (N, n_0); [[model.layers]] W has shape
    (n_l, n_{l-1}). Every number is written exactly (floats by repr), with the
    initial W, b, the optimizer's state and the data, so the file trains
    bit-for-bit as `config` does, without torch. The write is atomic: a
    failure leaves any earlier file whole. Raises NnstepError naming the path.
    """
    from nnstep.save import save_config as save

    save(config, path)


def __getattr__(name: str) -> Any:
    """`NnstepError`, `ConvertedConfig` and `__version__`, imported from the engine when first asked for."""
    if name == "NnstepError":
        from nnstep.engine.errors import NnstepError

        return NnstepError
    if name == "__version__":
        from nnstep.engine import __version__

        return __version__
    if name == "ConvertedConfig":
        from nnstep.convert import ConvertedConfig

        return ConvertedConfig
    raise AttributeError(f"module 'nnstep' has no attribute {name!r}")

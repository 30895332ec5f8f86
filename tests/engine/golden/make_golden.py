"""Make the PyTorch golden fixtures (run once; torch is not a dependency of nnstep).

    python tests/engine/golden/make_golden.py

For each case: the config (explicit initial W and b, so nnstep needs no
torch), and for 3 iterations the loss, every δ⁽ˡ⁾ = ∂L/∂z⁽ˡ⁾ (z.grad),
dW, db and W, b after torch.optim.SGD's step.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from nnstep.engine import build_config, load_demo

HERE = Path(__file__).parent
ACT = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda z: z,
       "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01), "softmax": lambda z: torch.softmax(z, dim=1)}


def golden(raw: dict, iterations: int = 3) -> dict:
    config = build_config(raw, "golden")
    raw = config.to_dict()
    torch.manual_seed(0)
    layers = [torch.nn.Linear(W.shape[1], W.shape[0]).double() for W, _ in config.layers]
    with torch.no_grad():
        for layer, (W, b) in zip(layers, config.layers):
            layer.weight.copy_(torch.from_numpy(np.array(W)))
            layer.bias.copy_(torch.from_numpy(np.array(b)))
    params = [p for layer in layers for p in layer.parameters()]
    opt = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                          weight_decay=config.weight_decay, nesterov=config.nesterov)
    x = torch.from_numpy(np.array(config.x))
    if config.loss == "cross_entropy":
        target = torch.from_numpy(np.array(config.labels)) if config.labels is not None else torch.from_numpy(np.array(config.y))
        loss_fn = torch.nn.CrossEntropyLoss()
    else:
        target = torch.from_numpy(np.array(config.y))
        loss_fn = torch.nn.MSELoss() if config.loss == "mse" else torch.nn.BCELoss()
    assert config.batch_size == len(config.x), "golden cases are full batch"
    steps = []
    for _ in range(iterations):
        a, zs = x, []
        for layer, act in zip(layers, config.activations):
            z = layer(a)
            z.retain_grad()
            zs.append(z)
            a = ACT[act](z)
        loss = loss_fn(a, target)
        opt.zero_grad()
        loss.backward()
        step = {
            "loss": loss.item(),
            "delta": [z.grad.tolist() for z in zs],
            "dW": [layer.weight.grad.tolist() for layer in layers],
            "db": [layer.bias.grad.tolist() for layer in layers],
        }
        opt.step()
        step["W"] = [layer.weight.detach().tolist() for layer in layers]
        step["b"] = [layer.bias.detach().tolist() for layer in layers]
        steps.append(step)
    return {"config": raw, "torch": torch.__version__, "steps": steps}


CASES = {
    "tutorial": load_demo("tutorial").to_dict(),
    "tanh_sigmoid_momentum": {
        "seed": 7,
        "model": {"sizes": [4, 6, 5, 3], "activations": ["tanh", "sigmoid", "sigmoid"], "init": "xavier"},
        "loss": {"kind": "mse"},
        "optimizer": {"lr": 0.3, "momentum": 0.9, "weight_decay": 0.01},
        "data": {"dataset": "random", "n": 8},
    },
    "leaky_softmax_nesterov": {
        "seed": 11,
        "model": {"sizes": [3, 5, 4], "activations": ["leaky_relu", "softmax"], "init": "he"},
        "loss": {"kind": "mse"},
        "optimizer": {"lr": 0.2, "momentum": 0.5, "nesterov": True},
        "data": {"dataset": "random", "n": 6},
    },
    "bce_sigmoid": {
        "seed": 5,
        "model": {"sizes": [2, 3, 1], "activations": ["relu", "sigmoid"], "init": "torch"},
        "loss": {"kind": "bce"},
        "optimizer": {"lr": 0.5},
        "data": {"dataset": "moons", "n": 12},
    },
}

if __name__ == "__main__":
    for name, raw in CASES.items():
        (HERE / f"{name}.json").write_text(json.dumps(golden(raw)) + "\n")
        print("wrote", name)

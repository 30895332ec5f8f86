"""Parameter checkpoints for time travel: the recent ones in memory, older ones spilled to disk.

A long run keeps a checkpoint every `spacing` iterations so that any
iteration is at most `spacing` replays away. Memory holds only a budget's
worth of them (the most recently made or used, and iteration 0); the rest
go to a private temporary folder as `.npz` files (never pickled), which is
removed when the session is collected or the program exits. Only when the
disk budget is spent too does the session thin checkpoints out.
Shapes: W⁽ˡ⁾ (n_l, n_{l-1}), b⁽ˡ⁾ (n_l,), optimizer state as its parameter.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections import OrderedDict
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterator

import numpy as np

from .network import Params


def _save(path: Path, params: Params) -> None:
    arrays: dict[str, np.ndarray] = {"t": np.array(params.t)}
    for l, (W, b) in enumerate(zip(params.W, params.b)):
        arrays[f"W{l}"], arrays[f"b{l}"] = W, b
        for key, value in (params.state[l] if params.state else {}).items():
            arrays[f"s{l}.{key}"] = value
    with path.open("wb") as handle:
        np.savez(handle, **arrays)


def _load(path: Path, depth: int) -> Params:
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    for array in arrays.values():
        array.setflags(write=False)
    state: list[dict[str, np.ndarray]] = [{} for _ in range(depth)]
    for name, value in arrays.items():
        if name.startswith("s"):
            layer, key = name[1:].split(".", 1)
            state[int(layer)][key] = value
    return Params(
        tuple(arrays[f"W{l}"] for l in range(depth)),
        tuple(arrays[f"b{l}"] for l in range(depth)),
        tuple(MappingProxyType(s) for s in state),
        int(arrays["t"]),
    )


class CheckpointStore:
    """Checkpoints by iteration: up to `memory_slots` in memory, up to `disk_slots` more on disk."""

    def __init__(self, depth: int, memory_slots: int, disk_slots: int) -> None:
        self.depth = depth
        self.memory_slots = max(2, memory_slots)
        self.disk_slots = max(0, disk_slots)
        self._memory: OrderedDict[int, Params] = OrderedDict()  # least recently used first
        self._disk: dict[int, Path] = {}
        self._folder: Path | None = None

    def __len__(self) -> int:
        return len(self._memory.keys() | self._disk.keys())

    def __contains__(self, iteration: object) -> bool:
        return iteration in self._memory or iteration in self._disk

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self._memory.keys() | self._disk.keys()))

    @property
    def capacity(self) -> int:
        """How many checkpoints fit in memory and on disk together."""
        return self.memory_slots + self.disk_slots

    def __setitem__(self, iteration: int, params: Params) -> None:
        self._disk.pop(iteration, None)
        self._memory[iteration] = params
        self._memory.move_to_end(iteration)
        self._spill()

    def __getitem__(self, iteration: int) -> Params:
        params = self._memory.get(iteration)
        if params is not None:
            self._memory.move_to_end(iteration)
            return params
        path = self._disk.get(iteration)
        if path is None:
            raise KeyError(iteration)
        params = _load(path, self.depth)
        self._memory[iteration] = params  # brought back: going there again costs nothing
        self._spill()
        return params

    def in_memory(self) -> list[Params]:
        """The checkpoints held in memory (what history memory counts)."""
        return list(self._memory.values())

    def on_disk(self) -> int:
        """Bytes of the checkpoint files on disk."""
        return sum(path.stat().st_size for path in self._disk.values() if path.exists())

    def retain(self, keep: Callable[[int], bool]) -> None:
        """Drop the checkpoints whose iteration `keep` rejects (memory and files)."""
        for iteration in [i for i in self._memory if not keep(i)]:
            del self._memory[iteration]
        for iteration in [i for i in self._disk if not keep(i)]:
            self._disk.pop(iteration).unlink(missing_ok=True)

    def _spill(self) -> None:
        """Move the least recently used checkpoints (never iteration 0) to disk while memory is over budget."""
        while len(self._memory) > self.memory_slots:
            victim = next((i for i in self._memory if i != 0 and (i in self._disk or len(self._disk) < self.disk_slots)),
                          None)
            if victim is None:  # the disk is full too: the session thins checkpoints out
                return
            params = self._memory.pop(victim)
            if victim not in self._disk:
                path = self._path(victim)
                _save(path, params)
                self._disk[victim] = path

    def _path(self, iteration: int) -> Path:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="nnstep-history-"))
            # Removed when the session is collected, or at exit at the latest.
            weakref.finalize(self, shutil.rmtree, self._folder, True)
        return self._folder / f"{iteration}.npz"

    @property
    def folder(self) -> Path | None:
        """Where spilled checkpoints live (None until the first one spills)."""
        return self._folder

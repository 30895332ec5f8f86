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
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .network import Params


def _save(path: Path, params: Params) -> None:
    arrays: dict[str, np.ndarray] = {"t": np.array(params.t)}
    for l, (W, b) in enumerate(zip(params.W, params.b)):
        arrays[f"W{l}"], arrays[f"b{l}"] = W, b
        for key, value in (params.state[l] if params.state else {}).items():
            arrays[f"s{l}.{key}"] = value
    with path.open("wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub types allow_pickle among the kwargs


def _load(path: Path, depth: int) -> Params:
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    for value in arrays.values():
        value.setflags(write=False)
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
        return self.file(f"{iteration}.npz")

    def file(self, name: str) -> Path:
        """A file of this store's private folder (made on first use)."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="nnstep-history-"))
            # Removed when the session is collected, or at exit at the latest.
            weakref.finalize(self, shutil.rmtree, self._folder, True)
        return self._folder / name

    @property
    def folder(self) -> Path | None:
        """Where spilled checkpoints live (None until the first one spills)."""
        return self._folder


class LossHistory:
    """One float64 loss per iteration: the latest CHUNK in memory, older chunks in the spill folder.

    A run may be 10⁹ iterations long; its losses (8 GB) must not all live in
    memory. Reads of any span are exact (the bytes written are the bytes read).
    """

    CHUNK = 1 << 22  # losses per chunk: 32 MiB

    def __init__(self, store: CheckpointStore) -> None:
        self._store = store
        self._chunk = self.CHUNK
        self._tail = array("d")
        self._chunks: list[Path] = []  # full chunks on disk, in order

    def __len__(self) -> int:
        return len(self._chunks) * self._chunk + len(self._tail)

    def append(self, loss: float) -> None:
        """Add the next iteration's loss; a full chunk goes to disk."""
        self._tail.append(loss)
        if len(self._tail) == self._chunk:
            path = self._store.file(f"losses-{len(self._chunks)}.f64")
            with path.open("wb") as handle:
                self._tail.tofile(handle)
            self._chunks.append(path)
            self._tail = array("d")

    def __getitem__(self, index: int) -> float:
        if index < 0:
            index += len(self)
        return float(self.span(index, index + 1)[0])

    def span(self, start: int, stop: int) -> np.ndarray:
        """A copy of the losses of iterations [start, stop) (0-based)."""
        start, stop = max(0, start), min(stop, len(self))
        if start >= stop:
            return np.empty(0)
        parts = []
        first_chunk, last_chunk = start // self._chunk, (stop - 1) // self._chunk
        for k in range(first_chunk, last_chunk + 1):
            lo, hi = max(start, k * self._chunk) - k * self._chunk, min(stop, (k + 1) * self._chunk) - k * self._chunk
            if k < len(self._chunks):
                data = np.memmap(self._chunks[k], dtype=np.float64, mode="r", shape=(self._chunk,))
                parts.append(np.array(data[lo:hi]))
            else:
                parts.append(np.frombuffer(self._tail, dtype=np.float64)[lo:hi].copy())
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    @property
    def nbytes(self) -> int:
        """Bytes held in memory."""
        return self._tail.buffer_info()[1] * self._tail.itemsize

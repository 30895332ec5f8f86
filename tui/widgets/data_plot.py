"""The data and what the network makes of it now, in half-block pixels.

Each character is two pixels (▀: foreground on top, background below).
- 2-D inputs (classification): the background regions are the class the
  network predicts there with the parameters at the current position; the
  points are the data, coloured by label.
- 1-D input and output (regression, e.g. the sine demo): the data points
  (x, y) and the curve ŷ(x) of the network at the current position.
Batch rows: x has shape (N, 2) or (N, 1); W⁽ˡ⁾ has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import numpy as np
from nnstep.engine import Config
from nnstep.engine.network import forward
from nnstep.tui.widgets.network_pane import same_arrays
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

_REGION = [(28, 44, 88), (88, 36, 32), (30, 76, 40), (80, 70, 20), (70, 30, 80)]
_CURVE = (250, 170, 60)
CURVE = 99  # a pixel of the curve ŷ(x)
_POINT = [(110, 170, 255), (255, 120, 90), (110, 230, 120), (250, 220, 80), (220, 120, 255)]


def plots(config: Config) -> bool:
    """True when the data pane has something to draw: 2-D inputs, or one input and one output."""
    return (config.sizes[0] == 2 and len(config.x) >= 4) or (config.sizes[0] == 1 and config.sizes[-1] == 1)


def predict(config: Config, W: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...], points: np.ndarray) -> np.ndarray:
    """Class the network predicts for each row of `points` (N, 2): argmax, or a threshold for one output.

    The engine's own forward pass in evaluation mode (no dropout, as model.eval() in torch).
    """
    with np.errstate(all="ignore"):
        a = forward(config, W, b, points)
    if a.shape[1] > 1:
        return np.argmax(np.nan_to_num(a, nan=-np.inf), axis=1)
    threshold = 0.5 if config.activations[-1] == "sigmoid" else 0.0
    return (a[:, 0] > threshold).astype(int)


class DataPlot(Widget):
    """Points of a 2-D data set over the predicted class regions."""

    DEFAULT_CSS = """
    DataPlot { width: 34; }
    """

    # Assigned on every op, new only after an update: the regions (a forward pass over every pixel)
    # are worked out again for other arrays alone (compared by identity: arrays are immutable).
    params: reactive[tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None] = reactive(
        None, always_update=True, repaint=False)

    def __init__(self, config: Config, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.config = config
        x = np.asarray(config.x, dtype=np.float64)
        self.curve = config.sizes[0] == 1  # regression: ŷ(x) against the data
        if self.curve:
            y = np.asarray(config.y, dtype=np.float64)[:, 0]
            x = np.column_stack([x[:, 0], y])  # the points as (x, y) pixels
            self.labels = np.zeros(len(x), dtype=int)
        elif config.labels is not None:
            self.labels = np.asarray(config.labels).astype(int).ravel()
        elif config.y.shape[1] > 1:
            self.labels = np.argmax(config.y, axis=1)
        else:
            self.labels = (config.y[:, 0] > 0.5).astype(int)
        low, high = x.min(axis=0), x.max(axis=0)
        pad = (high - low) * 0.08 + 1e-9
        self.low, self.high = low - pad, high + pad
        self.x = x
        # The regions are the engine's forward pass in evaluation mode: no dropout.
        self.border_title = "data · ŷ(x)" if self.curve else "data · decision boundary"
        self.border_subtitle = "ŷ in eval mode: no dropout"
        self._pixels: np.ndarray | None = None

    def watch_params(self, old: tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None,
                     new: tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None) -> None:
        """New parameters: recompute the class regions."""
        if old is not None and new is not None and same_arrays(old[0], new[0]) and same_arrays(old[1], new[1]):
            return
        self._pixels = None
        self.refresh()

    def _grid(self) -> np.ndarray:
        width, height = self.size.width, self.size.height * 2
        if self._pixels is not None and self._pixels.shape == (height, width):
            return self._pixels
        pixels = np.full((height, width), -1, dtype=int)
        if self.params is not None and width and height and self.curve:
            pixels = self._curve(np.linspace(self.low[0], self.high[0], width), height)
        elif self.params is not None and width and height:
            xs = np.linspace(self.low[0], self.high[0], width)
            ys = np.linspace(self.high[1], self.low[1], height)
            gx, gy = np.meshgrid(xs, ys)
            pixels = predict(self.config, *self.params, np.column_stack([gx.ravel(), gy.ravel()])).reshape(height, width)
            pixels = -2 - pixels  # regions: -2 - class; points: class >= 0
        cols = ((self.x[:, 0] - self.low[0]) / (self.high[0] - self.low[0]) * (width - 1)).round().astype(int)
        rows = ((self.high[1] - self.x[:, 1]) / (self.high[1] - self.low[1]) * (height - 1)).round().astype(int)
        pixels[rows.clip(0, height - 1), cols.clip(0, width - 1)] = self.labels % len(_POINT)
        self._pixels = pixels
        return pixels

    def _curve(self, xs: np.ndarray, height: int) -> np.ndarray:
        """The pixels of ŷ(x) at each column's x (CURVE), joined column to column; off the plot it is cut."""
        assert self.params is not None
        pixels = np.full((height, len(xs)), -1, dtype=int)
        with np.errstate(all="ignore"):
            y_hat = forward(self.config, *self.params, xs[:, None])[:, 0]
        rows = (self.high[1] - y_hat) / (self.high[1] - self.low[1]) * (height - 1)
        rows = np.where(np.isfinite(rows), rows, -1.0).round().clip(-1, height).astype(int)
        for col, row in enumerate(rows):
            start = rows[col - 1] if col else row
            low, high = sorted((start, row))
            pixels[max(low, 0):min(high, height - 1) + 1, col] = CURVE
        return pixels

    @staticmethod
    def _color(value: int) -> Color:
        if value == CURVE:
            return Color.from_rgb(*_CURVE)
        if value >= 0:
            return Color.from_rgb(*_POINT[value % len(_POINT)])
        if value == -1:
            return Color.from_rgb(20, 20, 24)
        return Color.from_rgb(*_REGION[(-2 - value) % len(_REGION)])

    def render_line(self, y: int) -> Strip:
        """Row y: pixel rows 2y (▀ foreground) and 2y + 1 (background)."""
        pixels = self._grid()
        if 2 * y + 1 >= pixels.shape[0]:
            return Strip.blank(self.size.width)
        top, bottom = pixels[2 * y], pixels[2 * y + 1]
        return Strip([Segment("▀", Style(color=self._color(t), bgcolor=self._color(u))) for t, u in zip(top, bottom)])

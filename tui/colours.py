"""The heatmap's colours and the marks for NaN/inf and for a change since the last iteration.

One place for the palette so the tensor panes, the watches and the tests
agree; the ramp is taken from the xterm 256-colour cube so it stays monotonic
where only 256 colours exist.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from rich._palettes import EIGHT_BIT_PALETTE
from rich.color import Color
from rich.style import Style

# A diverging ramp drawn from the xterm 256-colour cube itself, so a 256-colour terminal shows
# exactly these colours (a true-colour ramp rounded to the cube lost its order) and each side
# grows monotonically in luminance with |value|. Blue and orange stay apart for the common
# colour-vision deficiencies, where red and green would not.
_NEGATIVE_RAMP = (17, 18, 19, 20, 21, 27, 33, 39)
_POSITIVE_RAMP = (52, 88, 124, 160, 196, 202, 208, 214)


@lru_cache(maxsize=128)
def heat_style(level: int, changed: bool = False) -> Style:
    """Diverging heatmap cell: level −8…8, blue below zero, orange above, brighter with |value|; 0 unshaded."""
    if level == 0:
        return Style(bold=changed)
    ramp = _POSITIVE_RAMP if level > 0 else _NEGATIVE_RAMP
    number = ramp[min(abs(level), 8) - 1]
    red, green, blue = EIGHT_BIT_PALETTE[number]
    color = Color.from_rgb(red, green, blue)
    light = 0.2126 * red + 0.7152 * green + 0.0722 * blue > 140
    return Style(bgcolor=color, color="black" if light else "white", bold=changed)


def heat_luminance(level: int) -> float:
    """Relative luminance of a heat level's background (0 for the unshaded level 0); for the ramp's tests."""
    if level == 0:
        return 0.0
    ramp = _POSITIVE_RAMP if level > 0 else _NEGATIVE_RAMP
    channels = [c / 255 for c in EIGHT_BIT_PALETTE[ramp[min(abs(level), 8) - 1]]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


NON_FINITE_STYLE = Style(bgcolor="magenta", color="bright_yellow", bold=True)
CHANGED_UP = "▴"
CHANGED_DOWN = "▾"


def heat_levels(array: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Integer heat level −8…8 per cell, scaled by `scale` (default: the largest finite |value| of `array`).

    Pass the whole tensor's scale to level a visible window alone.
    """
    values = np.asarray(array, dtype=np.float64)
    with np.errstate(all="ignore"):
        finite = np.isfinite(values)
        if scale is None:
            scale = float(np.max(np.abs(values[finite]))) if finite.any() else 0.0
        if scale == 0 or not math.isfinite(scale):
            return np.zeros(values.shape, dtype=np.int8)
        levels = np.rint(np.where(finite, values, 0.0) / scale * 8)
    return levels.astype(np.int8)

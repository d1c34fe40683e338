"""The LAM map's colours: ``seismic``'s upper half, as the reference colours it,
and the map laid over the input."""

from __future__ import annotations

import numpy as np


def map_colormap():
    """The colours of the map: the upper half of ``seismic`` (white -> dark red),
    so that a value ``m`` in [0, 1] gets the reference's colour
    ``seismic(0.5 + m / 2)``."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    return ListedColormap(
        colormaps["seismic"](np.linspace(0.5, 1.0, 256)), name="lam_magnitude"
    )


def colorize(normalized_map: np.ndarray) -> np.ndarray:
    """The reference's colouring: seismic at ``map * 0.5 + 0.5`` -> (H, W, 3)."""
    from matplotlib import colormaps

    return colormaps["seismic"](normalized_map * 0.5 + 0.5)[..., :3]


def overlay(background: np.ndarray, values: np.ndarray, opacity: float) -> np.ndarray:
    """``values`` in [0, 1] coloured over ``background``, opaque where they are high.

    Where the map is 0 the background shows at full contrast (only half
    desaturated, so the red reads), instead of being washed out by a white map.
    """
    luma = background @ np.array([0.299, 0.587, 0.114])
    base = 0.5 * background + 0.5 * luma[..., None]
    colors = colorize(values)
    weight = opacity * np.sqrt(np.clip(values, 0.0, 1.0))[..., None]
    return np.clip(base * (1.0 - weight) + colors * weight, 0.0, 1.0)

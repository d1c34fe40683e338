"""Gini coefficient and Diffusion Index of attribution maps, reference semantics."""

from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from ._method.checks import check_int

ArrayLike = Union[np.ndarray, Tensor]

#: Added to every value before the Gini coefficient, as in the reference code.
GINI_EPSILON = 1e-7


def _to_numpy(a: ArrayLike, name: str) -> np.ndarray:
    if isinstance(a, Tensor):
        a = a.detach().to("cpu", torch.float64).numpy()
    array = np.asarray(a, dtype=np.float64)
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or Inf values")
    return array


def gini(a: ArrayLike) -> float:
    """Gini coefficient of all values of ``a``, as the LAM reference computes it.

    The values are flattened; if the minimum is negative they are shifted so it is
    0; ``1e-7`` is added; then, sorted ascending as ``a_1 <= ... <= a_n``::

        G = sum_k (2k - n - 1) a_k / (n * sum_k a_k)

    Parameters
    ----------
    a : ndarray or Tensor
        Any shape, finite, not empty.

    Returns
    -------
    float
        In [0, 1): 0 for equal values, near 1 when one value holds everything.

    Examples
    --------
    >>> round(gini(np.ones(100)), 6)
    0.0
    >>> hot = np.zeros(100); hot[3] = 1.0
    >>> round(gini(hot), 2)
    0.99
    """
    values = _to_numpy(a, "a").ravel()
    lowest = values.min()
    if lowest < 0:
        values = values - lowest
    values = np.sort(values + GINI_EPSILON)
    n = values.size
    index = np.arange(1, n + 1, dtype=np.float64)
    return float(np.sum((2 * index - n - 1) * values) / (n * np.sum(values)))


def abs_normalized_map(attributions: ArrayLike) -> np.ndarray:
    """``|sum over channels|`` of one (C, H, W) attribution, divided by its maximum.

    A 2-D (H, W) map is taken as already summed over channels.

    Raises
    ------
    ValueError
        For an all-zero map, whose normalisation (and Diffusion Index) is undefined.

    Examples
    --------
    >>> abs_normalized_map(np.array([[[1.0, -4.0]], [[1.0, 0.0]]])).tolist()
    [[0.5, 1.0]]
    """
    array = _to_numpy(attributions, "attributions")
    if array.ndim == 3:
        array = array.sum(axis=0)
    elif array.ndim != 2:
        raise ValueError(
            f"attributions must have shape (H, W) or (C, H, W) here, got {array.shape}"
        )
    magnitude = np.abs(array)
    peak = magnitude.max()
    if peak == 0:
        raise ValueError(
            "attributions are all zero: the Diffusion Index is undefined (was the "
            "window flat, or outside the model's reach?)"
        )
    return magnitude / peak


def diffusion_index(attributions: ArrayLike) -> Union[float, np.ndarray]:
    """Diffusion Index ``DI = (1 - Gini(|attribution map|)) * 100``.

    High DI: the network used many input pixels; low DI: few. Reference semantics:
    the map is ``|sum over channels|`` normalised by its maximum, then
    [`gini`][captum_lam.gini].

    Parameters
    ----------
    attributions : ndarray or Tensor
        One map, (H, W) or (C, H, W), or a batch (N, C, H, W).

    Returns
    -------
    float or ndarray
        A float in [0, 100] for one map; an (N,) float64 array for a batch.

    Raises
    ------
    ValueError
        For an empty, non-finite or all-zero map, or another number of dimensions.

    Examples
    --------
    >>> round(diffusion_index(np.ones((3, 8, 8))), 3)
    100.0
    >>> hot = np.zeros((1, 64, 64)); hot[0, 5, 5] = 1.0
    >>> diffusion_index(hot) < 0.1
    True
    """
    array = _to_numpy(attributions, "attributions")
    if array.ndim == 4:
        return np.array([diffusion_index(example) for example in array])
    if array.ndim not in (2, 3):
        raise ValueError(
            "attributions must have shape (H, W), (C, H, W) or (N, C, H, W), got "
            f"{array.shape}"
        )
    return (1.0 - gini(abs_normalized_map(array))) * 100.0


# --- size-robust companions of the Diffusion Index ------------------------------


def _magnitude_maps(attributions: Any) -> np.ndarray:
    """``|sum over channels|`` as (N, h, w) float64; one map gives N = 1."""
    if isinstance(attributions, Tensor):
        attributions = attributions.detach().to("cpu", torch.float64).numpy()
    array = np.asarray(attributions, dtype=np.float64)
    if array.ndim == 2:
        array = array[None, None]
    elif array.ndim == 3:
        array = array[None]
    elif array.ndim != 4:
        raise ValueError(
            "attributions must have shape (h, w), (C, h, w) or (N, C, h, w), got "
            f"{array.shape}"
        )
    return np.stack([abs_normalized_map(one) for one in array])


def mass_area(attributions: Any, fraction: float = 0.5) -> Union[int, np.ndarray]:
    """How many LR pixels hold ``fraction`` of the attribution mass.

    The map is ``|sum over channels|`` of the attribution (the map the
    Diffusion Index is computed on); its pixels are taken largest first until
    their sum reaches ``fraction`` of the total. Unlike the DI, the count does
    not change when the image around the window grows.

    Parameters
    ----------
    attributions : Tensor or ndarray
        One map (h, w) or (C, h, w), or a batch (N, C, h, w). Not all zero.
    fraction : float
        In (0, 1], e.g. 0.5 or 0.9.

    Returns
    -------
    int or ndarray
        An int in [1, h * w] for one map; an (N,) int64 array for a batch.

    Examples
    --------
    >>> m = np.zeros((8, 8)); m[0, 0] = 3.0; m[5, 5] = 1.0
    >>> mass_area(m, 0.5), mass_area(m, 0.9)
    (1, 2)
    >>> mass_area(np.ones((3, 10, 10)), 0.5)
    50
    """
    if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    maps = _magnitude_maps(attributions)
    counts = []
    for m in maps:
        values = np.sort(m.ravel())[::-1]
        cumulative = np.cumsum(values)
        # a relative tolerance so that fraction=1 and exact ties do not overshoot
        target = fraction * cumulative[-1] * (1 - 1e-12)
        counts.append(int(np.searchsorted(cumulative, target) + 1))
    batch = len(getattr(attributions, "shape", np.shape(attributions))) == 4
    return np.array(counts, dtype=np.int64) if batch else counts[0]


def _window_centre(window: Sequence[int], scale: int) -> tuple[float, float]:
    """The window's centre in LR pixel coordinates (pixel centres at integers)."""
    top, left, size = (int(v) for v in window)
    return (top + size / 2) / scale - 0.5, (left + size / 2) / scale - 0.5


def mean_distance(attributions: Any, window: Sequence[int], scale: int) -> float:
    """Attribution-weighted mean distance, in LR pixels, from the window's centre.

    The weights are ``|sum over channels|`` of the map. The window
    ``(top, left, size)`` is in output pixels; its centre in LR pixel
    coordinates is ``((top + size / 2) / scale - 0.5, (left + size / 2) / scale
    - 0.5)`` (LR pixel ``i`` covers output pixels ``i * scale`` to ``(i + 1) *
    scale - 1``).

    Parameters
    ----------
    attributions : Tensor or ndarray
        One map, (h, w), (C, h, w) or (1, C, h, w). Not all zero.
    window : tuple
        ``(top, left, size)`` in output pixels.
    scale : int
        Upscaling factor of the network.

    Returns
    -------
    float
        >= 0; small when the network used the pixels under the window only.

    Examples
    --------
    >>> m = np.zeros((8, 8)); m[2, 2] = 1.0
    >>> mean_distance(m, (8, 8, 4), scale=4)  # window over LR pixel (2, 2)
    0.0
    >>> m[2, 6] = 1.0
    >>> mean_distance(m, (8, 8, 4), scale=4)
    2.0
    """
    check_int("scale", scale, 1)
    maps = _magnitude_maps(attributions)
    if maps.shape[0] != 1:
        raise ValueError("mean_distance takes one map, not a batch")
    weights = maps[0]
    cy, cx = _window_centre(window, scale)
    ys, xs = np.mgrid[0 : weights.shape[0], 0 : weights.shape[1]]
    distances = np.hypot(ys - cy, xs - cx)
    return float((weights * distances).sum() / weights.sum())

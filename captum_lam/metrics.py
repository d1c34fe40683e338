"""Gini coefficient and Diffusion Index of attribution maps, reference semantics."""

from __future__ import annotations

from typing import Union

import numpy as np
import torch
from torch import Tensor

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

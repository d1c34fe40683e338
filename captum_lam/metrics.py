"""Gini coefficient and Diffusion Index of attribution maps, reference semantics.

Every metric here returns what it was given, as Captum does: a Tensor for a
Tensor (0-d for one map, (N,) for a batch, float64 or int64, on the map's
device), and for a NumPy array a Python float or int for one map and an (N,)
array for a batch.
"""

from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from ._method.checks import check_int

ArrayLike = Union[np.ndarray, Tensor]

#: Added to every value before the Gini coefficient, as in the reference code.
GINI_EPSILON = 1e-7


def _as_given(value: Any, given: Any) -> Any:
    """``value`` (a number or an array) as a Tensor when ``given`` is one."""
    if not isinstance(given, Tensor):
        return value
    dtype = torch.int64 if np.asarray(value).dtype.kind in "iu" else torch.float64
    return torch.as_tensor(np.asarray(value), dtype=dtype, device=given.device)


def _to_numpy(a: ArrayLike, name: str) -> np.ndarray:
    if isinstance(a, Tensor):
        a = a.detach().to("cpu", torch.float64).numpy()
    array = np.asarray(a, dtype=np.float64)
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or Inf values")
    return array


def gini(a: ArrayLike) -> Union[float, Tensor]:
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
    float or Tensor
        In [0, 1): 0 for equal values, near 1 when one value holds everything;
        a 0-d float64 Tensor for a Tensor.

    References
    ----------
    .. [1] Hurley, N. and Rickard, S. Comparing Measures of Sparsity. IEEE Trans.
    Information Theory 55(10), 2009.
    .. [2] Gu, J. and Dong, C. Interpreting Super-Resolution Networks with Local
    Attribution Maps. CVPR 2021.

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
    return _as_given(
        float(np.sum((2 * index - n - 1) * values) / (n * np.sum(values))), a
    )


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


def diffusion_index(attributions: ArrayLike) -> Union[float, np.ndarray, Tensor]:
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
    Tensor, float or ndarray
        In [0, 100]. For a Tensor: a 0-d float64 Tensor for one map, an (N,)
        one for a batch (on the map's device); for an array: a float for one
        map, an (N,) float64 array for a batch.

    Notes
    -----
    The DI depends on the size of the input the map covers: its zeros count
    in the Gini, so the same map padded with zeros has a lower DI. Report it
    with the input's size (``captum-lam`` says e.g. "DI 1.37 on a 64x64 LR
    input") and use [`mass_area`][captum_lam.mass_area] or
    [`mean_distance`][captum_lam.mean_distance] to compare inputs of different
    sizes.

    Raises
    ------
    ValueError
        For an empty, non-finite or all-zero map, or another number of dimensions.

    References
    ----------
    .. [1] Gu, J. and Dong, C. Interpreting Super-Resolution Networks with Local
    Attribution Maps. CVPR 2021.

    Examples
    --------
    >>> round(diffusion_index(np.ones((3, 8, 8))), 3)
    100.0
    >>> hot = np.zeros((1, 64, 64)); hot[0, 5, 5] = 1.0
    >>> diffusion_index(hot) < 0.1
    True
    >>> diffusion_index(torch.ones(2, 3, 8, 8)).round()
    tensor([100., 100.], dtype=torch.float64)
    """
    array = _to_numpy(attributions, "attributions")
    if array.ndim == 4:
        values = np.array([_diffusion_index(example) for example in array])
    elif array.ndim in (2, 3):
        values = _diffusion_index(array)
    else:
        raise ValueError(
            "attributions must have shape (H, W), (C, H, W) or (N, C, H, W), got "
            f"{array.shape}"
        )
    return _as_given(values, attributions)


def _diffusion_index(array: np.ndarray) -> float:
    return (1.0 - float(gini(abs_normalized_map(array)))) * 100.0


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


def mass_area(
    attributions: Any, fraction: float = 0.5
) -> Union[int, np.ndarray, Tensor]:
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
    int, ndarray or Tensor
        In [1, h * w]: an int for one map, an (N,) int64 array for a batch;
        int64 Tensors (0-d or (N,)) for a Tensor.

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
    return _as_given(
        np.array(counts, dtype=np.int64) if batch else counts[0], attributions
    )


def _window_centre(window: Sequence[int], scale: int) -> tuple[float, float]:
    """The window's centre in LR pixel coordinates (pixel centres at integers)."""
    top, left, size = (int(v) for v in window)
    return (top + size / 2) / scale - 0.5, (left + size / 2) / scale - 0.5


def mean_distance(
    attributions: Any, window: Sequence[int], scale: int
) -> Union[float, Tensor]:
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
    float or Tensor
        >= 0; small when the network used the pixels under the window only
        (a 0-d float64 Tensor for a Tensor).

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
    return _as_given(float((weights * distances).sum() / weights.sum()), attributions)


def signed_spread(effect: Any, window: Sequence[int], scale: int) -> dict[str, Any]:
    """How a signed map (a Causal Effect Map) spreads: help, harm and reach.

    The measures of the signed map ``e`` (dB per LR pixel), with ``|e|`` its
    magnitude:

    - ``positive_db`` / ``negative_db``: the largest effect and the most
      negative one (dB; 0 when there is none);
    - ``positive_area`` / ``negative_area``: LR pixels that help (``e > 0``) /
      hurt (``e < 0``);
    - ``negative_fraction``: the share of ``|e|`` in negative effects, in
      [0, 1];
    - ``beyond_window_fraction``: the share of ``|e|`` outside the LR pixels
      under the window, in [0, 1] (0: only the window's own pixels matter);
    - ``di``, ``mass_area_50``, ``mass_area_90``, ``mean_distance``: the
      Diffusion Index, mass areas and mean distance of ``|e|``, as for LAM.

    For an all-zero map the shares, areas of mass and distances are None.

    Parameters
    ----------
    effect : Tensor or ndarray
        One map, (h, w), (1, h, w) or (1, 1, h, w).
    window : tuple
        ``(top, left, size)`` in output pixels.
    scale : int
        Upscaling factor of the network.

    Returns
    -------
    dict
        The measures above, Python floats and ints.

    Examples
    --------
    >>> e = np.zeros((8, 8)); e[2, 2] = 3.0; e[6, 6] = -1.0
    >>> m = signed_spread(e, (8, 8, 4), scale=4)
    >>> m["negative_fraction"], m["beyond_window_fraction"], m["negative_area"]
    (0.25, 0.25, 1)
    """
    check_int("scale", scale, 1)
    array = _to_numpy(effect, "effect")
    if array.ndim > 2 and array.shape[:-2] not in ((1,), (1, 1)):
        raise ValueError(
            "effect must be one map (h, w), (1, h, w) or (1, 1, h, w), got "
            f"{array.shape}"
        )
    e = array.reshape(array.shape[-2:])
    magnitude = np.abs(e)
    total = float(magnitude.sum())
    top, left, size = (int(v) for v in window)
    inside = np.zeros_like(e, dtype=bool)
    inside[
        top // scale : -(-(top + size) // scale),
        left // scale : -(-(left + size) // scale),
    ] = True
    measures: dict[str, Any] = {
        "positive_db": float(max(e.max(), 0.0)),
        "negative_db": float(min(e.min(), 0.0)),
        "positive_area": int((e > 0).sum()),
        "negative_area": int((e < 0).sum()),
    }
    if total == 0:
        none = ("negative_fraction", "beyond_window_fraction", "di", "mass_area_50")
        return {**measures, **dict.fromkeys(none + ("mass_area_90", "mean_distance"))}
    return {
        **measures,
        "negative_fraction": float(magnitude[e < 0].sum() / total),
        "beyond_window_fraction": float(magnitude[~inside].sum() / total),
        "di": float(diffusion_index(magnitude)),
        "mass_area_50": int(mass_area(magnitude, 0.5)),
        "mass_area_90": int(mass_area(magnitude, 0.9)),
        "mean_distance": mean_distance(magnitude, window, scale),
    }


def di_text(di: float, input_size: Sequence[int], scale: int = 2) -> str:
    """A DI with the size of the input its map covers: ``"DI 1.37 on a 64x64
    LR input"`` (``"input"`` at scale 1), height x width.

    The DI of one window changes with the input around it, so every DI the
    package prints or draws says which input it was computed on.

    Examples
    --------
    >>> di_text(1.3712, (64, 64), scale=4)
    'DI 1.37 on a 64x64 LR input'
    """
    h, w = (int(v) for v in input_size[-2:])
    return f"DI {float(di):.2f} on a {h}x{w} {'LR input' if scale > 1 else 'input'}"

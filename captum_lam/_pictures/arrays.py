"""What the figures draw from, as numpy: images in [0, 1] as (H, W, 3), the map
the DI uses, the window as a tuple, and pictures resampled onto the output grid."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from ..metrics import ArrayLike, abs_normalized_map
from ..objective import Window


def image_hwc(image: ArrayLike) -> np.ndarray:
    """An image in [0, 1] -> (H, W, 3) float array.

    Tensors are (1, C, H, W) or (C, H, W); arrays are (H, W), (H, W, C) or
    (C, H, W) when the last axis is not 1 or 3 long.
    """
    if isinstance(image, Tensor):
        array = image.detach().double().cpu().numpy()
        array = array[0] if array.ndim == 4 else array
        if array.ndim == 3:
            array = array.transpose(1, 2, 0)
    else:
        array = np.asarray(image, dtype=np.float64)
        array = array[0].transpose(1, 2, 0) if array.ndim == 4 else array
        if array.ndim == 3 and array.shape[2] not in (1, 3):
            array = array.transpose(1, 2, 0)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.clip(array, 0.0, 1.0)


def map_2d(attributions: ArrayLike) -> np.ndarray:
    """The map the DI uses, (h, w): |sum over channels| / max."""
    if isinstance(attributions, Tensor):
        attributions = attributions.detach().double().cpu().numpy()
    array = np.asarray(attributions, dtype=np.float64)
    if array.ndim == 4:
        array = array[0]
    return abs_normalized_map(array)


def window_tuple(window: Window) -> tuple[int, int, int]:
    """``(top, left, size)`` as ints; a tensor of windows gives its first."""
    if isinstance(window, Tensor):
        window = window.reshape(-1, 3)[0].tolist()
    top, left, size = (int(v) for v in window)
    return top, left, size


def zoom_nearest(image: np.ndarray, factor: int) -> np.ndarray:
    """(H, W, C) -> (factor H, factor W, C), each pixel a block: the LR grid."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def upscale(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W, C) resized bicubically to ``shape``, clipped to [0, 1]."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
    out = F.interpolate(t, size=shape, mode="bicubic", align_corners=False)
    return np.clip(out[0].numpy().transpose(1, 2, 0), 0.0, 1.0)

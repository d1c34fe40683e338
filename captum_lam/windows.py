"""Choosing windows to explain: the hard ones, with edges and textures.

LAM is about *hard* windows: in flat areas an SR network only interpolates.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import check_int
from .objective import gradient_magnitude


def texture_energy(image: Tensor, size: int, stride: int = 1) -> Tensor:
    """Mean gradient magnitude of every ``size`` x ``size`` window of an image.

    Parameters
    ----------
    image : Tensor
        (1, C, H, W) or (C, H, W), e.g. the HR image (output coordinates).
    size : int
        Window side in pixels, ``1 <= size <= min(H, W)``.
    stride : int
        Step between window positions.

    Returns
    -------
    Tensor
        (rows, cols): entry ``[i, j]`` belongs to the window with top-left corner
        ``(i * stride, j * stride)``.
    """
    if image.ndim == 3:
        image = image[None]
    h, w = image.shape[-2:]
    if not isinstance(size, int) or size < 1 or size > min(h, w):
        raise ValueError(
            f"size must be an integer in [1, {min(h, w)}] for a {h}x{w} image, "
            f"got {size!r}"
        )
    with torch.no_grad():
        magnitude = gradient_magnitude(image.double(), "difference").sum(dim=1)
        # the forward difference at the last row/column is 0 by convention: leave
        # those pixels out so border windows are not favoured or penalised
        magnitude = magnitude[:, : h - 1, : w - 1] if min(h, w) > 1 else magnitude
        size_in = min(size, magnitude.shape[-1], magnitude.shape[-2])
        energy = F.avg_pool2d(magnitude[:, None], size_in, stride=stride)[0, 0]
    return energy


def textured_windows(
    image: Tensor,
    size: int = 16,
    count: int = 1,
    *,
    stride: Optional[int] = None,
    margin: int = 0,
) -> list[tuple[int, int, int]]:
    """The ``count`` most textured, non-overlapping windows of an image.

    Deterministic: ties are broken by position (top, then left).

    Parameters
    ----------
    image : Tensor
        (1, C, H, W) or (C, H, W), the HR image (or SR output), in output pixels.
    size : int
        Window side, default 16 (the LAM reference's).
    count : int
        How many windows.
    stride : int, optional
        Step of the search; default ``max(1, size // 4)``.
    margin : int
        Keep windows this far from the borders.

    Returns
    -------
    list of (top, left, size)
        Ordered from the most to the least textured; fewer than ``count`` if the
        image has no room for more.

    Examples
    --------
    >>> img = torch.zeros(1, 1, 64, 64); img[..., 40:, 40:] = torch.rand(24, 24)
    >>> top, left, size = textured_windows(img, size=16)[0]
    >>> top >= 36 and left >= 36
    True
    """
    check_int("count", count, 1)
    stride = max(1, size // 4) if stride is None else stride
    energy = texture_energy(image, size, stride)
    h, w = image.shape[-2:]
    chosen: list[tuple[int, int, int]] = []
    order = torch.argsort(-energy.flatten(), stable=True)
    cols = energy.shape[1]
    for flat in order.tolist():
        top, left = (flat // cols) * stride, (flat % cols) * stride
        if top < margin or left < margin:
            continue
        if top + size > h - margin or left + size > w - margin:
            continue
        if overlaps(chosen, top, left, size):
            continue
        chosen.append((top, left, size))
        if len(chosen) == count:
            break
    return chosen


def overlaps(chosen: Sequence[Sequence[int]], top: int, left: int, size: int) -> bool:
    """Whether the square ``(top, left, size)`` overlaps one of ``chosen``
    (windows of the same size, ``(top, left, ...)``)."""
    return any(abs(top - t) < size and abs(left - lf) < size for t, lf, *_ in chosen)

"""Choosing windows to explain: the hard ones, with edges and textures.

LAM is about *hard* windows: in flat areas an SR network only interpolates.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ._method.checks import as_int, check_int
from .images import crop_to_multiple, rgb_to_y
from .images._degradation import degrade
from .objective import gradient_magnitude

#: The content classes of [`classify_content`][captum_lam.windows.classify_content].
CONTENT_CLASSES = ("flat", "edge", "texture")
#: Mean luma gradient magnitude (per HR pixel, luma in [0, 1]) below which a
#: window is "flat".
FLAT_ENERGY = 0.015
#: Structure-tensor coherence at or above which a textured window is an "edge"
#: (one dominant orientation: an edge, a line, parallel stripes).
EDGE_COHERENCE = 0.5


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
    size_int = as_int(size)
    if size_int is None or size_int < 1 or size_int > min(h, w):
        raise ValueError(
            f"size must be an integer in [1, {min(h, w)}] for a {h}x{w} image, "
            f"got {size!r}"
        )
    size = size_int
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


def border_margin(height: int, width: int, size: int) -> int:
    """How far from the border an automatic window stays: four window sizes.

    A window at the border cuts its map off (the network reads pixels beyond
    it), so automatic windows keep ``4 * size`` output pixels from every border,
    or as much as the image allows.

    Examples
    --------
    >>> border_margin(300, 451, 16), border_margin(40, 40, 16)
    (64, 12)
    """
    return max(0, min(4 * size, (min(height, width) - size) // 2))


def auto_windows(
    image: Tensor, size: int = 16, count: int = 1
) -> list[tuple[int, int, int]]:
    """The ``count`` most textured, non-overlapping windows away from the border.

    The first is what ``captum-lam explain`` picks by itself.

    Parameters
    ----------
    image : Tensor
        (1, C, H, W) or (C, H, W), the HR image, in output pixels.
    size : int
        Window side; at most the image's shorter side.
    count : int
        How many windows (fewer if the image has no room for more).

    Returns
    -------
    list of (top, left, size)
        In the image's pixels, at least
        ``border_margin`` from every border.

    Examples
    --------
    >>> img = torch.zeros(1, 3, 160, 160); img[..., :16, :16] = torch.rand(16, 16)
    >>> img[..., 70:90, 70:90] = 0.5 * torch.rand(20, 20)
    >>> top, left, size = auto_windows(img, 16)[0]  # not the sharper corner
    >>> 64 <= top <= 80 and 64 <= left <= 80
    True
    """
    h, w = image.shape[-2:]
    margin = border_margin(h, w, size)
    stride = max(1, size // 4)
    if margin % stride:  # that grid would miss windows right at the margin
        stride = 1
    return textured_windows(image, size=size, count=count, margin=margin, stride=stride)


def classify_content(
    image: Tensor,
    window: Sequence[int],
    *,
    flat_energy: float = FLAT_ENERGY,
    edge_coherence: float = EDGE_COHERENCE,
) -> tuple[str, float, float]:
    """Is the window flat, an edge, or texture?

    On the luma of the window (BT.601, in [0, 1]): the gradient energy is the
    mean forward-difference gradient magnitude; the coherence of the summed
    structure tensor ``J = sum [gx^2, gx gy; gx gy, gy^2]`` is
    ``((l1 - l2) / (l1 + l2))^2`` with ``l1 >= l2`` its eigenvalues: 1 for one
    orientation (an edge, a line, parallel stripes), 0 for no dominant one.

    * ``"flat"``: energy below ``flat_energy`` (default 0.015);
    * ``"edge"``: otherwise, coherence at least ``edge_coherence`` (0.5);
    * ``"texture"``: the rest.

    Parameters
    ----------
    image : Tensor
        (1, 3, H, W) or (3, H, W) in [0, 1], the HR image.
    window : tuple
        ``(top, left, size)`` in the image's pixels.

    Returns
    -------
    (label, energy, coherence)

    Examples
    --------
    >>> import torch
    >>> img = torch.zeros(1, 3, 32, 32)
    >>> classify_content(img, (8, 8, 16))[0]
    'flat'
    >>> img[..., 16:] = 1.0  # a vertical edge
    >>> classify_content(img, (8, 8, 16))[0]
    'edge'
    >>> noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> classify_content(noise, (8, 8, 16))[0]
    'texture'
    """
    if image.ndim == 3:
        image = image[None]
    top, left, size = (int(v) for v in window)
    h, w = image.shape[-2:]
    if top + size > h or left + size > w:
        raise ValueError(f"window {tuple(window)} leaves the {h}x{w} image")
    luma = rgb_to_y(image.detach().double().cpu())[0, 0].numpy()
    patch = luma[top : min(top + size + 1, h), left : min(left + size + 1, w)]
    gx = np.diff(patch, axis=1)[:size, :size]
    gy = np.diff(patch, axis=0)[:size, :size]
    rows, cols = min(gx.shape[0], gy.shape[0]), min(gx.shape[1], gy.shape[1])
    gx, gy = gx[:rows, :cols], gy[:rows, :cols]
    energy = float(np.hypot(gx, gy).mean()) if gx.size else 0.0
    jxx, jyy, jxy = (
        float((gx * gx).sum()),
        float((gy * gy).sum()),
        float((gx * gy).sum()),
    )
    trace = jxx + jyy
    coherence = (
        (math.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / trace) ** 2 if trace > 0 else 0.0
    )
    if energy < flat_energy:
        label = "flat"
    elif coherence >= edge_coherence:
        label = "edge"
    else:
        label = "texture"
    return label, energy, coherence


class WindowCandidate(NamedTuple):
    """One window to explain, in the image's own (HR) pixels."""

    top: int
    left: int
    size: int
    #: Mean gradient magnitude in the window (what "textured" ranks by).
    energy: float
    #: ``"flat"``, ``"edge"`` or ``"texture"`` (see ``classify_content``).
    content: str


def list_windows(
    image: Tensor, count: int = 8, size: int = 16
) -> list[WindowCandidate]:
    """The ``count`` most textured, non-overlapping windows away from the border.

    The first one is the window ``captum-lam explain`` picks by itself
    ([auto_windows][captum_lam.windows.auto_windows]); any of them can be given
    back as ``--window TOP,LEFT,SIZE``.

    Parameters
    ----------
    image : Tensor
        (1, 3, H, W) or (3, H, W) in [0, 1], the HR image.
    count : int
        How many windows (fewer if the image has no room for more).
    size : int
        Window side in pixels (default 16, the paper's).

    Returns
    -------
    list of WindowCandidate
        From the most to the least textured.

    Examples
    --------
    >>> import torch
    >>> img = torch.zeros(1, 3, 160, 160); img[..., 80:] = 1.0  # a vertical edge
    >>> [w.content for w in list_windows(img, count=2)]
    ['edge', 'edge']
    """
    if image.ndim == 3:
        image = image[None]
    found = auto_windows(image, size, count)
    energy = texture_energy(image, size, 1)
    last_row, last_col = energy.shape[0] - 1, energy.shape[1] - 1
    out = []
    for top, left, side in found:
        label = classify_content(image, (top, left, side))[0]
        value = float(energy[min(top, last_row), min(left, last_col)])
        out.append(WindowCandidate(top, left, side, value, label))
    return out


# --- the input of a window: the LR region around it that the network sees ----

#: HR side of the region around a window that is explained by default (the
#: image when it is not larger): LAM's cost and the DI grow with the input.
REGION_SIZE = 256
#: The same for a scale-1 network (a denoiser): as many input pixels as the
#: default x4 case (256 HR = 64x64 LR), so that explaining a denoiser costs the same.
DENOISING_REGION_SIZE = 64


def region_size(scale: int) -> int:
    """HR side of the default region around a window (``region="auto"``): a
    multiple of the scale, so that it maps to whole LR pixels (255 at x3).

    Examples
    --------
    >>> region_size(4), region_size(3), region_size(1)
    (256, 255, 64)
    """
    side = REGION_SIZE if scale > 1 else DENOISING_REGION_SIZE
    return side - side % scale


def _region_start(start: int, size: int, side: int, extent: int, scale: int) -> int:
    """First row (or column) of a ``side`` region centred on a window, inside
    ``extent`` and on the scale's grid, so that it maps to whole LR pixels."""
    if side >= extent:
        return 0
    centred = start + size // 2 - side // 2
    centred = min(max(centred, 0), extent - side)
    return centred - centred % scale


def window_region(
    window: Sequence[int],
    height: int,
    width: int,
    scale: int,
    region: Union[str, int, None] = "auto",
) -> tuple[int, int, int, int]:
    """The HR region whose LR input a window is explained on.

    One rule for every front end (``explain``, ``compare``, ``evaluate``, the
    explorer, [`window_input`][captum_lam.windows.window_input]): ``"auto"`` is
    a ``region_size(scale)`` square (256 HR pixels, a 64x64 LR input at x4)
    around the window when the image is larger in both directions, else the
    whole image; ``None`` or ``"none"`` is the whole image; an integer is a
    square of that side (a multiple of ``scale``). The region is centred on the
    window where the image allows and starts on the scale's grid.

    Parameters
    ----------
    window : (top, left, size)
        In the image's (HR) pixels, inside ``height`` x ``width``.
    height, width : int
        The image, already cropped to a multiple of ``scale``.
    scale : int
        The network's upscaling factor (1 for a denoiser).
    region : "auto", "none", None or int
        See above.

    Returns
    -------
    (top, left, height, width)
        In the image's pixels; multiples of ``scale``.

    Examples
    --------
    >>> window_region((72, 168, 16), 300, 448, 4)
    (0, 48, 256, 256)
    >>> window_region((72, 168, 16), 300, 448, 4, region="none")
    (0, 0, 300, 448)
    """
    top, left, size = (int(v) for v in window)
    if region is None or region == "none":
        return 0, 0, height, width
    if region == "auto":
        side = region_size(scale)
        if min(height, width) <= side or size > side:
            return 0, 0, height, width
    else:
        side = as_int(region)
        if side is None or side < scale or side % scale:
            raise ValueError(
                f"region must be 'auto', 'none' or a positive multiple of the "
                f"scale {scale}, got {region!r}"
            )
        if side < size:
            raise ValueError(f"region {side} is smaller than the window size {size}")
    r0 = _region_start(top, size, side, height, scale)
    c0 = _region_start(left, size, side, width, scale)
    return r0, c0, min(side, height), min(side, width)


class WindowInput(NamedTuple):
    """What the network sees for one window, and where it lies in the image."""

    #: (1, C, h, w): the region degraded to the network's input.
    lr: Tensor
    #: (1, C, H, W): the HR region (the reference for PSNR).
    hr: Tensor
    #: (top, left, size) in the region's pixels: what LAM is given.
    window: tuple[int, int, int]
    #: (top, left, height, width) of the region in the image's pixels.
    region: tuple[int, int, int, int]


def window_input(
    image: Tensor,
    window: Sequence[int],
    scale: int,
    region: Union[str, int, None] = "auto",
    *,
    model_name: Optional[str] = None,
) -> WindowInput:
    """The LR input a window is explained on, as ``captum-lam explain`` makes it.

    The HR image is cropped at the bottom and right to a multiple of ``scale``,
    then to [`window_region`][captum_lam.windows.window_region], then degraded
    (bicubic downsampling; JPEG at scale 1, at the registered noise level of
    ``model_name``). The DI of the map depends on this input's size (its zeros
    count in the Gini): report it beside the DI.

    Parameters
    ----------
    image : Tensor
        (1, C, H, W) or (C, H, W) in [0, 1], the HR image.
    window : (top, left, size)
        In the image's pixels.
    scale : int
        The network's upscaling factor.
    region : "auto", "none", None or int
        See [`window_region`][captum_lam.windows.window_region].
    model_name : str, optional
        A registry name, for a denoiser's JPEG quality.

    Returns
    -------
    WindowInput
        ``lr``, ``hr``, the window in the region's pixels and the region.

    Examples
    --------
    >>> import torch
    >>> case = window_input(torch.rand(1, 3, 300, 451), (72, 168, 16), scale=4)
    >>> tuple(case.lr.shape), case.window, case.region
    ((1, 3, 64, 64), (72, 120, 16), (0, 48, 256, 256))
    """
    if image.ndim == 3:
        image = image[None]
    hr = crop_to_multiple(image, scale)
    h, w = int(hr.shape[-2]), int(hr.shape[-1])
    top, left, size = (int(v) for v in window)
    if top < 0 or left < 0 or top + size > h or left + size > w:
        raise ValueError(
            f"window top={top} left={left} size={size} reaches outside the "
            f"{h}x{w} (height x width) image"
        )
    r0, c0, rh, rw = window_region((top, left, size), h, w, scale, region)
    hr = hr[..., r0 : r0 + rh, c0 : c0 + rw]
    lr = degrade(hr, scale, model_name)
    return WindowInput(lr, hr, (top - r0, left - c0, size), (r0, c0, rh, rw))

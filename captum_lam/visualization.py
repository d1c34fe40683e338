"""The LAM figure: what the network looked at to reconstruct one window.

Matplotlib only, without pyplot, so it draws headless. Every function returns a
:class:`matplotlib.figure.Figure`; :func:`save_figure` writes PNG, PDF or SVG by
the file's extension.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional, Union

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from scipy.signal import fftconvolve
from torch import Tensor

from ._io import atomic_path
from .metrics import abs_normalized_map, diffusion_index
from .objective import Window

ArrayLike = Union[np.ndarray, Tensor]


def _image_hwc(image: ArrayLike) -> np.ndarray:
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


def _map_2d(attributions: ArrayLike) -> np.ndarray:
    if isinstance(attributions, Tensor):
        attributions = attributions.detach().double().cpu().numpy()
    array = np.asarray(attributions, dtype=np.float64)
    if array.ndim == 4:
        array = array[0]
    return abs_normalized_map(array)


def kde_map(attribution_map: np.ndarray) -> np.ndarray:
    """Kernel-density-smoothed attribution map, normalised to a maximum of 1.

    The same result as the reference's ``scipy.stats.gaussian_kde`` over the
    pixel grid weighted by the map (Scott's bandwidth, the weighted covariance of
    the pixel coordinates), evaluated at every pixel, but computed as one FFT
    convolution instead of an O(pixels^2) sum.

    Parameters
    ----------
    attribution_map : ndarray
        (H, W), non-negative, not all zero (e.g. :func:`abs_normalized_map`).

    Returns
    -------
    ndarray
        (H, W) in [0, 1].

    Examples
    --------
    >>> m = np.zeros((9, 9)); m[4, 4] = 1.0; m[4, 5] = 0.5; m[2, 3] = 0.2
    >>> k = kde_map(m)
    >>> k.shape, float(k.max())
    ((9, 9), 1.0)
    """
    weights = np.asarray(attribution_map, dtype=np.float64)
    h, w = weights.shape
    total = weights.sum()
    p = weights / total
    ys, xs = np.mgrid[0:h, 0:w]
    coords = np.stack([xs.ravel(), ys.ravel()]).astype(np.float64)
    mean = coords @ p.ravel()
    centred = coords - mean[:, None]
    # weighted covariance with the unbiased correction numpy.cov(aweights=...) uses
    flat = p.ravel()
    cov = (centred * flat) @ centred.T / (1.0 - np.sum(flat**2))
    neff = 1.0 / np.sum(flat**2)
    bandwidth = cov * neff ** (-2.0 / 6.0)  # Scott's factor squared, d = 2
    bandwidth = bandwidth + np.eye(2) * 1e-12
    inv = np.linalg.inv(bandwidth)
    oy, ox = np.mgrid[-(h - 1) : h, -(w - 1) : w]
    quad = inv[0, 0] * ox**2 + 2 * inv[0, 1] * ox * oy + inv[1, 1] * oy**2
    kernel = np.exp(-0.5 * quad)
    density = fftconvolve(p, kernel, mode="same")
    density = np.clip(density, 0.0, None)
    return density / density.max()


def _colorize(normalized_map: np.ndarray) -> np.ndarray:
    """The reference's colouring: seismic at ``map * 0.5 + 0.5`` -> (H, W, 3)."""
    from matplotlib import colormaps

    return colormaps["seismic"](normalized_map * 0.5 + 0.5)[..., :3]


def _zoom_nearest(image: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def _upscale(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
    out = F.interpolate(t, size=shape, mode="bicubic", align_corners=False)
    return np.clip(out[0].numpy().transpose(1, 2, 0), 0.0, 1.0)


def _window_tuple(window: Window) -> tuple[int, int, int]:
    if isinstance(window, Tensor):
        window = window.reshape(-1, 3)[0].tolist()
    top, left, size = (int(v) for v in window)
    return top, left, size


def _box(ax, window: tuple[int, int, int], color: str = "red") -> None:
    top, left, size = window
    ax.add_patch(
        Rectangle(
            (left - 0.5, top - 0.5),
            size,
            size,
            fill=False,
            edgecolor=color,
            linewidth=1.5,
        )
    )


def _zoom(
    image: np.ndarray, window: tuple[int, int, int], widths: int = 5
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Crop ``image`` (output pixels) to ``widths`` window sizes around the window."""
    top, left, size = window
    h, w = image.shape[:2]
    side = min(size * widths, h, w)
    r0 = min(max(top + size // 2 - side // 2, 0), h - side)
    c0 = min(max(left + size // 2 - side // 2, 0), w - side)
    return image[r0 : r0 + side, c0 : c0 + side], (top - r0, left - c0, size)


def lam_panels(
    attributions: ArrayLike, lr: ArrayLike, scale: int, alpha: float = 0.5
) -> dict[str, np.ndarray]:
    """The images of the LAM figure, as (H*scale, W*scale, 3) arrays in [0, 1].

    Returns a dict with ``"map"`` (the colour-mapped |attribution|, nearest
    zoom), ``"blend"`` (that map over the bicubic-upscaled LR input) and
    ``"kde_blend"`` (the KDE-smoothed map blended the same way).
    """
    lr_img = _image_hwc(lr)
    attribution_map = _map_2d(attributions)
    zoom = max(int(scale), 1)
    colored = _zoom_nearest(_colorize(attribution_map), zoom)
    lr_up = _upscale(lr_img, colored.shape[:2])
    kde = _upscale(_colorize(kde_map(attribution_map)), colored.shape[:2])
    return {
        "map": colored,
        "blend": colored * (1 - alpha) + lr_up * alpha,
        "kde_blend": kde * (1 - alpha) + lr_up * alpha,
    }


def lam_figure(
    attributions: ArrayLike,
    lr: ArrayLike,
    window: Window,
    *,
    hr: Optional[ArrayLike] = None,
    sr: Optional[ArrayLike] = None,
    scale: Optional[int] = None,
    title: str = "",
    di: Optional[float] = None,
    zoom: bool = True,
    panel_size: float = 2.6,
) -> Figure:
    """Draw the LAM paper's figure for one window.

    Panels, left to right: the HR image (or the SR output if no HR) with the
    window boxed; the LAM map (|sum over channels|, normalised, colour-mapped);
    the map blended over the upscaled LR input; the kernel-density-smoothed map
    blended the same way; the SR output with the window boxed.

    Parameters
    ----------
    attributions : Tensor or ndarray
        (1, C, h, w) or (C, h, w), e.g. from :meth:`captum_lam.LAM.attribute`.
    lr : Tensor or ndarray
        The LR input, (1, C, h, w), (C, h, w) or (h, w, C), values in [0, 1].
    window : tuple or Tensor
        ``(top, left, size)`` in output pixels.
    hr, sr : Tensor or ndarray, optional
        The HR ground truth and the network's output, (1, C, H, W) in [0, 1].
    scale : int, optional
        Upscaling factor; inferred from ``sr`` or ``hr`` when omitted.
    title : str
        Usually the model's name; the DI is appended.
    di : float, optional
        Diffusion Index to show; computed from ``attributions`` when omitted.
    zoom : bool
        Add a panel with the map over the LR input around the window (five window
        sizes wide), where local maps are readable.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import torch
    >>> lr = torch.rand(1, 3, 16, 16); attr = torch.randn(1, 3, 16, 16)
    >>> fig = lam_figure(attr, lr, (8, 8, 8), scale=2, title="demo")
    >>> [ax.get_title() for ax in fig.axes]
    ['LAM', 'LAM on LR', 'LAM (KDE) on LR', 'LAM on LR (zoom)']
    """
    lr_img = _image_hwc(lr)
    window_t = _window_tuple(window)
    if scale is None:
        ref = sr if sr is not None else hr
        scale = 1 if ref is None else _image_hwc(ref).shape[0] // lr_img.shape[0]
    panels = lam_panels(attributions, lr, scale)
    di = float(diffusion_index(_map_2d(attributions))) if di is None else float(di)

    columns: list[tuple[str, np.ndarray, bool]] = []
    if hr is not None:
        columns.append(("HR", _image_hwc(hr), True))
    columns += [
        ("LAM", panels["map"], False),
        ("LAM on LR", panels["blend"], True),
        ("LAM (KDE) on LR", panels["kde_blend"], True),
    ]
    boxes = {label: window_t for label, _, boxed in columns if boxed}
    if zoom:
        image, box = _zoom(panels["blend"], window_t)
        columns.append(("LAM on LR (zoom)", image, True))
        boxes["LAM on LR (zoom)"] = box
    if sr is not None:
        columns.append(("SR output", _image_hwc(sr), True))
        boxes["SR output"] = window_t

    fig = Figure(figsize=(panel_size * len(columns), panel_size + 0.5), dpi=100)
    axes = fig.subplots(1, len(columns), squeeze=False)[0]
    for ax, (label, image, boxed) in zip(axes, columns):
        ax.imshow(image, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.set_axis_off()
        if boxed:
            _box(ax, boxes[label])
    heading = f"{title}  —  DI {di:.2f}" if title else f"DI {di:.2f}"
    fig.suptitle(heading, fontsize=11)
    fig.tight_layout()
    return fig


def comparison_figure(
    attributions: Mapping[str, ArrayLike],
    lr: ArrayLike,
    window: Window,
    *,
    scale: int,
    sr: Optional[Mapping[str, ArrayLike]] = None,
    title: str = "",
    panel_size: float = 2.4,
) -> Figure:
    """A grid with one row per model or attribution method, the DI on each row.

    Parameters
    ----------
    attributions : mapping of label -> Tensor or ndarray
        Each (1, C, h, w) or (C, h, w): e.g. ``{"Saliency": ..., "IG (black)":
        ..., "IG (blurred)": ..., "LAM": ...}`` or one LAM per model.
    lr : Tensor or ndarray
        The LR input shared by all rows.
    window : tuple or Tensor
        ``(top, left, size)`` in output pixels.
    scale : int
        Upscaling factor.
    sr : mapping of label -> image, optional
        Per-row SR outputs (comparing models): adds a column with the window boxed.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import torch
    >>> lr = torch.rand(1, 3, 8, 8)
    >>> maps = {"Saliency": torch.randn(1, 3, 8, 8), "LAM": torch.randn(1, 3, 8, 8)}
    >>> len(comparison_figure(maps, lr, (2, 2, 8), scale=2).axes)
    6
    """
    if not attributions:
        raise ValueError("attributions must hold at least one labelled map")
    window_t = _window_tuple(window)
    n_cols = 3 + (1 if sr else 0)
    rows = list(attributions.items())
    fig = Figure(
        figsize=(panel_size * n_cols + 1.2, panel_size * len(rows) + 0.6), dpi=100
    )
    axes = fig.subplots(len(rows), n_cols, squeeze=False)
    for r, (label, attr) in enumerate(rows):
        panels = lam_panels(attr, lr, scale)
        di = float(diffusion_index(_map_2d(attr)))
        images = [panels["map"], panels["blend"], panels["kde_blend"]]
        names = ["map", "on LR", "KDE on LR"]
        if sr:
            images.append(_image_hwc(sr[label]))
            names.append("output")
        for c, (image, name) in enumerate(zip(images, names)):
            ax = axes[r, c]
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c > 0:
                _box(ax, window_t)
            if r == 0:
                ax.set_title(name, fontsize=9)
        axes[r, 0].set_ylabel(f"{label}\nDI {di:.2f}", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: Union[str, os.PathLike], dpi: int = 150) -> Path:
    """Save ``fig`` as PNG, PDF or SVG (by extension), atomically.

    The figure is written to a temporary file beside ``path`` and renamed, so an
    interrupted or failed save leaves no half-written file.

    Examples
    --------
    >>> import tempfile, torch
    >>> attr, lr = torch.randn(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    >>> fig = lam_figure(attr, lr, (0, 0, 4), scale=1)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_figure(fig, f"{folder}/lam.svg").suffix
    '.svg'
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".png", ".pdf", ".svg"):
        raise ValueError(f"path must end in .png, .pdf or .svg, got {target.name!r}")
    with atomic_path(target, suffix) as tmp:
        fig.savefig(tmp, dpi=dpi, format=suffix[1:])
    return target

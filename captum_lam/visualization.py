"""The LAM figure: what the network looked at to reconstruct one window.

Matplotlib only, without pyplot, so it draws headless. Every function returns a
`matplotlib.figure.Figure`; [`save_figure`][captum_lam.visualization.save_figure]
writes PNG, PDF or SVG by the file's extension.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from scipy.signal import fftconvolve
from torch import Tensor

from ._io import is_stdout, write_atomic
from ._method.checks import one_example_chw
from ._pictures.arrays import (
    image_hwc,
    map_2d,
    upscale,
    window_tuple,
    zoom_nearest,
)
from ._pictures.colours import colorize, overlay
from ._pictures.headings import heading, heading_fits
from ._pictures.panels import draw_box, map_colorbar, show_image
from .metrics import ArrayLike, di_text, diffusion_index
from .objective import Window


def channels_last(image: Union[Tensor, np.ndarray]) -> np.ndarray:
    """One image or attribution map, channels last, for Captum's visualizers.

    ``captum.attr.visualization.visualize_image_attr`` expects (H, W, C) numpy
    arrays and does not check: a channel-first map renders wrongly without an
    error. This turns captum-lam's (1, C, H, W) or (C, H, W) tensors into
    (H, W, C) float arrays (on the CPU, detached).

    Parameters
    ----------
    image : Tensor or ndarray
        Shape (1, C, H, W) or (C, H, W).

    Returns
    -------
    ndarray
        Shape (H, W, C).

    Examples
    --------
    >>> import torch
    >>> channels_last(torch.zeros(1, 3, 8, 6)).shape
    (8, 6, 3)
    """
    array = one_example_chw(image, "channels_last: image")
    return np.ascontiguousarray(array.transpose(1, 2, 0))


def kde_map(attribution_map: np.ndarray) -> np.ndarray:
    """Kernel-density-smoothed attribution map, normalised to a maximum of 1.

    The same result as the reference's ``scipy.stats.gaussian_kde`` over the
    pixel grid weighted by the map (Scott's bandwidth, the weighted covariance of
    the pixel coordinates), evaluated at every pixel, but computed as one FFT
    convolution instead of an O(pixels^2) sum.

    Parameters
    ----------
    attribution_map : ndarray
        (H, W), non-negative, not all zero (e.g.
        [`abs_normalized_map`][captum_lam.metrics.abs_normalized_map]).

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


def _zoom_region(
    shape: tuple[int, ...], window: tuple[int, int, int], side: int
) -> tuple[int, int, int]:
    """Top, left and side of a square of ``side`` centred on the window, inside."""
    top, left, size = window
    h, w = shape[:2]
    side = min(side, h, w)
    r0 = min(max(top + size // 2 - side // 2, 0), h - side)
    c0 = min(max(left + size // 2 - side // 2, 0), w - side)
    return r0, c0, side


#: Share of the map's mass the zoom panels must hold.
ZOOM_MASS = 0.95
#: The zoom becomes the main view only when it is at most this part of the image.
ZOOM_LIMIT = 0.6


def zoom_side(
    attributions: ArrayLike, window: Window, scale: int, *, minimum: int = 5
) -> Optional[int]:
    """Side (output pixels) of the square around the window that holds the map.

    The smallest square centred on the window, at least ``minimum`` window sizes
    wide, that holds ``ZOOM_MASS`` (95%) of the map's mass (the map as the DI
    uses it). None when the map is not local: that square would cover more than
    ``ZOOM_LIMIT`` (60%) of the image's shorter side, so the whole image is the
    right view.

    Examples
    --------
    >>> import torch
    >>> attr = torch.zeros(1, 3, 64, 64); attr[..., 30:34, 30:34] = 1.0
    >>> zoom_side(attr, (124, 124, 8), scale=4)
    40
    >>> zoom_side(torch.ones(1, 3, 64, 64), (124, 124, 8), scale=4) is None
    True
    """
    top, left, size = window_tuple(window)
    values = map_2d(attributions)
    h, w = values.shape
    ys, xs = np.mgrid[0:h, 0:w]
    # Chebyshev distance (output pixels) from each LR pixel's centre to the window
    cy = (ys + 0.5) * scale
    cx = (xs + 0.5) * scale
    dy = np.maximum(np.maximum(top - cy, cy - (top + size)), 0.0)
    dx = np.maximum(np.maximum(left - cx, cx - (left + size)), 0.0)
    reach = np.maximum(dy, dx).ravel()
    order = np.argsort(reach, kind="stable")
    mass = np.cumsum(values.ravel()[order])
    needed = reach[order][np.searchsorted(mass, ZOOM_MASS * mass[-1])]
    side = int(max(minimum * size, size + 2 * np.ceil(needed + scale)))
    if side > ZOOM_LIMIT * min(h, w) * scale:
        return None
    return side


def lam_panels(
    attributions: ArrayLike, lr: ArrayLike, scale: int, alpha: float = 0.5
) -> dict[str, np.ndarray]:
    """The images of the LAM figure, as (H*scale, W*scale, 3) arrays in [0, 1].

    Returns a dict with ``"map"`` (the colour-mapped |attribution|, nearest
    zoom, on white), ``"blend"`` (that map over the bicubic-upscaled LR input,
    opaque where the map is high, so the input keeps its contrast where the map
    is low) and ``"kde_blend"`` (the KDE-smoothed map over the input the same
    way). ``alpha`` is how much of the input shows through the map's highest
    values (0.5: half).
    """
    lr_img = image_hwc(lr)
    attribution_map = map_2d(attributions)
    zoom = max(int(scale), 1)
    values = zoom_nearest(attribution_map[..., None], zoom)[..., 0]
    lr_up = upscale(lr_img, values.shape)
    kde = upscale(kde_map(attribution_map)[..., None], values.shape)[..., 0]
    return {
        "map": colorize(values),
        "blend": overlay(lr_up, values, 1.0 - alpha / 2),
        "kde_blend": overlay(lr_up, kde, 1.0 - alpha / 2),
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
    image: Optional[str] = None,
    origin: tuple[int, int] = (0, 0),
    n_steps: Optional[int] = None,
    method: Optional[str] = None,
    task: str = "super-resolution",
    full_image: Optional[ArrayLike] = None,
) -> Figure:
    """Draw the LAM paper's figure for one window, with a colorbar and full labels.

    When the map is local (`zoom_side`), the main panels show the region
    around the window, large, and a small column shows the whole image with the
    window and the zoomed region boxed; otherwise the main panels show the whole
    image. Main panels: the HR image (whole-image view only), the LAM map over
    the LR input, the kernel-density-smoothed map over the LR input, and the SR
    output. Every panel boxes the window; the colorbar gives the map's values
    (|sum over channels| / max, the map the DI is computed from).

    Parameters
    ----------
    attributions : Tensor or ndarray
        (1, C, h, w) or (C, h, w), e.g. from
        [LAM.attribute][captum_lam.LAM.attribute].
    lr : Tensor or ndarray
        The LR input, (1, C, h, w), (C, h, w) or (h, w, C), values in [0, 1].
    window : tuple or Tensor
        ``(top, left, size)`` in output pixels of ``lr``'s upscaled grid.
    hr, sr : Tensor or ndarray, optional
        The HR ground truth and the network's output, (1, C, H, W) in [0, 1].
    scale : int, optional
        Upscaling factor; inferred from ``sr`` or ``hr`` when omitted.
    title : str
        Usually the model's name; the DI follows it.
    di : float, optional
        Diffusion Index to show; computed from ``attributions`` when omitted.
    zoom : bool
        Make the region around the window the main view when the map is local.
    image : str, optional
        The image's name, for the title.
    origin : (int, int)
        Where ``lr``'s upscaled grid starts in the image (output pixels), when
        ``lr`` is a region of it: the title gives the window in the image's
        pixels.
    n_steps, method : optional
        LAM's settings, for the title.
    task : str
        ``"super-resolution"`` (panels HR, LR, SR output) or ``"denoising"``
        (clean, degraded input, denoised output).
    full_image : Tensor or ndarray, optional
        The whole HR image, (1, C, H, W), when ``lr`` is a region of it (see
        ``origin``): the small column then shows it, with the region and the
        window boxed, instead of the region alone.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import torch
    >>> lr = torch.rand(1, 3, 16, 16); attr = torch.randn(1, 3, 16, 16)
    >>> fig = lam_figure(attr, lr, (8, 8, 8), scale=2, title="demo")
    >>> [ax.get_title() for ax in fig.axes][:2]
    ['LAM on LR', 'LAM (KDE) on LR']
    """
    lr_img = image_hwc(lr)
    window_t = window_tuple(window)
    if scale is None:
        ref = sr if sr is not None else hr
        scale = 1 if ref is None else image_hwc(ref).shape[0] // lr_img.shape[0]
    if task not in ("super-resolution", "denoising"):
        raise ValueError(
            f"task must be 'super-resolution' or 'denoising', got {task!r}"
        )
    clean, given, output = (
        ("clean", "input", "denoised output")
        if task == "denoising"
        else ("HR", "LR", "SR output")
    )
    panels = lam_panels(attributions, lr, scale)
    di = float(diffusion_index(map_2d(attributions))) if di is None else float(di)
    side = zoom_side(attributions, window_t, scale) if zoom else None

    main: list[tuple[str, np.ndarray]] = []
    if side is None and hr is not None:
        main.append((clean, image_hwc(hr)))
    main += [
        (f"LAM on {given}", panels["blend"]),
        (f"LAM (KDE) on {given}", panels["kde_blend"]),
    ]
    if sr is not None:
        main.append((output, image_hwc(sr)))
    box = window_t
    if side is not None:
        r0, c0, side = _zoom_region(panels["blend"].shape, window_t, side)
        main = [
            (f"{label} (zoom)", img[r0 : r0 + side, c0 : c0 + side])
            for label, img in main
        ]
        box = (window_t[0] - r0, window_t[1] - c0, window_t[2])

    small = side is not None
    widths = ([0.5] if small else []) + [1.0] * len(main) + [0.05]
    fig = Figure(
        figsize=(panel_size * (sum(widths) + 0.25), panel_size + 0.9),
        dpi=100,
        layout="constrained",
    )
    grid = fig.add_gridspec(2, len(widths), width_ratios=widths)
    offset = 1 if small else 0
    for i, (label, img) in enumerate(main):
        ax = fig.add_subplot(grid[:, offset + i])
        show_image(ax, img, label)
        draw_box(ax, box)
    if small:  # after the main panels, so that fig.axes starts with those
        context = hr if hr is not None else sr
        name = clean if hr is not None else output
        region = tuple(origin) != (0, 0) or full_image is not None
        if full_image is not None:
            whole = image_hwc(full_image)
            ax = fig.add_subplot(grid[0, 0])
            show_image(ax, whole, f"{clean}, the whole image", fontsize=7)
            top, left = origin
            h, w = panels["blend"].shape[:2]
            draw_box(
                ax, (top + window_t[0], left + window_t[1], window_t[2]), linewidth=1.0
            )
            ax.add_patch(
                Rectangle(
                    (left - 0.5, top - 0.5),
                    w,
                    h,
                    fill=False,
                    edgecolor="white",
                    linewidth=1.0,
                    linestyle="--",
                )
            )
            tiny = []
        else:
            where = "the input's region" if region else "full view"
            tiny = (
                [(f"{name}, {where}", image_hwc(context))]
                if context is not None
                else []
            )
        whole_input = "LR input" if given == "LR" else "input"
        label = f"LAM, the whole {whole_input}" if region else "LAM, full view"
        tiny.append((label, panels["blend"]))
        for row, (label, img) in enumerate(tiny, 2 - len(tiny)):
            ax = fig.add_subplot(grid[row, 0])
            show_image(ax, img, label, fontsize=7)
            draw_box(ax, window_t, linewidth=1.0)
            draw_box(ax, (r0, c0, side), color="white", linewidth=1.0, linestyle="--")
    map_colorbar(fig, fig.add_subplot(grid[:, -1]))
    fig.suptitle(
        heading(
            title,
            di_text(di, map_2d(attributions).shape, scale),
            image=image,
            window=window_t,
            origin=origin,
            n_steps=n_steps,
            method=method,
            fits=heading_fits(fig, 10),
        ),
        fontsize=10,
    )
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
    zoom: bool = True,
    image: Optional[str] = None,
    origin: tuple[int, int] = (0, 0),
    n_steps: Optional[int] = None,
    method: Optional[str] = None,
    panels: Optional[Mapping[str, Sequence[np.ndarray]]] = None,
    methods: Optional[Mapping[str, str]] = None,
    notes: Optional[Mapping[str, str]] = None,
) -> Figure:
    """A grid with one row per model or attribution method, the DI on each row.

    Every row shows the same region: around the window, large, when every map
    is local (the widest of the rows' `zoom_side`), else the whole image.
    Columns: the whole map small with the window boxed (zoomed view only), the
    map over the LR input, titled with the row's method, and the row's SR
    output when ``sr`` is given. Each row is labelled with its name, its DI and
    the size of the LR input, and its settings (``notes``); one colorbar serves
    all rows. (The LAM figure's kernel-density panel is left out here: it
    smooths every map into the same blob, so it does not tell rows apart.)

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
    title : str
        First line of the heading (e.g. the model, comparing methods).
    zoom, image, origin, n_steps, method
        As for [lam_figure][captum_lam.lam_figure]; ``n_steps`` and ``method``
        go in the heading, for settings every row shares (one method, several
        models).
    methods : mapping of label -> str, optional
        Each row's attribution method, for its panel's title (default "LAM").
    notes : mapping of label -> str, optional
        Each row's settings (e.g. ``"50 steps, riemann_right"``), under its map.
    panels : mapping of label -> images, optional
        Rows whose map panel, (H*scale, W*scale, 3), is drawn elsewhere (a signed
        Causal Effect Map in its own colours; the first image is used), instead
        of from the map.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import torch
    >>> lr = torch.rand(1, 3, 8, 8)
    >>> maps = {"Saliency": torch.randn(1, 3, 8, 8), "LAM": torch.randn(1, 3, 8, 8)}
    >>> fig = comparison_figure(
    ...     maps, lr, (2, 2, 8), scale=2, methods={"Saliency": "Saliency"},
    ...     notes={"LAM": "50 steps, riemann_right"})
    >>> [ax.get_ylabel().splitlines()[0] for ax in fig.axes[:2]]
    ['Saliency', 'LAM']
    >>> fig.axes[1].get_xlabel()
    '50 steps, riemann_right'
    >>> [ax.get_title() for ax in fig.axes[:2]]
    ['Saliency on LR', 'LAM on LR']
    """
    if not attributions:
        raise ValueError("attributions must hold at least one labelled map")
    window_t = window_tuple(window)
    rows = list(attributions.items())
    sides = [zoom_side(a, window_t, scale) for _, a in rows] if zoom else [None]
    side = None if None in sides else max(s for s in sides if s is not None)
    small = side is not None
    methods = methods or {}
    notes = notes or {}
    widths = ([0.5] if small else []) + [1.0] * (2 if sr else 1) + [0.05]
    fig = Figure(
        figsize=(panel_size * (sum(widths) + 0.45), panel_size * len(rows) + 0.9),
        dpi=100,
        layout="constrained",
    )
    grid = fig.add_gridspec(len(rows), len(widths), width_ratios=widths)
    regions, labels = [], []
    for r, (label, attr) in enumerate(rows):
        drawn = lam_panels(attr, lr, scale)
        di_line = di_text(diffusion_index(map_2d(attr)), map_2d(attr).shape, scale)
        images = [(panels or {}).get(label, (drawn["blend"],))[0]]
        names = [f"{methods.get(label, 'LAM')} on LR"]
        if sr:
            images.append(image_hwc(sr[label]))
            names.append("SR output")
        box = window_t
        if small:
            r0, c0, side = _zoom_region(images[0].shape, window_t, side)
            regions.append((images[0], (r0, c0, side)))
            images = [img[r0 : r0 + side, c0 : c0 + side] for img in images]
            box = (window_t[0] - r0, window_t[1] - c0, window_t[2])
        for c, (img, name) in enumerate(zip(images, names)):
            ax = fig.add_subplot(grid[r, c + (1 if small else 0)])
            show_image(ax, img, "")
            draw_box(ax, box)
            if r == 0 or methods:
                ax.set_title(name + (" (zoom)" if small else ""), fontsize=9)
            if c == 0 and label in notes:
                ax.set_xlabel(textwrap.fill(notes[label], 40), fontsize=8)
            if c == 0 and not small:
                ax.set_ylabel(f"{label}\n{di_line}", fontsize=10)
        labels.append(f"{label}\n{di_line}")
    for r, (whole, region) in enumerate(regions):  # after the rows' main panels
        ax = fig.add_subplot(grid[r, 0])
        show_image(ax, whole, "the whole LR input" if r == 0 else "", fontsize=8)
        ax.set_ylabel(labels[r], fontsize=10)
        draw_box(ax, window_t, linewidth=1.0)
        draw_box(ax, region, color="white", linewidth=1.0, linestyle="--")
    map_colorbar(fig, fig.add_subplot(grid[:, -1]))
    fig.suptitle(
        heading(
            title,
            None,
            image=image,
            window=window_t,
            origin=origin,
            n_steps=n_steps,
            method=method,
            fits=heading_fits(fig, 10),
        ),
        fontsize=10,
    )
    return fig


def save_figure(fig: Figure, path: Union[str, os.PathLike], dpi: int = 150) -> Path:
    """Save ``fig`` as PNG, PDF or SVG (by extension), atomically; ``-``: a PNG
    on the standard output.

    A regular file is written to a temporary file beside ``path`` and renamed,
    so an interrupted or failed save leaves no half-written file; a symlink's
    target is written, and a FIFO or device is written directly.

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
    suffix = ".png" if is_stdout(path) else target.suffix.lower()  # "-": stdout
    if suffix not in (".png", ".pdf", ".svg"):
        raise ValueError(f"path must end in .png, .pdf or .svg, got {target.name!r}")
    write_atomic(target, lambda handle: fig.savefig(handle, dpi=dpi, format=suffix[1:]))
    return target

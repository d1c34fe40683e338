"""The Causal Effect Map's figure: a diverging colour map centred at 0 dB."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
from matplotlib.figure import Figure

from ._pictures.arrays import image_hwc, upscale, window_tuple, zoom_nearest
from ._pictures.headings import heading, heading_fits
from ._pictures.panels import draw_box, show_image

ArrayLike = Any
#: Blue hurts, red helps, white is no effect (the CEM authors' ``seismic``).
CMAP = "seismic"


def effect_limit(
    effect: ArrayLike, window: Optional[Any] = None, scale: int = 1, block: int = 1
) -> float:
    """The colour scale's half-range in dB.

    ``max |effect|`` beyond the blocks (of ``block`` LR pixels) under
    ``window`` (they dominate and would leave the rest white; they saturate), or
    over the whole map without a window or when nothing beyond it has an
    effect; 1 dB for an all-zero map.
    """
    values = np.abs(_effect_2d(effect))
    if window is not None:
        top, left, size = window_tuple(window)
        beyond = values.copy()
        r0, c0 = top // scale // block, left // scale // block
        r1 = math.ceil(math.ceil((top + size) / scale) / block)
        c1 = math.ceil(math.ceil((left + size) / scale) / block)
        rows, cols = slice(r0 * block, r1 * block), slice(c0 * block, c1 * block)
        beyond[rows, cols] = 0
        if beyond.max() > 0:
            values = beyond
    peak = float(values.max())
    return peak if peak > 0 else 1.0


def _effect_2d(effect: ArrayLike) -> np.ndarray:
    if hasattr(effect, "detach"):
        effect = effect.detach().cpu().double().numpy()
    array = np.asarray(effect, dtype=np.float64)
    if array.ndim == 2:
        return array
    if array.ndim in (3, 4) and array.shape[:-2] in ((1,), (1, 1)):
        return array.reshape(array.shape[-2:])
    raise ValueError(
        f"effect must be one map (h, w), (1, h, w) or (1, 1, h, w), got {array.shape}"
    )


def signed_rgb(
    effect: ArrayLike,
    scale: int,
    lr: Optional[ArrayLike] = None,
    limit: Optional[float] = None,
) -> np.ndarray:
    """The effect in a diverging colour map centred at 0, (h*scale, w*scale, 3).

    Red: the block helps the window (positive dB), blue: it hurts, white: no
    effect. With ``lr``, the colours are laid over the bicubic-upscaled input,
    opaque where the effect is large. ``limit``: the dB at full colour (default
    ``max |effect|``).

    Examples
    --------
    >>> rgb = signed_rgb(np.array([[1.0, -1.0], [0.0, 0.5]]), scale=2)
    >>> rgb.shape, bool(rgb[2, 0].min() > 0.98)  # 0 dB is (nearly) white
    ((4, 4, 3), True)
    """
    from matplotlib import colormaps

    e = _effect_2d(effect)
    limit = effect_limit(e) if limit is None else float(limit)
    values = np.clip(
        zoom_nearest(e[..., None], max(int(scale), 1))[..., 0] / limit, -1, 1
    )
    colours = colormaps[CMAP](0.5 + 0.5 * values)[..., :3]
    if lr is None:
        return colours
    background = upscale(image_hwc(lr), values.shape)
    weight = np.sqrt(np.abs(values))[..., None]
    return np.clip(background * (1 - weight) + colours * weight, 0.0, 1.0)


def signed_colorbar(fig: Figure, cax, limit: float) -> None:
    """A colour bar from ``-limit`` to ``+limit`` dB, centred at 0."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import TwoSlopeNorm

    norm = TwoSlopeNorm(vmin=-limit, vcenter=0.0, vmax=limit)
    bar = fig.colorbar(ScalarMappable(norm, CMAP), cax=cax)
    bar.set_label("effect (dB): + helps, - hurts (window blocks saturate)", fontsize=8)
    bar.ax.tick_params(labelsize=7)


def cem_figure(
    effect: ArrayLike,
    lr: ArrayLike,
    window: Any,
    *,
    scale: int,
    sr: Optional[ArrayLike] = None,
    title: str = "",
    image: Optional[str] = None,
    origin: tuple[int, int] = (0, 0),
    settings: str = "",
    block_size: int = 1,
    panel_size: float = 2.6,
    task: str = "super-resolution",
) -> Figure:
    """The Causal Effect Map of one window, signed, with a colour bar in dB.

    Panels: the map alone, the map over the input, and the network's output,
    each with the window boxed. The colour map diverges at 0 dB: red blocks
    help the window, blue ones hurt it, white ones do not matter; its ends are
    ``+-max |effect|`` beyond the window (`effect_limit`: the blocks under the
    window, usually far stronger, saturate).

    Parameters
    ----------
    effect : Tensor or ndarray
        (1, 1, h, w), (1, h, w) or (h, w), e.g. from
        [CausalEffectMap.attribute][captum_lam.CausalEffectMap.attribute].
    lr : Tensor or ndarray
        The input, (1, C, h, w), (C, h, w) or (h, w, C), in [0, 1].
    window : tuple or Tensor
        ``(top, left, size)`` in output pixels.
    scale : int
        Upscaling factor.
    sr : Tensor or ndarray, optional
        The network's output, (1, C, H, W).
    title, image, origin, settings : optional
        Model name; image name; where ``lr``'s upscaled grid starts in the image
        (the heading gives the window in the image's pixels); the CEM's settings
        for the heading.
    block_size : int
        The CEM's block side (LR pixels): the blocks under the window saturate
        the colours (see `effect_limit`).
    task : str
        ``"super-resolution"`` or ``"denoising"`` (panel names).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import torch
    >>> effect = torch.randn(1, 1, 8, 8); lr = torch.rand(1, 3, 8, 8)
    >>> fig = cem_figure(effect, lr, (4, 4, 4), scale=2, title="demo")
    >>> [ax.get_title() for ax in fig.axes][:2]
    ['CEM', 'CEM on LR']
    """
    given, output = (
        ("input", "denoised output") if task == "denoising" else ("LR", "SR output")
    )
    window_t = window_tuple(window)
    limit = effect_limit(effect, window_t, scale, block_size)
    main = [
        ("CEM", signed_rgb(effect, scale, limit=limit)),
        (f"CEM on {given}", signed_rgb(effect, scale, lr, limit=limit)),
    ]
    if sr is not None:
        main.append((output, image_hwc(sr)))
    widths = [1.0] * len(main) + [0.05]
    fig = Figure(
        figsize=(panel_size * (sum(widths) + 0.25), panel_size + 0.9),
        dpi=100,
        layout="constrained",
    )
    grid = fig.add_gridspec(1, len(widths), width_ratios=widths)
    for i, (label, img) in enumerate(main):
        ax = fig.add_subplot(grid[0, i])
        show_image(ax, img, label)
        draw_box(ax, window_t, color="#00b000")
    signed_colorbar(fig, fig.add_subplot(grid[0, -1]), limit)
    e = _effect_2d(effect)
    text = heading(
        title,
        None,
        image=image,
        window=window_t,
        origin=origin,
        n_steps=None,
        method=settings,
        fits=heading_fits(fig, 10),
    )
    summary = f"effects {e.min():+.2f} to {e.max():+.2f} dB"
    fig.suptitle(f"{text}\n{summary}", fontsize=10)
    return fig

"""What the page shows and offers for download: panels, figure, map, command."""

from __future__ import annotations

import io
import shlex
from typing import Any

import numpy as np
from torch import Tensor

from .. import lam_figure
from ..images import bicubic_upsample
from ..mapfile import map_arrays, map_bytes
from ..metrics import abs_normalized_map
from ._catalogue import ImageEntry, ModelEntry
from ._compute import LamResult

#: Width of the zoom panels around the window, at least, in window sizes.
ZOOM_WIDTHS = 5
#: The zoom on the map holds every pixel with at least this share of its maximum.
ZOOM_FLOOR = 0.02
BOX_RGB = (1.0, 0.1, 0.1)


def png_bytes(image: np.ndarray) -> bytes:
    """(H, W, 3) or (H, W, 4) floats in [0, 1] -> PNG file bytes."""
    from PIL import Image

    array = np.clip(np.round(np.asarray(image) * 255), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def image_rgb(image: Tensor) -> np.ndarray:
    """(1, C, H, W) tensor in [0, 1] -> (H, W, 3) float array."""
    array = image.detach().double().cpu().numpy()[0].transpose(1, 2, 0)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.clip(array[:, :, :3], 0.0, 1.0)


def _draw_box(
    image: np.ndarray, window: tuple[int, int, int], width: int = 1
) -> np.ndarray:
    """A copy of ``image`` with the window outlined (just outside it)."""
    out = image.copy()
    top, left, size = window
    h, w = out.shape[:2]
    r0, c0 = max(top - width, 0), max(left - width, 0)
    r1, c1 = min(top + size + width, h), min(left + size + width, w)
    color = np.array(BOX_RGB)
    out[r0 : min(r0 + width, h), c0:c1] = color
    out[max(r1 - width, 0) : r1, c0:c1] = color
    out[r0:r1, c0 : min(c0 + width, w)] = color
    out[r0:r1, max(c1 - width, 0) : c1] = color
    return out


def zoom_region(
    normalized_map: np.ndarray, scale: int, window: tuple[int, int, int]
) -> tuple[int, int, int]:
    """(top, left, side) of the square shown around the window, in image pixels.

    At least ``ZOOM_WIDTHS`` window sizes wide, and wide enough to hold every
    pixel with at least ``ZOOM_FLOOR`` of the map's maximum (the map's reach).
    """
    top, left, size = window
    h, w = normalized_map.shape[0] * scale, normalized_map.shape[1] * scale
    rows, cols = np.nonzero(normalized_map >= ZOOM_FLOOR)
    centre_r, centre_c = top + size / 2, left + size / 2
    reach = 0.0
    if rows.size:
        reach = max(
            np.abs((rows + 0.5) * scale - centre_r).max(),
            np.abs((cols + 0.5) * scale - centre_c).max(),
        )
    side = int(max(size * ZOOM_WIDTHS, 2 * (reach + scale) + size))
    side = min(side, h, w)
    r0 = int(min(max(centre_r - side / 2, 0), h - side))
    c0 = int(min(max(centre_c - side / 2, 0), w - side))
    return r0, c0, side


def map_over_input(normalized_map: np.ndarray, lr: Tensor, scale: int) -> np.ndarray:
    """The map over the bicubic-upscaled input, (H, W, 3) in [0, 1].

    Each LR pixel's value ``v`` is painted in the map's colour (seismic at
    ``0.5 + v / 2``, as the reference) with opacity ``sqrt(v)``: the input stays
    visible at full contrast where the network did not look.
    """
    from matplotlib import colormaps

    base = image_rgb(bicubic_upsample(lr, scale))
    values = np.repeat(np.repeat(normalized_map, scale, axis=0), scale, axis=1)
    color = colormaps["seismic"](0.5 + 0.5 * values)[..., :3]
    alpha = np.sqrt(values)[..., None]
    return base * (1 - alpha) + color * alpha


def panels(result: LamResult) -> dict[str, bytes]:
    """The card's images: the map over the input around the window, the whole
    map, and the network's output and the HR image around the window."""
    window = result.request.window
    normalized = abs_normalized_map(result.attribution)
    drawn = map_over_input(normalized, result.lr, result.scale)
    r0, c0, side = zoom_region(normalized, result.scale, window)
    local = (window[0] - r0, window[1] - c0, window[2])
    crop = (slice(r0, r0 + side), slice(c0, c0 + side))
    line = max(1, side // 96)
    near = (
        slice(*_around(window[0], window[2], drawn.shape[0])),
        slice(*_around(window[1], window[2], drawn.shape[1])),
    )
    near_box = (window[0] - near[0].start, window[1] - near[1].start, window[2])
    return {
        "zoom": png_bytes(_draw_box(drawn[crop], local, line)),
        "whole": png_bytes(_draw_box(drawn, window, max(1, drawn.shape[0] // 150))),
        "output": png_bytes(_draw_box(image_rgb(result.sr)[near], near_box)),
        "hr": png_bytes(_draw_box(image_rgb(result.hr)[near], near_box)),
    }


def _around(start: int, size: int, extent: int) -> tuple[int, int]:
    """``ZOOM_WIDTHS`` window sizes around a window, within ``extent``."""
    side = min(size * ZOOM_WIDTHS, extent)
    first = min(max(start + size // 2 - side // 2, 0), extent - side)
    return first, first + side


def figure_png(result: LamResult) -> bytes:
    """The library's LAM figure ([`lam_figure`][captum_lam.lam_figure]) as PNG bytes."""
    settings = result.settings
    fig = lam_figure(
        result.attribution,
        result.lr,
        result.request.window,
        hr=result.hr,
        sr=result.sr,
        scale=result.scale,
        title=result.request.model,
        di=result.diffusion_index,
        image=result.image.name,
        n_steps=settings["steps"],
        method=settings["method"],
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    return buffer.getvalue()


def map_npz(result: LamResult) -> bytes:
    """The raw map as ``.npz`` bytes: `captum_lam.save_map`'s file (loadable with
    numpy alone, or `captum_lam.load_map`), plus ``model`` and ``image`` as
    strings."""
    arrays = map_arrays(
        result.attribution,
        result.lr,
        result.request.window,
        scale=result.scale,
        settings=result.settings,
        convergence_delta=result.convergence_delta,
    )
    arrays["model"] = np.array(result.request.model)
    arrays["image"] = np.array(result.image.spec)
    return map_bytes(arrays)


def explain_command(
    entry: ModelEntry,
    image: ImageEntry,
    window: tuple[int, int, int],
    settings: dict[str, Any],
) -> str:
    """The ``captum-lam explain`` command line that gives the same numbers."""
    top, left, size = window
    words = [
        "captum-lam",
        "explain",
        *entry.explain_args,
        "--image",
        image.spec,
        "--window",
        f"{top},{left},{size}",
        "--region",
        "none",
        "--steps",
        str(settings["steps"]),
        "--rule",
        settings["method"],
        "--sigma",
        f"{settings['sigma']:g}",
        "--kernel-size",
        str(settings["kernel_size"]),
        "--detector",
        settings["detector"],
    ]
    return shlex.join(words)


def colorbar_stops(count: int = 11) -> list[str]:
    """CSS colours of the map's colour scale, from 0 (white) to 1 (dark red)."""
    from matplotlib import colormaps

    seismic = colormaps["seismic"]
    colors = [seismic(0.5 + 0.5 * i / (count - 1))[:3] for i in range(count)]
    return ["#" + "".join(f"{round(255 * c):02x}" for c in color) for color in colors]


def texture_overlay(image: ImageEntry, size: int) -> bytes:
    """How textured the ``size`` window centred on each pixel is, as an RGBA PNG.

    The mean gradient magnitude of the window (`texture_energy`), normalised by its 99th
    percentile, in the ``magma`` colours, transparent where flat.
    """
    from matplotlib import colormaps

    from ..windows import texture_energy

    energy = texture_energy(image.pixels, size).numpy()
    scale = float(np.percentile(energy, 99)) or 1.0
    values = np.clip(energy / scale, 0.0, 1.0)
    h, w = image.height, image.width
    full = np.zeros((h, w))
    r0 = size // 2
    full[r0 : r0 + values.shape[0], r0 : r0 + values.shape[1]] = values
    rgba = colormaps["magma"](full)
    rgba[..., 3] = 0.7 * np.clip((full - 0.2) / 0.8, 0.0, 1.0)
    return png_bytes(rgba)

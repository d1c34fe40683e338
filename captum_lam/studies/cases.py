"""Study cases: an image and a window; choosing windows by content."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np
from torch import Tensor

from .._method.checks import check_int
from ..images import (
    crop_to_multiple,
    read_image_spec,
)
from ..windows import (
    CONTENT_CLASSES,
    auto_windows,
    border_margin,
    classify_content,
    overlaps,
    texture_energy,
    textured_windows,
)


@dataclass(frozen=True)
class Case:
    """One window of one image, for one model or (``model=None``) for every model.

    Attributes
    ----------
    model : str or None
        Registry name of the model, or None: every model of the study.
    image : str
        ``sample:NAME`` (a bundled photo) or a file path; the HR image.
    window : tuple of int
        ``(top, left, size)`` in HR (= output) pixels.
    """

    model: Optional[str]
    image: str
    window: tuple[int, int, int]

    def __post_init__(self) -> None:
        window = tuple(int(v) for v in self.window)
        if len(window) != 3 or window[2] < 1 or min(window[:2]) < 0:
            raise ValueError(
                f"window must be (top, left, size) with top, left >= 0 and size >= "
                f"1, got {self.window!r}"
            )
        object.__setattr__(self, "window", window)

    def key(self, model: Optional[str] = None) -> str:
        """Stable identity of the case for ``model`` (default: its own model)."""
        name = self.model if model is None else model
        top, left, size = self.window
        return f"{name}|{self.image}|{top},{left},{size}"


def load_image(spec: str) -> Tensor:
    """``sample:NAME`` or a PNG/JPEG path -> (1, 3, H, W) float32 in [0, 1]."""
    return read_image_spec(spec)


def _image_seed(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _candidates(hr: Tensor, size: int, margin: int) -> list[tuple[int, int, float]]:
    """Every window position on a ``size // 4`` grid, with its gradient energy."""
    stride = max(1, size // 4)
    energy = texture_energy(hr, size, stride)
    h, w = hr.shape[-2:]
    found = []
    for i in range(energy.shape[0]):
        for j in range(energy.shape[1]):
            top, left = i * stride, j * stride
            if min(top, left) < margin:
                continue
            if top + size > h - margin or left + size > w - margin:
                continue
            found.append((top, left, float(energy[i, j])))
    return found


def select_cases(
    images: Mapping[str, Tensor],
    per_image: int = 4,
    size: int = 16,
    seed: Optional[int] = 0,
    scale: int = 4,
    *,
    mode: str = "hardest",
    pool: int = 3,
    margin: Optional[int] = None,
) -> list[Case]:
    """Windows to explain, chosen like the LAM paper: the hard ones.

    ``mode="hardest"`` (default) takes the ``pool * per_image`` most textured
    non-overlapping windows of each image
    ([`textured_windows`][captum_lam.windows.textured_windows], highest gradient
    energy first) and draws ``per_image`` of them with a generator seeded by
    ``seed`` and the image's name (so adding an image does not change the others'
    windows); ``seed=None`` takes the top ``per_image`` deterministically.
    ``mode="random"`` draws non-overlapping windows uniformly;
    ``mode="stratified"`` draws ``per_image`` windows of each content class of
    [`classify_content`][captum_lam.windows.classify_content] (fewer where an
    image has fewer), for the DI-vs-content analysis.

    Windows never overlap within an image and keep ``margin`` HR pixels from the
    borders (default: [`border_margin`][captum_lam.windows.border_margin], four
    window sizes or as much as the image allows, the rule of ``captum-lam
    windows``, ``explain`` and the explorer; ``mode="hardest"`` then ranks as
    [`auto_windows`][captum_lam.windows.auto_windows] does).

    Parameters
    ----------
    images : mapping of name -> Tensor
        HR images (1, 3, H, W) in [0, 1]; the names become `Case.image`
        (``sample:NAME`` or a path, for [`evaluate`][captum_lam.studies.evaluate] to
        load them).
    per_image : int
        Windows per image (per class with ``mode="stratified"``).
    size : int
        Window side in HR pixels (default 16, the paper's).
    seed : int or None
        Seed of the draw; None: deterministic (top ``per_image``; random modes
        then use seed 0).
    scale : int
        Upscaling factor: images are cropped to a multiple of it first.

    Returns
    -------
    list of Case
        With ``model=None``, image by image in the mapping's order, the windows
        of an image by decreasing gradient energy.

    Examples
    --------
    >>> import torch
    >>> img = torch.zeros(1, 3, 96, 96); img[..., 48:, 48:] = torch.rand(48, 48)
    >>> cases = select_cases({"sample:x": img}, per_image=2, seed=None)
    >>> [c.window for c in cases]  # doctest: +SKIP
    [(52, 52, 16), (52, 72, 16)]
    >>> all(c.window[0] >= 36 and c.window[1] >= 36 for c in cases)
    True
    """
    check_int("per_image", per_image, 1)
    if mode not in ("hardest", "random", "stratified"):
        raise ValueError(
            f"mode must be 'hardest', 'random' or 'stratified', got {mode!r}"
        )
    check_int("pool", pool, 1)
    cases: list[Case] = []
    for name, image in images.items():
        hr = crop_to_multiple(image, scale)
        h, w = hr.shape[-2:]
        own_rule = margin is None
        image_margin = border_margin(h, w, size) if margin is None else margin
        if size > min(h, w) - 2 * image_margin:
            raise ValueError(
                f"image {name!r} ({h}x{w}, height x width) has no room for a "
                f"{size}x{size} window {image_margin} pixels from its borders"
            )
        rng = _image_seed(0 if seed is None else seed, name)
        if mode == "hardest":
            ranked = (
                auto_windows(hr, size, pool * per_image)
                if own_rule
                else textured_windows(
                    hr, size, count=pool * per_image, margin=image_margin
                )
            )
            if seed is None:
                chosen = ranked[:per_image]
            else:
                take = min(per_image, len(ranked))
                picks = np.sort(rng.choice(len(ranked), size=take, replace=False))
                chosen = [ranked[i] for i in picks]
        else:
            candidates = _candidates(hr, size, image_margin)
            order = rng.permutation(len(candidates))
            chosen_with_energy: list[tuple[int, int, int, float]] = []
            counts = dict.fromkeys(CONTENT_CLASSES, 0)
            for i in order.tolist():
                top, left, energy = candidates[i]
                taken = [(t, lf, s) for t, lf, s, _ in chosen_with_energy]
                if overlaps(taken, top, left, size):
                    continue
                if mode == "stratified":
                    label = classify_content(hr, (top, left, size))[0]
                    if counts[label] >= per_image:
                        continue
                    counts[label] += 1
                chosen_with_energy.append((top, left, size, energy))
                limit = per_image * (3 if mode == "stratified" else 1)
                if len(chosen_with_energy) == limit:
                    break
            chosen_with_energy.sort(key=lambda c: (-c[3], c[0], c[1]))
            chosen = [(t, lf, s) for t, lf, s, _ in chosen_with_energy]
        cases.extend(Case(None, name, window) for window in chosen)
    return cases

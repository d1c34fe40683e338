"""The Causal Effect Map's intervention patches: bundled photos, never evaluated on.

The CEM authors swap blocks for patches cut from DIV2K, which cannot be
downloaded here. The default bank is cut, at seeded random places, from sample
photos that the packages bundle and that no evaluation uses (the held-out
``astronaut``, ``coffee`` and ``chelsea`` are not among them): two RGB photos and
four textures, so that a bank holds smooth, edged and textured content, like
DIV2K's.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor

from ..images import HELD_OUT_IMAGES, rgb_to_y, sample_image

#: Bundled photos the default bank is cut from (RGB photos, grayscale textures).
BANK_IMAGES: tuple[str, ...] = (
    "rocket",
    "grace_hopper",
    "immunohistochemistry",
    "brick",
    "grass",
    "gravel",
)
#: Patches in the default bank, and their side in the photos' own pixels (the
#: authors' patches are 8x8 HR pixels, resized to the block).
BANK_SIZE = 600
BANK_PATCH = 8

assert not set(BANK_IMAGES) & set(HELD_OUT_IMAGES)


@functools.lru_cache(maxsize=4)
def _default_bank(channels: int, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    per_image = -(-BANK_SIZE // len(BANK_IMAGES))
    patches = []
    for name in BANK_IMAGES:
        image = sample_image(name)[0]
        if channels == 1:
            image = rgb_to_y(image[None])[0]
        height, width = image.shape[-2:]
        rows = torch.randint(height - BANK_PATCH + 1, (per_image,), generator=generator)
        cols = torch.randint(width - BANK_PATCH + 1, (per_image,), generator=generator)
        for r, c in zip(rows.tolist(), cols.tolist()):
            patches.append(image[:, r : r + BANK_PATCH, c : c + BANK_PATCH])
    return torch.stack(patches[:BANK_SIZE]).contiguous()


def default_bank(channels: int, seed: int = 0) -> Tensor:
    """The default patch bank, ``(BANK_SIZE, channels, 8, 8)`` in [0, 1].

    ``channels`` 3 (RGB) or 1 (luma, BT.601). Seeded: the same ``seed`` gives the
    same patches.

    Examples
    --------
    >>> default_bank(3).shape
    torch.Size([600, 3, 8, 8])
    """
    if channels not in (1, 3):
        raise ValueError(
            "patches: the default bank holds RGB or grayscale patches, but the "
            f"inputs have {channels} channels; pass patches=Tensor(P, {channels}, "
            "p, p)"
        )
    return _default_bank(channels, seed).clone()


def fit_patches(patches: Tensor, block_size: int) -> Tensor:
    """Patches (P, C, p, q) at the block's side: as they are if they have it,
    else resized (bicubic, antialiased) and clipped to their own range."""
    if patches.shape[-2:] == (block_size, block_size):
        return patches
    resized = F.interpolate(
        patches,
        size=(block_size, block_size),
        mode="bicubic",
        align_corners=False,
        antialias=True,
    )
    return resized.clamp(patches.min(), patches.max())

"""Windows to choose from: the most textured ones, with their content class."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

from .studies import classify_content
from .windows import auto_windows, texture_energy


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

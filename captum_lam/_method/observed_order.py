"""Observed-order weights of the blocks' last differences (issue 30, round seven).

Used by the non-default levels ``adaptive.OBSERVED_ORDER`` and
``adaptive.GATED_ORDER``, which were measured and not adopted
(docs/speed-accuracy.md): a block whose last two differences shrank by ``r``
has, if it keeps that order, an error of ``d / (r - 1)`` after its last
difference ``d``.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor


def order_weights(
    sizes: list[Tensor],
    previous: list[Tensor],
    earlier: list[Optional[Tensor]],
    levels: Any,
) -> list[Tensor]:
    """``1 / (r_b - 1)`` per block and map, shape (M,) each.

    ``sizes``, ``previous`` and ``earlier`` are the relative maxima of each
    block's last difference, the one before it and the one before that (None
    where the block has no such level yet), per map. ``r_b`` is
    ``previous / sizes`` taken into ``[2, levels.max_ratio]`` (a zero last
    difference counts as ``max_ratio``); with ``levels.trust``, ``r_b`` is 2
    (first order) unless it and the ratio before it, where there is one, are
    at least ``trust``.
    """
    out = []
    for size, last, first in zip(sizes, previous, earlier):
        ratio = torch.where(
            size > 0, last / size, torch.full_like(size, levels.max_ratio)
        ).clamp(2, levels.max_ratio)
        if levels.trust:
            trusted = ratio >= levels.trust
            if first is not None:
                trusted &= first >= levels.trust * last
            ratio = torch.where(trusted, ratio, torch.full_like(ratio, 2.0))
        out.append(1 / (ratio - 1))
    return out

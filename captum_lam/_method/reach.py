"""How far a network reaches: one spec (None, "auto", int) -> LR pixels or None.

The reach is how many input pixels beyond a pixel the network looks at (the
receptive field's radius). It lets LAM run the network on the part of the input
that an output window depends on, and lets the multi-window pass share a
backward pass between windows whose reaches do not overlap. Both are exact when
the reach is at least the true one.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import torch
from torch import Tensor

from .checks import as_int

#: None (the whole input), "auto" (the model's declared field) or LR pixels.
Reach = Union[None, str, int]


def model_reach(model: Any, reach: Reach) -> Optional[int]:
    """LR pixels the network reaches beyond a pixel, or None for the whole input.

    ``"auto"`` reads ``model.lam_info.receptive_field`` (set for the zoo's and
    the published models) and gives one pixel more than its radius (free, and
    safe for even fields); for a model with a global or undeclared field it is
    None: the whole input, no speed-up, the map stays exact.

    Examples
    --------
    >>> model_reach(None, 3), model_reach(None, "auto"), model_reach(None, None)
    (3, None, None)
    """
    if reach is None:
        return None
    if isinstance(reach, str) and reach == "auto":
        info = getattr(model, "lam_info", None)
        field = getattr(info, "receptive_field", None)
        return None if field is None else int(field) // 2 + 1
    pixels = as_int(reach)
    if pixels is None or pixels < 0:
        raise ValueError(
            f"reach must be None, 'auto' or an integer >= 0 (LR pixels), got {reach!r}"
        )
    return pixels


def reach_region(
    input_shape: torch.Size, output_shape: torch.Size, windows: Tensor, reach: int
) -> tuple[slice, slice]:
    """The LR rows and columns that the windows (N, 3) depend on."""
    h, w = input_shape[-2:]
    out_h, out_w = output_shape[-2:]
    if out_h % h or out_w % w or out_h // h != out_w // w:
        raise ValueError(
            f"reach needs an integer scale, but the model maps {h}x{w} to "
            f"{out_h}x{out_w}"
        )
    scale = out_h // h
    top, left = windows[:, 0], windows[:, 1]
    bottom, right = top + windows[:, 2], left + windows[:, 2]
    # the detectors look one output pixel beyond the window (Sobel: on both sides)
    r0 = int(((top - 1).clamp_min(0) // scale).min()) - reach
    c0 = int(((left - 1).clamp_min(0) // scale).min()) - reach
    r1 = int((bottom.clamp_max(out_h - 1) // scale).max()) + reach + 1
    c1 = int((right.clamp_max(out_w - 1) // scale).max()) + reach + 1
    return slice(max(r0, 0), min(r1, h)), slice(max(c0, 0), min(c1, w))

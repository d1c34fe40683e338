"""RGB-in, RGB-out wrapper around an ncnn restoration graph that needs more than RGB.

Published ncnn graphs often expect extra input channels (SRMD's degradation map), a
border the graph itself trims away (waifu2x, Real-CUGAN), sides that are a multiple
of 2 or 4 (the U-Nets' strided convolutions), or add the upsampled input after the
graph (Real-CUGAN x4). `NcnnRestorer` does all of that around the graph, the way the
packages' C++ code does, so that a caller (and LAM) sees a plain ``(N, 3, H, W)`` ->
``(N, 3, sH, sW)`` module whose only inputs are the RGB pixels; the constant channels
are buffers, not inputs, and receive no attribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_lam._registry import ModelInfo
from captum_lam.models._ncnn import NcnnNet

__all__ = ["GraphIO", "NcnnRestorer"]


@dataclass(frozen=True)
class GraphIO:
    """How a graph is fed and read.

    Attributes
    ----------
    pad : int
        Pixels added on each side of the RGB input before the graph.
    pad_mode : str
        ``"replicate"`` or ``"reflect"`` (as the package's C++ code pads).
    multiple : int
        The padded input's sides must be a multiple of this; the missing rows and
        columns are added at the bottom and right (same mode) and cropped off after.
    graph_trims : bool
        Whether the graph's output already lacks the ``scale * pad`` border (valid
        convolutions); otherwise the border is cropped from the output.
    extra_channels : tuple of float
        Constant channels appended after RGB (SRMD's degradation map).
    residual_nearest : bool
        Whether the graph outputs a residual to add to the nearest-upsampled input.
    """

    pad: int = 0
    pad_mode: str = "replicate"
    multiple: int = 1
    graph_trims: bool = False
    extra_channels: tuple[float, ...] = ()
    residual_nearest: bool = False


class NcnnRestorer(nn.Module):
    """RGB [0, 1] in, RGB [0, 1] out (unclamped), around an imported ncnn graph.

    Attributes
    ----------
    net : NcnnNet
        The imported graph.
    scale : int
        Upscaling factor (1 for a denoiser).
    io : GraphIO
        Padding, size multiple, constant channels and residual.
    lam_info : ModelInfo
        The registry entry.
    """

    def __init__(self, net: NcnnNet, info: ModelInfo, io: GraphIO):
        super().__init__()
        if io.pad_mode not in ("replicate", "reflect"):
            raise ValueError(f"pad_mode must be 'replicate' or 'reflect', got {io!r}")
        self.net = net
        self.scale = info.scale
        self.io = io
        self.lam_info = info
        constants = torch.tensor(io.extra_channels, dtype=torch.float32)
        self.register_buffer("constant_channels", constants.view(1, -1, 1, 1))

    def _padding(self, h: int, w: int) -> tuple[int, int, int, int]:
        p, m = self.io.pad, self.io.multiple
        return (p, p + (-(w + 2 * p)) % m, p, p + (-(h + 2 * p)) % m)

    def graph_input(self, x: Tensor) -> Tensor:
        """The graph's input for RGB ``x``: padded, with the constant channels."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(
                f"{self.lam_info.name} expects RGB input (N, 3, H, W), got "
                f"{tuple(x.shape)}"
            )
        h, w = x.shape[-2:]
        left, right, top, bottom = self._padding(h, w)
        if self.io.pad_mode == "reflect" and min(h, w) <= max(left, right, top, bottom):
            raise ValueError(
                f"{self.lam_info.name} pads by reflection: the input must be larger "
                f"than {max(left, right, top, bottom)} pixels on each side, got "
                f"{h}x{w}"
            )
        if left or right or top or bottom:
            x = F.pad(x, (left, right, top, bottom), mode=self.io.pad_mode)
        if self.constant_channels.numel():
            n, _, hp, wp = x.shape
            constants = self.constant_channels.to(x.dtype).expand(n, -1, hp, wp)
            x = torch.cat([x, constants], dim=1)
        return x

    def graph_output(self, y: Tensor, x: Tensor) -> Tensor:
        """The RGB output for input ``x`` from the graph's output ``y``."""
        s = self.scale
        h, w = x.shape[-2:]
        offset = 0 if self.io.graph_trims else s * self.io.pad
        y = y[..., offset : offset + s * h, offset : offset + s * w]
        if self.io.residual_nearest:
            y = y + F.interpolate(x, scale_factor=s, mode="nearest")
        return y

    def forward(self, x: Tensor) -> Tensor:
        y = self.net(self.graph_input(x))
        assert isinstance(y, Tensor)
        return self.graph_output(y, x)

    def extra_repr(self) -> str:
        return f"name={self.lam_info.name!r}, scale={self.scale}, io={self.io}"


def constant_channels(values: Sequence[float]) -> tuple[float, ...]:
    """Float32-exact constants (what the C++ code writes into the channels)."""
    return tuple(float(torch.tensor(v, dtype=torch.float32)) for v in values)

"""`ModelAdapter`: the glue between a user's network and LAM's images.

LAM feeds ``(N, C, H, W)`` images in [0, 1] of any size; a network may want its
own value range, a mean subtracted, an input padded to a multiple of its window
size, and a copy of the input (some modify it in place). The adapter does all of
it and crops the output back.

>>> import torch
>>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 12, 3, padding=1),
...                           torch.nn.PixelShuffle(2))
>>> model = ModelAdapter(net, input_range=255.0, pad_multiple=8).eval()
>>> model(torch.rand(1, 3, 13, 10)).shape
torch.Size([1, 3, 26, 20])
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_lam._method.checks import as_int

__all__ = ["ModelAdapter"]


class ModelAdapter(nn.Module):
    r"""Wrap a network so that it maps [0, 1] images to [0, 1] images of any size.

    ``forward(x)`` computes, for ``x`` of shape (N, C, H, W) in [0, 1]::

        y = x * input_range - mean        # the network's value range
        y = pad(y)                        # bottom/right, to a multiple
        z = model(copy of y)
        out = (z + mean) / input_range    # back to [0, 1]
        out = out[..., : H * s, : W * s]  # s = z's size / y's padded size

    Every step is differentiable and the padding is a function of ``x``, so the
    gradient (and a LAM attribution) has the shape of the unpadded input.

    Parameters
    ----------
    model : nn.Module
        The network, e.g. SwinIR trained on images in [0, 255] with the DIV2K mean
        subtracted outside the network.
    input_range : float
        Value of white for the network (1.0 or 255.0). Default 1.0.
    mean : sequence of float, optional
        Per-channel mean subtracted before and added after the network, in the
        network's range (e.g. ``(0.4488, 0.4371, 0.4040)`` for ``input_range=1``).
        Its length must equal the input's and the output's channel count.
    pad_multiple : int
        Pad H and W up to a multiple of this (SwinIR/HAT: the window size).
        Reflect padding at the bottom and right as in SwinIR's and HAT's models
        (and spandrel), continued by replicate padding where the image is too small
        to reflect that far. Default 1 (no padding).
    copy_input : bool
        Hand the network a copy of its input. Some networks (e.g. spandrel's RCAN)
        modify their input in place, which would change the caller's tensor or
        break autograd. Default True.
    min_size : int
        Pad H and W up to at least this (a network's minimum input size). Default 0.
    square : bool
        Pad to a square (for networks that need one). Default False.
    in_channels : int, optional
        Input channels the network expects; a batch with another count raises a
        ``ValueError`` that says so. Default None (no check).

    Attributes
    ----------
    model : nn.Module
        The wrapped network.

    Examples
    --------
    >>> net = torch.nn.Upsample(scale_factor=2)
    >>> model = ModelAdapter(net, input_range=255.0, mean=(114.4, 111.5, 103.0))
    >>> x = torch.rand(1, 3, 4, 4)
    >>> torch.allclose(model(x), net(x), atol=1e-5)
    True
    """

    mean: Optional[Tensor]

    def __init__(
        self,
        model: nn.Module,
        *,
        input_range: float = 1.0,
        mean: Optional[Sequence[float]] = None,
        pad_multiple: int = 1,
        copy_input: bool = True,
        min_size: int = 0,
        square: bool = False,
        in_channels: Optional[int] = None,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        input_range = float(input_range)
        if not math.isfinite(input_range) or input_range <= 0:
            raise ValueError(f"input_range must be positive, got {input_range}")
        if as_int(pad_multiple) is None:
            raise TypeError(f"pad_multiple must be an int, got {pad_multiple!r}")
        pad_multiple = int(pad_multiple)
        if pad_multiple < 1:
            raise ValueError(f"pad_multiple must be >= 1, got {pad_multiple}")
        if min_size < 0:
            raise ValueError(f"min_size must be >= 0, got {min_size}")
        self.model = model
        self.input_range = input_range
        self.pad_multiple = pad_multiple
        self.copy_input = bool(copy_input)
        self.min_size = int(min_size)
        self.square = bool(square)
        self.in_channels = in_channels
        if mean is None:
            self.register_buffer("mean", None, persistent=False)
        else:
            values = torch.as_tensor(mean, dtype=torch.float32).flatten()
            if values.numel() == 0 or not torch.isfinite(values).all():
                raise ValueError(f"mean must be finite numbers, got {mean!r}")
            self.register_buffer("mean", values.view(1, -1, 1, 1), persistent=False)

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """Size (H', W') the network sees for an input of ``height x width``."""
        if self.square:
            height = width = max(height, width)
        height, width = max(height, self.min_size), max(width, self.min_size)
        m = self.pad_multiple
        return -(-height // m) * m, -(-width // m) * m

    def forward(self, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        """Run the network on ``x``.

        Parameters
        ----------
        x : Tensor
            Shape (N, C, H, W), values in [0, 1].
        *args, **kwargs
            Passed to the network after its input.

        Returns
        -------
        Tensor
            Shape (N, C', s*H, s*W) in [0, 1] (not clamped), s the network's scale.
        """
        if x.ndim != 4:
            raise ValueError(
                f"expected an image batch (N, C, H, W), got {tuple(x.shape)}"
            )
        if self.in_channels is not None and x.shape[1] != self.in_channels:
            raise ValueError(
                f"the network expects {self.in_channels} input channels, got a batch "
                f"of shape {tuple(x.shape)}"
            )
        height, width = x.shape[-2:]
        y = x
        if self.input_range != 1.0:
            y = y * self.input_range
        mean = None
        if self.mean is not None:
            mean = self.mean.to(dtype=x.dtype, device=x.device)
            if mean.shape[1] != x.shape[1]:
                raise ValueError(
                    f"mean has {mean.shape[1]} channels but the input has {x.shape[1]}"
                )
            y = y - mean
        pad_h, pad_w = self.padded_size(height, width)
        pad_h, pad_w = pad_h - height, pad_w - width
        if pad_h or pad_w:
            y = _pad(y, pad_h, pad_w)
        if self.copy_input and y is x:
            y = x.clone()
        out = self.model(y, *args, **kwargs)
        if not isinstance(out, Tensor) or out.ndim != 4:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"the network must return (N, C, H, W), got {shape}")
        if mean is not None:
            if out.shape[1] != mean.shape[1]:
                raise ValueError(
                    f"mean has {mean.shape[1]} channels but the network's output has "
                    f"{out.shape[1]}; adding the mean back needs them equal"
                )
            out = out + mean
        if self.input_range != 1.0:
            out = out / self.input_range
        if pad_h or pad_w:
            out_h = round(height * out.shape[-2] / y.shape[-2])
            out_w = round(width * out.shape[-1] / y.shape[-1])
            out = out[..., :out_h, :out_w]
        return out

    def extra_repr(self) -> str:
        parts = [f"input_range={self.input_range:g}"]
        if self.mean is not None:
            parts.append(f"mean={[round(v, 4) for v in self.mean.flatten().tolist()]}")
        if self.pad_multiple != 1:
            parts.append(f"pad_multiple={self.pad_multiple}")
        if self.min_size:
            parts.append(f"min_size={self.min_size}")
        if self.square:
            parts.append("square=True")
        return ", ".join(parts)


def _pad(x: Tensor, pad_h: int, pad_w: int) -> Tensor:
    """Pad bottom and right: reflect as far as the image allows, then replicate."""
    height, width = x.shape[-2:]
    reflect_h, reflect_w = min(pad_h, height - 1), min(pad_w, width - 1)
    if reflect_h or reflect_w:
        x = F.pad(x, (0, reflect_w, 0, reflect_h), mode="reflect")
    if pad_h > reflect_h or pad_w > reflect_w:
        x = F.pad(x, (0, pad_w - reflect_w, 0, pad_h - reflect_h), mode="replicate")
    return x

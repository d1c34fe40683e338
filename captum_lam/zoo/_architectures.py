"""Small x4 super-resolution networks for controlled LAM studies.

Every network maps an RGB image in [0, 1] of shape (N, 3, H, W) to an RGB
image of shape (N, 3, 4H, 4W) (not clamped). They all predict a residual on
top of bicubic upsampling of the input, so an untrained network (its last
convolution is zero-initialised) starts out as bicubic interpolation.

The families vary one thing at a time:

* `PlainSR`: a plain stack of 3x3 convolutions with ReLU; depth sets the
  receptive field exactly (``2 * depth + 1`` LR pixels).
* `EDSRSmall`: EDSR-like residual blocks (a finite receptive field).
* `RCANSmall`: RCAN-like residual channel-attention blocks; the channel
  attention pools globally, so every input pixel reaches every output pixel.
* `SwinIRSmall`: SwinIR-like shifted-window self-attention (window 8).

The bicubic skip reads LR pixels within 2 of the output pixel's LR position
(``i - 2 .. i + 2``), which never widens the receptive field of a network with
at least two 3x3 convolutions in a row.

Forward passes are pure (no in-place operation on the input), work for any
batch size and any H, W >= 1, on float32 and float64 (after ``.double()``).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ARCHITECTURES",
    "EDSRSmall",
    "PlainSR",
    "RCANSmall",
    "SCALE",
    "SwinIRSmall",
    "build",
]

#: Upscaling factor of every network in the zoo.
SCALE = 4


def _conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


def _bicubic(x: Tensor, scale: int) -> Tensor:
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)


class _Upsampler(nn.Module):
    """3x3 conv to ``3 * scale**2`` channels then PixelShuffle, plus a bicubic skip.

    The conv is zero-initialised so the network starts out as bicubic
    interpolation.
    """

    def __init__(self, channels: int, scale: int = SCALE) -> None:
        super().__init__()
        self.scale = scale
        self.conv = _conv3x3(channels, 3 * scale * scale)
        self.shuffle = nn.PixelShuffle(scale)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, features: Tensor, lr: Tensor) -> Tensor:
        return self.shuffle(self.conv(features)) + _bicubic(lr, self.scale)


class PlainSR(nn.Module):
    """Plain CNN: ``depth`` 3x3 convolutions with ReLU, then PixelShuffle x4.

    Layout: conv(3 -> C) + ReLU, ``depth - 2`` times [conv(C -> C) + ReLU],
    conv(C -> 48), PixelShuffle(4), plus bicubic upsampling of the input. The
    receptive field of an output pixel is the square of side ``2 * depth + 1``
    LR pixels centred on its LR position (``(y // 4, x // 4)``).

    Parameters
    ----------
    depth : int
        Number of 3x3 convolutions (at least 2).
    channels : int
        Width C of the hidden layers.

    Shapes
    ------
    input : (N, 3, H, W), RGB in [0, 1]
    output : (N, 3, 4H, 4W)
    """

    def __init__(self, depth: int, channels: int = 32) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be at least 2, got {depth}")
        self.depth = depth
        layers: list[nn.Module] = [_conv3x3(3, channels), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [_conv3x3(channels, channels), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        for layer in self.body:
            if isinstance(layer, nn.Conv2d):
                # He initialisation keeps the signal alive through a deep plain
                # ReLU stack (PyTorch's default shrinks it layer after layer)
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
        self.upsample = _Upsampler(channels)

    @property
    def receptive_field(self) -> int:
        """Side of the square receptive field in LR pixels, ``2 * depth + 1``."""
        return 2 * self.depth + 1

    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) -> (N, 3, 4H, 4W)."""
        return self.upsample(self.body(x - 0.5), x)


class _ResBlock(nn.Module):
    """EDSR residual block: x + res_scale * conv(ReLU(conv(x)))."""

    def __init__(self, channels: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.conv1 = _conv3x3(channels, channels)
        self.conv2 = _conv3x3(channels, channels)
        self.res_scale = res_scale

    def forward(self, x: Tensor) -> Tensor:
        return x + self.res_scale * self.conv2(F.relu(self.conv1(x)))


class EDSRSmall(nn.Module):
    """EDSR-like network: residual blocks without batch norm, global residual.

    Layout: head conv(3 -> C), ``n_blocks`` residual blocks (two 3x3 convs
    each), body conv, long skip from the head, then conv(C -> 48) +
    PixelShuffle(4) plus bicubic upsampling of the input. The longest path has
    ``2 * n_blocks + 3`` 3x3 convolutions, so the receptive field is the square
    of side ``2 * (2 * n_blocks + 3) + 1`` LR pixels.

    Parameters
    ----------
    n_blocks : int
        Number of residual blocks.
    channels : int
        Width C of the features.
    res_scale : float
        Residual scaling inside the blocks.

    Shapes
    ------
    input : (N, 3, H, W), RGB in [0, 1]
    output : (N, 3, 4H, 4W)
    """

    def __init__(
        self, n_blocks: int = 6, channels: int = 48, res_scale: float = 1.0
    ) -> None:
        super().__init__()
        self.n_blocks = n_blocks
        self.head = _conv3x3(3, channels)
        self.blocks = nn.Sequential(
            *[_ResBlock(channels, res_scale) for _ in range(n_blocks)]
        )
        self.body_conv = _conv3x3(channels, channels)
        self.upsample = _Upsampler(channels)

    @property
    def receptive_field(self) -> int:
        """Side of the square receptive field in LR pixels."""
        return 2 * (2 * self.n_blocks + 3) + 1

    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) -> (N, 3, 4H, 4W)."""
        head = self.head(x - 0.5)
        features = head + self.body_conv(self.blocks(head))
        return self.upsample(features, x)


class _ChannelAttention(nn.Module):
    """RCAN channel attention: global average pool, bottleneck, sigmoid gate."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.down = nn.Conv2d(channels, hidden, 1)
        self.up = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        pooled = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.up(F.relu(self.down(pooled))))


class _RCAB(nn.Module):
    """Residual channel-attention block: x + CA(conv(ReLU(conv(x))))."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.conv1 = _conv3x3(channels, channels)
        self.conv2 = _conv3x3(channels, channels)
        self.attention = _ChannelAttention(channels, reduction)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.attention(self.conv2(F.relu(self.conv1(x))))


class _ResidualGroup(nn.Module):
    """RCAN residual group: RCABs, a conv, and a skip over the group."""

    def __init__(self, channels: int, n_blocks: int, reduction: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            *[_RCAB(channels, reduction) for _ in range(n_blocks)]
        )
        self.conv = _conv3x3(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(self.blocks(x))


class RCANSmall(nn.Module):
    """RCAN-like network: residual groups of residual channel-attention blocks.

    The channel attention averages each feature map over the whole image, so
    every input pixel influences every output pixel: the receptive field is
    global (``receptive_field`` is None).

    Parameters
    ----------
    n_groups : int
        Number of residual groups.
    n_blocks : int
        Residual channel-attention blocks per group.
    channels : int
        Width C of the features.
    reduction : int
        Channel reduction inside the attention bottleneck.

    Shapes
    ------
    input : (N, 3, H, W), RGB in [0, 1]
    output : (N, 3, 4H, 4W)
    """

    receptive_field: Optional[int] = None

    def __init__(
        self,
        n_groups: int = 2,
        n_blocks: int = 3,
        channels: int = 48,
        reduction: int = 8,
    ) -> None:
        super().__init__()
        self.head = _conv3x3(3, channels)
        self.groups = nn.Sequential(
            *[_ResidualGroup(channels, n_blocks, reduction) for _ in range(n_groups)]
        )
        self.body_conv = _conv3x3(channels, channels)
        self.upsample = _Upsampler(channels)

    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) -> (N, 3, 4H, 4W)."""
        head = self.head(x - 0.5)
        features = head + self.body_conv(self.groups(head))
        return self.upsample(features, x)


def _window_partition(x: Tensor, window: int) -> Tensor:
    """(N, H, W, C) -> (N * nW, window * window, C)."""
    n, h, w, c = x.shape
    x = x.view(n, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)


def _window_reverse(windows: Tensor, window: int, n: int, h: int, w: int) -> Tensor:
    """(N * nW, window * window, C) -> (N, H, W, C)."""
    c = windows.shape[-1]
    x = windows.view(n, h // window, w // window, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(n, h, w, c)


def _shift_mask(h: int, w: int, window: int, shift: int, like: Tensor) -> Tensor:
    """Attention mask (nW, window**2, window**2) for shifted windows (0 / -100)."""
    region = torch.zeros(1, h, w, 1, dtype=like.dtype, device=like.device)
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for hs in cuts:
        for ws in cuts:
            region[:, hs, ws, :] = label
            label += 1
    labels = _window_partition(region, window).squeeze(-1)
    diff = labels[:, None, :] - labels[:, :, None]
    return torch.where(diff != 0, torch.full_like(diff, -100.0), torch.zeros_like(diff))


class _WindowAttention(nn.Module):
    """Multi-head self-attention inside a window, with relative position bias."""

    def __init__(self, dim: int, window: int, heads: int) -> None:
        super().__init__()
        self.window = window
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        coords = torch.stack(
            torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
        ).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + window - 1
        index = rel[..., 0] * (2 * window - 1) + rel[..., 1]
        self.register_buffer("bias_index", index, persistent=False)

    def forward(self, x: Tensor, mask: Optional[Tensor]) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.bias_table[self.bias_index.view(-1)].view(n, n, self.heads)
        attn = attn + bias.permute(2, 0, 1)[None]
        if mask is not None:
            n_windows = mask.shape[0]
            attn = attn.view(b // n_windows, n_windows, self.heads, n, n)
            attn = (attn + mask[None, :, None]).view(b, self.heads, n, n)
        out = attn.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class _SwinLayer(nn.Module):
    """Swin transformer layer: (shifted) window attention and an MLP, pre-norm."""

    def __init__(
        self, dim: int, window: int, heads: int, shift: int, mlp_ratio: float
    ) -> None:
        super().__init__()
        self.window = window
        self.shift = shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = _WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)
        )

    def forward(self, x: Tensor) -> Tensor:
        """(N, H, W, C) -> (N, H, W, C); H and W are multiples of the window."""
        n, h, w, c = x.shape
        y = self.norm1(x)
        mask = None
        if self.shift:
            y = torch.roll(y, shifts=(-self.shift, -self.shift), dims=(1, 2))
            mask = _shift_mask(h, w, self.window, self.shift, y)
        y = self.attn(_window_partition(y, self.window), mask)
        y = _window_reverse(y, self.window, n, h, w)
        if self.shift:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + y
        return x + self.mlp(self.norm2(x))


class _RSTB(nn.Module):
    """Residual Swin transformer block: Swin layers, a 3x3 conv, and a skip."""

    def __init__(
        self, dim: int, depth: int, window: int, heads: int, mlp_ratio: float
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [
                _SwinLayer(
                    dim, window, heads, 0 if i % 2 == 0 else window // 2, mlp_ratio
                )
                for i in range(depth)
            ]
        )
        self.conv = _conv3x3(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, H, W)."""
        y = x.permute(0, 2, 3, 1)
        for layer in self.layers:
            y = layer(y)
        return x + self.conv(y.permute(0, 3, 1, 2))


class SwinIRSmall(nn.Module):
    """SwinIR-like network: residual Swin transformer blocks, window 8.

    The input is padded (replicate) on the bottom and right to a multiple of the
    window inside ``forward`` and the output is cropped back to (4H, 4W).
    Shifted windows chain information across windows, so the receptive field
    grows with every layer and depends on where the window grid falls; it is
    declared global (``receptive_field`` is None), conservatively.

    Parameters
    ----------
    dim : int
        Embedding width C.
    depths : tuple of int
        Number of Swin layers in each residual Swin transformer block.
    heads : int
        Attention heads.
    window : int
        Window side in LR pixels.
    mlp_ratio : float
        Hidden width of the MLPs relative to ``dim``.

    Shapes
    ------
    input : (N, 3, H, W), RGB in [0, 1]
    output : (N, 3, 4H, 4W)
    """

    receptive_field: Optional[int] = None

    def __init__(
        self,
        dim: int = 48,
        depths: tuple[int, ...] = (2, 2, 2),
        heads: int = 3,
        window: int = 8,
        mlp_ratio: float = 2.0,
    ) -> None:
        super().__init__()
        self.window = window
        self.head = _conv3x3(3, dim)
        self.blocks = nn.Sequential(
            *[_RSTB(dim, depth, window, heads, mlp_ratio) for depth in depths]
        )
        self.norm = nn.LayerNorm(dim)
        self.body_conv = _conv3x3(dim, dim)
        self.upsample = _Upsampler(dim)

    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) -> (N, 3, 4H, 4W)."""
        h, w = x.shape[-2:]
        pad_h, pad_w = (-h) % self.window, (-w) % self.window
        padded = (
            F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
        )
        head = self.head(padded - 0.5)
        features = self.blocks(head)
        features = self.norm(features.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        features = head + self.body_conv(features)
        out = self.upsample(features, padded)
        return out[..., : SCALE * h, : SCALE * w]


#: Registry name -> constructor of the untrained network, for every zoo model.
ARCHITECTURES: dict[str, Callable[[], nn.Module]] = {
    "plain-d4": lambda: PlainSR(depth=4, channels=32),
    "plain-d8": lambda: PlainSR(depth=8, channels=32),
    "plain-d12": lambda: PlainSR(depth=12, channels=32),
    "plain-d20": lambda: PlainSR(depth=20, channels=32),
    "edsr-small": lambda: EDSRSmall(n_blocks=6, channels=48),
    "rcan-small": lambda: RCANSmall(n_groups=2, n_blocks=3, channels=48),
    "swinir-small": lambda: SwinIRSmall(dim=48, depths=(2, 2), heads=3, window=8),
}


def build(name: str) -> nn.Module:
    """A freshly initialised zoo network by registry name (see ``ARCHITECTURES``)."""
    try:
        factory = ARCHITECTURES[name]
    except KeyError:
        raise ValueError(
            f"unknown zoo architecture {name!r}; valid names: "
            f"{', '.join(ARCHITECTURES)}"
        ) from None
    return factory()

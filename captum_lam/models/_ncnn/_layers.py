"""ncnn layers with weights (convolution, deconvolution, inner product, pooling...).

Every layer is an ``nn.Module`` built from its `NcnnLayerSpec` and the weight reader,
whose ``forward(*bottoms)`` returns the list of its tops.
"""

from __future__ import annotations

import math
from typing import Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_lam.models._ncnn._format import NcnnLayerSpec, _BinReader


def _param(array: np.ndarray, shape: Sequence[int]) -> nn.Parameter:
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32).copy())
    return nn.Parameter(tensor.reshape(tuple(shape)))


def _activation(x: Tensor, kind: int, params: Sequence[float], where: str) -> Tensor:
    """ncnn's fused activation (``activation_type``/``activation_params``)."""
    if kind == 0:
        return x
    if kind == 1:
        return F.relu(x)
    if kind == 2:
        return F.leaky_relu(x, float(params[0]) if params else 0.0)
    if kind == 3:
        return torch.clamp(x, float(params[0]), float(params[1]))
    if kind == 4:
        return torch.sigmoid(x)
    if kind == 5:
        return F.mish(x)
    if kind == 6:
        alpha, beta = float(params[0]), float(params[1])
        return x * torch.clamp(x * alpha + beta, 0.0, 1.0)
    raise ValueError(f"{where}: unknown activation_type {kind}")


def _check_activation(spec: NcnnLayerSpec, where: str) -> None:
    kind = spec.get_int(9, 0)
    params = spec.get_array(10)
    needed = {0: 0, 1: 0, 2: 1, 3: 2, 4: 0, 5: 0, 6: 2}
    if kind not in needed:
        raise ValueError(f"{where}: unknown activation_type {kind}")
    if kind != 2 and len(params) < needed[kind]:
        raise ValueError(f"{where}: activation_type {kind} needs {needed[kind]} params")


class _Layer(nn.Module):
    """Base class: ``forward(*bottoms) -> list of tops``."""

    def __init__(self, spec: NcnnLayerSpec, where: str):
        super().__init__()
        self.ncnn_type = spec.type
        self.ncnn_name = spec.name
        self.where = where

    def extra_repr(self) -> str:
        return f"{self.ncnn_type} {self.ncnn_name!r}"


class _Convolution(_Layer):
    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        depthwise = spec.type == "ConvolutionDepthWise"
        out_ch = spec.get_int(0, 0)
        kw = spec.get_int(1, 0)
        kh = spec.get_int(11, kw)
        self.dilation = (spec.get_int(12, spec.get_int(2, 1)), spec.get_int(2, 1))
        self.stride = (spec.get_int(13, spec.get_int(3, 1)), spec.get_int(3, 1))
        left = spec.get_int(4, 0)
        top = spec.get_int(14, left)
        right = spec.get_int(15, left)
        bottom = spec.get_int(16, top)
        self.pads = (left, right, top, bottom)
        self.pad_value = spec.get_float(18, 0.0)
        self.groups = spec.get_int(7, 1) if depthwise else 1
        weight_size = spec.get_int(6, 0)
        if spec.get_int(8, 0):
            raise ValueError(f"{where}: int8 quantised convolutions are not supported")
        if spec.get_int(19, 0):
            raise ValueError(f"{where}: dynamic_weight convolutions are not supported")
        if out_ch <= 0 or kw <= 0 or weight_size <= 0:
            raise ValueError(f"{where}: num_output, kernel and weight size must be > 0")
        per_group_in = weight_size // (out_ch * kh * kw) if out_ch * kh * kw else 0
        if per_group_in * out_ch * kh * kw != weight_size or out_ch % self.groups:
            raise ValueError(
                f"{where}: weight_data_size {weight_size} does not fit "
                f"num_output={out_ch}, kernel={kh}x{kw}, group={self.groups}"
            )
        _check_activation(spec, where)
        self.act_type = spec.get_int(9, 0)
        self.act_params = [float(v) for v in spec.get_array(10)]
        self.weight = _param(
            reader.tagged(weight_size, f"weights of {spec.name!r}"),
            (out_ch, per_group_in, kh, kw),
        )
        if spec.get_int(5, 0):
            self.bias = _param(reader.raw(out_ch, f"bias of {spec.name!r}"), (out_ch,))
        else:
            self.register_parameter("bias", None)

    def _padding(self, x: Tensor) -> tuple[int, int, int, int]:
        left, right, top, bottom = self.pads
        if left in (-233, -234) and right == left and top == left and bottom == left:
            kh, kw = self.weight.shape[-2:]
            h, w = x.shape[-2:]
            ext_h = self.dilation[0] * (kh - 1) + 1
            ext_w = self.dilation[1] * (kw - 1) + 1
            hpad = max(ext_h + (h - 1) // self.stride[0] * self.stride[0] - h, 0)
            wpad = max(ext_w + (w - 1) // self.stride[1] * self.stride[1] - w, 0)
            if left == -233:  # SAME_UPPER: the extra pixel goes right / bottom
                return (wpad // 2, wpad - wpad // 2, hpad // 2, hpad - hpad // 2)
            return (wpad - wpad // 2, wpad // 2, hpad - hpad // 2, hpad // 2)
        return (max(left, 0), max(right, 0), max(top, 0), max(bottom, 0))

    def forward(self, x: Tensor) -> list[Tensor]:
        left, right, top, bottom = self._padding(x)
        padding: Union[tuple[int, int], int] = 0
        if left == right and top == bottom and self.pad_value == 0.0:
            padding = (top, left)
        elif left or right or top or bottom:
            x = F.pad(x, (left, right, top, bottom), value=self.pad_value)
        y = F.conv2d(
            x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )
        return [_activation(y, self.act_type, self.act_params, self.where)]


class _PReLU(_Layer):
    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        count = spec.get_int(0, 0)
        if count <= 0:
            raise ValueError(f"{where}: num_slope must be > 0")
        self.slope = _param(reader.raw(count, f"slopes of {spec.name!r}"), (count,))

    def forward(self, x: Tensor) -> list[Tensor]:
        slope = self.slope
        if slope.numel() > 1:
            slope = slope.view(1, -1, *([1] * (x.dim() - 2)))
        return [torch.where(x > 0, x, x * slope)]


class _MemoryData(_Layer):
    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        w, h, d, c = (spec.get_int(k, 0) for k in (0, 1, 11, 2))
        if d:
            shape: tuple[int, ...] = (c, d, h, w)
        elif c:
            shape = (c, h, w)
        elif h:
            shape = (h, w)
        elif w:
            shape = (w,)
        else:
            shape = (1,)
        count = math.prod(shape)
        what = f"data of {spec.name!r}"
        load_type = spec.get_int(21, 1)
        values = (
            reader.raw(count, what) if load_type == 1 else reader.tagged(count, what)
        )
        tensor = torch.from_numpy(values.copy()).reshape((1,) + shape)
        self.register_buffer("data", tensor)

    def forward(self) -> list[Tensor]:
        return [self.data]

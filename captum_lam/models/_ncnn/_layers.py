"""ncnn layers with weights (convolution, deconvolution, inner product, pooling...).

Every layer is an ``nn.Module`` built from its `NcnnLayerSpec` and the weight reader,
whose ``forward(*bottoms)`` returns the list of its tops.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

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


def _window_geometry(
    spec: NcnnLayerSpec, where: str
) -> tuple[int, int, tuple[int, int], tuple[int, int]]:
    """Kernel (h, w), dilation (h, w) and stride (h, w) of a (de)convolution."""
    kw = spec.get_int(1, 0)
    kh = spec.get_int(11, kw)
    dilation = (spec.get_int(12, spec.get_int(2, 1)), spec.get_int(2, 1))
    stride = (spec.get_int(13, spec.get_int(3, 1)), spec.get_int(3, 1))
    if kw <= 0 or kh <= 0:
        raise ValueError(f"{where}: kernel size {kh}x{kw} must be > 0")
    if min(dilation) <= 0:
        raise ValueError(f"{where}: dilation {dilation} must be > 0")
    if min(stride) <= 0:
        raise ValueError(f"{where}: stride {stride} must be > 0")
    return kh, kw, dilation, stride


def _window_pads(spec: NcnnLayerSpec) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) of a (de)convolution: keys 4, 15, 14, 16."""
    left = spec.get_int(4, 0)
    top = spec.get_int(14, left)
    return left, spec.get_int(15, left), top, spec.get_int(16, top)


def _fused_activation(spec: NcnnLayerSpec, where: str) -> tuple[int, list[float]]:
    """The activation fused into a (de)convolution or inner product: type, params."""
    _check_activation(spec, where)
    return spec.get_int(9, 0), [float(v) for v in spec.get_array(10)]


def _optional_bias(
    spec: NcnnLayerSpec, reader: _BinReader, out_ch: int
) -> Optional[nn.Parameter]:
    """The bias (key 5 set) read from the weights file, else None."""
    if not spec.get_int(5, 0):
        return None
    return _param(reader.raw(out_ch, f"bias of {spec.name!r}"), (out_ch,))


class _Convolution(_Layer):
    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        depthwise = spec.type == "ConvolutionDepthWise"
        out_ch = spec.get_int(0, 0)
        kh, kw, self.dilation, self.stride = _window_geometry(spec, where)
        self.pads = _window_pads(spec)
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
        self.act_type, self.act_params = _fused_activation(spec, where)
        self.weight = _param(
            reader.tagged(weight_size, f"weights of {spec.name!r}"),
            (out_ch, per_group_in, kh, kw),
        )
        self.register_parameter("bias", _optional_bias(spec, reader, out_ch))

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


class _Deconvolution(_Layer):
    """``Deconvolution`` / ``DeconvolutionDepthWise``: a transposed convolution.

    ncnn computes the full output ``(in - 1) * stride + dilation * (k - 1) + 1`` (plus
    ``output_pad_right/bottom`` columns that hold the bias), then cuts ``pad_*``
    pixels from its borders, or cuts it to ``output_w x output_h`` (SAME_UPPER for
    -233, SAME_LOWER for -234). Weights are stored per group as
    ``(out_g, in_g, kh, kw)``.
    """

    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        depthwise = spec.type == "DeconvolutionDepthWise"
        out_ch = spec.get_int(0, 0)
        kh, kw, self.dilation, self.stride = _window_geometry(spec, where)
        self.pads = _window_pads(spec)
        self.output_pad = (spec.get_int(18, 0), spec.get_int(19, 0))
        self.output_size = (spec.get_int(21, 0), spec.get_int(20, 0))
        self.groups = spec.get_int(7, 1) if depthwise else 1
        weight_size = spec.get_int(6, 0)
        if spec.get_int(28, 0):
            raise ValueError(
                f"{where}: dynamic_weight deconvolutions are not supported"
            )
        if out_ch <= 0 or weight_size <= 0 or self.groups <= 0:
            raise ValueError(f"{where}: num_output, group and weight size must be > 0")
        in_ch = weight_size // (out_ch * kh * kw) * self.groups
        out_g = out_ch // self.groups
        if (
            out_ch % self.groups
            or in_ch % self.groups
            or in_ch // self.groups * out_ch * kh * kw != weight_size
        ):
            raise ValueError(
                f"{where}: weight_data_size {weight_size} does not fit "
                f"num_output={out_ch}, kernel={kh}x{kw}, group={self.groups}"
            )
        self.act_type, self.act_params = _fused_activation(spec, where)
        in_g = in_ch // self.groups
        stored = reader.tagged(weight_size, f"weights of {spec.name!r}")
        # ncnn (g, out_g, in_g, kh, kw) -> torch conv_transpose2d (in, out_g, kh, kw)
        weight = (
            stored.reshape(self.groups, out_g, in_g, kh, kw)
            .transpose(0, 2, 1, 3, 4)
            .reshape(in_ch, out_g, kh, kw)
        )
        self.weight = _param(weight, (in_ch, out_g, kh, kw))
        self.register_parameter("bias", _optional_bias(spec, reader, out_ch))

    def _cut(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(left, right, top, bottom) pixels to cut from the full output."""
        left, right, top, bottom = self.pads
        if left > 0 or right > 0 or top > 0 or bottom > 0:
            return (max(left, 0), max(right, 0), max(top, 0), max(bottom, 0))
        out_h, out_w = self.output_size
        if out_h > 0 and out_w > 0:
            hcut, wcut = h - out_h, w - out_w
            if -233 in self.pads:
                return (wcut // 2, wcut - wcut // 2, hcut // 2, hcut - hcut // 2)
            if -234 in self.pads:
                return (wcut - wcut // 2, wcut // 2, hcut - hcut // 2, hcut // 2)
        return (0, 0, 0, 0)

    def forward(self, x: Tensor) -> list[Tensor]:
        y = F.conv_transpose2d(
            x,
            self.weight,
            None,
            self.stride,
            0,
            0,
            self.groups,
            self.dilation,
        )
        pad_w, pad_h = self.output_pad
        if pad_w or pad_h:
            y = F.pad(y, (0, pad_w, 0, pad_h))
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        y = _activation(y, self.act_type, self.act_params, self.where)
        left, right, top, bottom = self._cut(*y.shape[-2:])
        if left or right or top or bottom:
            h, w = y.shape[-2:]
            y = y[..., top : h - bottom, left : w - right]
        return [y]


class _InnerProduct(_Layer):
    """``InnerProduct``: a fully connected layer; a ``[w, h, c]`` blob is flattened."""

    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        out_features = spec.get_int(0, 0)
        weight_size = spec.get_int(2, 0)
        if spec.get_int(8, 0):
            raise ValueError(
                f"{where}: int8 quantised inner products are not supported"
            )
        if out_features <= 0 or weight_size <= 0 or weight_size % out_features:
            raise ValueError(
                f"{where}: weight_data_size {weight_size} does not fit "
                f"num_output={out_features}"
            )
        self.act_type, self.act_params = _fused_activation(spec, where)
        self.weight = _param(
            reader.tagged(weight_size, f"weights of {spec.name!r}"),
            (out_features, weight_size // out_features),
        )
        if spec.get_int(1, 0):
            self.bias = _param(
                reader.raw(out_features, f"bias of {spec.name!r}"), (out_features,)
            )
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> list[Tensor]:
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.weight.shape[1]:
            raise ValueError(
                f"{self.where}: input has {flat.shape[1]} values, the weights expect "
                f"{self.weight.shape[1]}"
            )
        y = F.linear(flat, self.weight, self.bias)
        return [_activation(y, self.act_type, self.act_params, self.where)]


class _Scale(_Layer):
    """``Scale``: per-channel multiply (+ bias); the scale is the second input blob
    when ``scale_data_size`` is -233, otherwise a weight."""

    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        size = spec.get_int(0, 0)
        self.from_blob = size == -233
        expected = 2 if self.from_blob else 1
        if len(spec.bottoms) != expected:
            raise ValueError(
                f"{where}: Scale with scale_data_size={size} needs {expected} input "
                f"blob(s), has {len(spec.bottoms)}"
            )
        if not self.from_blob and size <= 0:
            raise ValueError(f"{where}: scale_data_size must be > 0 or -233")
        if self.from_blob:
            self.register_parameter("scale", None)
        else:
            self.scale = _param(reader.raw(size, f"scale of {spec.name!r}"), (size,))
        if spec.get_int(1, 0):
            if self.from_blob:
                raise ValueError(
                    f"{where}: a Scale whose scale is an input blob takes no bias here"
                )
            self.bias = _param(reader.raw(size, f"bias of {spec.name!r}"), (size,))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor, scale: Optional[Tensor] = None) -> list[Tensor]:
        trailing = (1,) * (x.dim() - 2)
        if self.from_blob:
            assert scale is not None
            if scale.numel() != x.shape[0] * x.shape[1]:
                raise ValueError(
                    f"{self.where}: scale blob {tuple(scale.shape)} does not have one "
                    f"value per channel of {tuple(x.shape)}"
                )
            factor = scale.reshape(x.shape[0], x.shape[1], *trailing)
        else:
            factor = self.scale.view(1, -1, *trailing)
        y = x * factor
        if self.bias is not None:
            y = y + self.bias.view(1, -1, *trailing)
        return [y]


class _Pooling(_Layer):
    """``Pooling``: max or average, global (to a ``[c]`` blob) or windowed.

    Windowed pooling follows ncnn's ``pad_mode``: 0 full (ceil mode: extra right and
    bottom padding so that every input pixel is covered), 1 valid, 2 SAME_UPPER,
    3 SAME_LOWER. Max pooling pads with -inf; average pooling divides by the pixels
    in the window, counting the explicit padding only with
    ``avgpool_count_include_pad``, never ncnn's extra full-mode padding, and always
    the computed SAME padding (as ncnn does).
    """

    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        self.kind = spec.get_int(0, 0)
        if self.kind not in (0, 1):
            raise ValueError(
                f"{where}: pooling_type {self.kind} is not supported (0 max, 1 avg)"
            )
        self.global_pooling = bool(spec.get_int(4, 0))
        if spec.get_int(7, 0):
            raise ValueError(f"{where}: adaptive pooling is not supported")
        kw = spec.get_int(1, 0)
        kh = spec.get_int(11, kw)
        sw = spec.get_int(2, 1)
        sh = spec.get_int(12, sw)
        if not self.global_pooling and (min(kw, kh) <= 0 or min(sw, sh) <= 0):
            raise ValueError(
                f"{where}: kernel {kh}x{kw} and stride {sh}x{sw} must be > 0"
            )
        self.kernel = (kh, kw)
        self.stride = (sh, sw)
        left = spec.get_int(3, 0)
        top = spec.get_int(13, left)
        right = spec.get_int(14, left)
        bottom = spec.get_int(15, top)
        self.pads = (left, right, top, bottom)
        self.pad_mode = spec.get_int(5, 0)
        if self.pad_mode not in (0, 1, 2, 3):
            raise ValueError(f"{where}: unknown pad_mode {self.pad_mode}")
        self.count_include_pad = bool(spec.get_int(6, 0))

    def _padding(self, h: int, w: int) -> tuple[tuple[int, int, int, int], int, int]:
        """Explicit (left, right, top, bottom) padding, extra right/bottom padding."""
        (kh, kw), (sh, sw) = self.kernel, self.stride
        left, right, top, bottom = self.pads
        if self.pad_mode == 1:
            return (left, right, top, bottom), 0, 0
        if self.pad_mode in (2, 3):
            wpad = kw + (w - 1) // sw * sw - w
            hpad = kh + (h - 1) // sh * sh - h
            wpad, hpad = max(wpad, 0), max(hpad, 0)
            if self.pad_mode == 2:
                return (wpad // 2, wpad - wpad // 2, hpad // 2, hpad - hpad // 2), 0, 0
            return (wpad - wpad // 2, wpad // 2, hpad - hpad // 2, hpad // 2), 0, 0
        wtail = (w + left + right - kw) % sw
        htail = (h + top + bottom - kh) % sh
        return (
            (left, right, top, bottom),
            (sw - wtail if wtail else 0),
            (sh - htail if htail else 0),
        )

    def forward(self, x: Tensor) -> list[Tensor]:
        if self.global_pooling:
            if self.kind == 0:
                return [x.amax(dim=tuple(range(2, x.dim())))]
            return [x.mean(dim=tuple(range(2, x.dim())))]
        if x.dim() != 4:
            raise ValueError(f"{self.where}: windowed Pooling needs a [w, h, c] blob")
        h, w = x.shape[-2:]
        (left, right, top, bottom), extra_w, extra_h = self._padding(h, w)
        border = (left, right + extra_w, top, bottom + extra_h)
        if self.kind == 0:
            padded = F.pad(x, border, value=-math.inf)
            return [F.max_pool2d(padded, self.kernel, self.stride)]
        padded = F.pad(x, border)
        sums = F.avg_pool2d(padded, self.kernel, self.stride, divisor_override=1)
        ones = x.new_ones((1, 1, h, w))
        if self.pad_mode in (2, 3):  # ncnn counts its computed SAME padding
            counted = F.pad(ones, border, value=1.0)
        elif self.count_include_pad:
            counted = F.pad(ones, (left, right, top, bottom), value=1.0)
            counted = F.pad(counted, (0, extra_w, 0, extra_h))
        else:
            counted = F.pad(ones, border)
        counts = F.avg_pool2d(counted, self.kernel, self.stride, divisor_override=1)
        return [sums / counts]

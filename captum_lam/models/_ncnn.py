"""Import ncnn models (``.param`` graph + ``.bin`` weights) as torch modules.

`load_ncnn` parses the text graph of an ncnn model and its weight file and returns an
`NcnnNet`: an ``nn.Module`` whose weights are float32 ``nn.Parameter`` objects and whose
forward pass replays the graph, layer by layer in the file's (topological) order, with
plain out-of-place torch operations. The result can be moved with ``.to(device, dtype)``
and differentiated with autograd, which is what attribution methods need; ncnn itself
has no gradients.

Only the layer types that image-restoration networks use are covered (see
`SUPPORTED_LAYERS`); an unknown type raises a ``ValueError`` naming the type, the layer
and the file.

Blob layout
-----------
An ncnn blob of shape ``[w, h, c]`` (ncnn lists the innermost axis first) is held as a
torch tensor ``(N, c, h, w)``: the batch axis is prepended, so one graph run processes
a whole batch. Lower-rank blobs (``MemoryData`` constants) are ``(1, h, w)`` or
``(1, w)``.

File formats (ncnn ``docs/developer-guide/param-and-model-file-structure.md``)
--------------------------------------------------------------------------------
``.param``: the magic line ``7767517``, a line ``layer_count blob_count``, then one line
per layer: ``type name n_bottoms n_tops bottoms... tops... key=value...``. A key
``0..`` holds an int (no ``.``/``e`` in the text) or a float; a key ``-23300 - k``
holds the array parameter ``k`` written as ``count,v1,v2,...``.

``.bin``: the weights of the layers, in layer order, each buffer padded to 4 bytes. A
buffer loaded with a *tag* (the weights of Convolution) starts with a little-endian
uint32: ``0`` float32 data follows, ``0x01306B47`` float16, ``0x01348B83`` bfloat16,
``0x000D4B38`` int8 (unsupported here), ``0x0002C056`` float32 with extra scaling (read
as float32), any other non-zero value a 256-entry float32 table followed by uint8
indices. Buffers loaded without a tag (biases, PReLU slopes, MemoryData) are raw
float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "NcnnLayerSpec",
    "NcnnNet",
    "SUPPORTED_LAYERS",
    "load_ncnn",
    "parse_param",
]

PARAM_MAGIC = 7767517
TAG_FLOAT32 = 0x00000000
TAG_FLOAT16 = 0x01306B47
TAG_BFLOAT16 = 0x01348B83
TAG_INT8 = 0x000D4B38
TAG_FLOAT32_SCALED = 0x0002C056
_ARRAY_KEY_BASE = -23300

PathLike = Union[str, Path]
ParamValue = Union[int, float, str, list]


# --------------------------------------------------------------------------- parsing


@dataclass
class NcnnLayerSpec:
    """One layer line of a ``.param`` file."""

    type: str
    name: str
    bottoms: list[str]
    tops: list[str]
    params: dict[int, ParamValue] = field(default_factory=dict)

    def get(self, key: int, default: Any = None) -> Any:
        return self.params.get(key, default)

    def get_int(self, key: int, default: int) -> int:
        value = self.params.get(key, default)
        return int(value)

    def get_float(self, key: int, default: float) -> float:
        value = self.params.get(key, default)
        return float(value)

    def get_array(self, key: int) -> list:
        value = self.params.get(key, [])
        return list(value) if isinstance(value, list) else [value]


def _parse_scalar(text: str) -> Union[int, float, str]:
    # ncnn's rule: a value with '.', 'e' or 'E' is a float, otherwise an int.
    try:
        if any(ch in text for ch in ".eE") and not text.lower().startswith("0x"):
            return float(text)
        return int(text)
    except ValueError:
        try:
            return float(text)  # "inf", "nan"
        except ValueError:
            return text  # modern ncnn string parameter


def _parse_value(key: int, text: str, where: str) -> tuple[int, ParamValue]:
    if key <= _ARRAY_KEY_BASE:
        items = text.split(",")
        try:
            count = int(items[0])
        except ValueError as exc:
            raise ValueError(f"{where}: bad array parameter {key}={text!r}") from exc
        values = [_parse_scalar(item) for item in items[1:]]
        if len(values) != count:
            raise ValueError(
                f"{where}: array parameter {key} announces {count} values, "
                f"has {len(values)}"
            )
        return _ARRAY_KEY_BASE - key, values
    if "," in text:  # modern ncnn: array without the count prefix
        return key, [_parse_scalar(item) for item in text.split(",")]
    return key, _parse_scalar(text)


def parse_param(path: PathLike) -> list[NcnnLayerSpec]:
    """Parse a text ``.param`` file into its layer lines, in file order."""
    path = Path(path)
    lines = [line.strip() for line in path.read_text().splitlines()]
    lines = [line for line in lines if line]
    if not lines or lines[0] != str(PARAM_MAGIC):
        raise ValueError(
            f"{path}: not an ncnn text param file (first line must be {PARAM_MAGIC})"
        )
    try:
        layer_count, _blob_count = (int(v) for v in lines[1].split())
    except (IndexError, ValueError) as exc:
        raise ValueError(
            f"{path}: second line must be 'layer_count blob_count'"
        ) from exc
    body = lines[2:]
    if len(body) != layer_count:
        raise ValueError(
            f"{path}: header announces {layer_count} layers, file has {len(body)}"
        )
    layers = []
    for number, line in enumerate(body, start=3):
        tokens = line.split()
        where = f"{path}:{number}"
        if len(tokens) < 4:
            raise ValueError(f"{where}: malformed layer line {line!r}")
        type_, name = tokens[0], tokens[1]
        n_bottoms, n_tops = int(tokens[2]), int(tokens[3])
        blobs_end = 4 + n_bottoms + n_tops
        if len(tokens) < blobs_end:
            raise ValueError(f"{where}: layer {name!r} lists too few blob names")
        bottoms = tokens[4 : 4 + n_bottoms]
        tops = tokens[4 + n_bottoms : blobs_end]
        params: dict[int, ParamValue] = {}
        for token in tokens[blobs_end:]:
            key_text, sep, value_text = token.partition("=")
            if not sep:
                raise ValueError(f"{where}: bad parameter {token!r} in layer {name!r}")
            key, value = _parse_value(int(key_text), value_text, where)
            params[key] = value
        layers.append(NcnnLayerSpec(type_, name, bottoms, tops, params))
    return layers


class _BinReader:
    """Sequential reader of an ncnn ``.bin`` weight file."""

    def __init__(self, path: PathLike):
        self.path = Path(path)
        self.data = self.path.read_bytes()
        self.offset = 0

    def _take(self, nbytes: int, what: str) -> bytes:
        end = self.offset + nbytes
        if end > len(self.data):
            raise ValueError(
                f"{self.path}: file ends at byte {len(self.data)} while reading {what} "
                f"({nbytes} bytes at offset {self.offset}); param and bin do not match"
            )
        chunk = self.data[self.offset : end]
        # every buffer is padded to a multiple of 4 bytes
        self.offset = end + (-nbytes) % 4
        return chunk

    def raw(self, count: int, what: str) -> np.ndarray:
        """``count`` float32 values without a tag (biases, slopes, MemoryData)."""
        return np.frombuffer(self._take(4 * count, what), dtype="<f4").astype(
            np.float32
        )

    def tagged(self, count: int, what: str) -> np.ndarray:
        """``count`` values preceded by a storage tag (Convolution weights)."""
        tag_bytes = self._take(4, what + " tag")
        tag = int.from_bytes(tag_bytes, "little")
        if tag == TAG_FLOAT16:
            half = np.frombuffer(self._take(2 * count, what), dtype="<f2")
            return half.astype(np.float32)
        if tag == TAG_BFLOAT16:
            bf16 = np.frombuffer(self._take(2 * count, what), dtype="<u2")
            return (bf16.astype(np.uint32) << 16).view(np.float32)
        if tag == TAG_INT8:
            raise ValueError(
                f"{self.path}: {what} is stored as int8 (tag 0x000D4B38), which this "
                "importer does not support"
            )
        if tag == TAG_FLOAT32_SCALED or tag == TAG_FLOAT32:
            return self.raw(count, what)
        if sum(tag_bytes) != 0:
            table = np.frombuffer(self._take(256 * 4, what + " table"), dtype="<f4")
            index = np.frombuffer(self._take(count, what), dtype=np.uint8)
            return table[index].astype(np.float32)
        raise ValueError(f"{self.path}: unknown storage tag {tag:#010x} for {what}")

    @property
    def remaining(self) -> int:
        return len(self.data) - self.offset


# --------------------------------------------------------------------------- layers


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


def _align_for_binary(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """ncnn's broadcasting: a lower-rank blob aligns with the *outer* axes.

    A ``[c]`` blob combined with a ``[w, h, c]`` blob is per-channel, a ``[h, c]`` one
    (torch ``(c, h)``) per channel and row: the opposite of numpy's rule. Trailing
    singleton axes are appended to the lower-rank operand, then torch broadcasts.
    """
    if a.dim() < b.dim():
        a = a.reshape(a.shape + (1,) * (b.dim() - a.dim()))
    elif b.dim() < a.dim():
        b = b.reshape(b.shape + (1,) * (a.dim() - b.dim()))
    return a, b


_BINARY_OPS: dict[int, Callable[[Tensor, Tensor], Tensor]] = {
    0: torch.add,
    1: torch.sub,
    2: torch.mul,
    3: torch.div,
    4: torch.maximum,
    5: torch.minimum,
    6: torch.pow,
    7: lambda a, b: torch.sub(b, a),
    8: lambda a, b: torch.div(b, a),
    9: lambda a, b: torch.pow(b, a),
    10: torch.atan2,
    11: lambda a, b: torch.atan2(b, a),
}
_BINARY_NAMES = {
    0: "add",
    1: "sub",
    2: "mul",
    3: "div",
    4: "max",
    5: "min",
    6: "pow",
    7: "rsub",
    8: "rdiv",
    9: "rpow",
    10: "atan2",
    11: "ratan2",
}


class _BinaryOp(_Layer):
    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        self.op_type = spec.get_int(0, 0)
        if self.op_type not in _BINARY_OPS:
            raise ValueError(f"{where}: unknown BinaryOp op_type {self.op_type}")
        self.with_scalar = bool(spec.get_int(1, 0))
        self.b = spec.get_float(2, 0.0)
        expected = 1 if self.with_scalar else 2
        if len(spec.bottoms) != expected:
            raise ValueError(
                f"{where}: BinaryOp with with_scalar={int(self.with_scalar)} needs "
                f"{expected} input blob(s), has {len(spec.bottoms)}"
            )

    def extra_repr(self) -> str:
        op = _BINARY_NAMES[self.op_type]
        return super().extra_repr() + (
            f", {op} {self.b:g}" if self.with_scalar else f", {op}"
        )

    def forward(self, a: Tensor, b: Optional[Tensor] = None) -> list[Tensor]:
        if self.with_scalar:
            b = torch.as_tensor(self.b, dtype=a.dtype, device=a.device)
        else:
            assert b is not None
            a, b = _align_for_binary(a, b)
        return [_BINARY_OPS[self.op_type](a, b)]


class _Eltwise(_Layer):
    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        self.op_type = spec.get_int(0, 0)
        if self.op_type not in (0, 1, 2):
            raise ValueError(f"{where}: unknown Eltwise op_type {self.op_type}")
        self.coeffs = [float(v) for v in spec.get_array(1)]
        if self.coeffs and len(self.coeffs) != len(spec.bottoms):
            raise ValueError(
                f"{where}: Eltwise has {len(self.coeffs)} coeffs for "
                f"{len(spec.bottoms)} inputs"
            )

    def forward(self, *xs: Tensor) -> list[Tensor]:
        if self.op_type == 0:
            out = xs[0]
            for x in xs[1:]:
                out = out * x
        elif self.op_type == 1:
            coeffs = self.coeffs or [1.0] * len(xs)
            out = xs[0] * coeffs[0] if coeffs[0] != 1.0 else xs[0]
            for c, x in zip(coeffs[1:], xs[1:]):
                out = out + (x * c if c != 1.0 else x)
        else:
            out = xs[0]
            for x in xs[1:]:
                out = torch.maximum(out, x)
        return [out]


class _Split(_Layer):
    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        self.count = len(spec.tops)

    def forward(self, x: Tensor) -> list[Tensor]:
        return [x] * self.count


class _Concat(_Layer):
    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        self.axis = spec.get_int(0, 0)

    def forward(self, *xs: Tensor) -> list[Tensor]:
        dims = xs[0].dim() - 1  # ncnn rank, without the batch axis
        axis = self.axis + dims if self.axis < 0 else self.axis
        if not 0 <= axis < dims:
            raise ValueError(
                f"{self.where}: Concat axis {self.axis} for a {dims}-d blob"
            )
        return [torch.cat(xs, dim=axis + 1)]


class _Interp(_Layer):
    _MODES = {1: "nearest", 2: "bilinear", 3: "bicubic"}

    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        self.resize_type = spec.get_int(0, 0)
        if self.resize_type not in self._MODES:
            raise ValueError(
                f"{where}: Interp resize_type {self.resize_type} is not supported "
                "(1 nearest, 2 bilinear, 3 bicubic)"
            )
        self.height_scale = spec.get_float(1, 1.0)
        self.width_scale = spec.get_float(2, 1.0)
        self.output_height = spec.get_int(3, 0)
        self.output_width = spec.get_int(4, 0)
        self.dynamic = bool(spec.get_int(5, 0))
        self.align_corner = bool(spec.get_int(6, 0))

    def forward(self, x: Tensor, ref: Optional[Tensor] = None) -> list[Tensor]:
        if x.dim() != 4:
            raise ValueError(f"{self.where}: Interp supports [w, h, c] blobs only")
        h, w = x.shape[-2:]
        if self.dynamic:
            if ref is None:
                raise ValueError(f"{self.where}: dynamic Interp needs a second input")
            outh, outw = ref.shape[-2:]
        elif self.output_height and self.output_width:
            outh, outw = self.output_height, self.output_width
        else:  # ncnn multiplies in float32 and truncates
            outh = int(np.float32(h) * np.float32(self.height_scale))
            outw = int(np.float32(w) * np.float32(self.width_scale))
        if outh == h and outw == w:
            return [x]
        if self.resize_type == 1:
            # ncnn: source index = min(floor(dst * hs), h - 1), hs = 1 / scale when
            # the size comes from a scale factor, h / outh otherwise
            fixed = self.dynamic or (self.output_height and self.output_width)
            hs = (
                np.float32(h) / np.float32(outh)
                if fixed
                else 1 / np.float32(self.height_scale)
            )
            ws = (
                np.float32(w) / np.float32(outw)
                if fixed
                else 1 / np.float32(self.width_scale)
            )
            iy = np.minimum(
                (np.arange(outh, dtype=np.float32) * hs).astype(np.int64), h - 1
            )
            ix = np.minimum(
                (np.arange(outw, dtype=np.float32) * ws).astype(np.int64), w - 1
            )
            iy_t = torch.from_numpy(iy).to(x.device)
            ix_t = torch.from_numpy(ix).to(x.device)
            return [x.index_select(-2, iy_t).index_select(-1, ix_t)]
        # ncnn's bilinear/bicubic: half-pixel centres (or corner alignment), cubic
        # coefficient A = -0.75, replicated borders, as torch's interpolate. The
        # source/destination ratio is in / out for a fixed size or align_corner, and
        # 1 / scale when the size comes from scale factors (torch's
        # recompute_scale_factor=False).
        mode = self._MODES[self.resize_type]
        fixed = self.dynamic or (self.output_height and self.output_width)
        if not fixed and not self.align_corner:
            y = F.interpolate(
                x,
                scale_factor=(self.height_scale, self.width_scale),
                mode=mode,
                align_corners=False,
                recompute_scale_factor=False,
            )
            if y.shape[-2:] == (outh, outw):
                return [y]
        y = F.interpolate(
            x, size=(int(outh), int(outw)), mode=mode, align_corners=self.align_corner
        )
        return [y]


class _PixelShuffle(_Layer):
    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        self.factor = spec.get_int(0, 1)
        self.mode = spec.get_int(1, 0)
        if self.factor < 1 or self.mode not in (0, 1):
            raise ValueError(f"{where}: bad PixelShuffle factor/mode")

    def forward(self, x: Tensor) -> list[Tensor]:
        r = self.factor
        if self.mode == 0:  # CRD, as torch.nn.PixelShuffle
            return [F.pixel_shuffle(x, r)]
        n, c, h, w = x.shape  # DCR, as ONNX DepthToSpace mode="DCR"
        y = x.reshape(n, r, r, c // (r * r), h, w).permute(0, 3, 4, 1, 5, 2)
        return [y.reshape(n, c // (r * r), h * r, w * r)]


class _Elementwise(_Layer):
    """One-input activations without weights."""

    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        t = spec.type
        if t == "ReLU":
            slope = spec.get_float(0, 0.0)
            self.fn: Callable[[Tensor], Tensor] = (
                F.relu if slope == 0.0 else (lambda x: F.leaky_relu(x, slope))
            )
        elif t == "Sigmoid":
            self.fn = torch.sigmoid
        elif t == "Swish":
            self.fn = lambda x: x * torch.sigmoid(x)
        elif t == "TanH":
            self.fn = torch.tanh
        elif t == "Mish":
            self.fn = F.mish
        elif t == "AbsVal":
            self.fn = torch.abs
        elif t == "Clip":
            lo = spec.get_float(0, -float(np.finfo(np.float32).max))
            hi = spec.get_float(1, float(np.finfo(np.float32).max))
            self.fn = lambda x: torch.clamp(x, lo, hi)
        elif t in ("HardSwish", "HardSigmoid"):
            alpha, beta = spec.get_float(0, 0.2), spec.get_float(1, 0.5)
            if t == "HardSwish":
                self.fn = lambda x: x * torch.clamp(x * alpha + beta, 0.0, 1.0)
            else:
                self.fn = lambda x: torch.clamp(x * alpha + beta, 0.0, 1.0)
        elif t == "ELU":
            alpha = spec.get_float(0, 0.1)
            self.fn = lambda x: F.elu(x, alpha)
        elif t == "GELU":
            approx = "tanh" if spec.get_int(0, 0) else "none"
            self.fn = lambda x: F.gelu(x, approximate=approx)
        elif t == "Dropout":
            scale = spec.get_float(0, 1.0)
            self.fn = (lambda x: x) if scale == 1.0 else (lambda x: x * scale)
        elif t == "Noop":
            self.fn = lambda x: x
        else:  # pragma: no cover - guarded by the builder table
            raise ValueError(f"{where}: no elementwise rule for {t}")

    def forward(self, x: Tensor) -> list[Tensor]:
        return [self.fn(x)]


_BUILDERS: dict[str, Callable[[NcnnLayerSpec, _BinReader, str], _Layer]] = {
    "Convolution": _Convolution,
    "ConvolutionDepthWise": _Convolution,
    "PReLU": _PReLU,
    "MemoryData": _MemoryData,
    "BinaryOp": _BinaryOp,
    "Eltwise": _Eltwise,
    "Split": _Split,
    "Concat": _Concat,
    "Interp": _Interp,
    "PixelShuffle": _PixelShuffle,
}
for _name in (
    "ReLU",
    "Sigmoid",
    "Swish",
    "TanH",
    "Mish",
    "AbsVal",
    "Clip",
    "HardSwish",
    "HardSigmoid",
    "ELU",
    "GELU",
    "Dropout",
    "Noop",
):
    _BUILDERS[_name] = _Elementwise

#: ncnn layer types that `load_ncnn` can import.
SUPPORTED_LAYERS = tuple(sorted(["Input", *_BUILDERS]))


# --------------------------------------------------------------------------- network


class NcnnNet(nn.Module):
    """An ncnn graph replayed with torch operations.

    ``forward(*inputs)`` takes one ``(N, C, H, W)`` tensor per ``Input`` layer (in
    file order) and returns the output blob (a tuple when there are several outputs).

    Attributes
    ----------
    layers : nn.ModuleList
        One module per non-Input layer, in execution order; each has ``ncnn_type``
        and ``ncnn_name``.
    input_names, output_names : list of str
        Blob names of the graph inputs and of the returned outputs.
    param_path, bin_path : str
        The files the network was read from.
    """

    def __init__(
        self,
        layers: list[_Layer],
        specs: list[NcnnLayerSpec],
        input_names: list[str],
        output_names: list[str],
        param_path: str,
        bin_path: str,
    ):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self._bottoms = [list(spec.bottoms) for spec in specs]
        self._tops = [list(spec.tops) for spec in specs]
        self.input_names = list(input_names)
        self.output_names = list(output_names)
        self.param_path = param_path
        self.bin_path = bin_path
        # free each blob after its last use, keep the outputs
        last_use: dict[str, int] = {}
        for index, bottoms in enumerate(self._bottoms):
            for blob in bottoms:
                last_use[blob] = index
        self._release: list[list[str]] = [[] for _ in layers]
        for blob, index in last_use.items():
            if blob not in self.output_names:
                self._release[index].append(blob)

    def forward(self, *inputs: Tensor) -> Union[Tensor, tuple[Tensor, ...]]:
        if len(inputs) != len(self.input_names):
            raise ValueError(
                f"this ncnn net takes {len(self.input_names)} input(s) "
                f"{self.input_names}, got {len(inputs)}"
            )
        blobs: dict[str, Tensor] = {}
        for name, x in zip(self.input_names, inputs):
            if x.dim() != 4:
                raise ValueError(
                    f"input {name!r} must be (N, C, H, W), got shape {tuple(x.shape)}"
                )
            blobs[name] = x
        for layer, bottoms, tops, release in zip(
            self.layers, self._bottoms, self._tops, self._release
        ):
            outs = layer(*[blobs[b] for b in bottoms])
            for top, out in zip(tops, outs):
                blobs[top] = out
            for blob in release:
                blobs.pop(blob, None)
        outputs = tuple(blobs[name] for name in self.output_names)
        return outputs[0] if len(outputs) == 1 else outputs

    def extra_repr(self) -> str:
        return f"param_path={self.param_path!r}"


def load_ncnn(
    param_path: PathLike,
    bin_path: PathLike,
    outputs: Optional[Sequence[str]] = None,
) -> NcnnNet:
    """Read an ncnn model into a differentiable `NcnnNet`.

    Parameters
    ----------
    param_path, bin_path : str or Path
        The text graph (``.param``) and the weights (``.bin``).
    outputs : sequence of str, optional
        Blob names to return; by default every blob that no layer consumes.

    Raises
    ------
    ValueError
        Malformed files, a layer type this importer does not know (the message names
        the type, the layer and the file), or weights that do not match the graph.
    """
    param_path, bin_path = Path(param_path), Path(bin_path)
    specs = parse_param(param_path)
    reader = _BinReader(bin_path)
    layers: list[_Layer] = []
    kept: list[NcnnLayerSpec] = []
    input_names: list[str] = []
    produced: set[str] = set()
    consumed: set[str] = set()
    order: list[str] = []
    for spec in specs:
        where = f"{param_path}: layer {spec.name!r} ({spec.type})"
        for blob in spec.bottoms:
            if blob not in produced:
                raise ValueError(
                    f"{where} reads blob {blob!r} before any layer produces it"
                )
            consumed.add(blob)
        produced.update(spec.tops)
        order.extend(spec.tops)
        if spec.type == "Input":
            input_names.extend(spec.tops)
            continue
        builder = _BUILDERS.get(spec.type)
        if builder is None:
            raise ValueError(
                f"unsupported ncnn layer type {spec.type!r} (layer {spec.name!r}) in "
                f"{param_path}; supported: {', '.join(SUPPORTED_LAYERS)}"
            )
        layers.append(builder(spec, reader, where))
        kept.append(spec)
    if reader.remaining:
        raise ValueError(
            f"{bin_path}: {reader.remaining} bytes left after reading the weights of "
            f"{param_path}; param and bin do not match"
        )
    if outputs is None:
        output_names = [blob for blob in order if blob not in consumed]
    else:
        output_names = list(outputs)
        missing = [blob for blob in output_names if blob not in produced]
        if missing:
            raise ValueError(f"{param_path}: no blob named {missing}")
    if not input_names:
        raise ValueError(f"{param_path}: the graph has no Input layer")
    return NcnnNet(
        layers, kept, input_names, output_names, str(param_path), str(bin_path)
    )

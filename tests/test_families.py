"""SRMD, RealSR, waifu2x, Real-CUGAN: the registry entries vs ncnn's inference."""

from __future__ import annotations

import copy
import importlib.util

import pytest
import torch

from captum_lam import LAM
from captum_lam.images import (
    bicubic_downsample,
    bicubic_upsample,
    psnr_y,
    sample_image,
)
from captum_lam.models import _pretrained
from captum_lam.models._ncnn_restorer import NcnnRestorer
from captum_lam.models._pretrained import PRETRAINED, is_installed, load_pretrained
from captum_lam.models._pretrained_families import FAMILY_ENTRIES

from .test_ncnn import _ncnn_inference

torch.set_num_threads(1)

ISSUE_NAMES = [
    "srmd-x2",
    "srmd-x3",
    "srmd-x4",
    "srmdnf-x2",
    "srmdnf-x3",
    "srmdnf-x4",
    "realsr-df2k-x4",
    "waifu2x-upconv7-photo-x2",
    "waifu2x-upconv7-anime-x2",
    "waifu2x-cunet-x2",
    "waifu2x-cunet-noise0-x1",
    "waifu2x-cunet-noise1-x1",
    "waifu2x-cunet-noise2-x1",
    "waifu2x-cunet-noise3-x1",
    "realcugan-se-x2",
    "realcugan-se-x3",
    "realcugan-se-x4",
    "realcugan-pro-x2",
    "realcugan-pro-x3",
    "realcugan-nose-x2",
]


def _load(name: str) -> NcnnRestorer:
    if not is_installed(name):
        pytest.skip(f"{name} needs pip package {PRETRAINED[name].package}")
    model = load_pretrained(name)
    assert isinstance(model, NcnnRestorer)
    return model


def test_catalogue_has_the_issue_names_with_their_facts():
    assert [e.info.name for e in FAMILY_ENTRIES] == ISSUE_NAMES
    for name in ISSUE_NAMES:
        info = PRETRAINED[name]
        assert info.family and info.paper and info.license and info.package
        assert info.scale == int(name[-1])
        assert info.task == ("denoising" if info.scale == 1 else "super-resolution")
    # global pooling (SE blocks) means no finite receptive field
    for name in ("waifu2x-cunet-x2", "realcugan-se-x2", "realcugan-pro-x3"):
        assert PRETRAINED[name].receptive_field is None
    assert "no licence file" in PRETRAINED["realsr-df2k-x4"].license
    assert "states no licence" in PRETRAINED["srmd-x2"].license
    assert "CVPR 2018" in PRETRAINED["srmd-x4"].paper


@pytest.mark.skipif(
    importlib.util.find_spec("ncnn") is None, reason="the ncnn pip package is absent"
)
@pytest.mark.parametrize("name", ISSUE_NAMES)
def test_equals_ncnn_inference_end_to_end(name):
    """The wrapped graph equals ncnn's own CPU inference of the same graph input;
    sides that are not multiples (odd, not a multiple of 4) come back at full size."""
    model = _load(name)
    side = 12 if name == "realsr-df2k-x4" else 21
    x = sample_image("coffee")[..., 100 : 100 + side, 200 : 200 + side + 2]
    x = x.contiguous()
    with torch.no_grad():
        ours = model(x)
        graph_input = model.graph_input(x)
    param, weights = _pretrained.model_files(name)
    theirs = _ncnn_inference(
        param,
        weights,
        graph_input,
        input=model.net.input_names[0],
        output=model.net.output_names[0],
    )
    theirs = model.graph_output(theirs, x)
    s = model.scale
    assert ours.shape == theirs.shape == (1, 3, s * side, s * (side + 2))
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "name",
    ["srmd-x2", "srmd-x3", "srmd-x4", "srmdnf-x2", "srmdnf-x3", "srmdnf-x4"]
    + ["waifu2x-upconv7-photo-x2"],
)
def test_bicubic_trained_models_beat_bicubic_on_a_held_out_photo(name):
    model = _load(name)
    s = model.scale
    hr = sample_image("astronaut")[..., 100:172, 100:172]
    lr = bicubic_downsample(hr, s)
    with torch.no_grad():
        sr = model(lr)
    gain = psnr_y(sr, hr, shave=s) - psnr_y(bicubic_upsample(lr, s), hr, shave=s)
    assert gain >= 1.5, f"{name} gains only {gain:.2f} dB over bicubic"


@pytest.mark.parametrize(
    "name", ["srmd-x2", "waifu2x-upconv7-photo-x2", "realcugan-nose-x2"]
)
def test_receptive_field_matches_a_gradient_probe(name):
    model = _load(name)
    s = model.scale
    x = torch.rand(1, 3, 40, 40, requires_grad=True)
    model(x)[0, :, 20 * s, 20 * s].sum().backward()
    for dim in (2, 3):
        other = 3 if dim == 2 else 2
        hit = torch.nonzero(x.grad.abs().sum(dim=(0, 1, other))).flatten()
        assert int(hit.max() - hit.min() + 1) == PRETRAINED[name].receptive_field


def test_only_rgb_is_an_input_and_the_constants_are_buffers():
    model = _load("srmd-x2")
    assert model.graph_input(torch.rand(1, 3, 5, 6)).shape == (1, 19, 29, 30)
    assert not any(p is model.constant_channels for p in model.parameters())
    # the gradient reaches the RGB input and is the true one (central differences)
    net = copy.deepcopy(model).double()
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 9, 9, dtype=torch.float64, generator=gen, requires_grad=True)
    net(x).sum().backward()
    for c, i, j in [(0, 4, 4), (2, 0, 8), (1, 7, 1)]:
        step = torch.zeros_like(x)
        step[0, c, i, j] = 1e-6
        with torch.no_grad():
            change = (net(x + step).sum() - net(x - step).sum()) / 2e-6
        assert float(x.grad[0, c, i, j]) == pytest.approx(float(change), rel=1e-6)
    with pytest.raises(ValueError, match=r"srmd-x2 expects RGB input"):
        model(torch.rand(1, 4, 9, 9))


def test_reflection_padding_names_the_smallest_size():
    model = _load("realcugan-se-x4")
    with pytest.raises(ValueError, match=r"larger than 19 pixels.*10x30"):
        model(torch.rand(1, 3, 10, 30))


def test_crop_auto_gives_the_whole_image_map():
    model = _load("waifu2x-upconv7-photo-x2")
    x = sample_image("coffee")[..., 100:132, 200:232].contiguous()
    lam = LAM(model)
    kwargs = dict(target=(44, 40, 8), n_steps=2, method="riemann_middle")
    whole = lam.attribute(x, **kwargs)
    cropped = lam.attribute(x, reach="auto", **kwargs)
    assert (cropped - whole).abs().max() <= 1e-5 * whole.abs().max()
    assert (whole[..., :, :8].abs().sum()) == 0  # the crop had something to cut

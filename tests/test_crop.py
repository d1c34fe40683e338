"""Receptive-field cropping: same map as the whole image, the network on a crop only."""

import pytest
import torch
from torch import nn

from captum_lam import LAM, zoo
from captum_lam.zoo import ModelInfo

from .conftest import make_tiny_sr


class Counting(nn.Module):
    """Records the input sizes the network sees."""

    def __init__(self, net: nn.Module, receptive_field=None) -> None:
        super().__init__()
        self.net = net
        self.sizes: list[tuple[int, int]] = []
        if receptive_field is not False:
            self.lam_info = ModelInfo(
                "counting", 2, None, receptive_field, "", "", "", None, "trained"
            )
        self.eval()

    def forward(self, x):
        self.sizes.append(tuple(x.shape[-2:]))
        return self.net(x)


WINDOWS = [(0, 0, 8), (56, 40, 8), (0, 70, 10), (30, 0, 6), (70, 70, 10), (20, 30, 16)]


@pytest.mark.parametrize("window", WINDOWS)
def test_cropped_map_equals_the_whole_image_map(window):
    net = Counting(make_tiny_sr().double(), receptive_field=7)  # three 3x3 convs
    x = torch.rand(1, 3, 40, 40, dtype=torch.float64)
    lam = LAM(net)
    whole, d_whole = lam.attribute(
        x,
        target=window,
        n_steps=6,
        method="riemann_middle",
        return_convergence_delta=True,
    )
    net.sizes.clear()
    cropped, d_crop = lam.attribute(
        x,
        target=window,
        n_steps=6,
        method="riemann_middle",
        reach="auto",
        return_convergence_delta=True,
    )
    assert (cropped - whole).abs().max() <= 1e-5 * whole.abs().max()
    torch.testing.assert_close(d_crop, d_whole, rtol=1e-6, atol=1e-9)
    assert max(h * w for h, w in net.sizes[1:]) < 40 * 40 / 4  # the network saw crops


def test_too_small_a_reach_changes_the_map():
    """The equality above is not automatic: cutting the receptive field breaks it."""
    net = make_tiny_sr().double()
    x = torch.rand(1, 3, 40, 40, dtype=torch.float64)
    lam = LAM(net)
    whole = lam.attribute(x, target=(40, 40, 8), n_steps=4)
    exact = lam.attribute(x, target=(40, 40, 8), n_steps=4, reach=3)
    short = lam.attribute(x, target=(40, 40, 8), n_steps=4, reach=1)
    assert (exact - whole).abs().max() <= 1e-5 * whole.abs().max()
    assert (short - whole).abs().max() > 1e-3 * whole.abs().max()


def test_per_example_windows_and_batches():
    net = make_tiny_sr().double()
    x = torch.rand(3, 3, 32, 32, dtype=torch.float64)
    windows = [(0, 0, 8), (50, 50, 12), (20, 40, 8)]
    whole = LAM(net).attribute(x, target=windows, n_steps=4)
    cropped = LAM(net).attribute(
        x, target=windows, n_steps=4, reach=3, internal_batch_size=5
    )
    assert (cropped - whole).abs().max() <= 1e-5 * whole.abs().max()


def test_auto_reach_uses_the_whole_input_for_global_and_unknown_fields():
    x = torch.rand(1, 3, 16, 16)
    whole = LAM(make_tiny_sr()).attribute(x, target=(0, 0, 8), n_steps=3)
    for model in (Counting(make_tiny_sr(), receptive_field=None), make_tiny_sr()):
        got = LAM(model).attribute(x, target=(0, 0, 8), n_steps=3, reach="auto")
        torch.testing.assert_close(got, whole, rtol=0, atol=0)
    net = Counting(make_tiny_sr(), receptive_field=None)
    LAM(net).attribute(x, target=(0, 0, 8), n_steps=3, reach="auto")
    assert set(net.sizes) == {(16, 16)}  # the network always saw the whole input


def test_reach_errors_name_the_argument():
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="reach must be None, 'auto' or an integer"):
        LAM(make_tiny_sr()).attribute(x, target=(0, 0, 8), reach=-2)
    with pytest.raises(ValueError, match="reach must be None, 'auto' or an integer"):
        LAM(make_tiny_sr()).attribute(x, target=(0, 0, 8), reach="everything")
    with pytest.raises(TypeError, match="crop"):  # the 0.1 name is gone
        LAM(make_tiny_sr()).attribute(x, target=(0, 0, 8), crop=2)


# one of each local architecture: the plain CNNs, the residual net, SPAN, SRVGG
LOCAL_ZOO = [
    n
    for n in (
        "plain-d4",
        "plain-d20",
        "edsr-small",
        "span-x4-ch48",
        "realesr-animevideov3-x4",
    )
    if n in zoo.names() and zoo.installed(n)
]


@pytest.mark.parametrize("name", LOCAL_ZOO)
def test_zoo_models_crop_exactly_near_borders(name):
    model = zoo.load(name).double()
    rf = zoo.info(name).receptive_field
    s = zoo.info(name).scale
    side = rf + 6
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, side, side + 3, dtype=torch.float64, generator=gen)
    out_h, out_w = side * s, (side + 3) * s
    lam = LAM(model)
    windows = [(0, 0, 8), (out_h - 8, out_w - 8, 8), (out_h // 2, 0, 12)]
    whole = lam.attribute(x.expand(3, -1, -1, -1), target=windows, n_steps=2)
    for i, window in enumerate(windows):
        cropped = lam.attribute(x, target=window, n_steps=2, reach="auto")
        assert (cropped[0] - whole[i]).abs().max() <= 1e-5 * whole[i].abs().max()

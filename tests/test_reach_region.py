"""The part of the input LAM runs the network on: every pixel a window's
objective depends on, for a network of a given reach, and nothing more."""

import pytest
import torch
from torch import nn

from captum_lam import WindowObjective
from captum_lam._method.reach import model_reach, reach_region


def _region(windows, reach, lr=16, scale=2):
    return reach_region(
        torch.Size((1, 3, lr, lr)),
        torch.Size((1, 3, scale * lr, scale * lr)),
        torch.tensor(windows),
        reach,
    )


@pytest.mark.parametrize(
    ("windows", "reach", "rows", "cols"),
    [
        # one output row and column beyond the window (the detector), then reach
        ([[10, 6, 4]], 2, (2, 10), (0, 8)),
        # odd corners: the pixel before the window is in the previous LR pixel
        ([[7, 9, 4]], 1, (2, 7), (3, 8)),
        # the union of two windows' regions
        ([[10, 6, 4], [0, 20, 8]], 0, (0, 8), (2, 15)),
        # clipped to the input at the far corner
        ([[28, 28, 4]], 3, (10, 16), (10, 16)),
    ],
)
def test_region_reference_values(windows, reach, rows, cols):
    assert _region(windows, reach) == (slice(*rows), slice(*cols))


def test_region_of_a_x1_network_starts_at_the_windows_corner():
    # x1: the window's own first row and column, and the detector's pixel after it
    assert _region([[0, 0, 4]], 0, scale=1) == (slice(0, 5), slice(0, 5))
    assert _region([[1, 1, 4]], 0, scale=1) == (slice(0, 6), slice(0, 6))


def _reach_two_network() -> nn.Module:
    """Two 3x3 convolutions (reach 2 LR pixels), then x2 pixel shuffle."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.PixelShuffle(2),
    )
    return net.double().eval()


@pytest.mark.parametrize("window", [(9, 13, 6), (0, 0, 5), (25, 3, 7), (16, 16, 16)])
@pytest.mark.parametrize("detector", ["difference", "sobel"])
def test_region_is_the_objectives_dependence(window, detector):
    """The region is the bounding box of the pixels with a nonzero gradient."""
    net = _reach_two_network()
    x = torch.rand(1, 1, 16, 16, dtype=torch.float64, requires_grad=True)
    WindowObjective(net, window=window, detector=detector)(x).sum().backward()
    rows, cols = torch.nonzero(x.grad[0, 0], as_tuple=True)
    support = (
        slice(int(rows.min()), int(rows.max()) + 1),
        slice(int(cols.min()), int(cols.max()) + 1),
    )
    region = reach_region(
        x.shape, torch.Size((1, 1, 32, 32)), torch.tensor([window]), 2
    )
    assert region[0].start <= support[0].start and support[0].stop <= region[0].stop
    assert region[1].start <= support[1].start and support[1].stop <= region[1].stop
    # no more than one LR pixel of slack on any side (the detector's margin)
    assert support[0].start - region[0].start <= 1
    assert region[0].stop - support[0].stop <= 1
    assert support[1].start - region[1].start <= 1
    assert region[1].stop - support[1].stop <= 1


class _Declared(nn.Module):
    def __init__(self, field):
        super().__init__()
        self.lam_info = type("Info", (), {"receptive_field": field})()


@pytest.mark.parametrize(("field", "reach"), [(9, 5), (8, 5), (1, 1), (2, 2)])
def test_auto_reach_is_one_more_than_the_declared_radius(field, reach):
    """Safe for even fields too: one pixel more than field // 2."""
    assert model_reach(_Declared(field), "auto") == reach


def test_auto_reach_of_an_undeclared_field_is_the_whole_input():
    assert model_reach(_Declared(None), "auto") is None
    assert model_reach(nn.Identity(), "auto") is None


@pytest.mark.parametrize("bad", [-1, 2.5, "far"])
def test_bad_reach_is_named(bad):
    with pytest.raises(ValueError, match="reach must be None, 'auto' or an integer"):
        model_reach(None, bad)


def test_zero_reach_is_allowed():
    assert model_reach(None, 0) == 0

"""Windows that share a backward pass (``attribute_windows(..., reach=R)``) get the
maps they get alone, whether their receptive regions overlap by one row or
column, touch (adjacent, no overlap) or lie far apart."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from captum_lam import attribute_windows
from captum_lam.multiwindow import _backward_groups


def exact_reach_net(scale: int, radius: int, seed: int = 0) -> nn.Module:
    """An SR net whose output pixel (Y, X) reads exactly the LR pixels within
    ``radius`` of (Y // scale, X // scale): ``radius`` 3x3 convolutions."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Conv2d(3, 6, 1)]
    for _ in range(radius):
        layers += [nn.Conv2d(6, 6, 3, padding=1), nn.Tanh()]
    layers += [nn.Conv2d(6, 3 * scale * scale, 1), nn.PixelShuffle(scale)]
    return nn.Sequential(*layers).double().eval()


def true_rows(top: int, size: int, scale: int, radius: int, detector: str, h: int):
    """First and last LR row the window's objective depends on (its true reach)."""
    before = 1 if detector == "sobel" else 0
    first = max((max(top - before, 0)) // scale - radius, 0)
    last = min(min(top + size, h * scale - 1) // scale + radius, h - 1)
    return first, last


def second_window(first, size, scale, radius, detector, h, overlap):
    """A window below ``first`` whose true rows overlap its own by ``overlap``
    rows (0: adjacent, negative: a gap of that many rows)."""
    _, last_a = true_rows(first, size, scale, radius, detector, h)
    for top in range(first, h * scale - size + 1):
        lo, _ = true_rows(top, size, scale, radius, detector, h)
        if last_a - lo + 1 == overlap:
            return top
    raise AssertionError("no such window in this image")


CASES = [
    # scale, radius (= reach), window size, first top, detector
    (2, 3, 4, 5, "sobel"),
    (2, 3, 6, 8, "difference"),
    (3, 1, 3, 4, "sobel"),
    (4, 2, 4, 6, "sobel"),
    (2, 0, 2, 3, "sobel"),
    (4, 1, 8, 9, "difference"),
]


@pytest.mark.parametrize("scale, radius, size, first, detector", CASES)
@pytest.mark.parametrize("overlap", [1, 0, -4])
@pytest.mark.parametrize("axis", ["rows", "columns"])
def test_packed_maps_equal_each_window_alone(
    scale, radius, size, first, detector, overlap, axis
):
    h = w = 22
    net = exact_reach_net(scale, radius)
    lr = torch.rand(
        1, 3, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    along = second_window(first, size, scale, radius, detector, h, overlap)
    across = 7  # the same columns (rows): the regions meet only along `axis`
    if axis == "rows":
        windows = [(first, across, size), (along, across, size)]
    else:
        windows = [(across, first, size), (across, along, size)]
    settings = dict(n_steps=2, detector=detector, kernel_size=5, sigma=1.0)
    packed = attribute_windows(net, lr, windows, reach=radius, **settings)
    for k, window in enumerate(windows):
        alone = attribute_windows(net, lr, [window], **settings)[0]
        scale_of_map = float(alone.abs().max())
        assert scale_of_map > 0
        torch.testing.assert_close(packed[k], alone, rtol=0, atol=1e-6 * scale_of_map)
    groups = _backward_groups(
        lr.shape, (1, 3, h * scale, w * scale), torch.tensor(windows), radius
    )
    # the difference detector's region keeps one output row more above the window
    apart = overlap <= (0 if detector == "sobel" else -1)
    assert len(groups) == (1 if apart else 2)


@pytest.mark.parametrize("scale, radius", [(2, 3), (3, 1), (4, 2)])
def test_the_reach_is_where_the_map_ends(scale, radius):
    """Each map is zero beyond the window's true rows and non-zero on its last
    one: the cases above overlap where the maps really are non-zero."""
    h = 22
    net = exact_reach_net(scale, radius)
    lr = torch.rand(
        1, 3, h, h, dtype=torch.float64, generator=torch.Generator().manual_seed(2)
    )
    top, size = 9, 4
    attr = attribute_windows(net, lr, [(top, top, size)], n_steps=3, detector="sobel")[
        0
    ]
    lo, hi = true_rows(top, size, scale, radius, "sobel", h)
    rows = attr.abs().sum(dim=(0, 2))
    assert rows[lo] > 0 and rows[hi] > 0
    assert (
        float(rows[:lo].abs().sum()) == 0.0 and float(rows[hi + 1 :].abs().sum()) == 0.0
    )


def test_diagonal_neighbours_near_the_left_edge_get_their_own_maps():
    """Regions that overlap in rows and in columns, far below the left edge: a
    row test that read a column bound would pack them together."""
    net = exact_reach_net(2, 1)
    lr = torch.rand(
        1, 3, 24, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(3)
    )
    windows = [(20, 0, 4), (22, 2, 4)]
    settings = dict(n_steps=2, kernel_size=5, sigma=1.0)
    packed = attribute_windows(net, lr, windows, reach=1, **settings)
    for k, window in enumerate(windows):
        alone = attribute_windows(net, lr, [window], **settings)[0]
        scale_of_map = float(alone.abs().max())
        torch.testing.assert_close(packed[k], alone, rtol=0, atol=1e-6 * scale_of_map)

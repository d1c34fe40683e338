"""Where the automatic windows go: texture energy of a known image, the default
window size, (C, H, W) images as (1, C, H, W), windows that touch but do not
overlap, and the margin kept from every border."""

import pytest
import torch

from captum_lam.windows import texture_energy, textured_windows


def _ramp(height: int, width: int) -> torch.Tensor:
    """A horizontal ramp: forward differences 0.01 everywhere but the last column."""
    row = torch.arange(width, dtype=torch.float64) * 0.01
    return row.expand(1, 1, height, width).clone()


@pytest.mark.parametrize(
    "height, width, size, stride, shape",
    [
        (12, 20, 4, 1, (8, 16)),
        (20, 6, 4, 2, (8, 1)),  # tall
        (6, 20, 6, 1, (1, 15)),  # a window as high as the image: 5 rows of differences
        (20, 6, 6, 1, (15, 1)),  # and as wide
        (2, 6, 1, 1, (1, 5)),  # two rows: the first one's differences only
    ],
)
def test_a_ramp_has_the_same_energy_in_every_window_even_at_the_border(
    height, width, size, stride, shape
):
    # the last row and column (difference 0 by convention) are left out
    energy = texture_energy(_ramp(height, width), size, stride)
    torch.testing.assert_close(energy, torch.full(shape, 0.01, dtype=torch.float64))


def _patches(*corners, size=8, shape=(40, 40)):
    image = torch.zeros(1, 3, *shape)
    g = torch.Generator().manual_seed(0)
    for k, (top, left) in enumerate(corners):
        image[..., top : top + size, left : left + size] = (1 - 0.1 * k) * torch.rand(
            3, size, size, generator=g
        )
    return image


def test_the_default_window_is_16_pixels():
    assert textured_windows(_patches((20, 20), size=16))[0][2] == 16


def test_a_chw_image_gives_the_windows_of_its_batch_of_one():
    image = _patches((8, 16), (24, 0))
    assert textured_windows(image[0], size=8, count=2) == textured_windows(
        image, size=8, count=2
    )


@pytest.mark.parametrize("second", [(16, 16), (24, 8)], ids=["beside", "below"])
def test_windows_that_touch_are_both_taken(second):
    image = _patches((16, 8), second)  # no pixel shared
    got = textured_windows(image, size=8, count=2, stride=8)
    assert got == [(16, 8, 8), (*second, 8)]


def test_a_window_right_at_the_margin_is_allowed():
    image = _patches((6, 6), shape=(40, 40))
    assert textured_windows(image, size=8, margin=6, stride=2) == [(6, 6, 8)]


@pytest.mark.parametrize("corner", [(32, 20), (20, 32)])
def test_the_margin_holds_at_the_bottom_and_right(corner):
    # the texture lies inside the margin: the window stays out of it
    image = _patches(corner, shape=(40, 40))
    ((top, left, size),) = textured_windows(image, size=8, margin=6, stride=2)
    assert 6 <= top and top + size <= 34 and 6 <= left and left + size <= 34

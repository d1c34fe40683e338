"""The blur on images smaller than its kernel: reflect-101 borders, the same
along both axes, for square and for thin images."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from captum_lam import gaussian_blur2d
from captum_lam.filters import gaussian_kernel2d


@pytest.mark.parametrize("side", [3, 6])
def test_small_square_image_matches_scipys_mirror_borders(side):
    """scipy's "mirror" is reflect-101: ``d c b | a b c d | c b a``."""
    x = torch.rand(1, 1, side, side, dtype=torch.float64)
    kernel = gaussian_kernel2d(9, 1.2)[0].numpy()
    expected = ndimage.correlate(x[0, 0].numpy(), kernel, mode="mirror")
    got = gaussian_blur2d(x, 9, 1.2)[0, 0].numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("height", "width"), [(10, 3), (3, 10), (2, 7), (16, 4)])
def test_thin_images_blur_the_same_along_either_axis(height, width):
    """The kernel is isotropic: blurring the transpose is the blur transposed."""
    x = torch.rand(1, 2, height, width, dtype=torch.float64)
    blurred = gaussian_blur2d(x, 9, 1.2)
    flipped = gaussian_blur2d(x.transpose(-1, -2).contiguous(), 9, 1.2)
    torch.testing.assert_close(flipped.transpose(-1, -2), blurred)
    # a blur keeps a constant image constant
    constant = torch.full((1, 1, height, width), 0.7, dtype=torch.float64)
    torch.testing.assert_close(gaussian_blur2d(constant, 9, 1.2), constant)

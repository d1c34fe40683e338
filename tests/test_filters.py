import numpy as np
import pytest
import torch
from scipy import ndimage

from captum_lam import GaussianBlur2d, gaussian_blur2d
from captum_lam.filters import filter2d, gaussian_kernel2d, gaussian_kernel2d_derivative


def reference_kernel(size, sigma):
    ax = np.arange(-size // 2 + 1.0, size // 2 + 1.0)
    xx, yy = np.meshgrid(ax, ax)
    k = np.exp(-(xx**2 + yy**2) / (2.0 * (sigma + 1e-5) ** 2))
    return k / k.sum()


@pytest.mark.parametrize("size", [1, 3, 9])
@pytest.mark.parametrize("sigma", [0.0, 0.3, 1.2, 4.0])
def test_kernel_is_the_reference_kernel(size, sigma):
    np.testing.assert_allclose(
        gaussian_kernel2d(size, sigma)[0].numpy(),
        reference_kernel(size, sigma),
        rtol=1e-12,
        atol=1e-15,
    )


def test_kernel_batch_of_sigmas():
    k = gaussian_kernel2d(5, torch.tensor([0.5, 1.0, 2.0]))
    assert k.shape == (3, 5, 5)
    torch.testing.assert_close(k.sum(dim=(1, 2)), torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("sigma", [0.05, 0.4, 1.2, 3.0])
def test_kernel_derivative_matches_central_difference(sigma):
    h = 1e-6
    numeric = (gaussian_kernel2d(9, sigma + h) - gaussian_kernel2d(9, sigma - h)) / (
        2 * h
    )
    analytic = gaussian_kernel2d_derivative(9, sigma)
    torch.testing.assert_close(analytic, numeric, rtol=1e-5, atol=1e-7)
    assert abs(float(analytic.sum())) < 1e-12


@pytest.mark.parametrize("shape", [(1, 3, 17, 23), (2, 1, 9, 9), (1, 2, 5, 12)])
def test_blur_matches_scipy_mirror_borders(shape):
    rng = np.random.default_rng(0)
    x = rng.random(shape)
    k = reference_kernel(9, 1.2)
    expected = np.stack(
        [
            np.stack([ndimage.correlate(ch, k, mode="mirror") for ch in example])
            for example in x
        ]
    )
    out = gaussian_blur2d(torch.from_numpy(x), 1.2, 9)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_sigma_zero_is_identity_and_module_form_agrees():
    x = torch.rand(2, 3, 11, 7)
    torch.testing.assert_close(gaussian_blur2d(x, 0.0), x)
    torch.testing.assert_close(GaussianBlur2d(0.8, 5)(x), gaussian_blur2d(x, 0.8, 5))


def test_filter2d_many_kernels_shape_and_dtype():
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    out = filter2d(x, gaussian_kernel2d(3, torch.tensor([0.0, 1.0])))
    assert out.shape == (2, 2, 3, 8, 8) and out.dtype == torch.float64
    torch.testing.assert_close(out[0], x)


@pytest.mark.parametrize("bad", [0, 2, -3, 4.0, True])
def test_kernel_size_must_be_positive_odd(bad):
    with pytest.raises(ValueError, match="kernel_size"):
        gaussian_kernel2d(bad, 1.0)

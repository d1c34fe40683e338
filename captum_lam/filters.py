"""Differentiable Gaussian blur with the LAM reference's exact semantics.

A functional form ([`gaussian_kernel2d`][captum_lam.filters.gaussian_kernel2d],
[`filter2d`][captum_lam.filters.filter2d],
[`gaussian_blur2d`][captum_lam.gaussian_blur2d]) and a module form
([`GaussianBlur2d`][captum_lam.GaussianBlur2d]), in the manner of kornia.

The kernel is the reference's: for integer offsets ``x, y`` in
``[-(l // 2), l // 2]``::

    k(s)[y, x] = exp(-(x**2 + y**2) / (2 * (s + 1e-5)**2)),   normalised to sum 1

so ``s = 0`` gives (numerically) the identity kernel. Borders are mirrored
without repeating the edge pixel ("reflect-101", OpenCV's default and
``torch.nn.functional.pad(mode="reflect")``).
"""

from __future__ import annotations

from typing import Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._method.checks import as_int

#: Added to sigma in the kernel's exponent, as in the reference code.
KERNEL_EPSILON = 1e-5

Sigmas = Union[float, Tensor]


def _check_kernel_size(kernel_size: int) -> int:
    size = as_int(kernel_size)
    if size is None or size < 1 or size % 2 == 0:
        raise ValueError(
            f"kernel_size must be a positive odd integer (1, 3, 5, ...), got "
            f"{kernel_size!r}"
        )
    return size


def _offsets_squared(kernel_size: int, dtype: torch.dtype, device) -> Tensor:
    half = kernel_size // 2
    ax = torch.arange(-half, half + 1, dtype=dtype, device=device)
    return ax[None, :] ** 2 + ax[:, None] ** 2


def _sigma_tensor(sigma: Sigmas, dtype: torch.dtype, device) -> Tensor:
    return torch.as_tensor(sigma, dtype=dtype, device=device).reshape(-1)


def gaussian_kernel2d(
    kernel_size: int,
    sigma: Sigmas,
    *,
    dtype: torch.dtype = torch.float64,
    device: Union[str, torch.device, None] = None,
) -> Tensor:
    """Normalised isotropic Gaussian kernels, the reference's discretisation.

    Parameters
    ----------
    kernel_size : int
        Odd side length ``l`` of the kernel.
    sigma : float or Tensor
        Standard deviation(s) ``s >= 0``; a scalar or a 1-D tensor of S values.
    dtype, device
        Of the result. Computed in float64 by default, which is what the path uses
        before casting to the input's dtype.

    Returns
    -------
    Tensor
        Shape (S, l, l) (S = 1 for a scalar sigma); each kernel sums to 1.

    Examples
    --------
    >>> k = gaussian_kernel2d(9, 1.2)
    >>> k.shape, round(float(k.sum()), 6)
    (torch.Size([1, 9, 9]), 1.0)
    >>> float(gaussian_kernel2d(3, 0.0)[0, 1, 1])
    1.0
    """
    kernel_size = _check_kernel_size(kernel_size)
    s = _sigma_tensor(sigma, dtype, device)
    r2 = _offsets_squared(kernel_size, dtype, s.device)
    g = torch.exp(-r2[None] / (2.0 * (s[:, None, None] + KERNEL_EPSILON) ** 2))
    return g / g.sum(dim=(1, 2), keepdim=True)


def gaussian_kernel2d_derivative(
    kernel_size: int,
    sigma: Sigmas,
    *,
    dtype: torch.dtype = torch.float64,
    device: Union[str, torch.device, None] = None,
) -> Tensor:
    """Exact derivative of [`gaussian_kernel2d`][captum_lam.filters.gaussian_kernel2d]
    with respect to sigma.

    For ``k = g / sum(g)`` with ``g = exp(-r^2 / (2 (s + eps)^2))``::

        dk/ds = k * (r^2 - sum(k * r^2)) / (s + eps)^3

    Returns
    -------
    Tensor
        Shape (S, l, l); each derivative kernel sums to 0.

    Examples
    --------
    >>> dk = gaussian_kernel2d_derivative(9, torch.tensor([0.5, 1.2]))
    >>> dk.shape, bool(dk.sum().abs() < 1e-12)
    (torch.Size([2, 9, 9]), True)
    """
    k = gaussian_kernel2d(kernel_size, sigma, dtype=dtype, device=device)
    s = _sigma_tensor(sigma, dtype, k.device)
    r2 = _offsets_squared(kernel_size, dtype, k.device)[None]
    mean_r2 = (k * r2).sum(dim=(1, 2), keepdim=True)
    return k * (r2 - mean_r2) / (s[:, None, None] + KERNEL_EPSILON) ** 3


def filter2d(image: Tensor, kernels: Tensor) -> Tensor:
    """Correlate each channel of ``image`` with each of S kernels (reflect-101 borders).

    Parameters
    ----------
    image : Tensor
        Shape (N, C, H, W), floating point.
    kernels : Tensor
        Shape (S, l, l) with odd ``l``; cast to ``image``'s dtype and device.

    Returns
    -------
    Tensor
        Shape (S, N, C, H, W): ``out[s]`` is ``image`` filtered by ``kernels[s]``.
        Differentiable with respect to both arguments.

    Notes
    -----
    Mirror padding needs ``l // 2 < min(H, W)``; for smaller images it is applied
    in rounds (and an image of side 1 is replicated).

    Examples
    --------
    >>> x = torch.rand(2, 3, 10, 10)
    >>> filter2d(x, gaussian_kernel2d(5, torch.tensor([0.0, 1.0, 2.0]))).shape
    torch.Size([3, 2, 3, 10, 10])
    """
    n, c, h, w = image.shape
    num, kh, kw = kernels.shape
    half = kh // 2
    flat = image.reshape(n * c, 1, h, w)
    padded = _reflect_pad(flat, half)
    weight = kernels.to(dtype=image.dtype, device=image.device).reshape(num, 1, kh, kw)
    out = F.conv2d(padded, weight)  # (N*C, S, H, W)
    return out.reshape(n, c, num, h, w).permute(2, 0, 1, 3, 4)


def _reflect_pad(x: Tensor, pad: int) -> Tensor:
    # F.pad(mode="reflect") needs pad < size; mirror in several rounds otherwise.
    while pad > 0:
        step = min(pad, x.shape[-1] - 1, x.shape[-2] - 1)
        if step < 1:
            return F.pad(x, (pad, pad, pad, pad), mode="replicate")
        x = F.pad(x, (step, step, step, step), mode="reflect")
        pad -= step
    return x


def gaussian_blur2d(image: Tensor, sigma: float, kernel_size: int = 9) -> Tensor:
    """Blur every channel with the reference's Gaussian kernel.

    Parameters
    ----------
    image : Tensor
        Shape (N, C, H, W).
    sigma : float
        Standard deviation in pixels, ``>= 0``; 0 returns (numerically) ``image``.
    kernel_size : int
        Odd kernel side, default 9 (the LAM reference's).

    Returns
    -------
    Tensor
        Shape (N, C, H, W).

    Examples
    --------
    >>> x = torch.rand(1, 3, 16, 16)
    >>> gaussian_blur2d(x, 1.2).shape
    torch.Size([1, 3, 16, 16])
    >>> torch.allclose(gaussian_blur2d(x, 0.0), x)
    True
    """
    return filter2d(image, gaussian_kernel2d(kernel_size, sigma))[0]


class GaussianBlur2d(nn.Module):
    """Module form of [`gaussian_blur2d`][captum_lam.gaussian_blur2d].

    Examples
    --------
    >>> blur = GaussianBlur2d(sigma=1.2, kernel_size=9)
    >>> blur(torch.rand(2, 1, 12, 12)).shape
    torch.Size([2, 1, 12, 12])
    """

    def __init__(self, sigma: float, kernel_size: int = 9) -> None:
        super().__init__()
        self.sigma = float(sigma)
        self.kernel_size = _check_kernel_size(kernel_size)

    def forward(self, image: Tensor) -> Tensor:
        return gaussian_blur2d(image, self.sigma, self.kernel_size)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, kernel_size={self.kernel_size}"

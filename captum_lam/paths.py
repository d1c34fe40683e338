"""Integration paths: from a baseline (alpha = 0) to the input (alpha = 1).

A path maps an input batch ``x`` of shape (N, C, H, W) and a 1-D tensor of S
``alphas`` in [0, 1] to the path points ``gamma(alpha)`` and their derivatives
``dgamma/dalpha``, each of shape (S, N, C, H, W), on ``x``'s device and dtype.
A new path is one small subclass that implements :meth:`Path.points` and
:meth:`Path.derivatives`; :meth:`Path.differences` (used by the Riemann
integration rules) defaults to ``points(ends) - points(starts)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence, Union

import torch
from torch import Tensor

from ._validation import check_kernel_fits, check_path_blur
from .filters import (
    filter2d,
    gaussian_kernel2d,
    gaussian_kernel2d_derivative,
)

Alphas = Union[Tensor, Sequence[float]]


def _as_alphas(alphas: Alphas, name: str = "alphas") -> Tensor:
    a = torch.as_tensor(alphas, dtype=torch.float64).reshape(-1)
    if a.numel() == 0:
        raise ValueError(f"{name} must hold at least one value in [0, 1]")
    if not torch.isfinite(a).all() or (a < 0).any() or (a > 1).any():
        raise ValueError(f"{name} must lie in [0, 1], got {a.tolist()}")
    return a


class Path(ABC):
    """A differentiable path ``gamma(alpha)`` from a baseline to the input."""

    @abstractmethod
    def points(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        """Path points ``gamma(alpha)``, shape (S, N, C, H, W)."""

    @abstractmethod
    def derivatives(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        """Exact derivatives ``dgamma/dalpha``, shape (S, N, C, H, W)."""

    def differences(self, inputs: Tensor, starts: Alphas, ends: Alphas) -> Tensor:
        """Segment differences ``gamma(ends) - gamma(starts)``, shape (S, N, C, H, W).

        Summed over consecutive segments these telescope exactly to
        ``gamma(1) - gamma(0)``.
        """
        return self.points(inputs, ends) - self.points(inputs, starts)

    def __call__(self, inputs: Tensor, alphas: Alphas) -> tuple[Tensor, Tensor]:
        """``(points, derivatives)`` at ``alphas``, each (S, N, C, H, W)."""
        return self.points(inputs, alphas), self.derivatives(inputs, alphas)

    def baseline(self, inputs: Tensor) -> Tensor:
        """The start of the path, ``gamma(0)``, shape (N, C, H, W)."""
        return self.points(inputs, [0.0])[0]


class LinearPath(Path):
    """The straight line of Integrated Gradients: ``b + alpha * (x - b)``.

    Parameters
    ----------
    baseline : float or Tensor
        A scalar, or a tensor broadcastable to the inputs' shape (N, C, H, W).

    Examples
    --------
    >>> path = LinearPath(0.0)
    >>> x = torch.ones(1, 1, 2, 2)
    >>> points, derivatives = path(x, torch.tensor([0.25, 1.0]))
    >>> points[:, 0, 0, 0, 0].tolist(), derivatives[:, 0, 0, 0, 0].tolist()
    ([0.25, 1.0], [1.0, 1.0])
    """

    def __init__(self, baseline: Union[float, Tensor] = 0.0) -> None:
        self.baseline_value = baseline

    def _baseline_like(self, inputs: Tensor) -> Tensor:
        b = torch.as_tensor(
            self.baseline_value, dtype=inputs.dtype, device=inputs.device
        )
        try:
            return torch.broadcast_to(b, inputs.shape)
        except RuntimeError:
            raise ValueError(
                f"baseline of shape {tuple(b.shape)} does not broadcast to the "
                f"inputs' shape {tuple(inputs.shape)}"
            ) from None

    def points(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        a = _as_alphas(alphas).to(inputs.dtype).to(inputs.device)
        b = self._baseline_like(inputs)
        return b[None] + a.view(-1, 1, 1, 1, 1) * (inputs - b)[None]

    def derivatives(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        n = _as_alphas(alphas).numel()
        direction = inputs - self._baseline_like(inputs)
        return direction[None].expand(n, *inputs.shape)

    def differences(self, inputs: Tensor, starts: Alphas, ends: Alphas) -> Tensor:
        steps = (_as_alphas(ends, "ends") - _as_alphas(starts, "starts")).to(
            dtype=inputs.dtype, device=inputs.device
        )
        direction = inputs - self._baseline_like(inputs)
        return steps.view(-1, 1, 1, 1, 1) * direction[None]

    def __repr__(self) -> str:
        b = self.baseline_value
        shown = f"Tensor{tuple(b.shape)}" if isinstance(b, Tensor) else repr(b)
        return f"LinearPath(baseline={shown})"


class ProgressiveBlurPath(Path):
    """LAM's path: ``gamma(alpha) = blur(x, sigma * (1 - alpha))``.

    High frequencies appear progressively, from the blurred baseline
    ``gamma(0) = blur(x, sigma)`` to the input ``gamma(1) = x``. The blur is the
    LAM reference's (see :mod:`captum_lam.filters`).

    Parameters
    ----------
    sigma : float
        Blur of the baseline in LR pixels, ``>= 0.25`` (a smaller blur leaves the
        input unchanged and the map all zero). Default 1.2 (the reference's).
    kernel_size : int
        Odd side of the Gaussian kernel, ``>= 3``; at most ``4 * max(H, W) + 1``
        for inputs of H x W. Default 9 (the reference's).

    Examples
    --------
    >>> path = ProgressiveBlurPath(sigma=1.2, kernel_size=9)
    >>> x = torch.rand(2, 3, 16, 16)
    >>> points, derivatives = path(x, torch.linspace(0, 1, 5))
    >>> points.shape
    torch.Size([5, 2, 3, 16, 16])
    >>> torch.allclose(points[-1], x)
    True
    """

    def __init__(self, sigma: float = 1.2, kernel_size: int = 9) -> None:
        self.sigma, self.kernel_size = check_path_blur(sigma, kernel_size)

    def _sigmas(self, alphas: Alphas, name: str = "alphas") -> Tensor:
        return self.sigma * (1.0 - _as_alphas(alphas, name))

    def points(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        check_kernel_fits(self.kernel_size, inputs.shape)
        kernels = gaussian_kernel2d(self.kernel_size, self._sigmas(alphas))
        return filter2d(inputs, kernels)

    def derivatives(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        # d/dalpha k(sigma * (1 - alpha)) = -sigma * dk/ds
        check_kernel_fits(self.kernel_size, inputs.shape)
        dk_ds = gaussian_kernel2d_derivative(self.kernel_size, self._sigmas(alphas))
        return filter2d(inputs, -self.sigma * dk_ds)

    def differences(self, inputs: Tensor, starts: Alphas, ends: Alphas) -> Tensor:
        # Blurring with the kernel difference, as the reference does, is linear in
        # x and keeps the float64 precision of the kernels.
        check_kernel_fits(self.kernel_size, inputs.shape)
        k_end = gaussian_kernel2d(self.kernel_size, self._sigmas(ends, "ends"))
        k_start = gaussian_kernel2d(self.kernel_size, self._sigmas(starts, "starts"))
        return filter2d(inputs, k_end - k_start)

    def __repr__(self) -> str:
        return (
            f"ProgressiveBlurPath(sigma={self.sigma}, kernel_size={self.kernel_size})"
        )

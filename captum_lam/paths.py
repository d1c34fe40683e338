"""Integration paths: from a baseline (alpha = 0) to the input (alpha = 1).

A path maps an input batch ``x`` of shape (N, ...) and a 1-D tensor of S
``alphas`` in [0, 1] to the path points ``gamma(alpha)`` and their derivatives
``dgamma/dalpha``, each of shape (S, N, ...), on ``x``'s device and dtype.
A new path is one small subclass that implements [`Path.points`][captum_lam.Path.points]
and [`Path.derivatives`][captum_lam.Path.derivatives];
[`Path.differences`][captum_lam.Path.differences] (used by the Riemann integration
rules) defaults to ``points(ends) - points(starts)``. For a tuple of input tensors,
[`Path.for_inputs`][captum_lam.Path.for_inputs] gives the path of each tensor.
"""

from __future__ import annotations

import copy
import functools
from abc import ABC, abstractmethod
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from ._method.checks import check_kernel_fits, check_path_blur
from .filters import (
    filter2d,
    gaussian_kernel2d,
    gaussian_kernel2d_derivative,
)

Alphas = Union[Tensor, Sequence[float]]
#: One baseline: a number or a tensor (see [`LinearPath`][captum_lam.LinearPath]).
Baseline = Union[None, int, float, Tensor]


def _as_alphas(alphas: Alphas, name: str = "alphas") -> Tensor:
    a = torch.as_tensor(alphas, dtype=torch.float64).reshape(-1)
    if a.numel() == 0:
        raise ValueError(f"{name} must hold at least one value in [0, 1]")
    if not torch.isfinite(a).all() or (a < 0).any() or (a > 1).any():
        raise ValueError(f"{name} must lie in [0, 1], got {a.tolist()}")
    return a


def _per_step(steps: Tensor, inputs: Tensor) -> Tensor:
    """(S,) values shaped (S, 1, ..., 1) to broadcast against (S, N, ...)."""
    return steps.to(dtype=inputs.dtype, device=inputs.device).view(
        -1, *([1] * inputs.ndim)
    )


class Path(ABC):
    """A differentiable path ``gamma(alpha)`` from a baseline to the input."""

    @abstractmethod
    def points(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        """Path points ``gamma(alpha)``, shape (S, N, ...)."""

    @abstractmethod
    def derivatives(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        """Exact derivatives ``dgamma/dalpha``, shape (S, N, ...)."""

    def differences(self, inputs: Tensor, starts: Alphas, ends: Alphas) -> Tensor:
        """Segment differences ``gamma(ends) - gamma(starts)``, shape (S, N, ...).

        Summed over consecutive segments these telescope exactly to
        ``gamma(1) - gamma(0)``.
        """
        return self.points(inputs, ends) - self.points(inputs, starts)

    def __call__(self, inputs: Tensor, alphas: Alphas) -> tuple[Tensor, Tensor]:
        """``(points, derivatives)`` at ``alphas``, each (S, N, ...)."""
        return self.points(inputs, alphas), self.derivatives(inputs, alphas)

    def baseline(self, inputs: Tensor) -> Tensor:
        """The start of the path, ``gamma(0)``, shape (N, ...)."""
        return self.points(inputs, [0.0])[0]

    def for_inputs(self, count: int) -> tuple[Path, ...]:
        """The path of each tensor of a tuple of ``count`` input tensors.

        Default: this path for every tensor. [`LinearPath`][captum_lam.LinearPath] with
        a tuple of baselines gives one path per baseline.
        """
        return (self,) * count

    def check_inputs(self, inputs: Tensor) -> None:
        """Raise ``ValueError`` if the path cannot be built on ``inputs``.

        Default: any rank (N, ...).
        """
        return None

    def node_density(self, alphas: Tensor) -> Optional[Tensor]:
        """Where ``n_steps="auto"`` should put its gradients along the path.

        A positive, smooth relative density over ``alpha`` (float64, shape
        (S,) like ``alphas``): the nested levels of ``n_steps="auto"`` take
        equal segments of ``u(alpha) = int_0^alpha density / int_0^1 density``,
        so their nodes are dense where the density is high. Fixed ``n_steps``
        rules ignore it. Default None: equal segments of ``alpha``.
        """
        return None


class LinearPath(Path):
    """The straight line of Integrated Gradients: ``b + alpha * (x - b)``.

    Takes every baseline form that Captum's ``IntegratedGradients`` takes.

    Parameters
    ----------
    baselines : number, Tensor or tuple, optional
        For inputs ``x`` of shape (N, ...):

        * a number (default 0; None also means 0): that value everywhere;
        * a tensor broadcastable to ``x``: one baseline for all examples, e.g.
          shape (1, ...) or ``x.shape[1:]``, or one per example, shape (N, ...)
          (trailing dimensions may broadcast, e.g. (N, 1, 1, 1));
        * a tuple of the above, one per tensor, for tuple inputs (a 1-tuple
          also serves a single tensor).

        A batch of M baselines for M * k inputs is repeated k times per
        example (``repeat_interleave``), as Captum's ``NoiseTunnel`` and
        ``sensitivity_max`` repeat the inputs, so per-example baselines survive
        them.

    Examples
    --------
    >>> path = LinearPath(0.0)
    >>> x = torch.ones(1, 1, 2, 2)
    >>> points, derivatives = path(x, torch.tensor([0.25, 1.0]))
    >>> points[:, 0, 0, 0, 0].tolist(), derivatives[:, 0, 0, 0, 0].tolist()
    ([0.25, 1.0], [1.0, 1.0])
    >>> [p.baseline_value for p in LinearPath((0.0, 1.0)).for_inputs(2)]
    [0.0, 1.0]
    """

    def __init__(self, baselines: Union[Baseline, tuple[Baseline, ...]] = 0.0) -> None:
        if isinstance(baselines, tuple):
            if len(baselines) == 0:
                raise ValueError("baselines must not be an empty tuple")
            for b in baselines:
                _check_baseline(b)
        else:
            _check_baseline(baselines)
        self.baseline_value = baselines

    def for_inputs(self, count: int) -> tuple[Path, ...]:
        b = self.baseline_value
        if not isinstance(b, tuple):
            if isinstance(b, Tensor) and b.numel() != 1 and count != 1:
                raise ValueError(
                    f"the inputs are a tuple of {count} tensors but LinearPath has "
                    "one baseline tensor; give a tuple of baselines, one per input "
                    "tensor (a number serves all)"
                )
            return (self,) * count
        if len(b) != count:
            raise ValueError(
                f"LinearPath has {len(b)} baselines but the inputs are {count} "
                "tensors; give one baseline per input tensor"
            )
        return tuple(self._with_baseline(one) for one in b)

    def _with_baseline(self, baseline: Baseline) -> LinearPath:
        # a copy keeps a subclass's methods (its node_density among them)
        one = copy.copy(self)
        one.baseline_value = baseline
        return one

    def _baseline_like(self, inputs: Tensor) -> Tensor:
        value = self.baseline_value
        if isinstance(value, tuple):
            if len(value) != 1:
                raise ValueError(
                    f"LinearPath has a tuple of {len(value)} baselines but the "
                    "inputs are one tensor; give one baseline"
                )
            value = value[0]
        b = torch.as_tensor(
            0.0 if value is None else value, dtype=inputs.dtype, device=inputs.device
        )
        if (
            b.ndim == inputs.ndim
            and 1 < b.shape[0] < inputs.shape[0]
            and inputs.shape[0] % b.shape[0] == 0
        ):
            # NoiseTunnel / sensitivity_max repeat each example k times in a row
            b = b.repeat_interleave(inputs.shape[0] // b.shape[0], dim=0)
        try:
            return torch.broadcast_to(b, inputs.shape)
        except RuntimeError:
            raise ValueError(
                f"baseline of shape {tuple(b.shape)} does not broadcast to the "
                f"inputs' shape {tuple(inputs.shape)}; give a number, one baseline "
                "for all examples (shape (1, ...) or the inputs' shape without the "
                "batch dimension) or one per example (the inputs' shape)"
            ) from None

    def points(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        a = _per_step(_as_alphas(alphas), inputs)
        b = self._baseline_like(inputs)
        return b[None] + a * (inputs - b)[None]

    def derivatives(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        n = _as_alphas(alphas).numel()
        direction = inputs - self._baseline_like(inputs)
        return direction[None].expand(n, *inputs.shape)

    def differences(self, inputs: Tensor, starts: Alphas, ends: Alphas) -> Tensor:
        steps = _as_alphas(ends, "ends") - _as_alphas(starts, "starts")
        direction = inputs - self._baseline_like(inputs)
        return _per_step(steps, inputs) * direction[None]

    def __repr__(self) -> str:
        def show(b: Baseline) -> str:
            return f"Tensor{tuple(b.shape)}" if isinstance(b, Tensor) else repr(b)

        b = self.baseline_value
        shown = (
            "(" + ", ".join(show(one) for one in b) + ("," if len(b) == 1 else "") + ")"
            if isinstance(b, tuple)
            else show(b)
        )
        return f"LinearPath(baselines={shown})"


@functools.lru_cache(maxsize=64)
def _largest_kernel_rates(sigma: float, kernel_size: int) -> tuple[float, ...]:
    """The largest ``|| d^m k / dalpha^m ||_2``, m = 1, 2, 3, of a blur path
    (on 1025 alphas)."""
    grid = torch.linspace(0, 1, 1025, dtype=torch.float64)
    rates = ProgressiveBlurPath(sigma, kernel_size)._kernel_rates(grid)
    return tuple(float(x) for x in rates.amax(dim=0))


def _check_baseline(b: object) -> None:
    if b is None or isinstance(b, Tensor):
        return
    if isinstance(b, bool) or not isinstance(b, (int, float)):
        raise TypeError(
            "baselines must be a number, a tensor or a tuple of them (one per input "
            f"tensor), got {type(b).__name__}"
        )


class ProgressiveBlurPath(Path):
    """LAM's path: ``gamma(alpha) = blur(x, sigma * (1 - alpha))``.

    High frequencies appear progressively, from the blurred baseline
    ``gamma(0) = blur(x, sigma)`` to the input ``gamma(1) = x``. The blur is the
    LAM reference's (see `captum_lam.filters`).

    Parameters
    ----------
    sigma : float
        Blur of the baseline in LR pixels, ``>= 0.25`` (a smaller blur leaves the
        input unchanged and the map all zero). Default 1.2 (the reference's).
    kernel_size : int
        Odd side of the Gaussian kernel, ``>= 3``; at most ``4 * max(H, W) + 1``
        for inputs of H x W. Default 9 (the reference's).

    References
    ----------
    .. [1] Gu, J. and Dong, C. Interpreting Super-Resolution Networks with Local
    Attribution Maps. CVPR 2021.
    .. [2] Xu, S., Venugopalan, S. and Sundararajan, M. Attribution in Scale and
    Space. CVPR 2020 (blur integrated gradients).

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

    def check_inputs(self, inputs: Tensor) -> None:
        if not isinstance(inputs, Tensor) or inputs.ndim != 4:
            got = (
                f"shape {tuple(inputs.shape)}"
                if isinstance(inputs, Tensor)
                else type(inputs).__name__
            )
            raise ValueError(
                "ProgressiveBlurPath blurs images: inputs must have shape "
                f"(N, C, H, W), got {got}"
            )
        check_kernel_fits(self.kernel_size, inputs.shape)

    def points(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        self.check_inputs(inputs)
        kernels = gaussian_kernel2d(self.kernel_size, self._sigmas(alphas))
        return filter2d(inputs, kernels)

    def derivatives(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        self.check_inputs(inputs)
        # d/dalpha k(sigma * (1 - alpha)) = -sigma * dk/ds
        dk_ds = gaussian_kernel2d_derivative(self.kernel_size, self._sigmas(alphas))
        return filter2d(inputs, -self.sigma * dk_ds)

    def differences(self, inputs: Tensor, starts: Alphas, ends: Alphas) -> Tensor:
        # Blurring with the kernel difference, as the reference does, is linear in
        # x and keeps the float64 precision of the kernels.
        self.check_inputs(inputs)
        k_end = gaussian_kernel2d(self.kernel_size, self._sigmas(ends, "ends"))
        k_start = gaussian_kernel2d(self.kernel_size, self._sigmas(starts, "starts"))
        return filter2d(inputs, k_end - k_start)

    def _kernel_rates(self, alphas: Tensor) -> Tensor:
        """``|| d^m k / dalpha^m ||_2`` of the path's kernel for m = 1, 2, 3,
        float64, (S, 3): the first exact, the others by central differences
        of the first (``h`` = 1e-3; a density needs no more)."""
        h = 1e-3

        def first(a: Tensor) -> Tensor:
            # beyond alpha = 1 the kernel stays the delta it is there
            sigmas = (self.sigma * (1.0 - a)).clamp_min(0.0)
            dk_ds = gaussian_kernel2d_derivative(self.kernel_size, sigmas)
            return -self.sigma * dk_ds.flatten(1)

        a = _as_alphas(alphas).to(torch.float64)
        before, at, after = first(a - h), first(a), first(a + h)
        second = (after - before) / (2 * h)
        third = (after - 2 * at + before) / h**2
        return torch.stack([x.norm(dim=1) for x in (at, second, third)], dim=1)

    def node_density(self, alphas: Tensor) -> Tensor:
        """``|| (r_1, r_2, r_3) ||_2^(1/2) + 0.1``, ``r_m`` the norm of the
        kernel's m-th derivative in alpha over its largest,
        ``|| d^m k / dalpha^m ||_2 / max``.

        The integrand is ``dgamma/dalpha = -sigma * (dk/ds) * x`` times the
        network's gradient, so it lives where the kernel changes (none below
        ``s = 0.15``, where the discrete kernel is a delta), and the trapezoid
        rule's error on a segment grows with the integrand's second
        derivative, in which the kernel's second and third derivatives appear:
        those peak later than the first, between ``s = 0.25`` and ``0.45``,
        where the kernel leaves the delta. The floor keeps nodes everywhere.
        Chosen on SPAN x4 64x64 windows (docs/speed-accuracy.md): at 65
        nodes the difference to the level before was within 8.2e-4 on 14 of
        14 windows (8 of 14 with the kernel's speed alone, round three's
        density), so ``tolerance=1e-3`` stops there.

        Examples
        --------
        >>> path = ProgressiveBlurPath(sigma=1.2, kernel_size=9)
        >>> density = path.node_density(torch.tensor([0.0, 0.7, 1.0]))
        >>> [round(float(d), 2) for d in density]
        [0.44, 1.23, 0.1]
        """
        largest = _largest_kernel_rates(self.sigma, self.kernel_size)
        rates = self._kernel_rates(alphas) / torch.tensor(largest, dtype=torch.float64)
        return rates.square().sum(dim=1) ** 0.25 + 0.1

    def __repr__(self) -> str:
        return (
            f"ProgressiveBlurPath(sigma={self.sigma}, kernel_size={self.kernel_size})"
        )

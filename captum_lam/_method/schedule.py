"""Where ``n_steps="auto"`` puts its nodes: a change of variable of the path.

Equal segments in ``alpha`` spend as many gradients where the integrand is
flat as where it changes fast. For a density ``rho(alpha) > 0`` the change of
variable ``u(alpha) = C(alpha) / C(1)``, ``C(alpha) = int_0^alpha rho``, turns
``int_0^1 f(alpha) d alpha`` into ``int_0^1 f(phi(u)) phi'(u) du`` with
``phi = u^-1`` and ``phi' = C(1) / rho(phi)``: equal segments in ``u`` are
short where ``rho`` is large. Nested levels in ``u`` stay nested in ``alpha``,
so every gradient is still reused.

On LAM's blur path the integrand is the network's gradient times
``dgamma/dalpha = -sigma * (dk/ds) * x``: it is large where the Gaussian
kernel changes fast (``s`` about 0.3 to 0.8 LR pixels) and, the discrete
kernel being a delta below ``s`` of about 0.15, zero on the last eighth of the
path (``alpha > 0.875`` for the reference's ``sigma = 1.2``). The density of
`ProgressiveBlurPath.node_density` follows the kernel's first three derivatives.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

Density = Callable[[Tensor], Tensor]

_NODES, _WEIGHTS = (torch.from_numpy(v) for v in np.polynomial.legendre.leggauss(8))
_NODES, _WEIGHTS = (_NODES + 1) / 2, _WEIGHTS / 2  # on [0, 1]


def check_density(values: object, count: int) -> None:
    """Raise ``ValueError`` unless ``values`` is ``count`` positive finite numbers."""
    if (
        not isinstance(values, Tensor)
        or values.shape != (count,)
        or not bool(torch.isfinite(values).all())
        or not bool((values > 0).all())
    ):
        got = (
            f"shape {tuple(values.shape)}, smallest {float(values.min()):g}"
            if isinstance(values, Tensor) and values.numel()
            else type(values).__name__
        )
        raise ValueError(
            "node_density(alphas) must return a positive, finite tensor shaped "
            f"like alphas ({count},) for n_steps='auto', got {got}"
        )


class Warp:
    """``alpha = phi(u)`` with ``u(alpha) = C(alpha) / C(1)`` (see the module).

    Parameters
    ----------
    density : callable
        ``density(alphas)`` for float64 alphas in [0, 1], shape (S,): positive
        and smooth, shape (S,) (the rule in ``u`` is as exact as
        ``f(phi(u)) phi'(u)`` is smooth).
    intervals : int
        Pieces of the table of ``C`` (Gauss-Legendre, 8 nodes each); the
        inverse is then refined by Newton's method to rounding error.

    Examples
    --------
    >>> warp = Warp(lambda a: 1 + a)  # C(a) = a + a^2 / 2, C(1) = 1.5
    >>> alpha, slope = warp(torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    >>> [round(float(a), 6) for a in alpha]
    [0.0, 0.581139, 1.0]
    >>> round(float(slope[1]), 6)  # C(1) / density(alpha)
    0.948683
    """

    def __init__(self, density: Density, intervals: int = 256) -> None:
        self.density = density
        self.intervals = intervals
        self._starts = torch.arange(intervals, dtype=torch.float64) / intervals
        # the density at every table point once: checked, then integrated
        points = self._starts[:, None] + _NODES[None] / intervals
        values = density(points.reshape(-1))
        check_density(values, points.numel())
        pieces = (values.reshape(points.shape) * _WEIGHTS[None]).sum(dim=1) / intervals
        self._table = torch.cat([torch.zeros(1, dtype=torch.float64), pieces.cumsum(0)])
        self.total = float(self._table[-1])
        self._known: dict[float, tuple[float, float]] = {}

    def _integral(self, lo: Tensor, hi: Tensor) -> Tensor:
        """``int_lo^hi density``, elementwise, (S,)."""
        width = (hi - lo)[:, None]
        points = lo[:, None] + width * _NODES[None]
        values = self.density(points.reshape(-1)).reshape(points.shape)
        return (values * _WEIGHTS[None] * width).sum(dim=1)

    def __call__(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """``(phi(u), phi'(u))`` for float64 ``u`` in [0, 1], each (S,);
        each ``u`` is computed once per warp."""
        keys = u.to(torch.float64).tolist()
        missing = sorted({k for k in keys if k not in self._known})
        if missing:
            alpha, slope = self._compute(torch.tensor(missing, dtype=torch.float64))
            self._known.update(zip(missing, zip(alpha.tolist(), slope.tolist())))
        pairs = torch.tensor([self._known[k] for k in keys], dtype=torch.float64)
        return pairs[:, 0].reshape(u.shape), pairs[:, 1].reshape(u.shape)

    def _compute(self, u: Tensor) -> tuple[Tensor, Tensor]:
        target = u * self.total
        piece = torch.searchsorted(self._table, target, right=True) - 1
        piece = piece.clamp(0, self.intervals - 1)
        lo = self._starts[piece]
        hi = lo + 1.0 / self.intervals
        start = self._table[piece]
        span = self._table[piece + 1] - start
        alpha = lo + (target - start) / span / self.intervals
        for _ in range(6):  # Newton on C(alpha) = target, from the linear guess
            step = (start + self._integral(lo, alpha) - target) / self.density(alpha)
            alpha = torch.minimum(torch.maximum(alpha - step, lo), hi)
        alpha = torch.where(u <= 0, torch.zeros_like(alpha), alpha)
        alpha = torch.where(u >= 1, torch.ones_like(alpha), alpha)
        return alpha, self.total / self.density(alpha)

"""Path integrals to a tolerance: nested midpoint rules refined by tripling.

Level ``n`` splits ``[0, 1]`` into ``n`` equal segments and takes the integrand
at their midpoints. Tripling every segment keeps the old midpoints (the middle
third's midpoint is the segment's), so level ``3n`` costs ``2n`` new gradients
and reuses every one already computed: the old sum is divided by 3 and the new
nodes' sum is added. Levels 1, 3, 9, 27, ... cost 1, 3, 9, 27, ... gradients
in all.

The error of the finest level is estimated from the last three levels. With
``D_n = max|S_n - S_{n/3}|`` (relative to ``max|S_n|``, per map), a rule whose
error shrinks by ``r`` per level has error ``D_n / (r - 1)``. The midpoint rule
gains a factor 9 per level on smooth integrands but only 3 where the integrand
jumps, and LAM's integrand always jumps: the objective's gradient magnitude
``sqrt(dx^2 + dy^2)`` has a kink wherever a window pixel's output gradient
crosses zero, and ReLU/PReLU networks add their own. The smooth part dies out
first, so a ratio observed early (9 or more) says nothing about the next level,
where the jumps dominate (measured on SPAN x4: differences 7.9e-2, 1.2e-3,
2.6e-4 at levels 6, 18, 54). An observed ratio below 3 is no better a guide:
the error of an integrand with jumps falls by 3 per level only on average (by
1.7 at one level and by 20 at the next on one SPAN window), and reading 2 as
"slow from now on" sent such windows to 486 steps for an error of 1e-4. The
integrand is bounded with finitely many jumps, so the rule is first order at
worst: the estimate is ``SAFETY * D_n / (3 - 1)`` while the differences shrink
(``D_n < D_{n/3}``) and infinite while they do not (the levels are too coarse
to say anything yet).

``SAFETY`` is set from measurements on published networks, because the error
of a jump lying close to a segment boundary that all levels share is the same
at every level, so no difference of levels can see it: the estimate is
statistical. The factor needed to bound the true error ranged up to 1.27 over
78 (window, level) pairs of 8 networks; 1.5 bounded all of them and bounds
>= 95% of random-jump trials (``tests/test_adaptive.py``). The published study:
``benchmarks/honesty.py``, ``tests/test_honesty_study.py``,
docs/speed-accuracy.md.

Measured for issue 30 and not adopted (``benchmarks/tolerance_bar.py``,
docs/speed-accuracy.md): levels 3, 9, 27, 81, ... (first level 3) cut the
median time ratio to the reference scheme on 8 SPAN x4 windows from 0.067 to
0.056, but took 243 steps on 3 of them and bounded only 13 of 14 stops of the
CI honesty sample (92.9%, bar 95%). Alpha schedules (nodes uniform in the
kernel's nearest weight, the path's speed or the integrand's own profile),
Richardson extrapolation, an observed-order estimate and greedy per-segment
refinement were simulated on per-node maps of two windows and did not beat the
uniform rule at 54 steps.

The controller (``integrate_to_tolerance``) knows nothing of networks: it
asks a callback for ``sum_i weights[i] * integrand(alphas[i])``, one map per
example. ``integrate_steps`` connects it to the engine: a fixed number of
steps runs the engine once with the chosen rule, ``"auto"`` runs it once per
level with that level's new nodes.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import torch
from torch import Tensor

from ..paths import Path
from .checks import as_int, caller_stacklevel
from .engine import GradientFn, Region, _Rule, check_integration, integrate
from .engine import steps_per_pass as _steps_per_pass

#: The error's ratio per level assumed by the estimate: 3, the midpoint rule's
#: gain per tripling on integrands with jumps (first order).
RATIO = 3.0
#: Factor applied to the geometric-tail estimate (see the module docstring):
#: up to 1.27 was needed on published networks, 1.5 keeps a margin.
SAFETY = 1.5
#: Most gradient evaluations of ``n_steps="auto"`` (level 2 * 3^6).
DEFAULT_MAX_STEPS = 1458
#: Segments of the first level: levels 2, 6, 18, 54, ... On SPAN x4, 1e-3 takes
#: 54 on chelsea's windows and 162 on a coffee window; the 1, 3, 9, 27, 81 family
#: would jump from 27 (true errors 2.6e-4 to 1.1e-3) to 81.
FIRST_LEVEL = 2
#: Tolerance of ``n_steps="auto"`` when none is given.
DEFAULT_TOLERANCE = 1e-3
#: The rule's name in reports.
RULE = "nested midpoint (tripling)"

Contributions = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class IntegrationReport:
    """How a path integral was computed.

    Attributes
    ----------
    n_steps : int
        Gradient evaluations used (all levels together).
    method : str
        The integration rule.
    estimated_error : Tensor or None
        Shape (M,), one per map: the estimated ``max |map - exact map| /
        max |map|``. None for a fixed ``n_steps`` (no estimate is made).
    tolerance : float or None
        The requested bound on ``estimated_error``; None for a fixed ``n_steps``.
    converged : bool
        Whether every estimate is at most the tolerance (True for a fixed
        ``n_steps``).
    """

    n_steps: int
    method: str
    estimated_error: Optional[Tensor] = None
    tolerance: Optional[float] = None
    converged: bool = True

    @property
    def max_estimated_error(self) -> Optional[float]:
        """The largest estimate over the maps, or None."""
        if self.estimated_error is None:
            return None
        return float(self.estimated_error.max())


def check_steps(
    n_steps: Any, method: Any, internal_batch_size: Any, tolerance: Any = None
) -> Optional[float]:
    """Validate the integration arguments; the tolerance to reach, or None.

    ``n_steps`` is an integer >= 1 (a fixed rule, ``tolerance`` must be None) or
    ``"auto"`` (``tolerance`` defaults to ``DEFAULT_TOLERANCE``).
    """
    if isinstance(n_steps, str) and n_steps == "auto":
        check_integration(1, method, internal_batch_size)
        chosen = DEFAULT_TOLERANCE if tolerance is None else tolerance
        check_tolerance(n_steps, chosen)
        return float(chosen)
    number = None if isinstance(n_steps, str) else as_int(n_steps)
    if number is None or number < 1:
        raise ValueError(f"n_steps must be an integer >= 1 or 'auto', got {n_steps!r}")
    check_integration(number, method, internal_batch_size)
    check_tolerance(n_steps, tolerance)
    return None


def check_tolerance(
    n_steps: object,
    tolerance: object,
    max_steps: object = DEFAULT_MAX_STEPS,
    first_level: int = FIRST_LEVEL,
) -> None:
    """Validate ``tolerance`` (given ``n_steps``) and ``max_steps``."""
    if tolerance is None:
        return
    if n_steps != "auto":
        raise ValueError(
            f"tolerance needs n_steps='auto' (got n_steps={n_steps!r}); a fixed "
            "number of steps makes no error estimate"
        )
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, (int, float))
        or not (1e-7 <= tolerance < 1)
    ):
        raise ValueError(
            f"tolerance must be a number in [1e-7, 1) (relative map error), got "
            f"{tolerance!r}"
        )
    least = 9 * first_level  # three levels: the error estimate needs them
    if (
        isinstance(max_steps, bool)
        or not isinstance(max_steps, int)
        or max_steps < least
    ):
        raise ValueError(f"max_steps must be an integer >= {least}, got {max_steps!r}")


def _relative_max(difference: Tensor, reference: Tensor) -> Tensor:
    """Per map (first dimension): ``max|difference| / max|reference|``, (M,)."""
    num = difference.abs().flatten(1).amax(dim=1).double()
    den = reference.abs().flatten(1).amax(dim=1).double()
    out = num / den
    # a map that is exactly zero at both levels is exact
    return torch.where(num == 0, torch.zeros_like(out), out)


def estimate_error(previous: Tensor, last: Tensor) -> Tensor:
    """Error of the finest level from the last two level differences.

    ``previous`` = ``D_{n/3}``, ``last`` = ``D_n`` (relative, per map, (M,)):
    ``SAFETY * D_n / (RATIO - 1)`` while ``D_n < D_{n/3}``, else infinite.
    """
    tail = SAFETY * last / (RATIO - 1)
    tail = torch.where(last < previous, tail, torch.full_like(tail, math.inf))
    return torch.where(last == 0, torch.zeros_like(tail), tail)


def new_nodes(level: int, first_level: int = FIRST_LEVEL) -> tuple[Tensor, Tensor]:
    """The nodes that level ``level`` adds, and their weights ``1/level``.

    The first level: all ``first_level`` midpoints. Level 3n: the midpoints of
    the outer thirds of level n's segments. float64, shape (S,).
    """
    if level == first_level:
        alphas = (torch.arange(level, dtype=torch.float64) + 0.5) / level
    else:
        old = level // 3
        mids = (torch.arange(old, dtype=torch.float64) + 0.5) / old
        third = 1.0 / level
        alphas = torch.stack([mids - third, mids + third], dim=1).reshape(-1)
    return alphas, torch.full_like(alphas, 1.0 / level)


def integrate_to_tolerance(
    contributions: Contributions,
    tolerance: float,
    max_steps: Optional[int] = None,
    first_level: int = FIRST_LEVEL,
) -> tuple[Tensor, IntegrationReport]:
    """Refine nested midpoint levels until the estimated map error <= tolerance.

    Parameters
    ----------
    contributions : callable
        ``contributions(alphas, weights)``, both float64 (S,), returns
        ``sum_i weights[i] * gradient(alphas[i]) * dgamma/dalpha(alphas[i])``,
        shape (M, ...): one map per example.
    tolerance : float
        Bound on the estimated relative map error (max over pixels of the
        error over max of the map), for every map.
    max_steps : int, optional
        Gradient evaluations allowed (default ``DEFAULT_MAX_STEPS``); the
        last level that fits is the last one computed (``converged=False`` in
        the report if it is not enough).
    first_level : int
        Segments of the first level; the levels are ``first_level * 3^k``.

    Returns
    -------
    total : Tensor
        (M, ...), the finest level's sum.
    report : IntegrationReport

    Examples
    --------
    >>> f = lambda a, w: (w * torch.cos(a)).sum().reshape(1, 1)
    >>> total, report = integrate_to_tolerance(f, 1e-5)
    >>> error = abs(float(total) - math.sin(1.0)) / math.sin(1.0)
    >>> report.n_steps, error <= report.max_estimated_error <= 1e-5
    (162, True)
    """
    if max_steps is None:
        max_steps = DEFAULT_MAX_STEPS
    check_tolerance("auto", tolerance, max_steps, first_level)
    total: Optional[Tensor] = None
    differences: list[Tensor] = []
    estimate: Optional[Tensor] = None
    level = first_level
    while level <= max_steps:
        alphas, weights = new_nodes(level, first_level)
        added = contributions(alphas, weights)
        refined = added if total is None else total / 3 + added
        if total is not None:
            differences.append(_relative_max(refined - total, refined))
        total = refined
        if len(differences) >= 2:
            estimate = estimate_error(differences[-2], differences[-1])
            if bool((estimate <= tolerance).all()):
                break
        level *= 3
    else:
        level //= 3
    assert total is not None
    if estimate is None:  # max_steps allowed fewer than three levels
        estimate = torch.full((total.shape[0],), math.inf, dtype=torch.float64)
    report = IntegrationReport(
        n_steps=level,
        method=RULE,
        estimated_error=estimate,
        tolerance=tolerance,
        converged=bool((estimate <= tolerance).all()),
    )
    return total, report


def integrate_steps(
    gradients: GradientFn,
    path: Path,
    inputs: Tensor,
    n_steps: Union[int, str],
    method: str,
    internal_batch_size: Optional[int],
    tolerance: Optional[float],
    *,
    num_maps: Optional[int] = None,
    region: Region = (),
    progress: Optional[Callable[[int, int], None]] = None,
) -> tuple[Tensor, IntegrationReport]:
    """The engine's ``integrate`` with a fixed or an
    automatic number of steps (``n_steps="auto"``: to ``tolerance``).

    Arguments as for the engine; returns the maps and how they were computed.
    """

    def run(rule: _Rule, done: int = 0) -> Tensor:
        per_pass = _steps_per_pass(inputs, len(rule), internal_batch_size)
        shifted = None
        if progress is not None:
            shifted = lambda k, n: progress(done + k, done + n)  # noqa: E731
        return integrate(
            gradients,
            path,
            inputs,
            rule,
            per_pass,
            num_maps=num_maps,
            region=region,
            progress=shifted,
        )

    if n_steps != "auto":
        n_steps = int(n_steps)  # numpy integers too
        total = run(_Rule.of(method, n_steps))
        return total, IntegrationReport(n_steps=n_steps, method=method)
    assert tolerance is not None
    done = 0

    def contributions(alphas: Tensor, weights: Tensor) -> Tensor:
        nonlocal done
        total = run(_Rule(RULE, alphas=alphas, weights=weights), done)
        done += len(alphas)
        return total

    # the module's levels, read at call time (the benchmarks compare schemes)
    total, report = integrate_to_tolerance(
        contributions, tolerance, DEFAULT_MAX_STEPS, FIRST_LEVEL
    )
    if not report.converged:
        warnings.warn(
            f"n_steps='auto' stopped at {report.n_steps} steps (the most allowed) "
            f"with an estimated map error of {report.max_estimated_error:.2g}, "
            f"above the tolerance {tolerance:g}; the map is less exact than asked",
            stacklevel=caller_stacklevel(),
        )
    return total, report

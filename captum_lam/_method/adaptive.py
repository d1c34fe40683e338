"""Path integrals to a tolerance: nested trapezoid rules refined by doubling.

Level ``n`` splits ``[0, 1]`` into ``n`` equal segments and takes the
trapezoid rule on them (the integrand at the ``n + 1`` segment ends). The
segments are equal in ``u``, a change of variable ``alpha = phi(u)`` from
the path's `Path.node_density` (``_method.schedule``): on LAM's blur path
the nodes are dense where the kernel changes fast and sparse where the
integrand is zero; on a path without a density ``u = alpha``.
Doubling keeps every old node, so level ``2n`` costs ``n`` new gradients and
reuses all the others: the old sum is halved and the new nodes' sum added.
Levels 2, 4, 8, ..., 64, 128, ... cost 3, 5, 9, ..., 65, 129, ... gradients
in all. Round one's family, midpoints of 2, 6, 18, 54, 162, ... segments
refined by tripling (``MIDPOINT``), works the same way and stays available.
The package's family (``SIMPSON_QUARTERS``) is ``TRAPEZOID`` to 16
segments; from there each quarter of ``u`` has its own number of segments and
is doubled on its own, the quarters whose last difference is largest first
(`_integrate_by_blocks`): where the integrand is rough on one part of the
path only, the others keep their nodes. On the same nodes, each map may be
Simpson's (``_method.richardson``) where its estimate is the smaller.

The error of the finest level is estimated from the last three levels. With
``D_n = max|S_n - S_{n/g}|`` (relative to ``max|S_n|``, per map; ``g`` the
growth per level), a rule whose error shrinks by ``r`` per level has error
``D_n / (r - 1)``. Both rules gain ``g^2`` per level on smooth integrands
but only ``g`` where the integrand jumps, and LAM's integrand always jumps
(the objective's ``sqrt(dx^2 + dy^2)``, ReLU/PReLU networks): the smooth part
dies out first, so a ratio observed early says nothing about the next level
(SPAN x4: midpoint differences 7.9e-2, 1.2e-3, 2.6e-4 at levels 6, 18, 54),
and one below ``g`` is no better a guide (jumps cost ``g`` per level only on
average). The rule is first order at worst: the estimate is ``SAFETY * D_n /
(g - 1)`` while the differences shrink (``D_n < D_{n/g}``), infinite while
they do not (the levels are too coarse to say anything yet).

``SAFETY`` is set from measurements on published networks, because the error
of a jump lying close to a segment boundary that all levels share is the same
at every level, so no difference of levels can see it: the estimate is
statistical. The published study: ``benchmarks/honesty.py``,
``tests/test_honesty_study.py``, docs/speed-accuracy.md.

Issue 30's rounds are measured in docs/speed-accuracy.md (with the
benchmarks behind each figure): doubling halves tripling's one-level lag (2);
nodes by the path's density (3, 4) and quarters refined apart (5) put the
gradients where the error is; one engine run per round (6) fills the passes;
Simpson's map where its estimate is the smaller (8). Observed-order estimates
(4, 7: ``OBSERVED_ORDER``, ``GATED_ORDER``) and a smaller ``SAFETY`` (0.8:
94.2% bounded) were not honest enough to adopt.

The controller (``integrate_to_tolerance``) knows nothing of networks: it
asks a callback for ``sum_i weights[i] * integrand(alphas[i])``, one map per
example. ``integrate_steps`` connects it to the engine: a fixed number of
steps runs the engine once with the chosen rule, ``"auto"`` runs it once per
level (or refinement round) with that level's new nodes.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional, Union

import torch
from torch import Tensor

from ..paths import Path, ProgressiveBlurPath
from .checks import as_int, caller_stacklevel
from .engine import GradientFn, Region, _Rule, check_integration, integrate
from .engine import steps_per_pass as _steps_per_pass
from .observed_order import order_weights
from .richardson import relative_max as _relative_max
from .richardson import simpson_blocks
from .schedule import Warp


@dataclass(frozen=True)
class Levels:
    """A family of nested rules: level ``n`` has ``n`` equal segments, the
    levels are ``first * growth^k`` and each reuses every node of the last.

    ``endpoints``: the trapezoid rule (nodes at the segments' ends, ``n + 1``
    gradients at level ``n``, doubling keeps them); otherwise the midpoint rule
    (nodes at the centres, ``n`` gradients, tripling keeps them).
    """

    name: str
    first: int
    growth: int
    endpoints: bool
    #: the change of variable ``alpha = phi(u)`` (``_method.schedule.Warp``):
    #: the levels' equal segments are in ``u``; None: in ``alpha``
    warp: Optional[Callable[[Tensor], tuple[Tensor, Tensor]]] = None
    #: > 1: from level ``refine_from`` on, the ``blocks`` equal parts of ``u``
    #: are refined apart, those that differ most first (trapezoid doubling
    #: from level 2 only; see `integrate_to_tolerance`)
    blocks: int = 1
    refine_from: int = 16
    #: the parts refined each round: the largest differences that make up
    #: this share of their sum (and every part whose difference grew)
    share: float = 0.3
    #: > 2 (``blocks > 1``): from level ``refine_from`` on, each part's
    #: difference counts ``1 / (r - 1)`` times, ``r`` its last two
    #: differences' observed ratio taken into ``[2, max_ratio]`` (2: first
    #: order everywhere, every part counted once)
    max_ratio: float = 2.0
    #: with ``max_ratio > 2``: 0 lets every ratio count; above 2, a part's
    #: order counts only where its last ratio (and the one before, where
    #: it has one) is at least ``trust``, ``1 / (r - 1)`` with ``r`` up to
    #: ``max_ratio``, and the part counts once (first order) elsewhere
    trust: float = 0.0
    #: the factor on the estimate (None: ``SAFETY``, read at call time)
    safety: Optional[float] = None
    #: ``blocks > 1``: from level ``refine_from`` on, a map whose blocks'
    #: Simpson sums (`_method.richardson`) have the smaller estimate is
    #: Simpson's (the blocks are still refined by the trapezoids' differences)
    simpson: bool = False

    def __post_init__(self) -> None:
        if not self.max_ratio >= 2:
            raise ValueError("max_ratio must be >= 2 (2: first order)")
        if not (self.trust == 0 or 2 < self.trust <= self.max_ratio):
            raise ValueError("trust must be 0 or in (2, max_ratio]")
        count = self.blocks
        if count == 1:
            if self.max_ratio > 2 or self.simpson:
                raise ValueError("max_ratio > 2 and simpson need blocks > 1")
            return
        if not (self.endpoints and self.first == 2 and self.growth == 2):
            raise ValueError("blocks > 1 needs the trapezoid levels doubled from 2")
        if (
            count & (count - 1)
            or self.refine_from % count
            or self.refine_from < 4 * count
        ):
            raise ValueError("blocks must be a power of 2 and refine_from >= 4 blocks")

    def gradients(self, level: int) -> int:
        """Gradient evaluations of all levels up to ``level`` together."""
        return level + 1 if self.endpoints else level

    def new_nodes(self, level: int) -> tuple[Tensor, Tensor]:
        """The nodes that ``level`` adds to the level before, and their
        weights (all of them at the first level). float64, shape (S,)."""
        alphas, weights = self._equal_segments(level)
        if self.warp is None:
            return alphas, weights
        warped, slope = self.warp(alphas)
        return warped, weights * slope

    def _equal_segments(self, level: int) -> tuple[Tensor, Tensor]:
        if level == self.first:
            if self.endpoints:
                alphas = torch.arange(level + 1, dtype=torch.float64) / level
                weights = torch.full_like(alphas, 1.0 / level)
                weights[[0, -1]] /= 2
                return alphas, weights
            alphas = (torch.arange(level, dtype=torch.float64) + 0.5) / level
        elif self.endpoints:  # the midpoints of the last level's segments
            alphas = (2 * torch.arange(level // 2, dtype=torch.float64) + 1) / level
        else:  # the midpoints of the outer thirds of the last level's segments
            old = level // 3
            mids = (torch.arange(old, dtype=torch.float64) + 0.5) / old
            third = 1.0 / level
            alphas = torch.stack([mids - third, mids + third], dim=1).reshape(-1)
        return alphas, torch.full_like(alphas, 1.0 / level)


#: Round one's levels: midpoints of 2, 6, 18, 54, 162, ... segments.
MIDPOINT = Levels("nested midpoint (tripling)", first=2, growth=3, endpoints=False)
#: Rounds two to four's levels: trapezoids of 2, 4, 8, ..., 64, 128, ... segments.
TRAPEZOID = Levels("nested trapezoid (doubling)", first=2, growth=2, endpoints=True)
#: The package's levels: ``TRAPEZOID`` to 16 segments, then each quarter of
#: ``u`` doubled on its own, the quarters that differ most first.
QUARTERS = Levels(
    "nested trapezoid (doubling), quarters refined apart",
    first=2,
    growth=2,
    endpoints=True,
    blocks=4,
)
#: Round seven's candidate, measured and not adopted (docs/speed-accuracy.md):
#: ``QUARTERS`` whose estimate from 16 segments on counts each quarter's
#: difference by its observed order, up to the trapezoid's second order
#: (``max_ratio`` 4), with its own factor. Sharp enough for the tolerance
#: bar's moon window (21 steps) only where it is no longer honest on ReLU
#: networks (python -m benchmarks.dense_integrand DIR --honesty HDIR).
OBSERVED_ORDER = replace(
    QUARTERS,
    name="nested trapezoid (doubling), quarters refined apart, observed order",
    max_ratio=4.0,
    safety=2.0,
)
#: ``OBSERVED_ORDER`` counting a quarter's order only where its last two
#: ratios are at least 3.5 (measured, not adopted either).
GATED_ORDER = replace(
    OBSERVED_ORDER, name=OBSERVED_ORDER.name + ", gated at 3.5", trust=3.5
)
#: Round eight's: ``QUARTERS``, each map Simpson's where its estimate is the
#: smaller (``simpson``; docs/speed-accuracy.md).
SIMPSON_QUARTERS = replace(
    QUARTERS, name=QUARTERS.name + ", Simpson's where it is sharper", simpson=True
)
#: The levels of ``n_steps="auto"`` (read at call time; see the module docstring).
LEVELS = SIMPSON_QUARTERS
#: Whether ``n_steps="auto"`` spaces its levels by the path's node density
#: (`Path.node_density`; read at call time).
FOLLOW_DENSITY = True
#: Factor applied to the geometric-tail estimate (see the module docstring).
SAFETY = 1.2
#: Most gradient evaluations of ``n_steps="auto"`` (trapezoid level 2048).
DEFAULT_MAX_STEPS = 2049
#: Tolerance of ``n_steps="auto"`` when none is given.
DEFAULT_TOLERANCE = 1e-3


#: ``contributions(alphas, weights)`` and, for ``blocks > 1``,
#: ``contributions(alphas, weights, groups)`` (see `integrate_to_tolerance`).
Contributions = Callable[..., Tensor]


def sum_by_group(terms: Tensor, groups: Optional[Tensor]) -> Tensor:
    """``terms`` (S, ...) summed over dim 0: (...), or per label of
    ``groups`` (S,) int64 ``0 .. G - 1``: (G, ...), an empty label's sum zero."""
    if groups is None:
        return terms.sum(dim=0)
    return torch.stack(
        [terms[groups == g].sum(dim=0) for g in range(int(groups.max()) + 1)]
    )


@dataclass(frozen=True)
class IntegrationReport:
    """How a path integral was computed.

    Attributes
    ----------
    n_steps : int
        Gradient evaluations used (all levels together); for
        ``n_steps="auto"`` the rule's nodes, of which those where the path
        does not move (its term is zero) cost no gradient.
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
    max_steps: object = None,
    levels: Optional[Levels] = None,
) -> None:
    """Validate ``tolerance`` (given ``n_steps``) and ``max_steps`` (default
    ``DEFAULT_MAX_STEPS``) for ``levels`` (default ``LEVELS``)."""
    levels = LEVELS if levels is None else levels
    max_steps = DEFAULT_MAX_STEPS if max_steps is None else max_steps
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
    # three levels: the error estimate needs them
    least = levels.gradients(levels.first * levels.growth**2)
    if (
        isinstance(max_steps, bool)
        or not isinstance(max_steps, int)
        or max_steps < least
    ):
        raise ValueError(f"max_steps must be an integer >= {least}, got {max_steps!r}")


def estimate_error(previous: Tensor, last: Tensor, growth: int) -> Tensor:
    """Error of the finest level from the last two level differences.

    ``previous`` = ``D_{n/g}``, ``last`` = ``D_n`` (relative, per map, (M,)),
    ``g`` = ``growth``: ``SAFETY * D_n / (g - 1)`` (first order: the error
    shrinks by ``g`` per level) while ``D_n < D_{n/g}``, else infinite.
    """
    tail = SAFETY * last / (growth - 1)
    tail = torch.where(last < previous, tail, torch.full_like(tail, math.inf))
    return torch.where(last == 0, torch.zeros_like(tail), tail)


def integrate_to_tolerance(
    contributions: Contributions,
    tolerance: float,
    max_steps: Optional[int] = None,
    levels: Optional[Levels] = None,
) -> tuple[Tensor, IntegrationReport]:
    """Refine nested levels until the estimated map error <= tolerance.

    Parameters
    ----------
    contributions : callable
        ``contributions(alphas, weights)``, both float64 (S,), returns
        ``sum_i weights[i] * gradient(alphas[i]) * dgamma/dalpha(alphas[i])``,
        shape (M, ...): one map per example. Levels with ``blocks > 1`` call
        ``contributions(alphas, weights, groups)``, ``groups`` int64 (S,)
        labels ``0 .. G - 1``, for the sums of each label apart: (G, M, ...).
    tolerance : float
        Bound on the estimated relative map error (max over pixels of the
        error over max of the map), for every map.
    max_steps : int, optional
        Gradient evaluations allowed (default ``DEFAULT_MAX_STEPS``); the
        last level that fits is the last one computed (``converged=False`` in
        the report if it is not enough).
    levels : Levels, optional
        The family of nested rules (default ``LEVELS``).

    Returns
    -------
    total : Tensor
        (M, ...), the finest level's sum (``levels.simpson``: Simpson's, per map,
        where its estimate is the smaller).
    report : IntegrationReport

    Examples
    --------
    >>> def f(alphas, weights, groups=torch.tensor([0])):
    ...     terms = weights * torch.cos(alphas)  # one map of one pixel per group
    ...     labels = groups.expand_as(terms)
    ...     sums = torch.zeros(int(labels.max()) + 1, dtype=torch.float64)
    ...     return sums.index_add(0, labels, terms).reshape(-1, 1, 1)
    >>> total, report = integrate_to_tolerance(f, 1e-5)
    >>> error = abs(float(total) - math.sin(1.0)) / math.sin(1.0)
    >>> report.n_steps, error <= report.max_estimated_error <= 1e-5
    (17, True)
    """
    levels = LEVELS if levels is None else levels
    max_steps = DEFAULT_MAX_STEPS if max_steps is None else max_steps
    check_tolerance("auto", tolerance, max_steps, levels)
    if levels.blocks > 1:
        return _integrate_by_blocks(contributions, tolerance, max_steps, levels)
    total: Optional[Tensor] = None
    differences: list[Tensor] = []
    estimate: Optional[Tensor] = None
    level = levels.first
    while levels.gradients(level) <= max_steps:
        alphas, weights = levels.new_nodes(level)
        added = contributions(alphas, weights)
        refined = added if total is None else total / levels.growth + added
        if total is not None:
            differences.append(_relative_max(refined - total, refined))
        total = refined
        if len(differences) >= 2:
            estimate = estimate_error(differences[-2], differences[-1], levels.growth)
            if bool((estimate <= tolerance).all()):
                break
        level *= levels.growth
    else:
        level //= levels.growth
    assert total is not None
    if estimate is None:  # max_steps allowed fewer than three levels
        estimate = torch.full((total.shape[0],), math.inf, dtype=torch.float64)
    report = IntegrationReport(
        n_steps=levels.gradients(level),
        method=levels.name,
        estimated_error=estimate,
        tolerance=tolerance,
        converged=bool((estimate <= tolerance).all()),
    )
    return total, report


def _integrate_by_blocks(
    contributions: Contributions, tolerance: float, max_steps: int, levels: Levels
) -> tuple[Tensor, IntegrationReport]:
    """`integrate_to_tolerance` for ``levels.blocks > 1``.

    To level ``refine_from`` the levels and the stopping rule are the uniform
    ones (``D_n`` of the whole map). Then block ``b`` (``u`` in
    ``[b / B, (b + 1) / B]``) has its own number of segments ``m_b`` and
    difference ``d_b`` (its trapezoid sum minus the one of ``m_b / 2``
    segments, a map); the estimate is ``SAFETY * max|sum_b d_b| / max|map|``,
    the uniform rule's when every ``m_b`` is equal. Each round doubles the
    blocks with the largest ``max|d_b|`` that make up ``share`` of their sum,
    and every block whose difference did not shrink (while one has not, the
    estimate is infinite, as in the uniform rule). With ``levels.simpson`` a
    map whose Simpson estimate (`simpson_blocks`) is smaller is Simpson's.
    """
    count = levels.blocks

    def added_nodes(b: int, segments: int) -> Tensor:
        """The nodes of block ``b`` at ``segments`` that the half had not."""
        k = torch.arange(segments // 2, dtype=torch.float64)
        return (b + (2 * k + 1) / segments) / count

    def evaluate(groups: list[Tensor]) -> list[Tensor]:
        """The sum of the integrand over each group of ``u`` (weights one, in
        ``u``), from one call of ``contributions``."""
        u = torch.cat(groups)
        weights = torch.ones_like(u)
        alphas = u
        if levels.warp is not None:
            alphas, slope = levels.warp(u)
            weights = weights * slope
        sizes = torch.tensor([len(group) for group in groups])
        labels = torch.repeat_interleave(torch.arange(len(groups)), sizes)
        return list(contributions(alphas, weights, labels))

    # the block ends, one map each, and the sum over each block's inner nodes;
    # the levels to the first estimate are always computed (check_tolerance),
    # so their nodes are one call
    first_estimate = levels.first * levels.growth**2
    early = [2**k for k in range(1, 64) if 2**k * count <= first_estimate]
    sums = evaluate(
        [torch.tensor([j / count], dtype=torch.float64) for j in range(count + 1)]
        + [added_nodes(b, m) for m in early for b in range(count)]
    )
    ends = sums[: count + 1]
    computed = {
        m: sums[count + 1 + i * count : count + 1 + (i + 1) * count]
        for i, m in enumerate(early)
    }
    inner: list[Optional[Tensor]] = [None] * count
    steps = count + 1

    def block_sum(b: int, segments: int) -> Tensor:
        edge = (ends[b] + ends[b + 1]) / 2
        inside = edge if inner[b] is None else edge + inner[b]
        return inside / (count * segments)

    def uniform_sum(n: int) -> Tensor:  # n <= count: only block ends
        stride = count // n
        picked = [ends[j] for j in range(stride, count, stride)]
        total = (ends[0] + ends[count]) / 2
        return (total + sum(picked) if picked else total) / n

    ordered = levels.max_ratio > 2
    safety = SAFETY if levels.safety is None else levels.safety
    history: list[list[Tensor]] = []  # block sums at segments per block 1, 2, 4, ...
    totals, differences = [], []
    estimate: Optional[Tensor] = None
    level = levels.first
    converged = False
    while True:
        if level > count:
            m = level // count
            added_sums = computed.get(m) or evaluate(
                [added_nodes(b, m) for b in range(count)]
            )
            for b, added in enumerate(added_sums):
                inner[b] = added if inner[b] is None else inner[b] + added
            steps += count * (m // 2)
        if level >= count:
            history.append([block_sum(b, level // count) for b in range(count)])
            totals.append(sum(history[-1]))
        else:
            totals.append(uniform_sum(level))
        if len(totals) >= 2:
            differences.append(_relative_max(totals[-1] - totals[-2], totals[-1]))
        # with observed orders the quarters' estimate decides from refine_from on
        if len(differences) >= 2 and not (ordered and level >= levels.refine_from):
            estimate = estimate_error(differences[-2], differences[-1], 2)
            if bool((estimate <= tolerance).all()):
                converged = True
                break
        if level >= levels.refine_from or levels.gradients(2 * level) > max_steps:
            break
        level *= 2
    if not converged and level >= levels.refine_from:
        segments = [level // count] * count
        sums = history[-1]
        diff = [sums[b] - history[-2][b] for b in range(count)]
        before = [history[-2][b] - history[-3][b] for b in range(count)]
        deep = (ordered or levels.simpson) and len(history) >= 4
        earlier: list[Optional[Tensor]] = [
            history[-3][b] - history[-4][b] if deep else None for b in range(count)
        ]
        while True:
            total = sum(sums)
            sizes = [_relative_max(d, total) for d in diff]
            previous = [_relative_max(p, total) for p in before]
            grew = [(s >= p) & (s > 0) for s, p in zip(sizes, previous)]
            if ordered:
                oldest = [q if q is None else _relative_max(q, total) for q in earlier]
                weights = order_weights(sizes, previous, oldest, levels)
                diff_sum = sum(
                    w.view(-1, *[1] * (d.ndim - 1)) * d for w, d in zip(weights, diff)
                )
            else:
                diff_sum = sum(diff)
            estimate = safety * _relative_max(diff_sum, total)
            if levels.simpson:  # each map takes the rule with the smaller estimate
                simpson, at = simpson_blocks(sums, diff, before, earlier, safety)
                better = at < estimate
                estimate = torch.where(better, at, estimate)
                simpsons = better.view(-1, *[1] * (total.ndim - 1))
                total = torch.where(simpsons, simpson, total)
            estimate = torch.where(
                torch.stack(grew).any(dim=0),
                torch.full_like(estimate, math.inf),
                estimate,
            )
            if bool((estimate <= tolerance).all()):
                converged = True
                break
            worst = [float(s.max()) for s in sizes]
            chosen = {b for b in range(count) if bool(grew[b].any())}
            share, enough = 0.0, levels.share * sum(worst)
            for b in sorted(range(count), key=lambda b: -worst[b]):
                if share >= enough and chosen:
                    break
                chosen.add(b)
                share += worst[b]
            # what max_steps allows of them (or, if none fits, of the others),
            # the largest differences first
            fitting: list[int] = []
            cost = 0
            if all(steps + segments[b] > max_steps for b in chosen):
                chosen = set(range(count))
            for b in sorted(chosen, key=lambda b: -worst[b]):
                if steps + cost + segments[b] <= max_steps:
                    fitting.append(b)
                    cost += segments[b]
            if not fitting:
                break
            fitting.sort()
            groups = [added_nodes(b, 2 * segments[b]) for b in fitting]
            for b, added in zip(fitting, evaluate(groups)):
                segments[b] *= 2
                inner[b] = inner[b] + added
                refined = block_sum(b, segments[b])
                earlier[b], before[b] = before[b], diff[b]
                diff[b], sums[b] = refined - sums[b], refined
            steps += cost
        totals.append(total)
    if estimate is None:  # max_steps allowed fewer than three levels
        estimate = torch.full((totals[-1].shape[0],), math.inf, dtype=torch.float64)
    report = IntegrationReport(
        n_steps=steps,
        method=levels.name,
        estimated_error=estimate,
        tolerance=tolerance,
        converged=converged,
    )
    return totals[-1], report


def levels_for(path: Path) -> Levels:
    """The levels of ``n_steps="auto"`` on ``path``: ``LEVELS``, in the
    variable of the path's node density where it has one (and
    ``FOLLOW_DENSITY``)."""
    levels = LEVELS  # read at call time (the benchmarks compare schemes)
    if not FOLLOW_DENSITY or levels.warp is not None:
        return levels
    if path.node_density(torch.tensor([0.5], dtype=torch.float64)) is None:
        return levels
    if type(path) is ProgressiveBlurPath:
        warp = _blur_warp(path.sigma, path.kernel_size)
    else:
        warp = Warp(path.node_density)
    return replace(
        levels, name=f"{levels.name}, nodes by the path's density", warp=warp
    )


@functools.lru_cache(maxsize=16)
def _blur_warp(sigma: float, kernel_size: int) -> Warp:
    """The warp of LAM's path, built once per blur (its nodes are reused)."""
    return Warp(ProgressiveBlurPath(sigma, kernel_size).node_density)


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

    def run(rule: _Rule, done: int = 0, groups: Optional[Tensor] = None) -> Tensor:
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
            groups=groups,
        )

    if n_steps != "auto":
        n_steps = int(n_steps)  # numpy integers too
        total = run(_Rule.of(method, n_steps))
        return total, IntegrationReport(n_steps=n_steps, method=method)
    assert tolerance is not None
    done = 0

    levels = levels_for(path)

    def contributions(
        alphas: Tensor, weights: Tensor, groups: Optional[Tensor] = None
    ) -> Tensor:
        # a node where the path does not move (alpha = 1 on the blur) adds 0
        nonlocal done
        count = 1 if groups is None else int(groups.max()) + 1
        velocity = path.derivatives(inputs.detach(), alphas)  # the engine's too
        cut = velocity[(Ellipsis, *region)].reshape(len(alphas), -1)
        moving = (weights != 0) & cut.ne(0).any(dim=1).cpu()
        del cut
        total = None
        if bool(moving.any()):
            if not bool(moving.all()):
                velocity = velocity[moving]  # a copy: the whole one is let go
            rule = _Rule(
                levels.name, alphas[moving], weights[moving], derivatives=velocity
            )
            del velocity
            total = run(rule, done, None if groups is None else groups[moving])
        done += len(alphas)
        if progress is not None and not bool(moving.all()):
            progress(done, done)
        maps = inputs.shape[0] if num_maps is None else num_maps
        sums = inputs.new_zeros(count, maps, *inputs.shape[1:])
        if total is not None:
            sums[: len(total)] = total if groups is not None else total[None]
        return sums if groups is not None else sums[0]

    total, report = integrate_to_tolerance(
        contributions, tolerance, DEFAULT_MAX_STEPS, levels
    )
    if not report.converged:
        warnings.warn(
            f"n_steps='auto' stopped at {report.n_steps} steps (the next refinement "
            f"would pass {DEFAULT_MAX_STEPS}, the most allowed) "
            f"with an estimated map error of {report.max_estimated_error:.2g}, "
            f"above the tolerance {tolerance:g}; the map is less exact than asked",
            stacklevel=caller_stacklevel(),
        )
    return total, report

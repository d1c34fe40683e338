"""The adaptive rule's guard: while the level differences do not shrink
(``D_n >= D_{n/g}``) the estimate is infinite and ``n_steps="auto"`` goes on,
whatever the tolerance; it stops at the first level where they shrink and the
estimate ``SAFETY * D_n / (g - 1)`` (``SAFETY`` = 1.2) meets the tolerance,
and says so when max_steps ends it. ``g`` is the family's growth: 3 for nested
midpoints, 2 for the nested trapezoids of ``n_steps="auto"``; the controller is
the same for both.

The integrands are synthetic: the callback returns level sums chosen so that
the controller's arithmetic (``total / g + added``) is exact, so every
difference, tie and estimate below is exact too."""

from __future__ import annotations

import itertools
import math
import random

import pytest
import torch

from captum_lam import LAM
from captum_lam._method import adaptive
from captum_lam._method.adaptive import integrate_to_tolerance

#: Level sums are integer multiples of 2^12 3^8 (exact after eight divisions by
#: 3 or twelve by 2); the map's largest value is ONE, so a difference of m units
#: is m / 2^20.
UNIT = 2**12 * 3**8
MIDPOINT, TRAPEZOID = adaptive.MIDPOINT, adaptive.TRAPEZOID
ONE = 2**20 * UNIT


class Levels:
    """``contributions`` whose k-th level sum is the map ``[ONE, e_k]`` (units),
    with ``|e_k - e_{k-1}| = m_k``: the relative level difference D_k = m_k / 2^20."""

    def __init__(self, steps: list[int], growth: int = 3) -> None:
        self.growth = growth
        self.sums = [0]
        for m in steps:  # move towards 0, so that |e_k| stays far below ONE
            last = self.sums[-1]
            self.sums.append(last - m if last > 0 else last + m)
        self.levels: list[int] = []
        self.total = None

    def __call__(self, alphas: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        k = len(self.levels)
        self.levels.append(len(alphas))
        target = torch.tensor([[ONE, self.sums[k] * UNIT]], dtype=torch.float64)
        added = target if self.total is None else target - self.total / self.growth
        self.total = target
        return added

    def level_sum(self, k: int) -> torch.Tensor:
        return torch.tensor([[ONE, self.sums[k] * UNIT]], dtype=torch.float64)


def expected_stop(steps, tolerance, max_steps, family=MIDPOINT):
    """(index of the last level, its estimate, converged) by the documented rule."""
    level, last_index, estimate = family.first, 0, math.inf
    for k in range(1, len(steps) + 1):
        if family.gradients(level * family.growth) > max_steps:
            return last_index, estimate, False
        level *= family.growth
        last_index = k
        if k >= 2:
            d, before = steps[k - 1] / 2**20, steps[k - 2] / 2**20
            estimate = math.inf if d >= before else 1.2 * d / (family.growth - 1)
            if estimate <= tolerance:
                return k, estimate, True
    raise AssertionError("the sequence is too short for this case")


def run(steps, tolerance, max_steps=1458, family=MIDPOINT):
    levels = Levels(steps, family.growth)
    total, report = integrate_to_tolerance(levels, tolerance, max_steps, family)
    return levels, total, report


@pytest.mark.parametrize("tolerance", [0.99, 0.5, 1e-3, 1e-7])
def test_no_stop_while_the_differences_do_not_shrink(tolerance):
    # equal, then growing differences: infinite estimates, whatever the tolerance
    steps = [64, 64, 128, 4096, 1, 1, 1]
    levels, total, report = run(steps, tolerance)
    if tolerance >= 1.2 / 2**21:  # level 486: D = 2^-20 < D_162, estimate 5.7e-7
        assert report.n_steps == 486 and report.converged
        assert float(report.estimated_error) == 1.2 / 2**21
    else:  # 1e-7 is never met; D stops shrinking at 1458 (equal to D_486)
        assert report.n_steps == 1458 and not report.converged
        assert float(report.estimated_error) == math.inf
    done = list(itertools.accumulate(levels.levels))  # gradients so far, per level
    assert done == [2 * 3**k for k in range(len(levels.levels))]
    assert done[-1] == report.n_steps
    assert torch.equal(total, levels.level_sum(len(levels.levels) - 1))


def test_it_stops_at_the_first_level_that_shrinks_and_meets_the_tolerance():
    # D: 1000, 999 (shrinks: estimate 5.7e-4), 2000 (grows: inf), 10 (shrinks)
    steps = [1000, 999, 2000, 10, 5, 2]
    _, _, report = run(steps, 1e-3)
    assert report.n_steps == 18 and float(report.estimated_error) == 0.6 * 999 / 2**20
    _, _, report = run(steps, 1e-5)  # 5.7e-4 is too much; 54 grows; 162 is below
    assert report.n_steps == 162 and float(report.estimated_error) == 0.6 * 10 / 2**20


def test_an_estimate_equal_to_the_tolerance_meets_it():
    steps = [512, 256, 1, 1]
    _, _, report = run(steps, 0.6 * 256 / 2**20)
    assert report.n_steps == 18 and report.converged
    _, _, report = run(steps, 0.6 * 256 / 2**20 * (1 - 1e-12))
    assert report.n_steps == 54 and report.converged


def test_a_difference_of_zero_is_exact_even_after_a_zero():
    # D_n = 0 = D_{n/3}: the map no longer changes, its estimate is 0
    _, _, report = run([0, 0, 7], 1e-7)
    assert report.n_steps == 18 and float(report.estimated_error) == 0.0


@pytest.mark.parametrize("max_steps", [18, 53, 54, 161, 500])
def test_max_steps_ends_it_at_the_last_level_that_fits(max_steps):
    never_shrinks = [2**k for k in range(1, 8)]
    levels, total, report = run(never_shrinks, 0.9, max_steps)
    last = max(2 * 3**k for k in range(8) if 2 * 3**k <= max_steps)
    assert report.n_steps == last and sum(levels.levels) == last
    assert not report.converged and float(report.estimated_error) == math.inf
    assert torch.equal(total, levels.level_sum(len(levels.levels) - 1))


@pytest.mark.parametrize("family", [MIDPOINT, TRAPEZOID], ids=lambda f: f.name)
def test_the_rule_holds_on_many_generated_sequences(family):
    rng = random.Random(29)
    for case in range(300):
        steps = [rng.choice([0, 1, 2, 3, 5, 8, 100, 1000, 2**15]) for _ in range(11)]
        steps[0] = max(steps[0], 1)
        tolerance = rng.choice([1e-7, 1e-6, 5e-6, 1e-4, 1e-3, 0.5])
        max_steps = rng.choice([18, 20, 54, 129, 162, 486, 1458])
        index, estimate, converged = expected_stop(steps, tolerance, max_steps, family)
        levels, total, report = run(steps, tolerance, max_steps, family)
        where = f"case {case}: {steps}, tolerance {tolerance}, max {max_steps}"
        level = family.first * family.growth**index
        assert report.n_steps == family.gradients(level), where
        assert float(report.estimated_error) == estimate, where
        assert report.converged == converged, where
        assert len(levels.levels) == index + 1, where
        assert torch.equal(total, levels.level_sum(index)), where


def test_lam_warns_when_max_steps_ends_the_refinement(monkeypatch, photo_crop):
    from .conftest import make_tiny_sr

    monkeypatch.setattr(adaptive, "DEFAULT_MAX_STEPS", 18)  # trapezoids: 17 fit
    lam = LAM(make_tiny_sr().double())
    x = photo_crop.double()[..., :12, :12]
    with pytest.warns(UserWarning) as caught:
        lam.attribute(x, target=(4, 4, 8), n_steps="auto", tolerance=1e-7)
    report = lam.last_integration
    assert not report.converged and report.n_steps == 17
    message = str(caught[0].message)
    assert message.startswith(
        "n_steps='auto' stopped at 17 steps (the next refinement would pass 18, "
        "the most allowed)"
    )
    assert f"error of {report.max_estimated_error:.2g}, above the tolerance 1e-07" in (
        message
    )
    assert message.endswith("the map is less exact than asked")

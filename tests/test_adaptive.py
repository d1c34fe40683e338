"""The tolerance controller on integrands whose integral is known exactly."""

import dataclasses
import math

import pytest
import torch

from captum_lam._method.adaptive import (
    GATED_ORDER,
    LEVELS,
    MIDPOINT,
    OBSERVED_ORDER,
    QUARTERS,
    SAFETY,
    SIMPSON_QUARTERS,
    TRAPEZOID,
    check_tolerance,
    integrate_to_tolerance,
    sum_by_group,
)


class Recorder:
    """``sum_i w_i f(alpha_i)`` for a vector integrand f, remembering every alpha."""

    def __init__(self, integrand):
        self.integrand = integrand
        self.alphas: list[float] = []

    def __call__(self, alphas, weights, groups=None):
        self.alphas += alphas.tolist()
        values = weights.view(-1, 1, 1) * self.integrand(alphas)  # (S, M, P)
        return sum_by_group(values, groups)


def smooth(alphas):
    """Maps (M=2, P=3): cos(k a) and a bump; integrals known."""
    k = torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
    a = alphas.view(-1, 1)
    first = torch.cos(k * a)
    second = torch.exp(-((a - 0.6) ** 2) / 0.02) * k
    return torch.stack([first, second], dim=1)


def smooth_exact():
    k = torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
    first = torch.sin(k) / k
    bump = (
        math.sqrt(0.02 * math.pi)
        / 2
        * (math.erf(0.4 / 0.02**0.5) + math.erf(0.6 / 0.02**0.5))
    )
    return torch.stack([first, bump * k])


def relative_error(total, exact):
    return (total - exact).abs().flatten(1).amax(1) / exact.abs().flatten(1).amax(1)


def steps(positions):
    """Jumps at ``positions`` (what ReLU networks do to the gradient): (S, 1, P)."""
    c = torch.as_tensor(positions, dtype=torch.float64)
    return lambda alphas: (alphas.view(-1, 1) > c).double()[:, None] + 0.5


def test_the_package_refines_trapezoids_by_doubling_then_by_quarters():
    # measured for issue 30 (docs/speed-accuracy.md): 2, 4, 8, 16 segments,
    # then each quarter of u doubled on its own, a map Simpson's where its
    # estimate is the smaller
    assert LEVELS == SIMPSON_QUARTERS
    assert LEVELS.simpson and dataclasses.replace(LEVELS, simpson=False, name="") == (
        dataclasses.replace(QUARTERS, name="")
    )
    assert (LEVELS.first, LEVELS.growth, LEVELS.endpoints) == (2, 2, True)
    assert (LEVELS.blocks, LEVELS.refine_from, LEVELS.share) == (4, 16, 0.3)


@pytest.mark.parametrize("levels", [TRAPEZOID, MIDPOINT])
def test_every_gradient_is_computed_once_and_reused(levels):
    f = Recorder(smooth)
    _, report = integrate_to_tolerance(f, 1e-4, levels=levels)
    assert len(f.alphas) == len(set(f.alphas)) == report.n_steps
    if levels.endpoints:  # the trapezoid rule's nodes: both ends of n segments
        n = report.n_steps - 1
        expected = [i / n for i in range(n + 1)]
    else:
        n = report.n_steps
        expected = [(i + 0.5) / n for i in range(n)]
    assert sorted(f.alphas) == pytest.approx(expected, abs=1e-15)
    assert report.method == levels.name


def test_new_nodes_complete_the_midpoints_of_the_tripled_level():
    old = torch.tensor([1 / 6, 3 / 6, 5 / 6], dtype=torch.float64)
    added, weights = MIDPOINT.new_nodes(9)
    together = torch.cat([old, added]).sort().values
    torch.testing.assert_close(together, (torch.arange(9.0).double() + 0.5) / 9)
    assert torch.all(weights == 1 / 9)


def test_new_nodes_complete_the_trapezoid_of_the_doubled_level():
    first, first_weights = TRAPEZOID.new_nodes(2)
    torch.testing.assert_close(first, torch.tensor([0.0, 0.5, 1.0]).double())
    torch.testing.assert_close(first_weights, torch.tensor([0.25, 0.5, 0.25]).double())
    added, weights = TRAPEZOID.new_nodes(8)
    together = torch.cat([torch.arange(5.0).double() / 4, added]).sort().values
    torch.testing.assert_close(together, torch.arange(9.0).double() / 8)
    assert torch.all(weights == 1 / 8)
    # the doubled level's sum is the last one's halved plus the new nodes'
    f = torch.exp
    t4 = (f(torch.arange(5.0).double() / 4) * torch.tensor([1, 2, 2, 2, 1]) / 8).sum()
    t8 = t4 / 2 + (weights * f(added)).sum()
    exact_t8 = (
        f(torch.arange(9.0).double() / 8) * torch.tensor([1] + [2] * 7 + [1]) / 16
    )
    assert float(t8) == pytest.approx(float(exact_t8.sum()), rel=1e-14)


@pytest.mark.parametrize("tolerance", [1e-2, 1e-3, 1e-4, 1e-6])
def test_smooth_integrand_reaches_the_tolerance_and_the_estimate_bounds_it(tolerance):
    total, report = integrate_to_tolerance(Recorder(smooth), tolerance)
    true = relative_error(total, smooth_exact())
    assert report.converged
    assert torch.all(report.estimated_error <= tolerance)
    assert torch.all(true <= report.estimated_error)


def test_it_stops_at_the_first_level_whose_estimate_is_below_the_tolerance():
    _, report = integrate_to_tolerance(Recorder(smooth), 1e-4, levels=TRAPEZOID)
    # one gradient fewer than the stop: the level before it is the last one
    _, coarser = integrate_to_tolerance(
        Recorder(smooth), 1e-4, max_steps=report.n_steps - 1, levels=TRAPEZOID
    )
    assert not coarser.converged
    assert coarser.max_estimated_error > 1e-4
    assert coarser.n_steps == (report.n_steps - 1) // 2 + 1


def test_jumps_converge_at_first_order_and_the_estimate_still_bounds_the_error():
    # 40 maps of 8 pixels, each pixel a ramp plus a jump at a pseudo-random
    # position (what piecewise-linear networks do to the gradient): the midpoint
    # rule's error is O(h) and oscillates with the jumps' places on the grid
    generator = torch.Generator().manual_seed(0)
    honest = 0
    for _ in range(40):
        c = torch.rand(8, generator=generator, dtype=torch.float64) * 0.8 + 0.1
        height = torch.rand(8, generator=generator, dtype=torch.float64) + 0.5

        def integrand(alphas, c=c, height=height):
            a = alphas.view(-1, 1)
            return (height * (a > c).double() + a)[:, None]

        total, report = integrate_to_tolerance(Recorder(integrand), 1e-3)
        exact = (height * (1 - c) + 0.5).view(1, -1)
        honest += bool(relative_error(total, exact) <= report.estimated_error)
        assert report.n_steps >= 129  # a jump needs h of about the tolerance
    assert honest >= 38  # >= 95%


def test_many_jumps_in_one_map_need_more_steps_than_smooth_maps():
    c = torch.linspace(0.1, 0.9, 23, dtype=torch.float64) + 0.0123
    total, report = integrate_to_tolerance(Recorder(steps(c.tolist())), 1e-3)
    _, smooth_report = integrate_to_tolerance(Recorder(smooth), 1e-3)
    exact = (1.5 - c).view(1, -1)
    assert report.converged
    assert relative_error(total, exact) <= report.estimated_error
    assert report.n_steps > smooth_report.n_steps


def test_each_map_gets_its_own_estimate():
    def mixed(alphas):
        values = smooth(alphas)
        values[:, 1] = 1.0  # the second map is integrated exactly by any level
        return values

    _, report = integrate_to_tolerance(Recorder(mixed), 1e-3)
    assert report.estimated_error[1] == 0
    # the first map's estimate is its own: what it gets integrated alone
    _, alone = integrate_to_tolerance(Recorder(lambda a: smooth(a)[:, :1]), 1e-3)
    assert report.n_steps == alone.n_steps
    assert float(report.estimated_error[0]) == float(alone.estimated_error[0])
    assert 0 < float(alone.estimated_error[0]) <= 1e-3


def test_a_zero_map_is_exact():
    total, report = integrate_to_tolerance(
        Recorder(lambda a: torch.zeros(len(a), 1, 4, dtype=torch.float64)), 1e-3
    )
    assert report.converged and report.n_steps == 9  # levels 2, 4, 8
    assert torch.all(total == 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_steps": 50, "tolerance": 1e-3}, "tolerance needs n_steps='auto'"),
        ({"n_steps": "auto", "tolerance": 0.0}, r"tolerance must be a number in"),
        ({"n_steps": "auto", "tolerance": 1.0}, r"tolerance must be a number in"),
        ({"n_steps": "auto", "tolerance": True}, r"tolerance must be a number in"),
        ({"n_steps": "auto", "tolerance": "1e-3"}, r"tolerance must be a number in"),
        (
            {"n_steps": "auto", "tolerance": 1e-3, "max_steps": 3},
            r"max_steps must be an integer >= 9",
        ),
    ],
)
def test_bad_settings_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_tolerance(**kwargs)


@pytest.mark.parametrize("tolerance", [1e-2, 3e-3, 1e-3])
@pytest.mark.parametrize("name", ["smooth", "jumps"])
@pytest.mark.parametrize("family", [TRAPEZOID, MIDPOINT])
def test_the_offline_stop_simulation_is_the_controller(family, name, tolerance):
    # benchmarks/stop_rules.py judges stopping rules on recorded levels
    # (docs/speed-accuracy.md); its copy of the package's rule must stop where
    # integrate_to_tolerance stops, with the same estimate
    from benchmarks.stop_rules import first_order, stop

    integrand = smooth if name == "smooth" else steps([0.137, 0.52, 0.861])
    levels, previous = [], None
    for k in range(11 if family.endpoints else 7):  # to 2048 or 1458 segments
        n = family.first * family.growth**k
        if family.endpoints:
            weights = torch.full((n + 1,), 1.0 / n, dtype=torch.float64)
            weights[[0, -1]] /= 2
            values = integrand(torch.arange(n + 1, dtype=torch.float64) / n)
            total = (weights.view(-1, 1, 1) * values).sum(0)
        else:
            total = integrand((torch.arange(n, dtype=torch.float64) + 0.5) / n).mean(0)
        d = None
        if previous is not None:
            worst = (total - previous).abs().flatten(1).amax(1)
            d = float((worst / total.abs().flatten(1).amax(1)).max())
        levels.append({"steps": family.gradients(n), "D": d})
        previous = total
    estimates = first_order(SAFETY, ratio=family.growth)(levels)
    i = stop(estimates, tolerance)
    _, report = integrate_to_tolerance(
        Recorder(integrand), tolerance, levels[-1]["steps"], family
    )
    assert levels[i]["steps"] == report.n_steps
    assert estimates[i] == pytest.approx(report.max_estimated_error, rel=1e-9)


def _quarters(alphas):
    """The recorded nodes, per quarter of [0, 1] (ends included), sorted."""
    nodes = sorted(alphas)
    return [[a for a in nodes if b / 4 <= a <= (b + 1) / 4] for b in range(4)]


def _trapezoid(nodes, values):
    """Trapezoid sum over sorted ``nodes`` (float64 maps ``values[a]``)."""
    total = 0
    for left, right in zip(nodes[:-1], nodes[1:]):
        total = total + (right - left) * (values[left] + values[right]) / 2
    return total


def rough_quarter(alphas):
    """Lines plus a fast wave on [0.25, 0.5] only: (S, 2, 3)."""
    a = alphas.view(-1, 1, 1)
    inside = ((a > 0.25) & (a < 0.5)).double()
    wave = inside * torch.sin(4 * math.pi * (a - 0.25)) ** 2 * torch.cos(60 * a)
    return _lines(alphas) + torch.tensor([1.0, 3.0]).double().view(1, 2, 1) * wave


def _lines(alphas):
    """Lines (exact for every trapezoid rule): 1 + k a, (S, 2, 3)."""
    k = torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
    return (1 + k * alphas.view(-1, 1, 1)).expand(-1, 2, -1)


def test_quarters_is_the_uniform_rule_while_it_stops_within_16_segments():
    for tolerance in (3e-2, 1e-2):
        _, quarters = integrate_to_tolerance(Recorder(smooth), tolerance)
        _, uniform = integrate_to_tolerance(
            Recorder(smooth), tolerance, levels=TRAPEZOID
        )
        assert quarters.n_steps == uniform.n_steps <= 17
        assert float(quarters.max_estimated_error) == pytest.approx(
            float(uniform.max_estimated_error), rel=1e-12
        )


def test_quarters_refines_the_rough_quarter_and_its_estimate_is_the_documented_one():
    recorder = Recorder(rough_quarter)
    total, report = integrate_to_tolerance(recorder, 1e-4, levels=QUARTERS)
    _, uniform = integrate_to_tolerance(Recorder(rough_quarter), 1e-4, levels=TRAPEZOID)
    assert report.converged and report.n_steps < uniform.n_steps
    quarters = _quarters(recorder.alphas)
    counts = [len(q) - 1 for q in quarters]  # segments per quarter
    assert counts[1] == max(counts) > min(counts) >= 4
    assert len(recorder.alphas) == len(set(recorder.alphas)) == report.n_steps
    values = {
        a: rough_quarter(torch.tensor([a], dtype=torch.float64))[0]
        for a in recorder.alphas
    }
    for nodes in quarters:  # each quarter: equal segments
        gaps = torch.diff(torch.tensor(nodes))
        assert torch.allclose(gaps, gaps[0].expand_as(gaps), rtol=1e-12, atol=0)
    # the map is the sum of the quarters' trapezoids, the estimate SAFETY times
    # the largest pixel of the sum of the quarters' last differences
    sums = [_trapezoid(q, values) for q in quarters]
    torch.testing.assert_close(total, sum(sums), rtol=1e-12, atol=1e-12)
    differences = sum(s - _trapezoid(q[::2], values) for s, q in zip(sums, quarters))
    expected = SAFETY * relative_error(differences + total, total)
    torch.testing.assert_close(report.estimated_error, expected, rtol=1e-9, atol=0)
    assert torch.all(relative_error(total, _exact_rough()) <= report.estimated_error)


def root_quarter(alphas):
    """Lines plus ``sqrt(t) (1/4 - t)``, ``t = alpha - 1/4``, on [0.25, 0.5]
    only (order 1.5 there: ratio 2.8 per doubling): (S, 2, 3)."""
    t = (alphas.view(-1, 1, 1) - 0.25).clamp(0, 0.25)
    scale = torch.tensor([1.0, 3.0]).double().view(1, 2, 1)
    return _lines(alphas) + scale * t.sqrt() * (0.25 - t)


def _exact_root():
    k = torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
    bump = 0.25 * 2 / 3 * 0.25**1.5 - 2 / 5 * 0.25**2.5
    return (1 + k / 2).expand(2, -1) + torch.tensor([[1.0], [3.0]]).double() * bump


@pytest.mark.parametrize("levels", [OBSERVED_ORDER, GATED_ORDER], ids=["all", "gated"])
@pytest.mark.parametrize(
    "integrand, exact, tolerance",
    [
        (rough_quarter, "rough", 1e-4),
        (rough_quarter, "rough", 3e-2),
        (root_quarter, "root", 1e-3),
    ],
)
def test_observed_order_counts_each_quarter_by_its_last_ratio_as_documented(
    integrand, exact, tolerance, levels
):
    recorder = Recorder(integrand)
    total, report = integrate_to_tolerance(recorder, tolerance, levels=levels)
    assert report.converged
    values = {
        a: integrand(torch.tensor([a], dtype=torch.float64))[0] for a in recorder.alphas
    }
    weighted = 0
    for nodes in _quarters(recorder.alphas):
        sums = [_trapezoid(nodes[::k], values) for k in (1, 2, 4, 8) if k < len(nodes)]
        last, before = sums[0] - sums[1], sums[1] - sums[2]
        if not last.any():  # the lines: exact on every level
            continue
        # the ratio of the largest pixels, per map, taken into [2, 4]
        ratio = (before.abs().amax(1) / last.abs().amax(1)).clamp(2, 4)
        if levels.trust:  # and its last two ratios at least trust, or first order
            trusted = ratio >= levels.trust
            if len(sums) == 4:
                earlier = (sums[2] - sums[3]).abs().amax(1) / before.abs().amax(1)
                trusted &= earlier >= levels.trust
            ratio = torch.where(trusted, ratio, 2.0)
        weighted = weighted + last / (ratio - 1).view(-1, 1)
    expected = levels.safety * relative_error(weighted + total, total)
    torch.testing.assert_close(report.estimated_error, expected, rtol=1e-9, atol=0)
    exact = _exact_rough() if exact == "rough" else _exact_root()
    assert torch.all(relative_error(total, exact) <= report.estimated_error)


def _exact_rough():
    a = torch.linspace(0.25, 0.5, 20001, dtype=torch.float64)
    wave = rough_quarter(a) - _lines(a)
    h = 0.25 / 20000
    inner = (wave[1:-1].sum(0) + (wave[0] + wave[-1]) / 2) * h
    k = torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
    return (1 + k / 2).expand(2, -1) + inner


def test_quarters_stop_when_max_steps_ends_the_refinement():
    _, report = integrate_to_tolerance(Recorder(rough_quarter), 1e-4)
    _, capped = integrate_to_tolerance(
        Recorder(rough_quarter), 1e-4, max_steps=report.n_steps - 1
    )
    assert not capped.converged
    assert capped.n_steps < report.n_steps
    assert capped.max_estimated_error > 1e-4


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"blocks": 3}, "blocks must be a power of 2"),
        ({"blocks": 8}, "refine_from >= 4 blocks"),
        ({"blocks": 4, "growth": 3, "endpoints": False}, "trapezoid levels doubled"),
        ({"max_ratio": 1.5}, "max_ratio must be >= 2"),
        ({"blocks": 1, "max_ratio": 4.0}, r"max_ratio > 2 and simpson need blocks > 1"),
        ({"blocks": 1, "simpson": True}, r"max_ratio > 2 and simpson need blocks > 1"),
        ({"max_ratio": 4.0, "trust": 5.0}, r"trust must be 0 or in \(2, max_ratio\]"),
    ],
)
def test_a_family_refined_by_blocks_is_checked_when_it_is_made(changes, match):
    import dataclasses

    with pytest.raises(ValueError, match=match):
        dataclasses.replace(QUARTERS, **changes)


def jumps_and_bump(alphas):
    """Map 0: jumps at 0.3 and 0.62 plus a line; map 1: ``smooth``'s bump: (S, 2, 3)."""
    a = alphas.view(-1, 1)
    k = torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
    first = (a > 0.3).double() * k + (a > 0.62).double() + a
    second = torch.exp(-((a - 0.6) ** 2) / 0.02) * k
    return torch.stack([first, second], dim=1)


def _exact_mixed():
    k = torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
    return torch.stack([0.7 * k + 0.38 + 0.5, smooth_exact()[1]])


def _simpson_by_quarters(recorder, integrand):
    """Each quarter's trapezoid and Simpson sums, and both documented
    estimates, from the nodes ``recorder`` saw: (T, S, T estimate, S estimate)."""
    values = {
        a: integrand(torch.tensor([a], dtype=torch.float64))[0] for a in recorder.alphas
    }
    trapezoid = simpson = t_step = s_step = 0
    for nodes in _quarters(recorder.alphas):
        sums = [_trapezoid(nodes[::k], values) for k in (1, 2, 4)]
        last, before = sums[0] - sums[1], sums[1] - sums[2]
        trapezoid, t_step = trapezoid + sums[0], t_step + last
        simpson = simpson + sums[0] + last / 3
        s_step = s_step + (4 * last - before) / 3
    t_estimate = SAFETY * relative_error(t_step + trapezoid, trapezoid)
    s_estimate = 1.25 * SAFETY * relative_error(s_step + simpson, simpson)
    return trapezoid, simpson, t_estimate, s_estimate


@pytest.mark.parametrize(
    "integrand, exact, tolerance, simpsons",
    [
        (smooth, smooth_exact, 1e-5, [True, True]),
        (rough_quarter, _exact_rough, 1e-4, [False, False]),
        (jumps_and_bump, _exact_mixed, 1e-3, [False, True]),
    ],
    ids=["smooth", "wave", "jumps-and-bump"],
)
def test_each_map_is_simpsons_where_its_estimate_is_smaller_as_documented(
    integrand, exact, tolerance, simpsons
):
    recorder = Recorder(integrand)
    total, report = integrate_to_tolerance(recorder, tolerance, levels=SIMPSON_QUARTERS)
    assert report.converged and report.n_steps > 17  # the quarters decided
    trapezoid, simpson, t_estimate, s_estimate = _simpson_by_quarters(
        recorder, integrand
    )
    better = s_estimate < t_estimate
    # smooth maps take Simpson's, the wave's and the jumps' the trapezoids'
    assert better.tolist() == simpsons
    expected = torch.where(better.view(-1, 1), simpson, trapezoid)
    torch.testing.assert_close(total, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        report.estimated_error,
        torch.where(better, s_estimate, t_estimate),
        rtol=1e-9,
        atol=0,
    )
    assert torch.all(relative_error(total, exact()) <= report.estimated_error)


def test_simpsons_map_stops_a_smooth_integrand_several_times_sooner():
    total, report = integrate_to_tolerance(Recorder(smooth), 1e-5)
    _, trapezoids = integrate_to_tolerance(Recorder(smooth), 1e-5, levels=QUARTERS)
    assert 5 * report.n_steps < trapezoids.n_steps  # 97 and 897
    assert torch.all(relative_error(total, smooth_exact()) <= report.estimated_error)


def test_simpsons_estimate_is_infinite_while_a_blocks_simpson_difference_grows():
    from captum_lam._method.richardson import simpson_blocks

    one = torch.ones(1, 1, dtype=torch.float64)
    # last and previous trapezoid differences 0.1 and 0.1: Simpson's is 0.1
    args = ([one], [0.1 * one], [0.1 * one])
    # the one before, (4 * 0.1 - e) / 3: 0.033 for e = 0.3 (it grew), 0.117 for 0.05
    _, grew = simpson_blocks(*args, [0.3 * one], safety=1.2)
    total, shrank = simpson_blocks(*args, [0.05 * one], safety=1.2)
    _, first = simpson_blocks(*args, [None], safety=1.2)  # nothing to compare yet
    assert math.isinf(float(grew))
    assert float(total) == pytest.approx(1 + 0.1 / 3, rel=1e-15)
    expected = 1.25 * 1.2 * 0.1 / (1 + 0.1 / 3)
    assert float(shrank) == float(first) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "integrand", [smooth, rough_quarter, jumps_and_bump, root_quarter]
)
def test_simpsons_map_never_stops_later_than_the_trapezoids(integrand):
    for tolerance in (3e-2, 1e-3, 1e-4, 1e-5):
        _, simpson = integrate_to_tolerance(
            Recorder(integrand), tolerance, levels=SIMPSON_QUARTERS
        )
        _, plain = integrate_to_tolerance(
            Recorder(integrand), tolerance, levels=QUARTERS
        )
        assert simpson.n_steps <= plain.n_steps
        if simpson.n_steps == plain.n_steps:  # the same nodes
            assert torch.all(simpson.estimated_error <= plain.estimated_error)

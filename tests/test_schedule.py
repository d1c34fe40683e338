"""The change of variable of ``n_steps="auto"``: where its nodes go along the path."""

import math
from dataclasses import replace
from unittest import mock

import pytest
import torch

from captum_lam import (
    LAM,
    LinearPath,
    PathIntegratedGradients,
    ProgressiveBlurPath,
    WindowObjective,
)
from captum_lam._method import adaptive
from captum_lam._method.schedule import Warp
from captum_lam.filters import gaussian_kernel2d

F64 = torch.float64


def test_warp_inverts_the_cumulative_density_to_rounding():
    # density 1 + a: C(a) = a + a^2 / 2, C(1) = 3/2, phi(u) = sqrt(1 + 3u) - 1
    warp = Warp(lambda a: 1 + a)
    u = torch.linspace(0, 1, 101, dtype=F64)
    alpha, slope = warp(u)
    exact = torch.sqrt(1 + 3 * u) - 1
    assert torch.allclose(alpha, exact, rtol=0, atol=1e-13)
    assert torch.allclose(slope, 1.5 / (1 + exact), rtol=1e-12, atol=0)
    assert (alpha[0], alpha[-1]) == (0.0, 1.0)


def test_warped_levels_stay_nested_and_weights_are_the_rule_in_u():
    levels = adaptive.levels_for(ProgressiveBlurPath())
    seen = torch.empty(0, dtype=F64)
    for level in (2, 4, 8, 16):
        alphas, weights = levels.new_nodes(level)
        seen = torch.cat([seen, alphas]).sort().values
        # every level's nodes = phi(equal segments of u): the old ones reused
        u = torch.arange(level + 1, dtype=F64) / level
        phi, slope = levels.warp(u)
        assert torch.allclose(seen, phi, atol=1e-14, rtol=0)
    # the newest nodes' weights: the trapezoid weight in u times phi'
    u = (2 * torch.arange(8, dtype=F64) + 1) / 16
    assert torch.allclose(weights, levels.warp(u)[1] / 16, rtol=1e-14, atol=0)


def test_blur_density_follows_the_kernels_derivatives():
    path = ProgressiveBlurPath(sigma=1.2, kernel_size=9)
    alphas = torch.linspace(0, 1, 401, dtype=F64)
    density = path.node_density(alphas)
    assert bool((density >= 0.1).all()) and float(density.max()) == pytest.approx(
        1.303, abs=1e-3
    )
    # the densest nodes where the kernel's derivatives are largest (s about
    # 0.4); the floor where the discrete kernel is a delta (s < 0.15)
    assert 0.6 < float(alphas[density.argmax()]) < 0.75
    assert torch.allclose(
        density[alphas > 0.9], torch.tensor(0.1, dtype=F64), atol=2e-4
    )
    warp = adaptive.levels_for(path).warp
    assert warp is not None

    def share_beyond(alpha):
        at = torch.tensor([alpha], dtype=F64)
        return float(warp._integral(at, torch.ones(1, dtype=F64))) / warp.total

    # few nodes where the integrand is zero, and an eighth of them where the
    # kernel leaves the delta (0.75 to 0.875; 1/16 by the kernel's speed alone)
    assert share_beyond(0.875) < 0.125 / 3
    assert share_beyond(0.75) - share_beyond(0.875) > 0.1


def test_kernel_rates_are_the_kernels_derivatives():
    # the density's second and third derivatives are central differences:
    # checked against forward-mode differentiation of the kernel itself
    path = ProgressiveBlurPath(sigma=1.2, kernel_size=9)
    alphas = torch.tensor([0.0, 0.1, 0.4, 0.6, 0.7, 0.78], dtype=F64)

    def kernel(alpha):
        return gaussian_kernel2d(9, (1.2 * (1 - alpha)).reshape(1)).flatten()

    first = torch.func.jacfwd(kernel)
    second = torch.func.jacfwd(first)
    third = torch.func.jacfwd(second)
    exact = torch.stack(
        [torch.func.vmap(d)(alphas).norm(dim=1) for d in (first, second, third)], 1
    )
    rates = path._kernel_rates(alphas)
    assert rates.shape == (6, 3)
    assert torch.allclose(rates[:, 0], exact[:, 0], rtol=1e-12, atol=0)
    assert torch.allclose(rates[:, 1:], exact[:, 1:], rtol=1e-3, atol=0)


def test_straight_lines_and_the_switch_keep_equal_segments():
    assert LinearPath(0.0).node_density(torch.tensor([0.5])) is None
    assert adaptive.levels_for(LinearPath(0.0)) == adaptive.LEVELS
    with mock.patch.object(adaptive, "FOLLOW_DENSITY", False):
        assert adaptive.levels_for(ProgressiveBlurPath()) == adaptive.LEVELS


def test_warped_trapezoid_converges_on_a_blur_like_integrand():
    # the blur path's integrand is the kernel's speed times the network's
    # gradient: zero where the kernel is a delta, as here
    path = ProgressiveBlurPath()
    levels = adaptive.levels_for(path)

    def f(a):
        return path._kernel_rates(a)[:, 0] * torch.cos(3 * a)

    fine = torch.linspace(0, 1, 400_001, dtype=F64)
    values = f(fine)
    exact = float((values[1:] + values[:-1]).sum() / 2 / 400_000)
    errors, total = [], None
    for level in (2, 4, 8, 16, 32, 64, 128, 256):
        alphas, weights = levels.new_nodes(level)
        added = (weights * f(alphas)).sum()
        total = added if total is None else total / 2 + added
        errors.append(abs(float(total) - exact) / abs(exact))
    # second order once the segments resolve the kernel's change
    assert errors[-1] < 1e-4 and errors[-2] / errors[-1] > 3
    assert all(a > b for a, b in zip(errors[3:], errors[4:])), errors


def test_auto_on_the_blur_path_uses_the_warped_nodes(photo_crop):
    from tests.test_adaptive_lam import _model

    lam = LAM(_model("tiny-smooth"))
    x = photo_crop.double()
    seen = []
    real = adaptive.integrate

    def spy(gradients, path, inputs, rule, *args, **kwargs):
        seen.append(rule.alphas.clone())
        return real(gradients, path, inputs, rule, *args, **kwargs)

    with mock.patch.object(adaptive, "integrate", spy):
        attr = lam.attribute(x, target=(8, 8, 8), n_steps="auto", tolerance=1e-3)
    report = lam.last_integration
    warp = adaptive.levels_for(ProgressiveBlurPath()).warp
    # the package's levels start with the ends of the four quarters of u, then
    # their midpoints, in one run; at u = 1 the path does not move (the kernel
    # is a delta), so that gradient is not taken
    u = torch.cat([torch.arange(4, dtype=F64) / 4, torch.arange(1, 8, 2) / 8])
    assert torch.allclose(seen[0], warp(u)[0], atol=1e-14, rtol=0)
    assert report.method.endswith("by the path's density")
    reference = lam.attribute(
        x, target=(8, 8, 8), n_steps=2000, method="riemann_middle"
    )
    error = float((attr - reference).abs().max() / reference.abs().max())
    assert error <= report.max_estimated_error <= 1e-3


class _TwoImages(torch.nn.Module):
    def forward(self, a, b):
        return (a * b).sum(dim=(1, 2, 3))


@pytest.mark.parametrize(
    "multiply, inputs",
    [(False, 1), (True, 2), (False, 2)],
    ids=["gradients only", "tuple", "tuple, gradients only"],
)
def test_wrapped_paths_keep_the_density(multiply, inputs):
    # PathIntegratedGradients wraps the path for multiply_by_inputs=False and
    # packs tuple inputs: n_steps="auto" still puts its nodes by the density
    torch.manual_seed(0)
    xs = tuple(torch.rand(1, 1, 8, 8, dtype=F64) for _ in range(inputs))
    model = _TwoImages() if inputs == 2 else torch.nn.Conv2d(1, 1, 3).double()
    forward = model if inputs == 2 else (lambda x: model(x).sum(dim=(1, 2, 3)))
    pig = PathIntegratedGradients(
        forward, path=ProgressiveBlurPath(), multiply_by_inputs=multiply
    )
    pig.attribute(xs if inputs == 2 else xs[0], n_steps="auto", tolerance=1e-2)
    assert pig.last_integration.method.endswith("by the path's density")


class _DenseEarly(LinearPath):
    def node_density(self, alphas):
        return 2.0 - alphas


@pytest.mark.parametrize("baselines", [0.0, (0.0, 0.5)], ids=["one", "per tensor"])
def test_a_straight_line_subclass_keeps_its_density(baselines):
    pig = PathIntegratedGradients(_TwoImages(), path=_DenseEarly(baselines))
    xs = (torch.rand(1, 1, 4, 4, dtype=F64), torch.rand(1, 1, 4, 4, dtype=F64))
    pig.attribute(xs, n_steps="auto", tolerance=1e-2)
    assert pig.last_integration.method.endswith("by the path's density")
    paths = _DenseEarly(baselines).for_inputs(2)
    assert all(type(p) is _DenseEarly for p in paths)
    assert [p.baseline_value for p in paths] == (
        [0.0, 0.5] if isinstance(baselines, tuple) else [0.0, 0.0]
    )


def test_packed_paths_with_different_densities_take_equal_segments():
    from captum_lam._method.packing import PackedPath, Packing

    xs = (torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))
    paths = (ProgressiveBlurPath(sigma=1.2), ProgressiveBlurPath(sigma=2.0))
    alphas = torch.linspace(0, 1, 5, dtype=F64)
    assert PackedPath(paths, Packing(xs)).node_density(alphas) is None
    same = PackedPath((paths[0], paths[0]), Packing(xs)).node_density(alphas)
    assert torch.equal(same, paths[0].node_density(alphas))
    mixed = (paths[0], LinearPath(0.0))
    assert PackedPath(mixed, Packing(xs)).node_density(alphas) is None


def test_equal_segments_unchanged_when_no_warp():
    plain = replace(adaptive.TRAPEZOID, warp=None)
    alphas, weights = plain.new_nodes(4)
    assert torch.equal(alphas, torch.tensor([0.25, 0.75], dtype=F64))
    assert torch.equal(weights, torch.tensor([0.25, 0.25], dtype=F64))


class _BadDensity(ProgressiveBlurPath):
    def __init__(self, density):
        super().__init__()
        self._density = density

    def node_density(self, alphas):
        return self._density(alphas)


@pytest.mark.parametrize(
    "density",
    [
        lambda a: a - 0.5,  # negative
        lambda a: torch.zeros_like(a),
        lambda a: torch.full_like(a, math.nan),
        lambda a: torch.ones(3, dtype=F64),  # wrong shape
        lambda a: [1.0] * len(a),
    ],
)
def test_a_bad_node_density_is_refused_before_any_gradient(density, photo_crop):
    from tests.test_adaptive_lam import _model

    objective = WindowObjective(_model("tiny-smooth").double(), window=(8, 8, 8))
    pig = PathIntegratedGradients(objective, _BadDensity(density))
    with mock.patch.object(adaptive, "integrate") as engine:
        with pytest.raises(ValueError, match=r"node_density\(alphas\) must return"):
            pig.attribute(photo_crop.double(), n_steps="auto")
    engine.assert_not_called()

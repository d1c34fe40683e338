"""Arguments at their limits: degenerate blur, huge kernels and windows, numpy ints."""

import numpy as np
import pytest
import torch

from captum_lam import (
    LAM,
    GaussianBlur2d,
    PathIntegratedGradients,
    ProgressiveBlurPath,
    attribute_windows,
)
from captum_lam._method.quadrature import nodes_and_weights
from captum_lam.objective import format_windows
from tests.conftest import make_tiny_sr


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sigma": 0.0}, r"sigma must be >= 0\.25"),
        ({"sigma": 1e-3}, r"sigma must be >= 0\.25"),
        ({"sigma": 0.2}, r"sigma must be >= 0\.25"),
        ({"kernel_size": 1}, "kernel_size must be >= 3"),
    ],
)
def test_degenerate_blur_is_refused_naming_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LAM(make_tiny_sr(), **kwargs)
    with pytest.raises(ValueError, match=match):
        attribute_windows(make_tiny_sr(), torch.rand(1, 3, 8, 8), (0, 0, 4), **kwargs)


def test_smallest_allowed_blur_still_gives_a_map():
    from captum_lam import WindowObjective, gaussian_blur2d

    model = make_tiny_sr().double()
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    attr = LAM(model, sigma=0.25, kernel_size=3).attribute(
        x, target=(4, 4, 8), n_steps=4, method="riemann_middle"
    )
    # complete: the map sums to the objective's change from the blurred input
    objective = WindowObjective(model, window=(4, 4, 8))
    with torch.no_grad():
        change = float(objective(x) - objective(gaussian_blur2d(x, 3, 0.25)))
    assert float(attr.sum()) == pytest.approx(change, rel=1e-3)
    assert abs(change) > 1e-2  # a real change: the blur at sigma 0.25 is not nothing


def test_plain_blur_keeps_sigma_zero_and_kernel_one():
    x = torch.rand(1, 1, 6, 6)
    torch.testing.assert_close(GaussianBlur2d(1, 0.0)(x), x)


def test_kernel_larger_than_the_input_allows_is_refused_before_work():
    calls = []

    def model(x):
        calls.append(1)
        return x

    x = torch.rand(1, 1, 8, 8)
    with pytest.raises(ValueError, match=r"kernel_size 1001 is too large .* most 33"):
        LAM(model, kernel_size=1001).attribute(x, (0, 0, 4))
    assert calls == []
    with pytest.raises(ValueError, match="kernel_size 35 is too large"):
        ProgressiveBlurPath(kernel_size=35).points(x, [0.5])
    assert ProgressiveBlurPath(kernel_size=33).points(x, [0.5]).shape == (1, *x.shape)


@pytest.mark.parametrize(
    "window, match",
    [
        ((2**63 - 1, 0, 4), "lies outside"),
        ((0, 2**63 - 2, 2), "lies outside"),
        ((0, 0, 2**63 - 1), "larger than the model's output"),
        ((2**62, 2**62, 2**62), "larger than the model's output"),
        ((2**64, 0, 4), "fit in int64"),
    ],
)
def test_windows_near_the_int64_limit_are_refused(window, match):
    with pytest.raises(ValueError, match=match):
        LAM(make_tiny_sr()).attribute(torch.rand(1, 3, 8, 8), target=window)
    if max(window) < 2**63:
        tensor = torch.tensor([window])
        with pytest.raises(ValueError, match=match):
            LAM(make_tiny_sr()).attribute(torch.rand(1, 3, 8, 8), target=tensor)


def test_window_larger_than_the_output_says_so():
    with pytest.raises(ValueError, match=r"window size 20 .* larger than the model's "):
        LAM(make_tiny_sr()).attribute(torch.rand(1, 3, 8, 8), target=(0, 0, 20))


def test_numpy_integers_are_integers_everywhere():
    model, x = make_tiny_sr(), torch.rand(1, 3, 8, 8)
    expected = LAM(model, kernel_size=5).attribute(
        x, target=(2, 2, 8), n_steps=6, internal_batch_size=3, reach=4
    )
    i = np.int64
    got = LAM(model, kernel_size=i(5), sigma=np.float32(1.2)).attribute(
        x, target=(i(2), i(2), i(8)), n_steps=i(6), internal_batch_size=i(3), reach=i(4)
    )
    torch.testing.assert_close(got, expected)
    assert format_windows([(np.int32(1), 2, 3)], 1).tolist() == [[1, 2, 3]]
    windows = attribute_windows(
        model, x, [(i(2), i(2), i(8))], kernel_size=i(5), n_steps=i(6), reach=i(4)
    )
    torch.testing.assert_close(windows, expected)


@pytest.mark.parametrize("value", [True, np.bool_(True), 2.0, np.float64(2.0)])
def test_booleans_and_floats_are_not_integers(value):
    with pytest.raises(ValueError, match="n_steps"):
        LAM(make_tiny_sr()).attribute(torch.rand(1, 3, 8, 8), (0, 0, 4), n_steps=value)
    with pytest.raises(TypeError, match="three integers"):
        format_windows((value, 0, 4), 1)


def test_gausslegendre_nodes_are_captums_and_computed_once():
    from captum.attr._utils.approximation_methods import approximation_parameters

    step_sizes, alphas = approximation_parameters("gausslegendre")
    nodes_and_weights.cache_clear()
    for n in (5, 50, 300):
        ours = nodes_and_weights("gausslegendre", n)
        np.testing.assert_allclose(ours[0], alphas(n), rtol=0, atol=1e-14)
        np.testing.assert_allclose(ours[1], step_sizes(n), rtol=1e-9, atol=0)
    f = lambda x: (x**3).sum(dim=(1, 2, 3))  # noqa: E731
    pig = PathIntegratedGradients(f, ProgressiveBlurPath())
    before = nodes_and_weights.cache_info()
    x = torch.rand(1, 1, 6, 6, dtype=torch.float64)
    pig.attribute(x, n_steps=50, method="gausslegendre")
    pig.attribute(x, n_steps=50, method="gausslegendre")
    after = nodes_and_weights.cache_info()
    assert after.misses == before.misses  # n=50 was computed above, once
    assert after.hits == before.hits + 2


def test_trapezoid_nodes_are_captums_bitwise():
    from captum.attr._utils.approximation_methods import approximation_parameters

    step_sizes, alphas = approximation_parameters("riemann_trapezoid")
    ours = nodes_and_weights("riemann_trapezoid", 7)
    assert ours[0].tolist() == alphas(7) and ours[1].tolist() == step_sizes(7)

import pytest
import torch

from captum_lam import LinearPath, ProgressiveBlurPath, gaussian_blur2d


@pytest.fixture
def x():
    torch.manual_seed(0)
    return torch.rand(2, 3, 12, 10, dtype=torch.float64)


def test_blur_path_end_points(x):
    path = ProgressiveBlurPath(1.2, 9)
    points = path.points(x, [0.0, 1.0])
    torch.testing.assert_close(points[0], gaussian_blur2d(x, 1.2, 9))
    torch.testing.assert_close(points[1], x)
    torch.testing.assert_close(path.baseline(x), points[0])


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.5, 0.77, 0.95, 1.0])
def test_analytic_derivative_matches_central_difference(x, alpha):
    path = ProgressiveBlurPath(1.2, 9)
    h = 1e-6
    lo, hi = max(alpha - h, 0.0), min(alpha + h, 1.0)
    numeric = (path.points(x, [hi])[0] - path.points(x, [lo])[0]) / (hi - lo)
    analytic = path.derivatives(x, [alpha])[0]
    scale = analytic.abs().max().clamp_min(1e-12)
    assert float((analytic - numeric).abs().max() / scale) < 1e-4


def test_differences_telescope_to_end_minus_start(x):
    path = ProgressiveBlurPath(2.0, 7)
    n = 13
    edges = torch.linspace(0, 1, n + 1, dtype=torch.float64)
    total = path.differences(x, edges[:-1], edges[1:]).sum(dim=0)
    ends = path.points(x, [0.0, 1.0])
    torch.testing.assert_close(total, ends[1] - ends[0])


def test_path_follows_input_dtype_and_call_returns_points_and_derivatives():
    x = torch.rand(1, 1, 8, 8, dtype=torch.float32)
    points, derivatives = ProgressiveBlurPath()(x, torch.linspace(0, 1, 4))
    assert points.shape == derivatives.shape == (4, 1, 1, 8, 8)
    assert points.dtype == derivatives.dtype == torch.float32


def test_linear_path(x):
    baseline = torch.zeros_like(x) + 0.25
    path = LinearPath(baseline)
    points, derivatives = path(x, [0.0, 0.5, 1.0])
    torch.testing.assert_close(points[0], baseline)
    torch.testing.assert_close(points[1], (x + baseline) / 2)
    torch.testing.assert_close(derivatives[2], x - baseline)
    torch.testing.assert_close(
        path.differences(x, [0.2], [0.7])[0], 0.5 * (x - baseline)
    )


def test_linear_path_rejects_baseline_of_wrong_shape(x):
    with pytest.raises(ValueError, match="baseline"):
        LinearPath(torch.zeros(5, 5)).points(x, [0.5])


@pytest.mark.parametrize("sigma", [-0.1, float("nan"), float("inf"), "1"])
def test_sigma_validation(sigma):
    with pytest.raises(ValueError, match="sigma"):
        ProgressiveBlurPath(sigma=sigma)


@pytest.mark.parametrize("alphas", [[-0.1], [1.5], [], [float("nan")]])
def test_alphas_must_lie_in_unit_interval(x, alphas):
    with pytest.raises(ValueError, match="alphas"):
        ProgressiveBlurPath().points(x, alphas)

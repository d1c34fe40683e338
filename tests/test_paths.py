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
    torch.testing.assert_close(points[0], gaussian_blur2d(x, 9, 1.2))
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


@pytest.mark.parametrize(
    "form",
    ["scalar", "int", "none", "per_example", "one_batched", "one_unbatched", "column"],
)
def test_linear_path_takes_every_captum_baseline_form(x, form):
    per_example = torch.rand(x.shape, dtype=x.dtype)
    expected = {
        "scalar": torch.full_like(x, 0.3),
        "int": torch.full_like(x, 1.0),
        "none": torch.zeros_like(x),
        "per_example": per_example,
        "one_batched": per_example[:1].expand_as(x),
        "one_unbatched": per_example[0].expand_as(x),
        "column": per_example[:, :1, :1, :1].expand_as(x),
    }[form]
    baseline = {
        "scalar": 0.3,
        "int": 1,
        "none": None,
        "per_example": per_example,
        "one_batched": per_example[:1],
        "one_unbatched": per_example[0],
        "column": per_example[:, :1, :1, :1],
    }[form]
    path = LinearPath(baseline)
    torch.testing.assert_close(path.baseline(x), expected, rtol=0, atol=0)
    torch.testing.assert_close(path.points(x, [1.0])[0], x)
    torch.testing.assert_close(path.derivatives(x, [0.3])[0], x - expected)


@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 4, 5, 2)])
def test_linear_path_works_on_any_rank(shape):
    x = torch.rand(shape, dtype=torch.float64)
    path = LinearPath(0.5)
    points = path.points(x, [0.0, 0.25, 1.0])
    assert points.shape == (3, *shape)
    torch.testing.assert_close(points[1], 0.5 + 0.25 * (x - 0.5))
    total = path.differences(x, [0.0, 0.4], [0.4, 1.0]).sum(dim=0)
    torch.testing.assert_close(total, x - 0.5)


def test_linear_path_repeats_per_example_baselines_for_a_repeated_batch(x):
    """NoiseTunnel repeats each example k times in a row; so do the baselines."""
    baselines = torch.rand(x.shape, dtype=x.dtype)
    repeated = x.repeat_interleave(3, dim=0)
    torch.testing.assert_close(
        LinearPath(baselines).baseline(repeated), baselines.repeat_interleave(3, dim=0)
    )


def test_linear_path_with_a_tuple_gives_one_path_per_input_tensor(x):
    b = torch.rand(1, 3, 12, 10, dtype=x.dtype)
    first, second = LinearPath((0.5, b)).for_inputs(2)
    torch.testing.assert_close(first.baseline(x), torch.full_like(x, 0.5))
    torch.testing.assert_close(second.baseline(x), b.expand_as(x))
    (only,) = LinearPath((b,)).for_inputs(1)
    torch.testing.assert_close(LinearPath((b,)).baseline(x), b.expand_as(x))
    torch.testing.assert_close(only.baseline(x), b.expand_as(x))
    assert [p.baseline_value for p in LinearPath(0.25).for_inputs(3)] == [0.25] * 3


@pytest.mark.parametrize(
    "baselines, count, match",
    [
        ((0.0, 1.0), 3, "2 baselines but the inputs are 3 tensors"),
        (torch.zeros(2, 3, 12, 10), 2, "one baseline tensor"),
    ],
)
def test_linear_path_tuple_mismatch_is_named(baselines, count, match):
    with pytest.raises(ValueError, match=match):
        LinearPath(baselines).for_inputs(count)


def test_linear_path_tuple_for_one_tensor_is_refused(x):
    with pytest.raises(ValueError, match="tuple of 2 baselines"):
        LinearPath((0.0, 1.0)).points(x, [0.5])


@pytest.mark.parametrize("bad", ["0", [0.0, 1.0], True])
def test_linear_path_refuses_non_baselines(bad):
    with pytest.raises(TypeError, match="baselines must be a number, a tensor"):
        LinearPath(bad)


@pytest.mark.parametrize("shape", [(2, 12), (2, 3, 12), (1, 2, 3, 12, 10)])
def test_blur_path_refuses_non_images(shape):
    x = torch.rand(shape)
    path = ProgressiveBlurPath()
    for call in (
        lambda: path.points(x, [0.5]),
        lambda: path.derivatives(x, [0.5]),
        lambda: path.differences(x, [0.0], [0.5]),
    ):
        with pytest.raises(ValueError, match=r"ProgressiveBlurPath blurs images.*"):
            call()

"""How many path points go through the network at once (memory), and the
convergence delta that reports how far a map is from completeness."""

import pytest
import torch

from captum_lam import LinearPath, PathIntegratedGradients
from captum_lam._method.engine import CPU_PIXELS_PER_PASS, path_chunks, steps_per_pass


class _Recorder(torch.nn.Module):
    """A smooth nonlinear function of each example that records its batch sizes."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def forward(self, x):
        self.batches.append(x.shape[0])
        return (x.sin() * x).flatten(1).sum(dim=1)


@pytest.mark.parametrize(
    ("size", "points"), [(64, 10), (128, 2), (256, 1), (8, CPU_PIXELS_PER_PASS // 64)]
)
def test_cpu_passes_hold_about_forty_thousand_pixels(size, points):
    """The documented CPU default: 10 points of 64x64, 2 of 128x128, 1 of 256x256."""
    inputs = torch.zeros(1, 3, size, size)
    assert steps_per_pass(inputs, 50, None) == points


def test_cpu_passes_count_every_example():
    assert steps_per_pass(torch.zeros(5, 3, 64, 64), 50, None) == 2


@pytest.mark.parametrize(
    ("batch", "examples", "points"), [(3, 3, 1), (5, 3, 1), (6, 3, 2), (20, 3, 6)]
)
def test_internal_batch_size_counts_examples(batch, examples, points):
    inputs = torch.zeros(examples, 4)
    assert steps_per_pass(inputs, 50, batch) == points


def test_a_pass_never_exceeds_internal_batch_size():
    """The memory bound a caller sets: no forward call sees more examples."""
    model = _Recorder()
    x = torch.rand(3, 4, dtype=torch.float64)
    PathIntegratedGradients(model, LinearPath(0.0)).attribute(
        x, n_steps=7, internal_batch_size=5
    )
    assert model.batches == [3] * 7


def test_chunks_cover_every_step_once():
    chunks = list(path_chunks(7, 3))
    assert chunks == [slice(0, 3), slice(3, 6), slice(6, 7)]


@pytest.mark.parametrize(
    "method", ["gausslegendre", "riemann_trapezoid", "riemann_left"]
)
def test_convergence_delta_is_the_completeness_gap(method):
    """delta = sum(map) - (f(x) - f(baseline)), per example, whatever the rule."""
    model = _Recorder()
    x = torch.rand(2, 5, dtype=torch.float64) + 0.5
    baseline = 0.25
    pig = PathIntegratedGradients(model, LinearPath(baseline))
    attributions, delta = pig.attribute(
        x, n_steps=4, method=method, return_convergence_delta=True
    )
    change = model(x) - model(torch.full_like(x, baseline))
    expected = attributions.sum(dim=1) - change
    torch.testing.assert_close(delta, expected, rtol=0, atol=1e-12)


def test_lam_convergence_delta_is_the_completeness_gap():
    """LAM's delta: sum(map) - (objective(x) - objective(blurred x))."""
    from captum_lam import LAM, ProgressiveBlurPath, WindowObjective
    from tests.conftest import make_tiny_sr

    model = make_tiny_sr().double()
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    window = (4, 4, 6)
    attributions, delta = LAM(model).attribute(
        x, window, n_steps=4, return_convergence_delta=True
    )
    objective = WindowObjective(model, window=window)
    with torch.no_grad():
        change = objective(x) - objective(ProgressiveBlurPath().baseline(x))
    expected = attributions.sum() - change
    torch.testing.assert_close(delta, expected.reshape(delta.shape))


@pytest.mark.parametrize("region", [(), (slice(1, 5), slice(0, 6))])
def test_grouped_sums_equal_one_run_per_group(region):
    """``n_steps="auto"`` sums several groups of nodes from one run: each
    group's sum is the one its own run gives, though the passes mix groups."""
    from captum_lam import ProgressiveBlurPath
    from captum_lam._method.engine import Gradient, _Rule, integrate

    def gradients(points, steps):
        (grad,) = torch.autograd.grad((points.sin() * points).sum(), points)
        yield Gradient(grad, torch.ones(steps.stop - steps.start, dtype=torch.bool))

    path = ProgressiveBlurPath(sigma=1.0, kernel_size=5)
    x = torch.rand(2, 3, 7, 8, dtype=torch.float64)
    alphas = torch.tensor([0.1, 0.9, 0.3, 0.5, 0.7, 0.2, 1.0], dtype=torch.float64)
    weights = torch.linspace(0.5, 2.0, 7, dtype=torch.float64)
    groups = torch.tensor([0, 0, 2, 1, 2, 0, 1])
    rule = _Rule("test", alphas=alphas, weights=weights)
    grouped = integrate(gradients, path, x, rule, 3, region=region, groups=groups)
    assert grouped.shape == (3, *x.shape)
    for g in range(3):
        own = _Rule("test", alphas=alphas[groups == g], weights=weights[groups == g])
        alone = integrate(gradients, path, x, own, 3, region=region)
        assert torch.allclose(grouped[g], alone, atol=1e-14, rtol=0)
    if region:
        assert torch.all(grouped[..., slice(6, None)] == 0)
        assert torch.all(grouped[..., slice(5, None), :] == 0)

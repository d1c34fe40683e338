import pytest
import torch
from captum.attr import IntegratedGradients

from captum_lam import (
    LinearPath,
    PathIntegratedGradients,
    ProgressiveBlurPath,
    WindowObjective,
)
from captum_lam.path_integrated_gradients import METHODS

from .conftest import make_tiny_sr


@pytest.fixture
def objective():
    return WindowObjective(make_tiny_sr(), window=(3, 4, 8))


@pytest.mark.parametrize("method", METHODS)
def test_linear_path_equals_captum_integrated_gradients(objective, method):
    torch.manual_seed(0)
    x = torch.rand(2, 3, 10, 10)
    baseline = torch.rand(2, 3, 10, 10) * 0.2
    ours, our_delta = PathIntegratedGradients(
        objective, LinearPath(baseline)
    ).attribute(x, n_steps=16, method=method, return_convergence_delta=True)
    theirs, their_delta = IntegratedGradients(objective).attribute(
        x, baselines=baseline, n_steps=16, method=method, return_convergence_delta=True
    )
    assert (ours - theirs).abs().max() < 1e-5
    assert (our_delta - their_delta).abs().max() < 1e-4


def test_internal_batch_size_does_not_change_the_result(objective):
    x = torch.rand(2, 3, 9, 11, dtype=torch.float64)
    pig = PathIntegratedGradients(objective.double(), ProgressiveBlurPath())
    full = pig.attribute(x, n_steps=10, method="riemann_middle")
    for ibs in (2, 5, 7, 100):
        split = pig.attribute(
            x, n_steps=10, method="riemann_middle", internal_batch_size=ibs
        )
        torch.testing.assert_close(split, full, rtol=1e-12, atol=1e-12)


def test_internal_batch_size_below_batch_warns_like_captum(objective):
    x = torch.rand(3, 3, 8, 8)
    pig = PathIntegratedGradients(objective, ProgressiveBlurPath())
    with pytest.warns(UserWarning, match="smaller than the number of examples"):
        pig.attribute(x, n_steps=2, internal_batch_size=1)


def test_batch_equals_examples_one_by_one(objective):
    x = torch.rand(3, 3, 8, 8, dtype=torch.float64)
    pig = PathIntegratedGradients(objective.double(), ProgressiveBlurPath())
    batch, delta = pig.attribute(x, n_steps=8, return_convergence_delta=True)
    for i in range(3):
        one, d = pig.attribute(x[i : i + 1], n_steps=8, return_convergence_delta=True)
        torch.testing.assert_close(batch[i : i + 1], one, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(delta[i : i + 1], d, rtol=1e-9, atol=1e-12)


def test_delta_is_sum_minus_change_of_the_forward(objective):
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    objective.double()
    path = ProgressiveBlurPath(1.5, 7)
    attr, delta = PathIntegratedGradients(objective, path).attribute(
        x, n_steps=5, method="riemann_left", return_convergence_delta=True
    )
    change = objective(x) - objective(path.baseline(x))
    torch.testing.assert_close(delta, attr.sum(dim=(1, 2, 3)) - change)


class _MultiOutput(torch.nn.Module):
    """(N, 3, 6, 6) -> (N, 4, 2) scores; the extra argument scales every score."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x, scale):
        features = torch.tanh(self.conv(x)).mean(dim=(2, 3))  # (N, 8)
        return features.reshape(-1, 4, 2) * scale.reshape(-1, 1, 1)


@pytest.mark.parametrize(
    "target",
    [
        (1, 0),  # one tuple for every example
        [(0, 1), (3, 0), (2, 1)],  # one tuple per example
    ],
)
def test_targets_and_tensor_arguments_like_captum(target):
    """Every Captum target form and a per-example tensor argument, on a
    multi-output forward function: equal to Captum's IntegratedGradients."""
    torch.manual_seed(1)
    f = _MultiOutput().double()
    x = torch.rand(3, 3, 6, 6, dtype=torch.float64)
    scale = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    ours, our_delta = PathIntegratedGradients(f, LinearPath(0.0)).attribute(
        x,
        target=target,
        additional_forward_args=(scale,),
        n_steps=12,
        internal_batch_size=9,  # three examples times three steps per pass
        return_convergence_delta=True,
    )
    theirs, their_delta = IntegratedGradients(f).attribute(
        x,
        target=target,
        additional_forward_args=(scale,),
        n_steps=12,
        return_convergence_delta=True,
    )
    torch.testing.assert_close(ours, theirs, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(our_delta, their_delta, rtol=1e-6, atol=1e-8)
    # the targets really select different outputs: another target, another map
    other = PathIntegratedGradients(f, LinearPath(0.0)).attribute(
        x, target=(2, 0), additional_forward_args=(scale,), n_steps=12
    )
    assert (other - ours).abs().max() > 1e-3


def test_an_integer_target_on_a_two_dimensional_output():
    torch.manual_seed(2)
    conv = torch.nn.Conv2d(3, 5, 3).double()
    f = lambda x: conv(x).mean(dim=(2, 3))  # noqa: E731  (N, 5)
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    for target in (3, [1, 4], torch.tensor([1, 4])):
        ours = PathIntegratedGradients(f, LinearPath(0.0)).attribute(
            x, target=target, n_steps=8
        )
        theirs = IntegratedGradients(f).attribute(x, target=target, n_steps=8)
        torch.testing.assert_close(ours, theirs, rtol=1e-7, atol=1e-9)


def test_constructor_checks_its_arguments():
    with pytest.raises(TypeError, match="path must be a captum_lam.Path"):
        PathIntegratedGradients(lambda x: x, "blur")
    with pytest.raises(TypeError, match="forward_func must be callable"):
        PathIntegratedGradients(3, LinearPath())

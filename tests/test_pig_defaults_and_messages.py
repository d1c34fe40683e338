"""PathIntegratedGradients' defaults are Captum's (50 Gauss-Legendre steps), and
a baseline given where Captum takes it is named as the caller gave it."""

import pytest
import torch

from captum_lam import LinearPath, PathIntegratedGradients


def _net(x):
    return torch.tanh(x.sum(dim=1, keepdim=True) * torch.linspace(0.5, 1.5, 4))


def test_default_steps_are_captums_fifty_gauss_legendre_steps():
    x = torch.rand(2, 3, dtype=torch.float64)
    pig = PathIntegratedGradients(_net, LinearPath(0.0))
    got = pig.attribute(x, target=1)
    assert pig.last_integration.n_steps == 50
    explicit = PathIntegratedGradients(_net, LinearPath(0.0))
    same = explicit.attribute(x, target=1, n_steps=50, method="gausslegendre")
    torch.testing.assert_close(got, same, rtol=0, atol=0)


@pytest.mark.parametrize(
    "misplaced, shown",
    [
        (0.5, "got float 0.5."),
        ([0.0, 1.0], "got a list holding tensors or floats."),
        ((torch.zeros(2, 3),), "got a tuple holding tensors or floats."),
        (torch.zeros(2, 3), "got a torch.float32 tensor."),
    ],
    ids=["float", "list", "tuple", "tensor"],
)
def test_a_misplaced_baseline_is_described_as_given(misplaced, shown):
    pig = PathIntegratedGradients(_net, LinearPath())
    with pytest.raises(TypeError) as error:
        pig.attribute(torch.rand(2, 3), misplaced)
    assert shown in str(error.value)

"""LAM hands ``additional_forward_args`` to the network at every path point, each
example's with its own example, as Captum's attributions do."""

import torch
from torch import nn

from captum_lam import LAM

from .conftest import make_tiny_sr


class Gained(nn.Module):
    """The tiny network times a per-example gain, passed as an extra argument."""

    def __init__(self) -> None:
        super().__init__()
        self.net = make_tiny_sr().double()

    def forward(self, x, gain):
        return self.net(x) * gain


class Fixed(nn.Module):
    def __init__(self, model: Gained, gain: float) -> None:
        super().__init__()
        self.model, self.gain = model, gain

    def forward(self, x):
        return self.model(x, self.gain)


def test_extra_arguments_reach_the_model_for_each_example():
    model = Gained().eval()
    x = torch.rand(2, 3, 12, 12, dtype=torch.float64)
    gains = torch.tensor([0.5, 3.0], dtype=torch.float64).reshape(2, 1, 1, 1)
    window = (4, 6, 8)
    got, delta = LAM(model).attribute(
        x,
        target=window,
        additional_forward_args=(gains,),
        n_steps=4,
        internal_batch_size=3,
        return_convergence_delta=True,
    )
    for k, gain in enumerate((0.5, 3.0)):
        expected, expected_delta = LAM(Fixed(model, gain).eval()).attribute(
            x[k : k + 1], target=window, n_steps=4, return_convergence_delta=True
        )
        torch.testing.assert_close(got[k : k + 1], expected, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(
            delta[k : k + 1], expected_delta, rtol=1e-8, atol=1e-10
        )


def test_a_single_extra_argument_need_not_be_a_tuple():
    model = Gained().eval()
    x = torch.rand(1, 3, 12, 12, dtype=torch.float64)
    bare = LAM(model).attribute(
        x, target=(2, 2, 8), additional_forward_args=2.0, n_steps=3
    )
    expected = LAM(Fixed(model, 2.0).eval()).attribute(x, target=(2, 2, 8), n_steps=3)
    torch.testing.assert_close(bare, expected, rtol=1e-10, atol=1e-12)

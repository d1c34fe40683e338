"""PathIntegratedGradients takes what Captum's methods take, and says where
baselines go."""

import pytest
import torch
from captum.attr import IntegratedGradients
from captum.attr._utils.approximation_methods import approximation_parameters

from captum_lam import LinearPath, PathIntegratedGradients, ProgressiveBlurPath


def _net(x1, x2=None):
    z = x1.flatten(1).sum(dim=1, keepdim=True) * torch.linspace(0.5, 1.5, 4)
    if x2 is not None:
        z = z + (x2.flatten(1) ** 2).sum(dim=1, keepdim=True)
    return torch.tanh(z)


@pytest.mark.parametrize("shape", [(3, 5), (3, 2, 4), (3, 1, 2, 2, 2)])
def test_any_rank_tensor_in_tensor_out(shape):
    x = torch.rand(shape, dtype=torch.float64)
    attr = PathIntegratedGradients(_net, LinearPath(0.0)).attribute(x, target=2)
    expected = IntegratedGradients(_net).attribute(x, target=2)
    assert isinstance(attr, torch.Tensor) and attr.shape == x.shape
    torch.testing.assert_close(attr, expected)


def test_tuple_in_tuple_out():
    x = (
        torch.rand(2, 3, dtype=torch.float64),
        torch.rand(2, 2, 2, dtype=torch.float64),
    )
    attr = PathIntegratedGradients(_net, LinearPath((0.1, 0.0))).attribute(x, target=1)
    assert isinstance(attr, tuple) and [a.shape for a in attr] == [t.shape for t in x]
    one = PathIntegratedGradients(_net, LinearPath((0.1,))).attribute((x[0],), target=1)
    assert isinstance(one, tuple) and len(one) == 1


@pytest.mark.parametrize(
    "misplaced",
    [torch.zeros(2, 3), 0.0, (torch.zeros(2, 3),)],
    ids=["tensor", "float", "tuple"],
)
def test_positional_baselines_are_caught(misplaced):
    pig = PathIntegratedGradients(_net, LinearPath())
    with pytest.raises(TypeError, match=r"baselines go into the path.*LinearPath"):
        pig.attribute(torch.rand(2, 3), misplaced)


def test_integer_tensor_targets_still_work():
    x = torch.rand(2, 3, dtype=torch.float64)
    pig = PathIntegratedGradients(_net, LinearPath())
    got = pig.attribute(x, torch.tensor([1, 3]))
    expected = IntegratedGradients(_net).attribute(x, target=torch.tensor([1, 3]))
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize(
    "method", ["riemann_middle", "riemann_trapezoid", "gausslegendre"]
)
def test_without_multiplying_by_inputs_matches_captum_on_the_line(method):
    x = torch.rand(3, 4, dtype=torch.float64)
    b = torch.rand(3, 4, dtype=torch.float64)
    pig = PathIntegratedGradients(_net, LinearPath(b), multiply_by_inputs=False)
    assert not pig.multiplies_by_inputs
    got = pig.attribute(x, target=0, method=method, n_steps=9)
    expected = IntegratedGradients(_net, multiply_by_inputs=False).attribute(
        x, baselines=b, target=0, method=method, n_steps=9
    )
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("method", ["riemann_right", "gausslegendre"])
def test_without_multiplying_by_inputs_on_a_blur_path_integrates_gradients(method):
    """sum_k w_k * grad f(gamma(alpha_k)), no dgamma/dalpha."""
    torch.manual_seed(0)
    x = torch.rand(1, 1, 6, 6, dtype=torch.float64)
    weight = torch.rand(1, 1, 6, 6, dtype=torch.float64)

    def f(images):
        return (torch.sin(images * 3) * weight).sum(dim=(1, 2, 3))

    path = ProgressiveBlurPath(1.5, 5)
    n = 7
    got = PathIntegratedGradients(f, path, multiply_by_inputs=False).attribute(
        x, method=method, n_steps=n
    )
    if method == "gausslegendre":
        step_sizes, alphas_of = approximation_parameters(method)
        weights, alphas = step_sizes(n), alphas_of(n)
    else:
        weights, alphas = [1 / n] * n, [(k + 1) / n for k in range(n)]
    expected = torch.zeros_like(x)
    for w, a in zip(weights, alphas):
        point = path.points(x, [a])[0].requires_grad_()
        (grad,) = torch.autograd.grad(f(point).sum(), point)
        expected += w * grad
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_attribute_future_is_not_implemented():
    with pytest.raises(NotImplementedError, match="attribute_future"):
        PathIntegratedGradients(_net, LinearPath()).attribute_future()


def test_blur_path_refuses_a_non_image_input_before_any_work():
    calls = []

    def f(x):
        calls.append(1)
        return x.sum(dim=1)

    with pytest.raises(ValueError, match=r"ProgressiveBlurPath blurs images"):
        PathIntegratedGradients(f, ProgressiveBlurPath()).attribute(torch.rand(2, 5))
    assert calls == []


@pytest.mark.parametrize(
    "inputs, error, match",
    [
        ((torch.rand(2, 3), torch.rand(3, 3)), ValueError, "same batch size N"),
        (
            (torch.rand(2, 3), torch.rand(2, 3, dtype=torch.float64)),
            ValueError,
            "same dtype and device",
        ),
        ((torch.rand(2, 3), "x"), TypeError, r"for inputs\[1\]"),
        (torch.ones(2, 3, dtype=torch.int64), TypeError, "floating-point"),
        (torch.tensor(1.0), ValueError, "batch dimension"),
        ((), ValueError, "empty tuple"),
        ((torch.rand(2, 3), torch.full((2, 1), float("nan"))), ValueError, "NaN"),
    ],
)
def test_bad_inputs_are_named_before_any_forward(inputs, error, match):
    calls = []

    def f(*xs):
        calls.append(1)
        return xs[0].sum(dim=1)

    with pytest.raises(error, match=match):
        PathIntegratedGradients(f, LinearPath()).attribute(inputs)
    assert calls == []

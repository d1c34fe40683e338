"""The cached integration rules: Captum's nodes and weights, and shared safely."""

import numpy as np
import pytest
import torch
from captum.attr._utils.approximation_methods import approximation_parameters

from captum_lam import LinearPath, PathIntegratedGradients
from captum_lam._method.quadrature import nodes_and_weights


# the documented bar: Captum's own rule, bit for bit, up to 256 nodes
@pytest.mark.parametrize("n", [2, 7, 50, 256])
@pytest.mark.parametrize("method", ["gausslegendre", "riemann_trapezoid"])
def test_rule_is_captums_bit_for_bit(method, n):
    """Up to 256 nodes a PIG map equals Captum's IG exactly: the same rule."""
    step_sizes, points = approximation_parameters(method)
    alphas, weights = nodes_and_weights(method, n)
    np.testing.assert_array_equal(alphas, np.array(points(n)))
    np.testing.assert_array_equal(weights, np.array(step_sizes(n)))


def test_large_rule_matches_captums_closely():
    """Above 256 the nodes come from scipy, still Captum's rule to 1e-9."""
    n = 257
    step_sizes, points = approximation_parameters("gausslegendre")
    alphas, weights = nodes_and_weights("gausslegendre", n)
    np.testing.assert_allclose(alphas, np.array(points(n)), rtol=0, atol=1e-13)
    np.testing.assert_allclose(weights, np.array(step_sizes(n)), rtol=1e-9)
    assert float(weights.sum()) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_trapezoid"])
def test_cached_rule_cannot_be_overwritten(method):
    """The arrays are shared by every later caller: writing to them must fail."""
    alphas, weights = nodes_and_weights(method, 5)
    with pytest.raises(ValueError, match="read-only"):
        alphas[0] = 0.5
    with pytest.raises(ValueError, match="read-only"):
        weights[0] = 0.5


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="no cached nodes for method 'simpson'"):
        nodes_and_weights("simpson", 4)


def test_trapezoid_needs_two_points_and_gauss_takes_one():
    """One Gauss-Legendre point is the midpoint rule; a trapezoid needs two ends."""
    x = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    pig = PathIntegratedGradients(lambda t: (t**3).sum(dim=1), LinearPath(0.0))
    with pytest.raises(
        ValueError, match="n_steps must be >= 2 for method 'riemann_trap"
    ):
        pig.attribute(x, n_steps=1, method="riemann_trapezoid")
    # gradient 3 * (x / 2)^2 at the midpoint, times the path's length x
    torch.testing.assert_close(pig.attribute(x, n_steps=1), 0.75 * x**3)

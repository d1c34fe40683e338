"""Captum 0.9 ``tests/attr/test_integrated_gradients_classification.py``.

Source and licence: see ``conftest.py`` (BSD 3-Clause, Captum's authors).
"""

import pytest
import torch
from captum.attr import NoiseTunnel
from captum.testing.helpers.classification_models import SigmoidModel, SoftmaxModel

from .adapter import IntegratedGradients
from .helpers import assert_close


def _completeness(model, inputs, target, nt_type, method, baseline=None):
    ig = IntegratedGradients(model.forward)
    model.zero_grad()
    if nt_type == "vanilla":
        attributions, delta = ig.attribute(
            inputs,
            baselines=baseline,
            target=target,
            method=method,
            n_steps=200,
            return_convergence_delta=True,
        )
        expected = ig.compute_convergence_delta(attributions, baseline, inputs, target)
        assert_close(expected, delta)
        assert (delta.abs() < 0.005).all(), delta
        assert list(delta.shape) == [inputs.shape[0]]
    else:
        n_samples = 10
        attributions, delta = NoiseTunnel(ig).attribute(
            inputs,
            baselines=baseline,
            nt_type=nt_type,
            nt_samples=n_samples,
            stdevs=0.0002,
            n_steps=100,
            target=target,
            method=method,
            return_convergence_delta=True,
        )
        assert list(delta.shape) == [inputs.shape[0] * n_samples]
    assert (delta.abs() < 0.05).all()
    assert attributions.shape == inputs.shape


def sigmoid(nt_type, method):
    inputs = torch.arange(0.0, 20.0, requires_grad=True).unsqueeze(0)
    _completeness(SigmoidModel(20, 5, 1), inputs, torch.tensor(0), nt_type, method)


def softmax(nt_type, method):
    inputs = torch.arange(0.0, 40.0, requires_grad=True).unsqueeze(0)
    _completeness(SoftmaxModel(40, 20, 10), inputs, torch.tensor(5), nt_type, method)


def softmax_batch(nt_type, method):
    inputs = torch.arange(0.0, 120.0, requires_grad=True).reshape(3, 40)
    _completeness(
        SoftmaxModel(40, 20, 10),
        inputs,
        torch.tensor([5, 5, 2]),
        nt_type,
        method,
        baseline=torch.zeros(1, 40),
    )


CASES = [
    ("sigmoid_classification_vanilla", sigmoid, "vanilla", "riemann_right"),
    ("sigmoid_classification_smoothgrad", sigmoid, "smoothgrad", "riemann_left"),
    (
        "sigmoid_classification_smoothgrad_sq",
        sigmoid,
        "smoothgrad_sq",
        "riemann_middle",
    ),
    ("sigmoid_classification_vargrad", sigmoid, "vargrad", "riemann_trapezoid"),
    ("softmax_classification_vanilla", softmax, "vanilla", "gausslegendre"),
    ("softmax_classification_smoothgrad", softmax, "smoothgrad", "riemann_right"),
    ("softmax_classification_smoothgrad_sq", softmax, "smoothgrad_sq", "riemann_left"),
    ("softmax_classification_vargrad", softmax, "vargrad", "riemann_middle"),
    (
        "softmax_classification_vanilla_batch",
        softmax_batch,
        "vanilla",
        "riemann_trapezoid",
    ),
    (
        "softmax_classification_smoothgrad_batch",
        softmax_batch,
        "smoothgrad",
        "gausslegendre",
    ),
    (
        "softmax_classification_smoothgrad_sq_batch",
        softmax_batch,
        "smoothgrad_sq",
        "riemann_right",
    ),
    ("softmax_classification_vargrad_batch", softmax_batch, "vargrad", "riemann_left"),
]


@pytest.mark.parametrize(
    "scenario, nt_type, method", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_captum_ig_classification(scenario, nt_type, method):
    scenario(nt_type, method)

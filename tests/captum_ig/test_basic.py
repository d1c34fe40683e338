"""Captum 0.9 ``tests/attr/test_integrated_gradients_basic.py``, as pytest cases.

Source and licence: see ``conftest.py`` (BSD 3-Clause, Captum's authors).
"""

import pytest
import torch
from captum.attr import NoiseTunnel
from captum.testing.helpers.basic_models import (
    BasicModel,
    BasicModel2,
    BasicModel3,
    BasicModel4_MultiArgs,
    BasicModel5_MultiArgs,
    BasicModel6_MultiTensor,
    BasicModel_MultiLayer,
)

from .adapter import IntegratedGradients
from .helpers import assert_almost, assert_close


def _tensor_baselines(inputs):
    return tuple(torch.zeros_like(x) for x in inputs)


def _attribute_and_check(
    model,
    inputs,
    baselines=None,
    target=None,
    additional_forward_args=None,
    nt_type="vanilla",
    method="gausslegendre",
    multiply_by_inputs=True,
    nt_samples_batch_size=None,
):
    """One Captum check: completeness, delta forms and shapes; returns attributions."""
    ig = IntegratedGradients(model, multiply_by_inputs=multiply_by_inputs)
    assert ig.multiplies_by_inputs == multiply_by_inputs
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    if baselines is not None and not isinstance(baselines, tuple):
        baselines = (baselines,)
    if baselines is None:
        baselines = _tensor_baselines(inputs)
    common = dict(additional_forward_args=additional_forward_args, target=target)
    if nt_type == "vanilla":
        attributions, delta = ig.attribute(
            inputs,
            baselines,
            method=method,
            n_steps=500,
            return_convergence_delta=True,
            **common,
        )
        model.zero_grad()
        without_delta, delta = ig.attribute(
            inputs,
            baselines,
            method=method,
            n_steps=500,
            return_convergence_delta=True,
            **common,
        )
        model.zero_grad()
        assert list(delta.shape) == [inputs[0].shape[0]]
        external = ig.compute_convergence_delta(
            attributions, baselines, inputs, **common
        )
        assert_close(delta, external, delta=0.0, mode="max")
    else:
        nt = NoiseTunnel(ig)
        n_samples = 5
        attributions, delta = nt.attribute(
            inputs,
            nt_type=nt_type,
            nt_samples=n_samples,
            stdevs=0.00000002,
            baselines=baselines,
            method=method,
            n_steps=500,
            return_convergence_delta=True,
            nt_samples_batch_size=nt_samples_batch_size,
            **common,
        )
        without_delta = nt.attribute(
            inputs,
            nt_type=nt_type,
            nt_samples=n_samples,
            stdevs=0.00000002,
            baselines=baselines,
            method=method,
            n_steps=500,
            nt_samples_batch_size=3,
            **common,
        )
        assert nt.multiplies_by_inputs == multiply_by_inputs
        assert list(delta.shape) == [inputs[0].shape[0] * n_samples]
    for x, attribution in zip(inputs, attributions):
        assert attribution.shape == x.shape
    if multiply_by_inputs:
        assert_close(delta, torch.zeros(delta.shape), 0.07, "max")
    for attribution, other in zip(attributions, without_delta):
        assert_close(attribution, other, delta=0.05)
    return attributions


def _batch_equals_examples(model, inputs, target=None, method="gausslegendre"):
    """Each example alone gives its row of the batch, for three batch sizes."""
    ig = IntegratedGradients(model)
    baselines = _tensor_baselines(inputs)
    for internal_batch_size in [None, 10, 20]:
        kwargs = dict(
            method=method,
            n_steps=100,
            target=target,
            internal_batch_size=internal_batch_size,
            return_convergence_delta=True,
        )
        attributions, delta = ig.attribute(inputs, baselines, **kwargs)
        total_delta = 0.0
        for i in range(inputs[0].shape[0]):
            one, delta_one = ig.attribute(
                tuple(x[i : i + 1] for x in inputs),
                tuple(b[i : i + 1] for b in baselines),
                **kwargs,
            )
            total_delta += abs(delta_one).sum().item()
            for j in range(len(attributions)):
                assert_close(
                    attributions[j][i : i + 1].squeeze(0),
                    one[j].squeeze(0),
                    delta=0.05,
                    mode="max",
                )
        assert_almost(abs(delta).sum().item(), total_delta, delta=0.005)


def multi_variable(nt_type, method, multiply_by_inputs=True):
    x1, x2 = torch.tensor([3.0]), torch.tensor([1.0], requires_grad=True)
    b1, b2 = torch.tensor([0.0]), torch.tensor([0.0])
    sums = []
    for model in (BasicModel2(), BasicModel3()):
        attributions = _attribute_and_check(
            model,
            (x1, x2),
            (b1, b2),
            nt_type=nt_type,
            method=method,
            multiply_by_inputs=multiply_by_inputs,
        )
        if nt_type == "vanilla":
            expected = [1.5] if multiply_by_inputs else [0.5]
            assert_close(attributions[0], expected, delta=0.05, mode="max")
            assert_close(attributions[1], [-0.5], delta=0.05, mode="max")
        sums.append(sum(a for a in attributions))
    if nt_type == "vanilla":
        assert sums[0] == sums[1]  # implementation invariance


def univariable(nt_type, method):
    model = BasicModel()
    for x, b in [
        (torch.tensor([1.0], requires_grad=True), torch.tensor([0.0])),
        (torch.tensor([0.0]), torch.tensor([0.0])),
        (torch.tensor([-1.0], requires_grad=True), 0.00001),
    ]:
        _attribute_and_check(model, x, b, nt_type=nt_type, method=method)


def multi_argument(nt_type, method):
    one = (
        torch.tensor([[1.5, 2.0, 34.3]], requires_grad=True),
        torch.tensor([[3.0, 3.5, 23.2]], requires_grad=True),
    )
    two = (
        torch.tensor([[1.5, 2.0, 34.3], [3.4, 1.2, 2.0]], requires_grad=True),
        torch.tensor([[3.0, 3.5, 23.2], [2.3, 1.2, 0.3]], requires_grad=True),
    )
    for model, inputs, baselines, args in [
        (
            BasicModel4_MultiArgs(),
            one,
            (0.0, torch.zeros((1, 3))),
            torch.arange(1.0, 4.0).reshape(1, 3),
        ),
        (
            BasicModel4_MultiArgs(),
            two,
            (torch.zeros((2, 3)), 0.0),
            (torch.arange(1.0, 7.0).reshape(2, 3), 1),
        ),
        (BasicModel5_MultiArgs(), two, (0.0, 0.00001), ([2, 3], 1)),
        (BasicModel5_MultiArgs(), two, (torch.zeros((1, 3)), 0.00001), ([2, 3], 1)),
    ]:
        _attribute_and_check(
            model,
            inputs,
            baselines=baselines,
            additional_forward_args=args,
            nt_type=nt_type,
            method=method,
        )


def multi_tensor_input(nt_type, method):
    inputs = (
        torch.tensor([[1.5, 2.0, 3.3]], requires_grad=True),
        torch.tensor([[3.0, 3.5, 2.2]], requires_grad=True),
    )
    _attribute_and_check(
        BasicModel6_MultiTensor(), inputs, nt_type=nt_type, method=method
    )


def _batched_input():
    return (
        torch.tensor(
            [[1.5, 2.0, 1.3], [0.5, 0.1, 2.3], [1.5, 2.0, 1.3]], requires_grad=True
        ),
    )


def batched_input(nt_type, method):
    model, inputs = BasicModel_MultiLayer(), _batched_input()
    _attribute_and_check(model, inputs, target=0, nt_type=nt_type, method=method)
    _batch_equals_examples(model, inputs, target=0, method=method)


def batched_input_nt_batch_size(nt_type, method, nt_samples_batch_size):
    _attribute_and_check(
        BasicModel_MultiLayer(),
        _batched_input(),
        target=0,
        nt_type=nt_type,
        method=method,
        nt_samples_batch_size=nt_samples_batch_size,
    )


def batched_multi_input(nt_type, method, nt_samples_batch_size=None):
    inputs = (
        torch.tensor(
            [[1.5, 2.1, 1.9], [0.5, 0.0, 0.7], [1.5, 2.1, 1.1]], requires_grad=True
        ),
        torch.tensor(
            [[0.3, 1.9, 2.4], [0.5, 0.6, 2.1], [1.2, 2.1, 0.2]], requires_grad=True
        ),
    )
    _attribute_and_check(
        BasicModel_MultiLayer(),
        inputs,
        target=0,
        nt_type=nt_type,
        method=method,
        nt_samples_batch_size=nt_samples_batch_size,
    )


# (Captum's test name, scenario, arguments), in Captum's order.
CASES = [
    ("multivariable_vanilla", multi_variable, ("vanilla", "riemann_right")),
    (
        "multivariable_vanilla_wo_mutliplying_by_inputs",
        multi_variable,
        ("vanilla", "riemann_right", False),
    ),
    ("multivariable_smoothgrad", multi_variable, ("smoothgrad", "riemann_left")),
    (
        "multivariable_smoothgrad_sq",
        multi_variable,
        ("smoothgrad_sq", "riemann_middle"),
    ),
    ("multivariable_vargrad", multi_variable, ("vargrad", "riemann_trapezoid")),
    ("multi_argument_vanilla", multi_argument, ("vanilla", "gausslegendre")),
    ("multi_argument_smoothgrad", multi_argument, ("smoothgrad", "riemann_right")),
    ("multi_argument_smoothgrad_sq", multi_argument, ("smoothgrad_sq", "riemann_left")),
    ("multi_argument_vargrad", multi_argument, ("vargrad", "riemann_middle")),
    ("univariable_vanilla", univariable, ("vanilla", "riemann_trapezoid")),
    ("univariable_smoothgrad", univariable, ("smoothgrad", "gausslegendre")),
    ("univariable_smoothgrad_sq", univariable, ("smoothgrad_sq", "riemann_right")),
    ("univariable_vargrad", univariable, ("vargrad", "riemann_left")),
    ("multi_tensor_input_vanilla", multi_tensor_input, ("vanilla", "riemann_middle")),
    (
        "multi_tensor_input_smoothgrad",
        multi_tensor_input,
        ("smoothgrad", "riemann_trapezoid"),
    ),
    (
        "multi_tensor_input_smoothgrad_sq",
        multi_tensor_input,
        ("smoothgrad_sq", "gausslegendre"),
    ),
    ("multi_tensor_input_vargrad", multi_tensor_input, ("vargrad", "riemann_right")),
    ("batched_input_vanilla", batched_input, ("vanilla", "riemann_left")),
    ("batched_input_smoothgrad", batched_input, ("smoothgrad", "riemann_middle")),
    (
        "batched_input_smoothgrad_with_batch_size_1",
        batched_input_nt_batch_size,
        ("smoothgrad", "riemann_middle", 1),
    ),
    (
        "batched_input_smoothgrad_with_batch_size_2",
        batched_input_nt_batch_size,
        ("vargrad", "riemann_middle", 2),
    ),
    (
        "batched_input_smoothgrad_with_batch_size_3",
        batched_input_nt_batch_size,
        ("smoothgrad_sq", "riemann_middle", 3),
    ),
    (
        "batched_input_smoothgrad_sq",
        batched_input,
        ("smoothgrad_sq", "riemann_trapezoid"),
    ),
    ("batched_input_vargrad", batched_input, ("vargrad", "gausslegendre")),
    ("batched_multi_input_vanilla", batched_multi_input, ("vanilla", "riemann_right")),
    (
        "batched_multi_input_smoothgrad",
        batched_multi_input,
        ("smoothgrad", "riemann_left"),
    ),
    (
        "batched_multi_input_smoothgrad_sq",
        batched_multi_input,
        ("smoothgrad_sq", "riemann_middle"),
    ),
    (
        "batched_multi_input_vargrad",
        batched_multi_input,
        ("vargrad", "riemann_trapezoid"),
    ),
    (
        "batched_multi_input_vargrad_batch_size_1",
        batched_multi_input,
        ("vargrad", "riemann_trapezoid", 1),
    ),
    (
        "batched_multi_input_smooth_batch_size_2",
        batched_multi_input,
        ("vargrad", "riemann_trapezoid", 2),
    ),
    (
        "batched_multi_input_smoothgrad_sq_batch_size_3",
        batched_multi_input,
        ("vargrad", "riemann_trapezoid", 3),
    ),
]


@pytest.mark.parametrize(
    "scenario, args", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_captum_ig_basic(scenario, args):
    scenario(*args)


def test_batched_input_smoothgrad_wo_mutliplying_by_inputs():
    model = BasicModel_MultiLayer()
    inputs = torch.tensor(
        [[1.5, 2.0, 1.3], [0.5, 0.1, 2.3], [1.5, 2.0, 1.3]], requires_grad=True
    )
    kwargs = dict(nt_type="smoothgrad", nt_samples=5, stdevs=0.0, target=0, n_steps=500)
    plain = NoiseTunnel(IntegratedGradients(model, multiply_by_inputs=False))
    times_input = NoiseTunnel(IntegratedGradients(model))
    assert_close(
        plain.attribute(inputs, **kwargs) * inputs,
        times_input.attribute(inputs, **kwargs),
    )


def test_futures_not_implemented():
    ig = IntegratedGradients(BasicModel_MultiLayer())
    with pytest.raises(NotImplementedError):
        ig.attribute_future()

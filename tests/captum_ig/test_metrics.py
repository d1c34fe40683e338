"""The Integrated Gradients cases of Captum 0.9 ``tests/metrics/test_infidelity.py``
and ``tests/metrics/test_sensitivity.py``.

Source and licence: see ``conftest.py`` (BSD 3-Clause, Captum's authors).
"""

import torch
from captum.metrics import (
    infidelity,
    infidelity_perturb_func_decorator,
    sensitivity_max,
)
from captum.testing.helpers.basic_models import (
    BasicModel2,
    BasicModel4_MultiArgs,
    BasicModel_MultiLayer,
)

from .adapter import IntegratedGradients
from .helpers import assert_close


def _shift_down(inputs):
    """Perturbation 0.0009 (first tensor) and 0.0121 (second); ``(perturbation,
    perturbed inputs)``."""
    if not isinstance(inputs, tuple):
        p = 0.0009 * torch.ones_like(inputs)
        return p, inputs - p
    p1, p2 = 0.0009 * torch.ones_like(inputs[0]), 0.0121 * torch.ones_like(inputs[1])
    return (p1, p2), (inputs[0] - p1, inputs[1] - p2)


@infidelity_perturb_func_decorator(False)
def _shift_down_decorated(inputs):
    return _shift_down(inputs)[1]


def _to_zero(inputs):
    """Sensitivity-N with N = all features: every feature set to 0."""
    if not isinstance(inputs, tuple):
        return torch.ones(inputs.shape), torch.zeros(inputs.shape)
    return (
        tuple(torch.ones(x.shape) for x in inputs),
        tuple(torch.zeros(x.shape) for x in inputs),
    )


@infidelity_perturb_func_decorator(True)
def _to_zero_decorated(inputs):
    return _to_zero(inputs)[1]


def _infidelity(model, attributions, inputs, expected, perturb_func=_shift_down, **kw):
    kw.setdefault("n_perturb_samples", 10)
    infid = infidelity(model, perturb_func, inputs, attributions, **kw)
    assert_close(infid, expected, 0.05)
    return infid


def _ig_infidelity(model, inputs, expected, **kw):
    attributions = IntegratedGradients(model).attribute(inputs)
    return _infidelity(model, attributions, inputs, expected, **kw)


def _global(model, inputs, expected, args=None, target=None, **kw):
    attributions = IntegratedGradients(model).attribute(
        inputs, additional_forward_args=args, target=target
    )
    kw.setdefault("perturb_func", _to_zero)
    return _infidelity(
        model,
        attributions,
        inputs,
        expected,
        additional_forward_args=args,
        target=target,
        **kw,
    )


def test_basic_infidelity_single():
    _ig_infidelity(
        BasicModel2(), (torch.tensor([3.0]), torch.tensor([1.0])), torch.zeros(1)
    )


def test_basic_infidelity_multiple():
    inputs = (torch.tensor([3.0] * 3), torch.tensor([1.0] * 3))
    infid = _ig_infidelity(BasicModel2(), inputs, torch.zeros(3))
    with_decorator = _ig_infidelity(
        BasicModel2(),
        inputs,
        torch.zeros(3),
        perturb_func=_shift_down_decorated,
    )
    assert_close(infid, with_decorator)


def test_basic_infidelity_multiple_with_batching():
    inputs = (torch.tensor([3.0] * 20), torch.tensor([1.0] * 20))
    infid1 = _ig_infidelity(
        BasicModel2(),
        inputs,
        torch.zeros(20),
        n_perturb_samples=5,
        max_examples_per_batch=21,
    )
    infid2 = _ig_infidelity(
        BasicModel2(),
        inputs,
        torch.zeros(20),
        n_perturb_samples=5,
        max_examples_per_batch=60,
    )
    assert_close(infid1, infid2, delta=0.01, mode="max")


def test_basic_infidelity_additional_forward_args1():
    model = BasicModel4_MultiArgs()
    inputs = (torch.tensor([[1.5, 2.0, 3.3]]), torch.tensor([[3.0, 3.5, 2.2]]))
    args = torch.tensor([[1.0, 3.0, 4.0]])
    one = _global(
        model,
        inputs,
        torch.zeros(1),
        args=args,
        n_perturb_samples=1,
        max_examples_per_batch=1,
    )
    five = _global(
        model,
        inputs,
        torch.zeros(1),
        args=args,
        n_perturb_samples=5,
        max_examples_per_batch=2,
    )
    five_decorated = _global(
        model,
        inputs,
        torch.zeros(1),
        args=args,
        n_perturb_samples=5,
        max_examples_per_batch=2,
        perturb_func=_to_zero_decorated,
    )
    assert_close(one, five, 0.0)
    assert_close(five_decorated, five, 0.0)


def test_classification_infidelity_tpl_target_w_baseline():
    model = BasicModel_MultiLayer()
    inputs = torch.arange(1.0, 13.0).view(4, 3)
    baseline = torch.ones(4, 3)
    args = (torch.arange(1, 13).view(4, 3).float(), True)
    targets = [(0, 1, 1), (0, 1, 1), (1, 1, 1), (0, 1, 1)]

    def to_baseline(inputs, baselines):
        return torch.ones(baselines.shape), baselines

    @infidelity_perturb_func_decorator(True)
    def to_baseline_decorated(inputs, baselines):
        return baselines

    attributions, delta = IntegratedGradients(model).attribute(
        inputs,
        target=targets,
        additional_forward_args=args,
        baselines=baseline,
        return_convergence_delta=True,
    )
    expected = torch.tensor([0.10686, 0.0, 0.0, 0.0])
    common = dict(
        additional_forward_args=args,
        baselines=baseline,
        target=targets,
        n_perturb_samples=3,
    )
    infid = _infidelity(
        model,
        attributions,
        inputs,
        expected,
        perturb_func=to_baseline_decorated,
        **common,
    )
    infid2 = _infidelity(
        model, attributions, inputs, expected, perturb_func=to_baseline, **common
    )
    assert_close(infid, delta * delta)
    assert_close(infid, infid2)


def test_basic_infidelity_multiple_with_normalize():
    inputs = (torch.tensor([3.0] * 3), torch.tensor([1.0] * 3))
    model = BasicModel2()
    attributions = IntegratedGradients(model).attribute(inputs)
    scaled = tuple(a * 100 for a in attributions)
    infid = _infidelity(model, attributions, inputs, torch.zeros(3), normalize=True)
    scaled_infid = _infidelity(model, scaled, inputs, torch.zeros(3), normalize=True)
    assert_close(infid, scaled_infid)


def test_sensitivity_n_ig():
    model = BasicModel_MultiLayer()
    inputs = torch.tensor([[1.0, 2.5, 3.3]])

    def keep(mask):
        def perturb(x):
            return mask, (1 - mask) * x

        return perturb

    sensitivity_2 = keep(torch.tensor([[0, 1, 1], [1, 1, 0], [1, 0, 1]]).float())
    sensitivity_1 = keep(torch.tensor([[0, 0, 1], [1, 0, 0], [0, 1, 0]]).float())

    @infidelity_perturb_func_decorator(True)
    def sensitivity_1_decorated(x):
        return sensitivity_1(x)[1]

    common = dict(target=0, n_perturb_samples=3, max_examples_per_batch=None)
    infid = _global(model, inputs, torch.zeros(1), perturb_func=sensitivity_1, **common)
    infid_decorated = _global(
        model, inputs, torch.zeros(1), perturb_func=sensitivity_1_decorated, **common
    )
    assert_close(infid, infid_decorated)
    _global(model, inputs, torch.zeros(1), perturb_func=sensitivity_2, **common)
    _global(model, inputs, torch.zeros(1), perturb_func=_to_zero, **common)


def _ramp_perturbation(inputs):
    """Adds (k - numel/2) / 100 to the k-th feature of every example."""

    def ramp(x):
        n = torch.numel(x[0])
        return torch.arange(-n // 2, n // 2).view(x[0].shape).float() / 100

    if not isinstance(inputs, tuple):
        return inputs + ramp(inputs)
    return tuple(x + ramp(x) for x in inputs)


def test_sensitivity_max_multi_dim():
    model = BasicModel_MultiLayer()
    inputs = torch.arange(1.0, 13.0).view(4, 3)
    sens = sensitivity_max(
        IntegratedGradients(model).attribute,
        inputs,
        perturb_func=_ramp_perturbation,
        target=[(0, 1, 1), (0, 1, 1), (1, 1, 1), (0, 1, 1)],
        additional_forward_args=(None, True),
        n_perturb_samples=1,
        max_examples_per_batch=4,
    )
    assert_close(sens, torch.tensor([0.006, 0.01, 0.001, 0.008]), 0.05)

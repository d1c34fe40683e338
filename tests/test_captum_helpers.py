"""The Captum private helpers captum-lam uses, pinned to the behaviour it relies on.

If a Captum release changes one of them, this file says which, before a map
silently changes.
"""

import torch
from captum._utils.common import (
    _expand_additional_forward_args,
    _expand_target,
    _format_additional_forward_args,
    _run_forward,
)
from captum.attr._utils.approximation_methods import approximation_parameters


def test_expand_target_repeats_step_major():
    """Targets of N examples for S steps: example order repeated S times."""
    assert _expand_target([1, 2], 3) == [1, 2, 1, 2, 1, 2]
    expanded = _expand_target(torch.tensor([[0, 1], [2, 3]]), 2)
    assert expanded.tolist() == [[0, 1], [2, 3], [0, 1], [2, 3]]
    assert _expand_target(4, 3) == 4 and _expand_target(None, 3) is None


def test_expand_additional_forward_args_repeats_tensors_step_major():
    args = (torch.tensor([1.0, 2.0]), "keep", 7)
    expanded = _expand_additional_forward_args(args, 3)
    assert expanded[0].tolist() == [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]
    assert expanded[1:] == ("keep", 7)


def test_format_additional_forward_args_makes_a_tuple():
    t = torch.zeros(1)
    assert _format_additional_forward_args(None) is None
    assert _format_additional_forward_args(t)[0] is t
    assert _format_additional_forward_args((t, 2))[1] == 2
    # a list is ONE argument (passed as it is), only a tuple is several
    assert _format_additional_forward_args([t, 2]) == ([t, 2],)


def test_run_forward_passes_arguments_and_selects_targets():
    def f(x, scale):
        return torch.stack([x.sum(dim=1), 2 * x.sum(dim=1)], dim=1) * scale

    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = _run_forward(f, x, target=1, additional_forward_args=(10.0,))
    assert out.tolist() == [60.0, 140.0]
    per_example = _run_forward(f, x, target=[0, 1], additional_forward_args=(1.0,))
    assert per_example.tolist() == [3.0, 14.0]


def test_approximation_parameters_nodes_and_weights():
    step_sizes, alphas = approximation_parameters("gausslegendre")
    nodes, weights = alphas(4), step_sizes(4)
    assert len(nodes) == 4 and abs(sum(weights) - 1.0) < 1e-12
    assert all(0 < a < 1 for a in nodes)
    # exact for cubic polynomials on [0, 1]
    assert abs(sum(w * a**3 for w, a in zip(weights, nodes)) - 0.25) < 1e-12
    step_sizes, alphas = approximation_parameters("riemann_trapezoid")
    assert alphas(3) == [0.0, 0.5, 1.0]
    # Captum's trapezoid weights are 1/n with halved ends (sum (n - 1)/n, not
    # 1); PathIntegratedGradients uses them as they are, to equal Captum's IG
    assert [round(w, 12) for w in step_sizes(3)] == [
        round(v, 12) for v in (1 / 6, 1 / 3, 1 / 6)
    ]

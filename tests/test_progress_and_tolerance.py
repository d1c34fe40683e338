"""What a caller sees of the integration: progress reports that end at the
steps used, and the range of tolerances ``n_steps='auto'`` accepts."""

import pytest
import torch

from captum_lam import LinearPath, PathIntegratedGradients


def _smooth(t):
    return (t.sin() * t).sum(dim=1)


def _reports(pig, **kwargs):
    seen = []
    pig.progress_callback = lambda done, total: seen.append((done, total))
    pig.attribute(torch.rand(2, 3, dtype=torch.float64), **kwargs)
    return seen


def test_fixed_steps_report_each_pass_up_to_n_steps():
    pig = PathIntegratedGradients(_smooth, LinearPath(0.0))
    assert _reports(pig, n_steps=7, internal_batch_size=6) == [
        (3, 7),
        (6, 7),
        (7, 7),
    ]


def test_auto_steps_report_the_steps_done_over_all_levels():
    pig = PathIntegratedGradients(_smooth, LinearPath(0.0))
    seen = _reports(pig, n_steps="auto", tolerance=1e-3)
    steps = pig.last_integration.n_steps
    assert seen[-1] == (steps, steps)
    done = [d for d, _ in seen]
    # the package's levels start with the ends of the quarters of u and their
    # midpoints (levels 2 to 8), in one run
    assert done == sorted(set(done)) and done[0] == 9


def test_auto_on_the_blur_path_reports_every_node_though_one_costs_nothing():
    """At alpha = 1 the blur path does not move, so that node's gradient is
    not taken; the reports still end at the steps of the report."""
    from captum_lam import ProgressiveBlurPath

    pig = PathIntegratedGradients(
        lambda t: (t.sin() * t).flatten(1).sum(dim=1), ProgressiveBlurPath(1.0, 5)
    )
    seen = []
    pig.progress_callback = lambda done, total: seen.append((done, total))
    x = torch.rand(1, 1, 6, 6, dtype=torch.float64)
    attr = pig.attribute(x, n_steps="auto", tolerance=1e-3)
    steps = pig.last_integration.n_steps
    done = [d for d, _ in seen]
    assert seen[-1] == (steps, steps) and done == sorted(done)
    fixed = pig.attribute(x, n_steps=2000, method="riemann_middle")
    assert float((attr - fixed).abs().max() / fixed.abs().max()) <= 1e-3


@pytest.mark.parametrize("tolerance", [1e-7, 0.5, 0.999])
def test_tolerances_in_range_are_taken(tolerance):
    # linear: every level is exact, so even 1e-7 is reached at once
    pig = PathIntegratedGradients(lambda t: (2 * t).sum(dim=1), LinearPath(0.0))
    x = torch.rand(1, 3, dtype=torch.float64)
    pig.attribute(x, n_steps="auto", tolerance=tolerance)
    assert pig.last_integration.tolerance == tolerance


@pytest.mark.parametrize("tolerance", [9.9e-8, 1.0, 0, -1e-3, True, "1e-3"])
def test_tolerances_out_of_range_are_named(tolerance):
    pig = PathIntegratedGradients(_smooth, LinearPath(0.0))
    x = torch.rand(1, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"tolerance must be a number in \[1e-7, 1\)"):
        pig.attribute(x, n_steps="auto", tolerance=tolerance)


def test_tolerance_needs_auto_steps():
    pig = PathIntegratedGradients(_smooth, LinearPath(0.0))
    x = torch.rand(1, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="tolerance needs n_steps='auto'"):
        pig.attribute(x, n_steps=10, tolerance=1e-3)

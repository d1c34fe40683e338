"""n_steps="auto" on networks: the map error it reports bounds the true one."""

import pytest
import torch

import captum_lam._method.adaptive as adaptive
from captum_lam import (
    LAM,
    LinearPath,
    PathIntegratedGradients,
    WindowObjective,
    attribute_windows,
    zoo,
)
from captum_lam.windows import textured_windows

from .conftest import make_tiny_sr


def _model(name):
    model = make_tiny_sr() if name == "tiny-smooth" else zoo.load(name)
    return model.double()


def _relative_error(maps, reference):
    worst = (maps - reference).abs().flatten(1).amax(dim=1)
    return worst / reference.abs().flatten(1).amax(dim=1)


# a smooth network (tanh/softplus) and a ReLU one (first-order convergence);
# small and fast: tests/test_honesty_study.py (--run-study) has the published
# networks and the 95% bar over many windows
@pytest.mark.parametrize("name, tolerance", [("tiny-smooth", 1e-2), ("plain-d4", 3e-2)])
def test_estimate_bounds_the_true_map_error_in_every_window(
    name, tolerance, photo_crop
):
    model = _model(name)
    lr = photo_crop.double()[..., :16, :16]
    with torch.no_grad():
        sr = model(lr)
    windows = textured_windows(sr, size=8, count=3)
    maps, report = attribute_windows(
        model,
        lr,
        windows,
        n_steps="auto",
        tolerance=tolerance,
        return_integration=True,
        reach="auto",
    )
    # reference: the midpoint segment rule with 27 times the steps (every rule
    # is first order on a ReLU network: its error is about 1/27 of the map's)
    steps = 27 * report.n_steps
    reference = attribute_windows(
        model, lr, windows, n_steps=steps, method="riemann_middle", reach="auto"
    )
    true = _relative_error(maps, reference)
    assert report.converged
    assert torch.all(report.estimated_error <= tolerance)
    assert torch.all(true <= report.estimated_error), (true, report.estimated_error)


def test_a_relu_network_needs_more_steps_than_a_smooth_one(photo_crop):
    steps = {}
    for name in ("tiny-smooth", "plain-d4"):
        model = _model(name)
        lam = LAM(model)
        window = (8, 8, 8)
        lam.attribute(
            photo_crop.double(), target=window, n_steps="auto", tolerance=1e-2
        )
        steps[name] = lam.last_integration.n_steps
    assert steps["plain-d4"] > steps["tiny-smooth"]


def test_it_stops_only_when_the_estimate_says_so(photo_crop, monkeypatch):
    # with too few steps allowed, a ReLU network's map is returned with a
    # warning and a report that says the tolerance was not reached
    monkeypatch.setattr(adaptive, "DEFAULT_MAX_STEPS", 33)
    lam = LAM(_model("plain-d4"))
    with pytest.warns(UserWarning, match="stopped at 33 steps .* above the tolerance"):
        lam.attribute(
            photo_crop.double(), target=(8, 8, 8), n_steps="auto", tolerance=1e-4
        )
    report = lam.last_integration
    assert not report.converged and report.n_steps == 33
    assert report.max_estimated_error > 1e-4


def test_fixed_steps_are_unchanged_bit_for_bit(photo_crop):
    model = _model("tiny-smooth")
    lam = LAM(model)
    before = LAM(model).attribute(photo_crop.double(), target=(8, 8, 8))
    after = lam.attribute(photo_crop.double(), target=(8, 8, 8), n_steps=50)
    assert torch.equal(before, after)
    report = lam.last_integration
    assert (report.n_steps, report.method, report.estimated_error) == (
        50,
        "riemann_right",
        None,
    )


def test_path_integrated_gradients_reaches_the_tolerance_on_a_line(photo_crop):
    objective = WindowObjective(make_tiny_sr().double(), window=(8, 8, 8))
    pig = PathIntegratedGradients(objective, LinearPath(0.0))
    x = photo_crop.double()
    attr = pig.attribute(x, n_steps="auto", tolerance=1e-4)
    report = pig.last_integration
    reference = pig.attribute(x, n_steps=256, method="gausslegendre")
    assert report.converged
    assert _relative_error(attr, reference) <= report.estimated_error <= 1e-4


def test_auto_with_reach_equals_auto_on_the_whole_input(photo_crop):
    lam = LAM(_model("plain-d4"))
    x = photo_crop.double()[..., :16, :16]
    whole = lam.attribute(x, target=(8, 8, 8), n_steps="auto", tolerance=1e-2)
    steps = lam.last_integration.n_steps
    cut = lam.attribute(
        x, target=(8, 8, 8), n_steps="auto", tolerance=1e-2, reach="auto"
    )
    assert lam.last_integration.n_steps == steps
    torch.testing.assert_close(cut, whole, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_steps": 50, "tolerance": 1e-3}, "tolerance needs n_steps='auto'"),
        ({"n_steps": "fast"}, "n_steps must be an integer >= 1 or 'auto'"),
        ({"n_steps": "auto", "tolerance": 2.0}, "tolerance must be a number in"),
    ],
)
def test_bad_steps_or_tolerance_are_named_before_any_work(kwargs, match):
    calls = []

    def model(x):
        calls.append(1)
        return x

    with pytest.raises(ValueError, match=match):
        LAM(model).attribute(torch.rand(1, 3, 8, 8), target=(0, 0, 4), **kwargs)
    assert not calls


def test_auto_takes_each_nodes_path_derivative_once(photo_crop, monkeypatch):
    from captum_lam import ProgressiveBlurPath

    alphas_seen = []
    original = ProgressiveBlurPath.derivatives

    def counted(self, inputs, alphas):
        alphas_seen.extend(torch.as_tensor(alphas).tolist())
        return original(self, inputs, alphas)

    monkeypatch.setattr(ProgressiveBlurPath, "derivatives", counted)
    lam = LAM(_model("plain-d4"))
    x = photo_crop.double()[..., :16, :16]
    whole = lam.attribute(x, target=(8, 8, 8), n_steps="auto", tolerance=1e-2)
    # the check that a node moves and the engine share one evaluation
    assert len(alphas_seen) == len(set(alphas_seen)) == lam.last_integration.n_steps
    # and each pass of the engine takes its own nodes' derivatives
    single = lam.attribute(
        x, target=(8, 8, 8), n_steps="auto", tolerance=1e-2, internal_batch_size=1
    )
    torch.testing.assert_close(single, whole, rtol=0, atol=1e-12)

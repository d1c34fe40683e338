"""Faithfulness and sanity checks of window attributions (captum_lam.faithfulness)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from captum_lam import LAM, WindowObjective, gaussian_blur2d, zoo
from captum_lam._faithfulness.imputation import noisy_linear_impute
from captum_lam.faithfulness import (
    curve_area,
    deletion_curve,
    faithfulness_report,
    insertion_curve,
    random_curve,
    randomization_check,
    window_infidelity,
)

from .conftest import make_tiny_sr

WINDOW = (8, 8, 8)


class Masked(nn.Module):
    """x2 nearest upsampling of ``x * mask``: only the mask's pixels matter."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, x):
        return nn.functional.interpolate(x * self.mask, scale_factor=2)


@pytest.fixture
def masked_case():
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 5:8, 5:8] = 1.0  # under the output window (8, 8, 8): LR 4..8
    torch.manual_seed(1)
    return Masked(mask).eval(), torch.rand(2, 3, 16, 16), mask.expand(2, 3, 16, 16)


def test_curves_start_and_end_at_the_input_and_the_baseline(tiny_sr):
    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 16)
    attr = torch.randn(2, 3, 16, 16)
    objective = WindowObjective(tiny_sr, window=WINDOW)
    with torch.no_grad():
        on_input = objective(x).double().numpy()
        on_blur = objective(gaussian_blur2d(x, 9, 1.2)).double().numpy()
        on_black = objective(torch.zeros_like(x)).double().numpy()
    fractions, deletion = deletion_curve(tiny_sr, x, attr, WINDOW, steps=7)
    _, insertion = insertion_curve(tiny_sr, x, attr, WINDOW, steps=7)
    _, black = deletion_curve(tiny_sr, x, attr, WINDOW, baseline="zero", steps=7)
    assert fractions.shape == (8,) and deletion.shape == insertion.shape == (2, 8)
    assert fractions[0] == 0 and fractions[-1] == 1 and np.all(np.diff(fractions) > 0)
    np.testing.assert_allclose(deletion[:, 0], on_input, rtol=1e-5)
    np.testing.assert_allclose(deletion[:, -1], on_blur, rtol=1e-5)
    np.testing.assert_allclose(insertion[:, 0], on_blur, rtol=1e-5)
    np.testing.assert_allclose(insertion[:, -1], on_input, rtol=1e-5)
    np.testing.assert_allclose(black[:, -1], on_black, rtol=1e-5)


def test_one_window_per_example_equals_each_example_alone(tiny_sr):
    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 16)
    attr = torch.randn(2, 3, 16, 16)
    windows = torch.tensor([[0, 0, 8], [16, 12, 12]])
    _, both = deletion_curve(tiny_sr, x, attr, windows, steps=5)
    _, second = deletion_curve(tiny_sr, x[1:], attr[1:], (16, 12, 12), steps=5)
    np.testing.assert_allclose(both[1], second[0], rtol=1e-5)


def test_area_is_normalised_by_the_objectives_change():
    f = np.linspace(0, 1, 11)
    drop = np.exp(-5 * f)
    area = curve_area(f, drop, "deletion")
    # any offset and scale of the objective: the same area
    np.testing.assert_allclose(curve_area(f, 300 * drop - 7, "deletion"), area)
    np.testing.assert_allclose(curve_area(f, 1 - drop, "insertion"), 1 - area)
    assert float(curve_area(f, 1 - f, "deletion")) == pytest.approx(0.5)
    assert curve_area(f, np.stack([drop, 2 * drop]), "deletion").shape == (2,)
    assert np.isnan(curve_area(f, np.ones(11), "deletion"))


def test_the_true_map_beats_random_rankings(masked_case):
    model, x, mask = masked_case
    report = faithfulness_report(model, x, mask, WINDOW, baseline="zero", steps=16)
    assert np.all(report.deletion_area < 0.1)
    assert np.all(report.insertion_area > 0.9)
    assert np.all(report.random_deletion_area > 0.3)
    assert np.all(report.random_insertion_area < 0.7)
    # the report's random reference is random_curve's mean
    _, mean = random_curve(model, x, WINDOW, "insertion", baseline="zero", steps=16)
    np.testing.assert_allclose(report.random_insertion, mean)


def test_lam_beats_random_on_a_trained_network(photo_crop):
    model = zoo.load("plain-d4")
    windows = torch.tensor([[16, 16, 16], [8, 24, 12], [28, 4, 16]])
    x = photo_crop.expand(3, -1, -1, -1)
    attr = LAM(model).attribute(x, target=windows, n_steps=10)
    report = faithfulness_report(model, x, attr, windows, steps=10, random_seeds=4)
    assert np.all(report.deletion_area < report.random_deletion_area)
    assert np.all(report.insertion_area > report.random_insertion_area)
    assert np.all(report.deletion_area < 0.2) and np.all(report.insertion_area > 0.8)


def test_deletion_matches_quantus_pixel_flipping(tiny_sr):
    quantus = pytest.importorskip("quantus")
    torch.manual_seed(3)
    x = torch.rand(2, 3, 12, 12)
    attr = torch.randn(2, 3, 12, 12)
    _, ours = deletion_curve(tiny_sr, x, attr, WINDOW, baseline="zero", steps=36)

    class OneOutput(nn.Module):  # the window objective as a one-class "classifier"
        def __init__(self) -> None:
            super().__init__()
            self.objective = WindowObjective(tiny_sr, window=WINDOW)

        def forward(self, inputs):
            return self.objective(inputs)[:, None]

    # Quantus flips single features: the ranking's score on every channel, 4 pixels
    # (12 features) per step
    scores = attr.sum(1, keepdim=True).abs().expand(-1, 3, -1, -1).numpy().copy()
    metric = quantus.PixelFlipping(
        features_in_step=12,
        perturb_baseline=0.0,
        normalise=False,
        abs=False,
        disable_warnings=True,
    )
    theirs = metric(
        model=OneOutput().eval(),
        x_batch=x.numpy(),
        y_batch=np.zeros(2, dtype=int),
        a_batch=scores,
        device="cpu",
        softmax=False,
        channel_first=True,
    )
    np.testing.assert_allclose(np.asarray(theirs), ours[:, 1:], rtol=1e-5, atol=1e-6)


def test_noisy_linear_imputation_recovers_a_linear_image():
    ramp = torch.linspace(0, 1, 12)
    image = (ramp[:, None] + 2 * ramp[None, :]).expand(3, 12, 12).clone()
    removed = torch.zeros(12, 12, dtype=torch.bool)
    removed[3:8, 4:9] = True
    filled = noisy_linear_impute(image, removed, 0.0, torch.Generator())
    torch.testing.assert_close(filled, image, rtol=0, atol=1e-6)
    noisy = noisy_linear_impute(image, removed, 0.1, torch.Generator().manual_seed(0))
    assert torch.equal(noisy[:, ~removed], image[:, ~removed])
    assert 0.05 < float((noisy - image)[:, removed].std()) < 0.15


def test_randomization_changes_a_trained_map_one_similarity_per_layer(photo_crop):
    model = zoo.load("plain-d4")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    result = randomization_check(
        model, photo_crop, (16, 16, 16), method="lam", n_steps=8
    )
    assert result.layers == tuple(reversed(convs))
    assert result.similarity.shape == (len(convs), 1)
    assert np.all(np.abs(result.similarity) <= 1)
    assert result.similarity[-1, 0] < 0.9  # every layer random: another map
    assert [r["layer"] for r in result.rows()] == list(result.layers)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    single = randomization_check(
        model, photo_crop, (16, 16, 16), "saliency", "independent", stages=2
    )
    assert single.similarity.shape == (2, 1) and single.mode == "independent"


def test_a_map_blind_to_the_weights_fails_the_randomization_check(tiny_sr):
    x = torch.rand(1, 3, 16, 16)
    result = randomization_check(
        tiny_sr, x, WINDOW, method=lambda model, inputs, target: inputs * 2
    )
    np.testing.assert_allclose(result.similarity, 1.0)


def test_infidelity_prefers_the_gradient_to_a_random_map(tiny_sr):
    from captum.attr import Saliency

    torch.manual_seed(0)
    x = torch.rand(1, 3, 16, 16)
    gradient = Saliency(WindowObjective(tiny_sr, window=WINDOW)).attribute(
        x.clone().requires_grad_(), abs=False
    )
    ours = window_infidelity(tiny_sr, x, gradient, WINDOW, noise=1e-3)
    random = window_infidelity(tiny_sr, x, torch.randn_like(x), WINDOW, noise=1e-3)
    assert float(ours) < 0.05 * float(random)


def test_nothing_the_caller_passed_changes(tiny_sr):
    x = torch.rand(1, 3, 16, 16)
    attr = torch.randn(1, 3, 16, 16)
    x0, a0 = x.clone(), attr.clone()
    params = [p.clone() for p in tiny_sr.parameters()]
    rng = torch.random.get_rng_state()
    faithfulness_report(tiny_sr, x, attr, WINDOW, steps=4, random_seeds=2)
    window_infidelity(tiny_sr, x, attr, WINDOW)
    assert torch.equal(x, x0) and torch.equal(attr, a0)
    assert all(torch.equal(p, q) for p, q in zip(tiny_sr.parameters(), params))
    assert all(p.grad is None for p in tiny_sr.parameters())
    assert torch.equal(torch.random.get_rng_state(), rng)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline": "grey"}, "baseline must be one of 'blur', 'zero', 'mean'"),
        ({"baseline": torch.zeros(2, 3)}, "baseline tensor of shape"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"steps": 300}, "steps must be at most the number of pixels, 256"),
        ({"imputation": "road"}, "imputation must be one of 'baseline'"),
        ({"noise": -1}, "noise must be a number >= 0"),
        ({"attributions": torch.zeros(1, 3, 8, 8)}, "attributions must have shape"),
        ({"target": (30, 30, 8)}, "outside the model's output"),
    ],
)
def test_bad_arguments_are_refused_with_their_name(kwargs, message):
    model = make_tiny_sr()
    args = {
        "model": model,
        "inputs": torch.rand(1, 3, 16, 16),
        "attributions": torch.zeros(1, 3, 16, 16),
        "target": WINDOW,
        **kwargs,
    }
    with pytest.raises((ValueError, TypeError), match=message):
        deletion_curve(**args)


def test_bad_randomization_and_area_arguments(tiny_sr):
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="layers must be 'cascade' or 'independent'"):
        randomization_check(tiny_sr, x, WINDOW, layers="top")
    with pytest.raises(ValueError, match="method must be one of 'saliency'"):
        randomization_check(tiny_sr, x, WINDOW, method="gradcam")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        randomization_check(lambda t: t, x, WINDOW)
    with pytest.raises(ValueError, match="kind must be 'deletion' or 'insertion'"):
        curve_area(np.linspace(0, 1, 3), np.zeros(3), "both")
    with pytest.raises(ValueError, match="fractions must increase from 0 to 1"):
        curve_area(np.array([0.0, 0.7, 0.5]), np.zeros(3), "deletion")

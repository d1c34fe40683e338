"""LAM with Captum's utilities: sensitivity_max, infidelity, NoiseTunnel,
compute_convergence_delta and visualize_image_attr."""

import matplotlib
import numpy as np
import pytest
import torch
from captum.attr import NoiseTunnel
from captum.attr import visualization as viz
from captum.metrics import infidelity, sensitivity_max

from captum_lam import LAM, ProgressiveBlurPath, WindowObjective, channels_last

from .conftest import make_tiny_sr

matplotlib.use("Agg")

WINDOW = (4, 6, 8)


@pytest.fixture
def model():
    return make_tiny_sr().double()


@pytest.fixture
def x():
    g = torch.Generator().manual_seed(3)
    return torch.rand(2, 3, 10, 10, generator=g, dtype=torch.float64)


def _shifts(inputs):
    """Deterministic perturbation: +0.01 on one pixel column per repeat."""
    shifted = inputs.clone()
    for i in range(inputs.shape[0]):
        shifted[i, :, :, i % inputs.shape[-1]] += 0.01
    return shifted


def test_sensitivity_max_takes_lam_attribute(model, x):
    lam = LAM(model)
    n_perturb = 3
    sens = sensitivity_max(
        lam.attribute,
        x,
        perturb_func=_shifts,
        n_perturb_samples=n_perturb,
        target=WINDOW,
        n_steps=6,
    )
    # by hand: max over perturbations of |LAM(x + d) - LAM(x)| / |LAM(x)|
    base = lam.attribute(x, target=WINDOW, n_steps=6)
    repeated = x.repeat_interleave(n_perturb, dim=0)
    moved = lam.attribute(_shifts(repeated), target=WINDOW, n_steps=6)
    diff = (moved - base.repeat_interleave(n_perturb, dim=0)).flatten(1).norm(dim=1)
    ratio = diff.view(2, n_perturb) / base.flatten(1).norm(dim=1)[:, None]
    torch.testing.assert_close(sens, ratio.max(dim=1).values.to(sens.dtype))
    assert bool((sens > 0).all())


@pytest.mark.parametrize("window", [list(WINDOW), torch.tensor(WINDOW)])
def test_sensitivity_max_with_list_or_tensor_window(model, x, window):
    kwargs = dict(perturb_func=_shifts, n_perturb_samples=2, n_steps=4)
    expected = sensitivity_max(LAM(model).attribute, x, target=WINDOW, **kwargs)
    got = sensitivity_max(LAM(model).attribute, x, target=window, **kwargs)
    torch.testing.assert_close(got, expected)


def test_lam_returns_a_tuple_for_a_tuple(model, x):
    (one,) = LAM(model).attribute((x,), target=WINDOW, n_steps=4)
    torch.testing.assert_close(one, LAM(model).attribute(x, target=WINDOW, n_steps=4))


def test_a_tuple_of_two_batches_is_refused(model, x):
    with pytest.raises(ValueError, match="LAM explains one image batch.*a tuple of 2"):
        LAM(model).attribute((x, x), target=WINDOW, n_steps=2)


def test_infidelity_with_window_objective_is_delta_squared(model, x):
    """Moving the input to LAM's baseline with unit weights, infidelity is the
    squared completeness error (as in Captum's IG infidelity test)."""
    lam = LAM(model)
    attr, delta = lam.attribute(
        x, target=WINDOW, n_steps=8, return_convergence_delta=True
    )

    def to_baseline(inputs):
        return torch.ones_like(inputs), ProgressiveBlurPath().baseline(inputs)

    infid = infidelity(
        WindowObjective(model, window=WINDOW),
        to_baseline,
        x,
        attr,
        n_perturb_samples=2,
    )
    torch.testing.assert_close(infid, (delta * delta).to(infid.dtype))
    assert bool((delta.abs() > 0).all())  # a real error, not 0 == 0


@pytest.mark.parametrize(
    "window",
    [
        WINDOW,
        list(WINDOW),
        torch.tensor(WINDOW),
        [WINDOW, WINDOW],
        torch.tensor([WINDOW, WINDOW]),
    ],
    ids=["tuple", "list", "tensor3", "list_of_tuples", "tensor_n3"],
)
@pytest.mark.parametrize("batch", [None, 2])
def test_noise_tunnel_reads_every_window_form(model, x, window, batch):
    expected = LAM(model).attribute(x, target=WINDOW, n_steps=4)
    got, delta = NoiseTunnel(LAM(model)).attribute(
        x,
        nt_type="smoothgrad",
        nt_samples=3,
        nt_samples_batch_size=batch,
        stdevs=0.0,
        target=window,
        n_steps=4,
        return_convergence_delta=True,
    )
    torch.testing.assert_close(got, expected)
    assert delta.shape == (6,)


def test_noise_tunnel_per_example_windows_stay_per_example(model, x):
    windows = torch.tensor([WINDOW, (0, 2, 6)])
    expected = LAM(model).attribute(x, target=windows, n_steps=4)
    got = NoiseTunnel(LAM(model)).attribute(
        x, nt_type="smoothgrad", nt_samples=2, stdevs=0.0, target=windows, n_steps=4
    )
    torch.testing.assert_close(got, expected)
    assert not torch.allclose(got[0], got[1])


@pytest.mark.parametrize("window", [WINDOW, [WINDOW, (0, 2, 6)]], ids=["one", "each"])
def test_compute_convergence_delta_reads_the_window_from_target(model, x, window):
    lam = LAM(model)
    attr, delta = lam.attribute(
        x, target=window, n_steps=6, return_convergence_delta=True
    )
    start = ProgressiveBlurPath().baseline(x)
    got = lam.compute_convergence_delta(attr, start, x, target=window)
    torch.testing.assert_close(got, delta, rtol=0, atol=0)
    # 1-tuples, as Captum's metrics pass them
    as_tuples = lam.compute_convergence_delta((attr,), (start,), (x,), target=window)
    torch.testing.assert_close(as_tuples, delta, rtol=0, atol=0)
    other = lam.compute_convergence_delta(attr, start, x, target=(0, 0, 4))
    assert not torch.allclose(other, delta)


def test_compute_convergence_delta_without_window_says_where_it_goes(model, x):
    lam = LAM(model)
    attr = torch.zeros_like(x)
    with pytest.raises(ValueError, match="target"):
        lam.compute_convergence_delta(attr, x, x)


def test_channels_last_feeds_visualize_image_attr(model, x):
    attr = LAM(model).attribute(x[:1], target=WINDOW, n_steps=4)
    hwc = channels_last(attr)
    assert hwc.shape == (10, 10, 3) and isinstance(hwc, np.ndarray)
    np.testing.assert_array_equal(hwc[..., 1], attr[0, 1].numpy())
    fig, _ = viz.visualize_image_attr(
        hwc, channels_last(x[:1]), method="blended_heat_map", use_pyplot=False
    )
    assert fig.axes[0].images[-1].get_array().shape[:2] == (10, 10)
    with pytest.raises(ValueError, match="one example"):
        channels_last(attr.repeat(2, 1, 1, 1))

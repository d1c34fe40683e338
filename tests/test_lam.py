"""LAM against the published reference, and the properties users rely on."""

import copy

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients, NoiseTunnel, Saliency
from torch import nn

from captum_lam import LAM, ProgressiveBlurPath, WindowObjective, diffusion_index
from captum_lam.path_integrated_gradients import METHODS

from .conftest import make_tiny_sr
from .reference_lam import _attr_grad, _blur, _reference_kernel, reference_lam


@pytest.mark.parametrize("window", [(10, 12, 16), (0, 0, 8), (30, 2, 10)])
def test_defaults_reproduce_the_reference(photo_crop, window):
    model = make_tiny_sr()
    top, left, size = window
    expected = reference_lam(model, photo_crop[0].double().numpy(), top, left, size)
    got = LAM(model).attribute(photo_crop, target=window)[0].numpy()
    scale = np.abs(expected).max()
    assert np.abs(got - expected).max() / scale < 1e-4
    assert abs(diffusion_index(got) - diffusion_index(expected)) < 0.01


def test_float64_reproduces_the_reference_to_1e_10(photo_crop):
    model = make_tiny_sr().double()
    x = photo_crop.double()

    def reference64():
        sigmas = np.linspace(1.2, 0, 51)
        kernels = [_reference_kernel(9, s) for s in sigmas]
        image = x[0].numpy()
        total = 0
        for i in range(50):
            point = torch.from_numpy(_blur(image, kernels[i + 1]))[None]
            point.requires_grad_(True)
            _attr_grad(model(point), 5, 6, 12).backward()
            total = total + point.grad[0].numpy() * _blur(
                image, kernels[i + 1] - kernels[i]
            )
        return total

    expected = reference64()
    got = LAM(model).attribute(x, target=(5, 6, 12))[0].numpy()
    assert np.abs(got - expected).max() / np.abs(expected).max() < 1e-10


@pytest.mark.parametrize(
    "method, n_steps, tol",
    [
        ("riemann_right", 600, 0.01),
        ("riemann_left", 600, 0.01),
        ("riemann_trapezoid", 400, 0.01),
        ("riemann_middle", 100, 1e-3),
        ("gausslegendre", 100, 0.01),
    ],
)
def test_completeness(photo_crop, method, n_steps, tol):
    model = make_tiny_sr()
    x = photo_crop.double()
    model.double()
    lam = LAM(model)
    attr, delta = lam.attribute(
        x,
        target=(14, 14, 16),
        n_steps=n_steps,
        method=method,
        internal_batch_size=200,
        return_convergence_delta=True,
    )
    objective = WindowObjective(model, window=(14, 14, 16))
    with torch.no_grad():
        change = objective(x) - objective(ProgressiveBlurPath().baseline(x))
    assert abs(float(delta)) < tol * abs(float(change))
    assert float(attr.sum()) == pytest.approx(float(change + delta), rel=1e-9)


def test_midpoint_is_far_more_exact_than_end_points(photo_crop):
    lam = LAM(make_tiny_sr().double())
    x = photo_crop.double()
    errors = {
        m: abs(
            float(
                lam.attribute(
                    x, target=(14, 14, 16), method=m, return_convergence_delta=True
                )[1]
            )
        )
        for m in ("riemann_right", "riemann_middle")
    }
    assert errors["riemann_middle"] < errors["riemann_right"] / 20


def test_pixels_outside_the_receptive_field_get_exactly_zero():
    model = make_tiny_sr()  # three 3x3 convs: receptive field 7x7 LR pixels
    x = torch.rand(1, 3, 32, 32)
    attr = LAM(model).attribute(x, target=(0, 0, 4), method="riemann_middle")
    # output rows/cols 0..3 and the row/column the difference looks at (4) come
    # from LR pixels 0..2; the convs reach 3 more. The blur of the path moves the
    # points, not the map: a pixel's attribution is its own gradient times its
    # own change along the path, so the map ends where the gradient ends.
    reach = 2 + 3
    rows, cols = attr[0].abs().sum(dim=(0, 2)), attr[0].abs().sum(dim=(0, 1))
    assert rows[reach] > 0 and cols[reach] > 0
    assert rows[reach + 1 :].max() == 0 and cols[reach + 1 :].max() == 0


class _SplitConv(nn.Module):
    """The same function as a conv, built from two half-width convs."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        half = conv.out_channels // 2
        self.a = nn.Conv2d(conv.in_channels, half, 3, padding=1)
        self.b = nn.Conv2d(conv.in_channels, conv.out_channels - half, 3, padding=1)
        with torch.no_grad():
            self.a.weight.copy_(conv.weight[:half])
            self.a.bias.copy_(conv.bias[:half])
            self.b.weight.copy_(conv.weight[half:])
            self.b.bias.copy_(conv.bias[half:])

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], dim=1)


def test_implementation_invariance(photo_crop):
    model = make_tiny_sr().double()
    twin = copy.deepcopy(model)
    twin.body[0] = _SplitConv(model.body[0]).double()
    x = photo_crop.double()
    a = LAM(model).attribute(x, target=(6, 6, 12))
    b = LAM(twin).attribute(x, target=(6, 6, 12))
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_per_example_windows(tiny_sr):
    x = torch.rand(3, 3, 10, 10, dtype=torch.float64)
    tiny_sr.double()
    windows = [(0, 0, 6), (4, 5, 8), (12, 12, 8)]
    lam = LAM(tiny_sr)
    batch = lam.attribute(x, target=windows, n_steps=6)
    as_tensor = lam.attribute(x, target=torch.tensor(windows), n_steps=6)
    torch.testing.assert_close(batch, as_tensor)
    for i, window in enumerate(windows):
        one = lam.attribute(x[i : i + 1], target=window, n_steps=6)
        torch.testing.assert_close(batch[i : i + 1], one, rtol=1e-10, atol=1e-12)


def test_noise_tunnel_runs_lam(tiny_sr):
    x = torch.rand(2, 3, 10, 10, dtype=torch.float64)
    model = copy.deepcopy(tiny_sr).double()
    nt = NoiseTunnel(LAM(model))
    for target in [(4, 4, 8), torch.tensor([[4, 4, 8], [0, 2, 6]])]:
        # without noise, SmoothGrad's mean over samples is LAM's map itself
        attr = nt.attribute(
            x, nt_type="smoothgrad", nt_samples=3, stdevs=0.0, target=target, n_steps=5
        )
        plain = LAM(model).attribute(x, target=target, n_steps=5)
        torch.testing.assert_close(attr, plain, rtol=1e-10, atol=1e-12)
    assert torch.is_grad_enabled()


def test_saliency_and_ig_differ_from_lam_on_the_same_objective(tiny_sr, photo_crop):
    window = (10, 10, 12)
    lam = LAM(tiny_sr).attribute(photo_crop, target=window)
    objective = WindowObjective(tiny_sr, window=window)
    saliency = Saliency(objective).attribute(photo_crop.clone(), abs=False)
    ig = IntegratedGradients(objective).attribute(photo_crop, n_steps=50)
    for other in (saliency, ig):
        assert other.shape == lam.shape
        cosine = torch.nn.functional.cosine_similarity(
            other.flatten(), lam.flatten(), dim=0
        )
        assert cosine < 0.99


def test_default_settings_are_the_reference(tiny_sr):
    lam = LAM(tiny_sr)
    assert (lam.sigma, lam.kernel_size, lam.detector) == (1.2, 9, "difference")
    import inspect

    params = inspect.signature(LAM.attribute.__wrapped__).parameters
    assert params["n_steps"].default == 50
    assert params["method"].default == "riemann_right"
    assert set(METHODS) >= {"riemann_right", "riemann_middle", "gausslegendre"}


def test_sobel_detector_changes_the_map(tiny_sr, photo_crop):
    a = LAM(tiny_sr).attribute(photo_crop, target=(8, 8, 12), n_steps=10)
    b = LAM(tiny_sr, detector="sobel").attribute(
        photo_crop, target=(8, 8, 12), n_steps=10
    )
    assert not torch.allclose(a, b)


def test_settings_are_validated_once_and_shared():
    from captum_lam import LAMSettings, attribute_windows

    with pytest.raises(ValueError, match="n_steps must be an integer >= 1"):
        LAMSettings(n_steps=0)
    with pytest.raises(ValueError, match="method must be one of"):
        LAMSettings(method="simpson")
    with pytest.raises(ValueError, match="detector must be one of"):
        LAMSettings(detector="canny")
    with pytest.raises(ValueError, match="sigma must be a finite number"):
        LAMSettings(sigma=-1.0)
    settings = LAMSettings(sigma=0.8, kernel_size=7, n_steps=6, method="riemann_middle")
    with pytest.raises(AttributeError):
        settings.n_steps = 3  # frozen
    model = make_tiny_sr().double()
    x = torch.rand(1, 3, 12, 12, dtype=torch.float64)
    by_settings = LAM.from_settings(model, settings).attribute(
        x, target=(2, 2, 8), **settings.integration()
    )
    by_arguments = LAM(model, sigma=0.8, kernel_size=7).attribute(
        x, target=(2, 2, 8), n_steps=6, method="riemann_middle"
    )
    torch.testing.assert_close(by_settings, by_arguments, rtol=0, atol=0)
    windows = attribute_windows(model, x, (2, 2, 8), **settings.record())
    with pytest.raises(TypeError, match="positional"):  # one way: the keywords
        attribute_windows(model, x, (2, 2, 8), settings)
    torch.testing.assert_close(windows, by_arguments, rtol=1e-12, atol=1e-14)

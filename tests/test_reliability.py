"""Bad input gets a clear error before heavy work; nothing the caller passed changes."""

import pytest
import torch
from torch import nn

from captum_lam import (
    LAM,
    PathIntegratedGradients,
    ProgressiveBlurPath,
    WindowObjective,
)

from .conftest import TinySR, make_tiny_sr


def _state(model, x):
    return {
        "params": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "grads": [
            None if p.grad is None else p.grad.clone() for p in model.parameters()
        ],
        "flags": [p.requires_grad for p in model.parameters()],
        "training": [m.training for m in model.modules()],
        "x": x.detach().clone(),
        "x_requires_grad": x.requires_grad,
        "grad_enabled": torch.is_grad_enabled(),
        "rng": torch.get_rng_state(),
    }


def _assert_same(before, after):
    assert before["params"].keys() == after["params"].keys()
    for k in before["params"]:
        assert torch.equal(before["params"][k], after["params"][k]), k
    for a, b in zip(before["grads"], after["grads"]):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.equal(a, b)
    for key in ("flags", "training", "x_requires_grad", "grad_enabled"):
        assert before[key] == after[key], key
    assert torch.equal(before["x"], after["x"])
    assert torch.equal(before["rng"], after["rng"])


@pytest.fixture
def model_with_grads():
    model = make_tiny_sr()
    model(torch.rand(1, 3, 4, 4)).sum().backward()  # the caller has .grad set
    model.body[0].weight.requires_grad_(False)  # and a frozen layer
    return model


@pytest.mark.parametrize("requires_grad", [False, True])
def test_normal_call_leaves_caller_state(model_with_grads, requires_grad):
    x = torch.rand(2, 3, 8, 8).requires_grad_(requires_grad)
    before = _state(model_with_grads, x)
    LAM(model_with_grads).attribute(
        x, target=(2, 2, 8), n_steps=4, return_convergence_delta=True
    )
    _assert_same(before, _state(model_with_grads, x))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target": (30, 0, 8)},  # outside the output
        {"target": (0, 0, 8), "n_steps": 0},
        {"target": (0, 0, 8), "method": "simpson"},
    ],
)
def test_failed_call_leaves_caller_state(model_with_grads, kwargs):
    x = torch.rand(1, 3, 8, 8)
    before = _state(model_with_grads, x)
    with pytest.raises(ValueError):
        LAM(model_with_grads).attribute(x, **kwargs)
    _assert_same(before, _state(model_with_grads, x))


def test_same_inputs_give_bitwise_identical_results(tiny_sr):
    x = torch.rand(2, 3, 10, 10)
    lam = LAM(tiny_sr)
    a, da = lam.attribute(x, target=(3, 3, 9), return_convergence_delta=True)
    b, db = LAM(tiny_sr).attribute(x, target=(3, 3, 9), return_convergence_delta=True)
    assert torch.equal(a, b) and torch.equal(da, db)


def test_under_no_grad_lam_still_works(tiny_sr):
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        attr = LAM(tiny_sr).attribute(x, target=(0, 0, 8), n_steps=3)
        assert not torch.is_grad_enabled()
    assert torch.equal(attr, LAM(tiny_sr).attribute(x, target=(0, 0, 8), n_steps=3))
    assert float(attr.abs().max()) > 0  # the map itself, not zeros


class CountingNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0
        self.net = make_tiny_sr()

    def forward(self, x):
        self.calls += 1
        return self.net(x)


@pytest.mark.parametrize(
    "inputs, target, kwargs, error, match",
    [
        ([[1.0]], (0, 0, 1), {}, TypeError, "inputs must be a torch.Tensor"),
        (
            torch.rand(3, 8, 8),
            (0, 0, 1),
            {},
            ValueError,
            r"inputs must have shape \(N, C, H, W\)",
        ),
        (
            torch.zeros(1, 3, 8, 8, dtype=torch.long),
            (0, 0, 1),
            {},
            TypeError,
            "floating-point",
        ),
        (
            torch.zeros(0, 3, 8, 8),
            (0, 0, 1),
            {},
            ValueError,
            "inputs must not be empty",
        ),
        (
            torch.full((1, 3, 8, 8), float("nan")),
            (0, 0, 1),
            {},
            ValueError,
            "NaN or Inf",
        ),
        (torch.rand(1, 3, 8, 8).half(), (0, 0, 1), {}, TypeError, "float32 or float64"),
        (torch.rand(1, 3, 8, 8), (0, 0), {}, TypeError, "three integers"),
        (torch.rand(1, 3, 8, 8), (0, 0, 0), {}, ValueError, "size must be >= 1"),
        (
            torch.rand(2, 3, 8, 8),
            [(0, 0, 4)],
            {},
            ValueError,
            "1 entries but the batch has 2",
        ),
        (
            torch.rand(1, 3, 8, 8),
            (0, 12, 8),
            {},
            ValueError,
            "largest valid top is 8 and left is 8",
        ),
        (
            torch.rand(1, 3, 8, 8),
            (0, 0, 4),
            {"n_steps": 0},
            ValueError,
            "n_steps must be",
        ),
        (
            torch.rand(1, 3, 8, 8),
            (0, 0, 4),
            {"n_steps": 2.5},
            ValueError,
            "n_steps must be",
        ),
        (
            torch.rand(1, 3, 8, 8),
            (0, 0, 4),
            {"method": "x"},
            ValueError,
            "method must be one of",
        ),
        (
            torch.rand(1, 3, 8, 8),
            (0, 0, 4),
            {"internal_batch_size": 0},
            ValueError,
            "internal_batch_size",
        ),
        (
            torch.rand(1, 1, 8, 8),
            (0, 0, 4),
            {},
            ValueError,
            "model failed on inputs of shape",
        ),
    ],
)
def test_bad_input_raises_before_heavy_work(inputs, target, kwargs, error, match):
    model = CountingNet().eval()
    with pytest.raises(error, match=match):
        LAM(model).attribute(inputs, target=target, **kwargs)
    assert model.calls <= 1  # at most the single validating forward


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sigma": -1.0}, "sigma must be a finite number >= 0"),
        ({"sigma": float("inf")}, "sigma must be a finite number >= 0"),
        ({"kernel_size": 4}, "kernel_size must be a positive odd integer"),
        ({"kernel_size": 0}, "kernel_size must be a positive odd integer"),
        ({"detector": "laplace"}, "detector must be one of"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LAM(make_tiny_sr(), **kwargs)


def test_model_output_problems():
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\), got \(1, 48\)"):
        LAM(lambda t: t.flatten(1).repeat(1, 1)[:, :48]).attribute(x, target=(0, 0, 1))
    with pytest.raises(ValueError, match="NaN or Inf values on the inputs"):
        LAM(lambda t: t / 0.0 * 0.0).attribute(x, target=(0, 0, 1))


def test_nan_along_the_path_names_the_step():
    class BlowsUpWhenBlurred(nn.Module):
        def forward(self, x):
            # finite on the (binary) input, NaN on the blurred path points
            blurred = (x - x.round()).abs().max() > 1e-3
            return torch.where(blurred, torch.full_like(x, float("nan")), x)

    x = (torch.rand(1, 1, 16, 16) > 0.5).float()
    with pytest.raises(ValueError, match=r"NaN or Inf at path point alpha=0\.\d+"):
        LAM(BlowsUpWhenBlurred().eval()).attribute(x, target=(0, 0, 4), n_steps=4)


def test_training_mode_warns_with_the_fix():
    model = TinySR().train()
    with pytest.warns(UserWarning, match=r"training mode.*model\.eval\(\)"):
        LAM(model).attribute(torch.rand(1, 3, 8, 8), target=(0, 0, 4), n_steps=2)
    assert model.training


def test_window_objective_checks_output_device():
    class OtherDevice(nn.Module):
        def forward(self, x):
            return x.to("meta")

    with pytest.raises(ValueError, match="model output is on meta"):
        WindowObjective(OtherDevice(), window=(0, 0, 2))(torch.rand(1, 1, 4, 4))


def test_float64_and_grayscale_and_scale_one():
    denoiser = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 1, 3, padding=1)
    )
    denoiser.double().eval()
    x = torch.rand(1, 1, 9, 13, dtype=torch.float64)
    attr, delta = LAM(denoiser).attribute(
        x,
        target=(0, 9, 4),
        method="riemann_middle",
        n_steps=64,
        return_convergence_delta=True,
    )
    assert attr.dtype == torch.float64 and attr.shape == x.shape
    pig = PathIntegratedGradients(
        WindowObjective(denoiser, window=(0, 9, 4)), ProgressiveBlurPath()
    )
    assert torch.equal(pig.attribute(x, n_steps=64, method="riemann_middle"), attr)

"""Unusual models: in-place inputs, training mode, wrong devices, inference mode."""

import pytest
import torch
from torch import nn

from captum_lam import LAM, attribute_windows
from captum_lam._registry import model_scale
from tests.conftest import TinySR, make_tiny_sr


class InPlaceNormaliser(nn.Module):
    """Subtracts 0.5 from its input in place, as some SR codes do with the mean."""

    def __init__(self) -> None:
        super().__init__()
        self.net = make_tiny_sr()

    def forward(self, x):
        x.sub_(0.5)
        return self.net(x) + 0.5


class OutOfPlaceNormaliser(InPlaceNormaliser):
    def forward(self, x):
        return self.net(x - 0.5) + 0.5


def test_model_modifying_its_input_leaves_the_callers_tensor_and_the_map():
    x = torch.rand(1, 3, 12, 12)
    kept = x.clone()
    attr = LAM(InPlaceNormaliser().eval()).attribute(x, target=(4, 4, 8), n_steps=8)
    assert torch.equal(x, kept)
    expected = LAM(OutOfPlaceNormaliser().eval()).attribute(
        x, target=(4, 4, 8), n_steps=8
    )
    torch.testing.assert_close(attr, expected)


def test_model_modifying_its_input_in_attribute_windows():
    x = torch.rand(1, 3, 12, 12)
    kept = x.clone()
    attr = attribute_windows(InPlaceNormaliser().eval(), x, [(0, 0, 8)], n_steps=4)
    assert torch.equal(x, kept)
    expected = attribute_windows(
        OutOfPlaceNormaliser().eval(), x, [(0, 0, 8)], n_steps=4
    )
    torch.testing.assert_close(attr, expected)


class WithBatchNormAndDropout(TinySR):
    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(3)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        return super().forward(self.drop(self.norm(x)))


@pytest.mark.parametrize("entry", ["lam", "windows"])
def test_training_mode_model_and_rng_come_back_as_they_were(entry):
    torch.manual_seed(0)
    model = WithBatchNormAndDropout().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(1, 3, 8, 8)
    rng = torch.random.get_rng_state()
    with pytest.warns(UserWarning, match="buffers are restored afterwards"):
        if entry == "lam":
            LAM(model).attribute(x, target=(0, 0, 4), n_steps=3)
        else:
            attribute_windows(model, x, [(0, 0, 4)], n_steps=3)
    assert model.training
    after = model.state_dict()
    for name, value in before.items():
        assert torch.equal(after[name], value), name
    # Dropout drew from the global generator, as any forward pass does: it is
    # never rewound (that would repeat other threads' numbers)
    assert not torch.equal(torch.random.get_rng_state(), rng)


def test_training_mode_state_is_restored_after_a_failure_too():
    model = WithBatchNormAndDropout().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="lies outside"):
        LAM(model).attribute(torch.rand(1, 3, 8, 8), target=(14, 0, 4))
    for name, value in before.items():
        assert torch.equal(model.state_dict()[name], value), name


def test_parameters_on_meta_are_refused_naming_the_parameter():
    model = make_tiny_sr().to("meta")
    with pytest.raises(ValueError, match=r"body\.0\.weight is on the meta device"):
        LAM(model).attribute(torch.rand(1, 3, 8, 8), target=(0, 0, 4))
    with pytest.raises(ValueError, match="meta device"):
        attribute_windows(model, torch.rand(1, 3, 8, 8), [(0, 0, 4)])


def test_buffer_on_another_device_kind_is_refused():
    model = WithBatchNormAndDropout().eval()
    model.norm.running_mean = model.norm.running_mean.to("meta")
    with pytest.raises(ValueError, match="norm.running_mean is on the meta"):
        LAM(model).attribute(torch.rand(1, 3, 8, 8), target=(0, 0, 4))


def test_inference_mode_is_refused_with_the_fix():
    model = make_tiny_sr()
    with torch.inference_mode():
        with pytest.raises(RuntimeError, match=r"inference_mode\(\) is active"):
            LAM(model).attribute(torch.rand(1, 3, 8, 8), target=(0, 0, 4))
        with pytest.raises(RuntimeError, match=r"inference_mode\(\) is active"):
            attribute_windows(model, torch.rand(1, 3, 8, 8), [(0, 0, 4)])


def test_parameters_made_in_inference_mode_are_refused():
    with torch.inference_mode():
        model = make_tiny_sr()
    with pytest.raises(ValueError, match="created inside torch.inference_mode"):
        LAM(model).attribute(torch.rand(1, 3, 8, 8), target=(0, 0, 4))


def test_inputs_made_in_inference_mode_are_fine():
    model = make_tiny_sr()
    with torch.inference_mode():
        x = torch.rand(1, 3, 8, 8)
    attr = LAM(model).attribute(x, target=(0, 0, 4), n_steps=4)
    expected = LAM(model).attribute(x.clone(), target=(0, 0, 4), n_steps=4)
    assert torch.equal(attr, expected)


class Upsample(nn.Module):
    def __init__(self, size_of) -> None:
        super().__init__()
        self.size_of = size_of

    def forward(self, x):
        return nn.functional.interpolate(x, size=self.size_of(*x.shape[-2:]))


@pytest.mark.parametrize(
    "size_of, match",
    [
        (lambda h, w: (h * 3 // 2, w * 3 // 2), r"maps 16x16 to 24x24 \(x1\.5\)"),
        (lambda h, w: (4 * h - 1, 4 * w - 1), r"maps 16x16 to 63x63 \(x3\.9375\)"),
        (lambda h, w: (2 * h, 4 * w), "different per axis"),
    ],
)
def test_non_integer_scale_is_refused_when_measured(size_of, match):
    with pytest.raises(ValueError, match=match):
        model_scale(Upsample(size_of))


def test_integer_scale_is_measured():
    assert model_scale(Upsample(lambda h, w: (3 * h, 3 * w))) == 3

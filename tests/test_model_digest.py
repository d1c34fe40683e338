"""A model's digest changes with what decides its outputs (weights, plain
settings such as an input range) and with nothing else (train/eval mode)."""

import torch
from torch import nn

from captum_lam.studies._identity import image_digest, model_digest


class _Scaled(nn.Module):
    def __init__(self, input_range: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.input_range = input_range

    def forward(self, x):
        return self.conv(x * self.input_range)


def _pair(first: float, second: float):
    torch.manual_seed(0)
    a = _Scaled(first)
    torch.manual_seed(0)
    b = _Scaled(second)
    return a, b


def test_same_weights_and_settings_give_the_same_digest():
    a, b = _pair(1.0, 1.0)
    assert model_digest(a) == model_digest(b)


def test_a_plain_setting_changes_the_digest():
    a, b = _pair(1.0, 255.0)
    assert model_digest(a) != model_digest(b)


def test_train_or_eval_mode_does_not_change_the_digest():
    a, _ = _pair(1.0, 1.0)
    trained = model_digest(a.train())
    assert model_digest(a.eval()) == trained


def test_one_weight_changes_the_digest():
    a, b = _pair(1.0, 1.0)
    with torch.no_grad():
        b.conv.bias[0] += 1e-6
    assert model_digest(a) != model_digest(b)


def test_image_digest_sees_pixels_and_shape():
    x = torch.rand(1, 3, 4, 4)
    assert image_digest(x) == image_digest(x.clone())
    assert image_digest(x) != image_digest(x.reshape(1, 3, 2, 8))
    y = x.clone()
    y[0, 0, 0, 0] += 1e-3
    assert image_digest(x) != image_digest(y)

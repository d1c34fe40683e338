"""Even receptive fields: ``reach="auto"`` (one LR pixel more than the declared
field's radius) still covers networks whose field is an even number of pixels
wide, lopsided by one pixel: the map on the reached crop is the whole image's,
and the whole image's map is exactly zero beyond that reach."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from captum_lam import LAM
from captum_lam._registry import ModelInfo


class Pad(nn.Module):
    """Zero padding (left, right, top, bottom): where an even kernel looks."""

    def __init__(self, before: int, after: int) -> None:
        super().__init__()
        self.pads = (before, after, before, after)

    def forward(self, x):
        return nn.functional.pad(x, self.pads)


def conv(k: int, before: int, channels=(6, 6)) -> list[nn.Module]:
    """A k x k convolution reading ``before`` pixels before a pixel and
    ``k - 1 - before`` after it, and a nonlinearity."""
    return [Pad(before, k - 1 - before), nn.Conv2d(*channels, k), nn.Tanh()]


class Declared(nn.Sequential):
    """A network with its receptive field declared as the zoo declares it."""

    def __init__(self, scale: int, field: int, *layers: nn.Module) -> None:
        super().__init__(*layers)
        self.lam_info = ModelInfo(
            "even", scale, None, field, "", "", "", None, "trained"
        )


def network(kind: str, scale: int) -> tuple[Declared, int, int]:
    """(model, LR pixels it reads before, after a pixel)."""
    torch.manual_seed(0)
    head = [nn.Conv2d(3, 6, 1)]
    tail = [nn.Conv2d(6, 3 * scale * scale, 1), nn.PixelShuffle(scale)]
    if kind == "2x2":  # PyTorch's padding="same" for k=2: the pixel and the next
        body, before, after, field = conv(2, 0), 0, 1, 2
    elif kind == "4x4":  # padding="same": one before, two after
        body, before, after, field = conv(4, 1), 1, 2, 4
    elif kind == "4x4 after":  # the whole field after the pixel
        body, before, after, field = conv(4, 0), 0, 3, 4
    elif kind == "4x4 before":  # the whole field before it
        body, before, after, field = conv(4, 3), 3, 0, 4
    elif kind == "3x3 then 2x2":
        body, before, after, field = conv(3, 1) + conv(2, 0), 1, 2, 4
    elif kind == "2x2 twice":
        body, before, after, field = conv(2, 0) + conv(2, 1), 1, 1, 3
    else:
        raise AssertionError(kind)
    model = Declared(scale, field, *head, *body, *tail).double().eval()
    return model, before, after


KINDS = ["2x2", "4x4", "4x4 after", "4x4 before", "3x3 then 2x2", "2x2 twice"]


def windows(out: int) -> list[tuple[int, int, int]]:
    """Inside, at every border, and off the scale's grid."""
    return [(0, 0, 4), (out - 4, out - 4, 4), (5, out - 7, 6), (out // 2 + 1, 3, 5)]


def lr_image(side: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, side, side, dtype=torch.float64, generator=generator)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("kind", KINDS)
def test_the_reached_crop_gives_the_whole_image_map(kind, scale):
    model, _, _ = network(kind, scale)
    h = 12
    x = lr_image(h, seed=3)
    lam = LAM(model, detector="sobel")
    for window in windows(h * scale):
        whole = lam.attribute(x, target=window, n_steps=2)
        cropped = lam.attribute(x, target=window, n_steps=2, reach="auto")
        size = float(whole.abs().max())
        assert size > 0
        torch.testing.assert_close(cropped, whole, rtol=0, atol=1e-6 * size)


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("kind", KINDS)
def test_the_map_is_zero_beyond_the_reach_and_not_before(kind, scale):
    model, before, after = network(kind, scale)
    h = 16
    x = lr_image(h, seed=4)
    top, size = 13, 6  # off the grid at both scales
    attr = LAM(model, detector="sobel").attribute(x, target=(top, top, size), n_steps=2)
    rows = attr[0].abs().sum(dim=(0, 2))
    # the Sobel detector reads one output pixel on each side of the window
    first = (top - 1) // scale - before
    last = (top + size) // scale + after
    assert rows[first] > 0 and rows[last] > 0  # the true reach, reached
    assert float(rows[:first].sum()) == 0.0 and float(rows[last + 1 :].sum()) == 0.0
    field = model.lam_info.receptive_field
    reach = field // 2 + 1  # what reach="auto" takes
    assert max(before, after) <= reach

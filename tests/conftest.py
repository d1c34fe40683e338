import numpy as np
import pytest
import torch
from torch import nn


class TinySR(nn.Module):
    """A small nonlinear conv SR net (x2) used across the tests."""

    def __init__(self, channels: int = 3, scale: int = 2, width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.Tanh(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.Softplus(),
            nn.Conv2d(width, channels * scale * scale, 3, padding=1),
        )
        self.shuffle = nn.PixelShuffle(scale)
        self.scale = scale

    def forward(self, x):
        up = nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest")
        return up + self.shuffle(self.body(x))


def make_tiny_sr(seed: int = 0, **kwargs) -> TinySR:
    torch.manual_seed(seed)
    return TinySR(**kwargs).eval()


@pytest.fixture
def tiny_sr() -> TinySR:
    return make_tiny_sr()


@pytest.fixture(scope="session")
def photo_crop() -> torch.Tensor:
    """A 24x24 crop of a real photo (scikit-image's astronaut), (1, 3, 24, 24)."""
    from skimage.data import astronaut

    img = astronaut()[180:228:2, 200:248:2].astype(np.float32) / 255.0
    return torch.from_numpy(img.transpose(2, 0, 1).copy())[None]


def pytest_addoption(parser):
    parser.addoption(
        "--run-study",
        action="store_true",
        help="also run the studies over published networks (minutes; .ci/run does)",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-study"):
        return
    skip = pytest.mark.skip(reason="a study over published networks: --run-study")
    for item in items:
        if "study" in item.keywords:
            item.add_marker(skip)

"""The window search at the margin: windows at 0 and 1 pixel from the border,
images exactly a window wide or one pixel more, odd sizes. What the search
returns is inside the image, keeps the border rule, and is the true top-k by
the ranking score: a brute-force ranking of every position agrees."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from captum_lam.windows import (
    auto_windows,
    border_margin,
    classify_content,
    list_windows,
    textured_windows,
)


def magnitude(image: torch.Tensor) -> np.ndarray:
    """Forward-difference gradient magnitude summed over channels, where both
    differences exist: (H - 1, W - 1) (the last row and column have none)."""
    y = image[0].double().numpy()
    dy = y[:, 1:, :-1] - y[:, :-1, :-1]
    dx = y[:, :-1, 1:] - y[:, :-1, :-1]
    return np.sqrt(dy**2 + dx**2).sum(axis=0)


def brute_force(image, size, count, stride, margin):
    """Score every grid position by the mean magnitude over the window (its part
    where the magnitude exists), then take the best windows that do not overlap,
    ties by position (top, then left)."""
    h, w = image.shape[-2:]
    mag = magnitude(image)
    side = min(size, mag.shape[0], mag.shape[1])
    scored = []
    for top in range(0, mag.shape[0] - side + 1, stride):
        for left in range(0, mag.shape[1] - side + 1, stride):
            score = mag[top : top + side, left : left + side].mean()
            scored.append((-score, top, left))
    chosen: list[tuple[int, int, int]] = []
    for _, top, left in sorted(scored):
        if (
            min(top, left) < margin
            or max(top - (h - size), left - (w - size)) > -margin
        ):
            continue
        if any(abs(top - t) < size and abs(left - lf) < size for t, lf, _ in chosen):
            continue
        chosen.append((top, left, size))
        if len(chosen) == count:
            break
    return chosen


def image(h, w, seed=0, channels=3):
    return torch.rand(1, channels, h, w, generator=torch.Generator().manual_seed(seed))


SHAPES = [
    # (height, width, window size)
    (8, 8, 8),  # exactly one window
    (9, 9, 8),  # one pixel larger
    (8, 13, 8),  # one side exactly the window
    (9, 25, 8),
    (37, 29, 5),  # odd sizes, odd window
    (17, 17, 16),
    (40, 33, 7),
    (64, 50, 16),
]


@pytest.mark.parametrize("h, w, size", SHAPES)
@pytest.mark.parametrize("margin", [0, 1, 2])
@pytest.mark.parametrize("stride", [1, 3])
def test_textured_windows_are_the_true_top_k(h, w, size, margin, stride):
    img = image(h, w, seed=h * w + size)
    for count in (1, 3, 1000):
        found = textured_windows(img, size, count, stride=stride, margin=margin)
        assert found == brute_force(img, size, count, stride, margin)
        for top, left, side in found:  # inside, and the margin kept
            assert side == size
            assert margin <= top and top + size <= h - margin
            assert margin <= left and left + size <= w - margin


@pytest.mark.parametrize("h, w, size", SHAPES)
def test_automatic_windows_keep_the_border_rule(h, w, size):
    img = image(h, w, seed=7)
    margin = border_margin(h, w, size)
    assert margin == max(0, min(4 * size, (min(h, w) - size) // 2))
    stride = max(1, size // 4)
    stride = 1 if margin % stride else stride
    found = auto_windows(img, size, count=1000)
    assert found == brute_force(img, size, 1000, stride, margin)
    assert found  # every one of these images has room for a window
    for top, left, _ in found:
        assert margin <= top <= h - size - margin
        assert margin <= left <= w - size - margin


@pytest.mark.parametrize(
    "h, w, size, margin",
    [
        (300, 451, 16, 64),
        (40, 40, 16, 12),
        (16, 16, 16, 0),
        (17, 60, 16, 0),
        (33, 33, 16, 8),
    ],
)
def test_the_border_margin_reference_values(h, w, size, margin):
    assert border_margin(h, w, size) == margin


def test_a_window_at_the_margin_is_found_and_none_beyond_it():
    h = w = 160
    size = 16
    margin = border_margin(h, w, size)  # 64
    patch = image(size, size, seed=3)[0]
    img = torch.zeros(1, 3, h, w)
    img[..., margin : margin + size, margin : margin + size] = patch
    assert auto_windows(img, size)[0] == (margin, margin, size)
    img = torch.zeros(1, 3, h, w)
    img[..., margin - 1 : margin - 1 + size, 72 : 72 + size] = patch
    assert auto_windows(img, size)[0] == (margin, 72, size)  # not at margin - 1
    img = torch.zeros(1, 3, h, w)
    far = h - margin - size  # the last top the margin allows
    img[..., far + 1 : far + 1 + size, 72 : 72 + size] = patch
    assert auto_windows(img, size)[0] == (far, 72, size)


def test_ties_are_broken_by_position():
    flat = torch.full((1, 3, 20, 30), 0.5)
    assert textured_windows(flat, 8, count=20, stride=4) == brute_force(
        flat, 8, 20, 4, 0
    )
    assert textured_windows(flat, 8, count=3, stride=4)[:2] == [(0, 0, 8), (0, 8, 8)]


@pytest.mark.parametrize(
    "h, w, size", [(40, 40, 8), (41, 37, 5), (16, 16, 16), (17, 25, 16)]
)
def test_listed_windows_carry_their_score_and_content(h, w, size):
    img = image(h, w, seed=11)
    listed = list_windows(img, count=6, size=size)
    assert [(c.top, c.left, c.size) for c in listed] == auto_windows(img, size, 6)
    mag = magnitude(img)
    side = min(size, *mag.shape)
    for c in listed:
        block = mag[c.top : c.top + side, c.left : c.left + side]
        assert c.energy == pytest.approx(float(block.mean()), rel=1e-12)
        assert c.content == classify_content(img, (c.top, c.left, c.size))[0]

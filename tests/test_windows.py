import pytest
import torch

from captum_lam.windows import texture_energy, textured_windows


def test_finds_the_textured_corner_and_is_deterministic():
    torch.manual_seed(0)
    img = torch.zeros(1, 3, 64, 48)
    img[..., 40:56, 8:24] = torch.rand(3, 16, 16)
    first = textured_windows(img, size=16, count=2)
    assert first == textured_windows(img, size=16, count=2)
    top, left, size = first[0]
    assert 32 <= top <= 48 and 0 <= left <= 16 and size == 16


def test_windows_do_not_overlap_and_fit():
    img = torch.rand(1, 3, 40, 40)
    windows = textured_windows(img, size=8, count=6, margin=2)
    for i, (t, lft, s) in enumerate(windows):
        assert 2 <= t and t + s <= 38 and 2 <= lft and lft + s <= 38
        for t2, l2, _ in windows[i + 1 :]:
            assert abs(t - t2) >= s or abs(lft - l2) >= s


def test_energy_shape_and_errors():
    assert texture_energy(torch.rand(3, 20, 30), 5, stride=5).shape == (3, 5)
    with pytest.raises(ValueError, match="size must be an integer in"):
        texture_energy(torch.rand(3, 20, 30), 25)
    with pytest.raises(ValueError, match="count"):
        textured_windows(torch.rand(3, 20, 30), 4, count=0)

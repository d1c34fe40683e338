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
        for t2, l2, _ in windows[i + 1 :]:  # apart in rows, in columns, or both
            assert max(abs(t - t2), abs(lft - l2)) >= s


def test_energy_shape_and_errors():
    # a ramp of 0.1 per column in one channel: magnitude 0.1 at every pixel
    # (the last column, whose forward difference is 0 by convention, left out)
    ramp = torch.zeros(3, 20, 30)
    ramp[1] = 0.1 * torch.arange(30.0)
    energy = texture_energy(ramp, 5, stride=5)
    assert energy.shape == (3, 5)  # windows at tops 0, 5, 10 and lefts 0 ... 20
    torch.testing.assert_close(energy, torch.full((3, 5), 0.1, dtype=energy.dtype))
    with pytest.raises(ValueError, match="size must be an integer in"):
        texture_energy(torch.rand(3, 20, 30), 25)
    with pytest.raises(ValueError, match="count"):
        textured_windows(torch.rand(3, 20, 30), 4, count=0)


def test_automatic_window_keeps_away_from_the_border():
    from captum_lam.windows import auto_windows, border_margin

    torch.manual_seed(0)
    img = torch.rand(1, 3, 120, 200) * 0.05
    img[..., :16, :16] = torch.rand(3, 16, 16)  # the most textured spot: a corner
    top, left, size = auto_windows(img, 16)[0]
    margin = border_margin(120, 200, 16)
    assert margin == 52
    assert margin <= top <= 120 - 16 - margin and margin <= left <= 200 - 16 - margin
    # without the margin the corner would win
    assert textured_windows(img, 16)[0] == (0, 0, 16)


def test_listed_windows_start_with_the_automatic_one_and_name_their_content():
    from captum_lam.windows import auto_windows, list_windows

    torch.manual_seed(0)
    img = torch.zeros(1, 3, 256, 256)
    img[..., 128:] = 1.0  # a vertical edge ...
    img[..., 150:190, 70:110] = torch.rand(3, 40, 40)  # ... and a textured patch
    listed = list_windows(img, count=12, size=16)
    assert (listed[0].top, listed[0].left, listed[0].size) == auto_windows(img, 16)[0]
    first = listed[0]
    assert first.content == "texture"
    assert 150 - 16 < first.top < 190 and 70 - 16 < first.left < 110
    assert "edge" in [w.content for w in listed]
    energies = [w.energy for w in listed]
    assert energies == sorted(energies, reverse=True)
    assert all(64 <= w.top <= 176 and 64 <= w.left <= 176 for w in listed)

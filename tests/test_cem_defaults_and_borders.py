"""The CEM's defaults are the authors' (3 coarse and 50 fine swaps), a window in
a corner of the image gets the brute-force map, a block may be as large as the
input, and the progress bar is drawn only when asked for."""

import pytest
import torch

from captum_lam import CausalEffectMap

from .test_causal_effect import brute_force, model_image_hr


@pytest.fixture
def case(photo_crop):
    return model_image_hr(photo_crop)


def test_the_defaults_are_the_authors(case):
    cem = CausalEffectMap(case[0])
    assert (cem.n_coarse, cem.n_fine, cem.threshold_db) == (3, 50, 0.01)


@pytest.mark.parametrize(
    "window", [(40, 40, 8), (0, 0, 8)], ids=["bottom_right", "top_left"]
)
def test_a_window_in_a_corner_equals_the_brute_force_loop(case, window):
    model, x, hr = case
    patches = torch.rand(5, 3, 4, 4, generator=torch.Generator().manual_seed(3))
    cem = CausalEffectMap(model, block_size=4, patches=patches, n_coarse=2, n_fine=2)
    got = cem.attribute(x, target=window, hr=hr)
    expected = brute_force(model, x, hr, window, 4, patches, 2, 2, 0.01, 0)
    assert (expected != 0).sum() > 4
    torch.testing.assert_close(got.double(), expected, rtol=0, atol=1e-3)


def test_a_block_as_large_as_the_input_is_one_block(case):
    model, x, hr = case
    effect = CausalEffectMap(model, block_size=24, n_fine=0).attribute(
        x, target=(8, 8, 8), hr=hr
    )
    assert effect.shape == (1, 1, 24, 24) and effect[0, 0, 0, 0] != 0
    assert (effect == effect[0, 0, 0, 0]).all()
    with pytest.raises(ValueError, match="block_size must be at most the input's"):
        CausalEffectMap(model, block_size=25).attribute(x, target=(8, 8, 8), hr=hr)


@pytest.mark.parametrize("shown", [False, True])
def test_the_progress_bar_is_drawn_only_when_asked(case, capsys, shown):
    model, x, hr = case
    CausalEffectMap(model, block_size=12, n_fine=0).attribute(
        x, target=(8, 8, 8), hr=hr, show_progress=shown
    )
    assert ("CEM" in capsys.readouterr().err) == shown

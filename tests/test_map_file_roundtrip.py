"""Map files at the edges of what they may hold: every legal boundary value
loads back unchanged, the first value past it is refused by name."""

import numpy as np
import pytest
import torch

from captum_lam import load_map, save_map
from captum_lam.mapfile import map_arrays


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    attr, lr = torch.randn(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    return save_map(tmp_path / "m.npz", attr, lr, (2, 2, 4), scale=2)


def _rewrite(path, drop=(), **changes):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data if k not in drop}
    arrays.update(changes)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("di", [0.0, 100.0, float("nan")])
def test_diffusion_index_bounds_load(saved, di):
    loaded = load_map(_rewrite(saved, diffusion_index=np.array(di)))
    np.testing.assert_equal(loaded["diffusion_index"], di)


@pytest.mark.parametrize("di", [-0.5, 100.5, float("inf"), float("-inf")])
def test_diffusion_index_outside_0_100_is_refused(saved, di):
    with pytest.raises(
        ValueError, match=r"field 'diffusion_index' is .*not in \[0, 100\]"
    ):
        load_map(_rewrite(saved, diffusion_index=np.array(di)))


@pytest.mark.parametrize(("window", "scale"), [((0, 0, 1), 1), ((7, 3, 2), 4)])
def test_smallest_window_and_scale_load(saved, window, scale):
    loaded = load_map(_rewrite(saved, window=np.array(window), scale=np.array(scale)))
    assert (loaded["window"], loaded["scale"]) == (window, scale)


@pytest.mark.parametrize("window", [(-1, 0, 4), (0, -1, 4), (0, 0, 0)])
def test_window_off_the_image_or_empty_is_refused(saved, window):
    with pytest.raises(ValueError, match=r"field 'window' is \(.*\): top, left >= 0"):
        load_map(_rewrite(saved, window=np.array(window)))


def test_scale_zero_is_refused(saved):
    with pytest.raises(ValueError, match="field 'scale' is 0, not an integer >= 1"):
        load_map(_rewrite(saved, scale=np.array(0)))


def test_scale_must_be_one_integer(saved):
    with pytest.raises(ValueError, match=r"field 'scale' is 2\.5, not 1 integer\(s\)"):
        load_map(_rewrite(saved, scale=np.array(2.5)))


def test_missing_fields_are_named_in_order(saved):
    with pytest.raises(
        ValueError,
        match=r"field 'map' is missing; not a captum-lam map file "
        r"\(missing map, origin\)",
    ):
        load_map(_rewrite(saved, drop=("origin", "map")))


def test_a_map_and_an_image_of_other_sizes_are_refused_with_both_sizes():
    with pytest.raises(
        ValueError, match="lr is 4x5 but attributions are 4x6: they must match"
    ):
        map_arrays(np.zeros((3, 4, 6)), np.zeros((3, 4, 5)), (0, 0, 2), scale=2)


def test_everything_saved_loads_back(saved):
    with np.load(saved) as data:
        raw = {k: data[k] for k in data}
    loaded = load_map(saved)
    np.testing.assert_array_equal(loaded["attribution"], raw["attribution"])
    np.testing.assert_array_equal(loaded["lr"], raw["lr"])
    # the map: the magnitude of the channel sum, summed in float64
    magnitude = np.abs(raw["attribution"].sum(axis=0, dtype=np.float64))
    np.testing.assert_array_equal(loaded["map"], magnitude)
    assert loaded["window"] == (2, 2, 4) and loaded["origin"] == (0, 0)
    assert 0 <= loaded["diffusion_index"] <= 100

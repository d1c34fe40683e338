import numpy as np
import pytest
import torch

from captum_lam import diffusion_index, gini
from captum_lam.metrics import abs_normalized_map


def reference_gini(array):
    array = array.flatten()
    if np.amin(array) < 0:
        array -= np.amin(array)
    array += 0.0000001
    array = np.sort(array)
    index = np.arange(1, array.shape[0] + 1)
    n = array.shape[0]
    return (np.sum((2 * index - n - 1) * array)) / (n * np.sum(array))


def reference_di(grad):
    grad_2d = np.abs(grad.sum(axis=0))
    return (1 - reference_gini(grad_2d / grad_2d.max())) * 100


def test_uniform_map_has_di_100():
    assert abs(diffusion_index(np.ones((3, 32, 32))) - 100.0) < 0.1


def test_single_hot_pixel_has_di_near_zero():
    m = np.zeros((3, 64, 64))
    m[:, 10, 20] = -2.0
    assert diffusion_index(m) < 0.1  # 100 / 4096 plus the 1e-7 floor


def test_matches_reference_on_random_maps():
    rng = np.random.default_rng(3)
    for _ in range(5):
        a = rng.standard_normal((3, 20, 17)) ** 3
        assert abs(diffusion_index(a) - reference_di(a.copy())) < 1e-9
        assert abs(gini(a) - reference_gini(a.copy())) < 1e-12


def test_batch_torch_and_numpy_agree():
    a = torch.randn(4, 3, 10, 10, dtype=torch.float64)
    batch = diffusion_index(a)
    assert batch.shape == (4,)
    for i in range(4):
        assert batch[i] == pytest.approx(diffusion_index(a[i].numpy()), abs=1e-12)


def test_gini_does_not_modify_its_argument():
    a = np.array([-1.0, 0.0, 2.0])
    gini(a)
    assert a.tolist() == [-1.0, 0.0, 2.0]


def test_two_dimensional_map_is_taken_as_channel_summed():
    a = np.abs(np.random.default_rng(0).standard_normal((8, 8)))
    assert diffusion_index(a) == pytest.approx(diffusion_index(a[None]), abs=1e-12)
    assert abs_normalized_map(a).max() == 1.0


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((3, 4, 4)), "all zero"),
        (np.zeros((0, 4)), "empty"),
        (np.full((2, 2), np.nan), "NaN"),
        (np.ones(5), r"shape \(H, W\)"),
    ],
)
def test_undefined_maps_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        diffusion_index(bad)

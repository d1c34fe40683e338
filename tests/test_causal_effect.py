"""CausalEffectMap: the properties users rely on, against a brute-force loop."""

import copy

import numpy as np
import pytest
import torch

from captum_lam import CausalEffectMap

from .conftest import make_tiny_sr

WINDOW = (20, 20, 8)  # output pixels of the x2 TinySR on a 24x24 input


def model_image_hr(photo_crop):
    """The x2 TinySR, its input and a noisy HR image near its output."""
    model = make_tiny_sr()
    torch.manual_seed(1)
    with torch.no_grad():
        hr = (model(photo_crop) + 0.05 * torch.randn(1, 3, 48, 48)).clamp(0, 1)
    return model, photo_crop, hr


@pytest.fixture
def case(photo_crop):
    return model_image_hr(photo_crop)


def brute_force(model, x, hr, window, block, patches, n_coarse, n_fine, tol, seed):
    """The documented algorithm, one swap at a time on the whole input."""
    top, left, size = window
    h, w = x.shape[-2:]
    rows, cols = -(-h // block), -(-w // block)
    draws = torch.randint(
        patches.shape[0],
        (1, rows, cols, n_coarse + n_fine),
        generator=torch.Generator().manual_seed(seed),
    )[0]

    def psnr(image):
        with torch.no_grad():
            out = model(image)[..., top : top + size, left : left + size].clamp(0, 1)
        mse = float(((out - hr[..., top : top + size, left : left + size]) ** 2).mean())
        return -10 * np.log10(mse)

    clean = psnr(x)
    effect = torch.zeros(1, 1, h, w, dtype=torch.float64)
    for i in range(rows):
        for j in range(cols):

            def swaps(indices, i=i, j=j):
                out = []
                for k in indices:
                    image = x.clone()
                    part = image[
                        ..., i * block : (i + 1) * block, j * block : (j + 1) * block
                    ]
                    part[...] = patches[k][..., : part.shape[-2], : part.shape[-1]]
                    out.append(clean - psnr(image))
                return out

            coarse = swaps(draws[i, j, :n_coarse].tolist())
            value = np.mean(coarse)
            if n_fine and max(abs(c) for c in coarse) >= tol:
                value = np.mean(swaps(draws[i, j, n_coarse:].tolist()))
            if abs(value) < tol:
                value = 0.0
            effect[..., i * block : (i + 1) * block, j * block : (j + 1) * block] = (
                value
            )
    return effect


def test_equals_a_brute_force_loop(case):
    model, x, hr = case
    patches = torch.rand(7, 3, 3, 3, generator=torch.Generator().manual_seed(3))
    cem = CausalEffectMap(model, block_size=3, patches=patches, n_coarse=2, n_fine=3)
    got = cem.attribute(x, target=WINDOW, hr=hr, reach=4)
    expected = brute_force(model, x, hr, WINDOW, 3, patches, 2, 3, 0.01, 0)
    assert got.shape == (1, 1, 24, 24)
    assert torch.allclose(got.double(), expected, atol=1e-3)
    assert (got != 0).sum() > 10  # not trivially zero
    # the reach crops the network's input and skips blocks: same map without it
    whole = cem.attribute(x, target=WINDOW, hr=hr)
    assert torch.allclose(whole, got, atol=1e-4)
    assert cem.last_report.blocks_in_reach == 64 > 0


def test_blocks_beyond_the_receptive_field_are_exactly_zero(case):
    model, x, hr = case  # three 3x3 convolutions: reach 3 LR pixels
    cem = CausalEffectMap(model, block_size=2, n_fine=5, threshold_db=0.0)
    effect = cem.attribute(x, target=(0, 0, 4), hr=hr, reach=3)[0, 0]
    assert effect[:4, :4].abs().sum() > 0
    # the window covers LR pixels 0..1; the network sees 3 pixels further
    assert (effect[6:, :] == 0).all() and (effect[:, 6:] == 0).all()
    assert cem.last_report.blocks_in_reach < cem.last_report.blocks


def test_a_bank_of_the_blocks_own_content_gives_a_zero_map(case):
    model, _, _ = case
    tile = torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    x = tile.repeat(1, 1, 5, 5)  # every block holds the same content
    with torch.no_grad():
        hr = (model(x) + 0.1).clamp(0, 1)
    cem = CausalEffectMap(model, block_size=4, patches=tile, threshold_db=0.0)
    effect = cem.attribute(x, target=(8, 8, 12), hr=hr)
    assert (effect == 0).all()
    assert cem.last_report.forward_passes == 0
    assert (cem.attribute(x, target=(8, 8, 12)) == 0).all()  # hr=None too


def test_deterministic_for_a_seed_and_seed_matters(case):
    model, x, hr = case
    maps = [
        CausalEffectMap(model, block_size=4, n_fine=4, seed=s).attribute(
            x, target=WINDOW, hr=hr
        )
        for s in (5, 5, 6)
    ]
    assert torch.equal(maps[0], maps[1])
    assert not torch.equal(maps[0], maps[2])
    # batching does not change the map
    small = CausalEffectMap(model, block_size=4, n_fine=4, seed=5, batch_size=3)
    assert torch.allclose(small.attribute(x, target=WINDOW, hr=hr), maps[0], atol=1e-4)


def test_sign_a_block_that_helps_is_positive(case):
    model, x, _ = case
    with torch.no_grad():
        hr = model(x)  # the clean output is perfect: every swap can only hurt
    hr = (hr + 0.02).clamp(0, 1)
    effect = CausalEffectMap(model, block_size=4, n_fine=0).attribute(
        x, target=WINDOW, hr=hr
    )
    window_blocks = effect[0, 0, 10:14, 10:14]
    assert (window_blocks > 0).all()


def test_hr_none_measures_change_and_is_nonnegative(case):
    model, x, _ = case
    cem = CausalEffectMap(model, block_size=4, n_fine=2)
    effect = cem.attribute(x, target=WINDOW)
    assert effect.min() >= 0 and effect.max() > 1


def test_default_bank_and_block(case):
    model, x, hr = case
    cem = CausalEffectMap(model, n_coarse=1, n_fine=0)
    cem.attribute(x, target=WINDOW, hr=hr, reach=3)
    assert cem.last_report.block_size == 4  # 8 output pixels at x2
    from captum_lam._method.patch_bank import default_bank

    bank = default_bank(3)
    assert bank.shape == (600, 3, 8, 8) and torch.equal(bank, default_bank(3))
    assert 0 <= bank.min() and bank.max() <= 1 and bank.std() > 0.05


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"block_size": 0}, "block_size must be None or an integer >= 1"),
        ({"n_coarse": 0}, "n_coarse must be an integer >= 1"),
        ({"n_fine": -1}, "n_fine must be an integer >= 0"),
        ({"threshold_db": -0.1}, "threshold_db must be a finite number >= 0"),
        ({"threshold_db": float("nan")}, "threshold_db must be a finite number"),
        ({"batch_size": 0}, "batch_size must be None or an integer >= 1"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"patches": torch.rand(3, 3, 3)}, r"patches must be a Tensor of shape \(P, C"),
        ({"patches": torch.full((2, 3, 2, 2), float("nan"))}, "patches contain NaN"),
    ],
)
def test_constructor_errors_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CausalEffectMap(make_tiny_sr(), **kwargs)


def test_attribute_errors_before_any_work(case):
    model, x, hr = case
    cem = CausalEffectMap(model)
    with pytest.raises(ValueError, match="window"):
        cem.attribute(x, hr=hr)
    with pytest.raises(ValueError, match="hr must have the model output's shape"):
        cem.attribute(x, target=WINDOW, hr=hr[..., :40, :40])
    with pytest.raises(ValueError, match="reach must be None, 'auto' or an integer"):
        cem.attribute(x, target=WINDOW, hr=hr, reach=-1)
    with pytest.raises(ValueError, match="patches must have the inputs' 3 channels"):
        CausalEffectMap(model, patches=torch.rand(2, 1, 2, 2)).attribute(
            x, target=WINDOW, hr=hr
        )
    with pytest.raises(ValueError, match="block_size must be at most"):
        CausalEffectMap(model, block_size=25).attribute(x, target=WINDOW, hr=hr)
    with pytest.raises(TypeError, match="inputs must be a torch.Tensor"):
        cem.attribute(x.numpy(), target=WINDOW, hr=hr)
    with pytest.raises(ValueError, match="window"):
        cem.attribute(x, target=(40, 40, 16), hr=hr)  # beyond the 48x48 output


def test_caller_state_is_unchanged(case):
    model, x, hr = case
    model.train()
    params = copy.deepcopy(model.state_dict())
    x_before, hr_before = x.clone(), hr.clone()
    rng = torch.random.get_rng_state()
    with pytest.warns(UserWarning, match="training mode"):
        CausalEffectMap(model, block_size=4, n_fine=1).attribute(
            x, target=WINDOW, hr=hr
        )
    assert all(torch.equal(v, params[k]) for k, v in model.state_dict().items())
    assert torch.equal(x, x_before) and torch.equal(hr, hr_before)
    assert torch.equal(torch.random.get_rng_state(), rng)
    assert all(p.grad is None for p in model.parameters())
    assert torch.is_grad_enabled()


def test_progress_is_reported(case):
    model, x, hr = case
    cem = CausalEffectMap(model, block_size=6, n_fine=2)
    seen = []
    cem.progress_callback = lambda done, total: seen.append((done, total))
    cem.attribute(x, target=WINDOW, hr=hr)
    assert seen and seen[-1][0] == seen[-1][1] == cem.last_report.forward_passes


def test_several_examples_each_with_its_window(case):
    model, x, hr = case
    cem = CausalEffectMap(model, block_size=4, n_fine=2)
    both = cem.attribute(
        torch.cat([x, x.flip(-1)]),
        target=[WINDOW, (2, 2, 8)],
        hr=torch.cat([hr, hr.flip(-1)]),
        reach=3,
    )
    first = cem.attribute(x, target=WINDOW, hr=hr, reach=3)
    assert both.shape == (2, 1, 24, 24)
    assert torch.allclose(both[:1], first, atol=1e-4)
    assert (both[1, 0, 12:, 12:] == 0).all()  # far from its window

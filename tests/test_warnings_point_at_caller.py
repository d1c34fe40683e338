"""A warning from an attribution names the caller's line, not the package's:
``python -W error::UserWarning`` and warning filters by module work on it."""

import warnings

import torch

from captum_lam import (
    LAM,
    CausalEffectMap,
    LinearPath,
    PathIntegratedGradients,
    attribute_windows,
)
from captum_lam._method import adaptive
from tests.conftest import make_tiny_sr


def _rough(t):
    # a kink and fast wiggles: n_steps='auto' cannot reach 1e-7 in its most steps
    return t.abs().sum(dim=1) + (7 * t).sin().sum(dim=1)


def _caught(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return caught


def test_unconverged_auto_steps_warn_at_the_call():
    pig = PathIntegratedGradients(_rough, LinearPath(-1.0))
    x = torch.rand(2, 3, dtype=torch.float64)
    caught = _caught(lambda: pig.attribute(x, n_steps="auto", tolerance=1e-7))
    assert [w.filename for w in caught] == [__file__]
    most = adaptive.DEFAULT_MAX_STEPS
    message = str(caught[0].message)
    assert "n_steps='auto' stopped at " in message
    assert f"would pass {most}, the most allowed" in message


def test_small_internal_batch_warns_at_the_call():
    pig = PathIntegratedGradients(_rough, LinearPath(0.0))
    x = torch.rand(2, 3, dtype=torch.float64)
    caught = _caught(lambda: pig.attribute(x, n_steps=3, internal_batch_size=1))
    assert [w.filename for w in caught] == [__file__]
    assert "internal_batch_size 1 is smaller than the number of examples 2" in str(
        caught[0].message
    )


def test_lam_warnings_point_at_the_call_too():
    lam = LAM(make_tiny_sr())
    x = torch.rand(2, 3, 8, 8)
    caught = _caught(
        lambda: lam.attribute(x, (4, 4, 4), n_steps=2, internal_batch_size=1)
    )
    assert [w.filename for w in caught] == [__file__]


def test_training_mode_warnings_point_at_the_call():
    # each attribution's own way in: LAM, attribute_windows and the CEM
    model = make_tiny_sr().train()
    x = torch.rand(1, 3, 8, 8)
    calls = [
        lambda: LAM(model).attribute(x, (4, 4, 4), n_steps=2),
        lambda: attribute_windows(model, x, [(4, 4, 4)], n_steps=2),
        lambda: CausalEffectMap(model, block_size=4, n_coarse=1, n_fine=0).attribute(
            x, target=(4, 4, 4)
        ),
    ]
    for call in calls:
        caught = _caught(call)
        assert [w.filename for w in caught] == [__file__]
        assert "training mode" in str(caught[0].message)

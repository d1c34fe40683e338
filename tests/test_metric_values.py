"""Reference values of the map metrics at their edges: negative values in the
Gini, a small or no positive effect, the accepted shapes and scales."""

import numpy as np
import pytest

from captum_lam import gini, mean_distance
from captum_lam.metrics import di_text, signed_spread


@pytest.mark.parametrize("low", [-0.5, -3.0])
def test_gini_shifts_negative_values_to_zero(low):
    """As the reference: a map whose minimum is negative is shifted to start at 0."""
    values = np.array([0.0, 0.25, 1.0, 4.0])
    assert gini(values + low) == pytest.approx(gini(values), abs=1e-12)


def test_a_small_positive_effect_is_its_size_and_none_is_zero():
    e = np.zeros((8, 8))
    e[2, 2], e[6, 6] = 0.3, -0.1
    assert signed_spread(e, (8, 8, 4), scale=4)["positive_db"] == pytest.approx(0.3)
    measures = signed_spread(-np.abs(e), (8, 8, 4), scale=4)
    assert measures["positive_db"] == 0.0
    assert measures["negative_db"] == pytest.approx(-0.3)


def test_signed_spread_takes_one_map_with_unit_leading_dimensions():
    e = np.zeros((8, 8))
    e[2, 2] = 1.0
    for shape in [(8, 8), (1, 8, 8), (1, 1, 8, 8)]:
        assert signed_spread(e.reshape(shape), (8, 8, 4), 4)["positive_area"] == 1
    with pytest.raises(ValueError, match=r"effect must be one map .* got \(2, 8, 8\)"):
        signed_spread(np.stack([e, e]), (8, 8, 4), 4)


@pytest.mark.parametrize("measure", [signed_spread, mean_distance])
def test_scale_zero_is_refused_by_name(measure):
    e = np.ones((8, 8))
    with pytest.raises(ValueError, match="scale"):
        measure(e, (8, 8, 4), 0)


def test_di_text_says_lr_input_by_default_and_input_at_x1():
    assert di_text(1.3712, (3, 64, 48)) == "DI 1.37 on a 64x48 LR input"
    assert di_text(1.3712, (64, 48), scale=1) == "DI 1.37 on a 64x48 input"

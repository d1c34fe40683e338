"""Window arguments: what is accepted exactly as given, and the messages that
name what is wrong with the rest."""

import pytest
import torch

from captum_lam import LAM, WindowObjective
from captum_lam.objective import format_windows, num_windows


def test_a_window_tensor_holds_one_window_or_one_per_row():
    assert num_windows(torch.tensor([4, 4, 8])) == 1
    assert num_windows(torch.tensor([[4, 4, 8], [0, 0, 4]])) == 2
    assert num_windows([(4, 4, 8), (0, 0, 4), (2, 2, 2)]) == 3
    assert num_windows((4, 4, 8)) == 1


def test_a_window_tensor_per_example_is_each_examples_window():
    model = torch.nn.Upsample(scale_factor=2, mode="bilinear")
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    windows = torch.tensor([[0, 0, 4], [6, 8, 6]])
    both = WindowObjective(model, window=windows)(x)
    first = WindowObjective(model, window=(0, 0, 4))(x[:1])
    second = WindowObjective(model, window=(6, 8, 6))(x[1:])
    torch.testing.assert_close(both, torch.cat([first, second]))


def test_large_window_values_within_int64_are_kept_exactly():
    big = 2**62
    assert format_windows((big, 0, 4), 1).tolist() == [[big, 0, 4]]
    with pytest.raises(ValueError, match="window values must fit in int64"):
        format_windows((2**63, 0, 4), 1)


def test_a_negative_corner_is_named_with_both_coordinates():
    with pytest.raises(ValueError) as error:
        format_windows((3, -2, 4), 1)
    assert str(error.value) == "window top and left must be >= 0, got [[3, -2]]"


def test_a_model_that_drops_examples_is_named():
    def first_only(x):
        return torch.nn.functional.interpolate(x, scale_factor=2)[:1]

    with pytest.raises(ValueError, match="model returned 1 outputs for 2 inputs"):
        LAM(first_only).attribute(torch.rand(2, 3, 8, 8), target=(0, 0, 4), n_steps=2)

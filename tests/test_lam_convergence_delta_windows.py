"""LAM.compute_convergence_delta reads per-example windows and 1-tuples as
attribute does; a tuple of several image batches is refused by name."""

import pytest
import torch

from captum_lam import LAM, ProgressiveBlurPath

from .conftest import make_tiny_sr

WINDOWS = [(4, 6, 8), (0, 2, 6)]


def test_per_example_windows_give_attributes_delta():
    model = make_tiny_sr().double()
    x = torch.rand(2, 3, 10, 10, generator=torch.Generator().manual_seed(5)).double()
    lam = LAM(model)
    attr, delta = lam.attribute(
        x, target=WINDOWS, n_steps=4, return_convergence_delta=True
    )
    start = ProgressiveBlurPath().baseline(x)
    got = lam.compute_convergence_delta(attr, start, x, target=WINDOWS)
    torch.testing.assert_close(got, delta, rtol=0, atol=0)
    as_tuples = lam.compute_convergence_delta((attr,), (start,), (x,), target=WINDOWS)
    torch.testing.assert_close(as_tuples, delta, rtol=0, atol=0)


def test_a_tuple_of_two_batches_is_refused():
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="LAM explains one image batch.*a tuple of 2"):
        LAM(make_tiny_sr()).attribute((x, x), target=(0, 0, 4), n_steps=2)

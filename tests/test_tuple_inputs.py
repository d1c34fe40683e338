"""Tuples of input tensors: packed into one and back without loss, and a
mismatch refused naming both sizes."""

import pytest
import torch

from captum_lam import LinearPath, PathIntegratedGradients
from captum_lam._method.packing import Packing


def test_pack_and_unpack_round_trip_with_leading_steps():
    a, b = torch.rand(5, 2, 3), torch.rand(5, 2, 4, 2)
    packing = Packing([a[0], b[0]])
    flat = packing.pack([a, b])
    assert flat.shape == (5, 2, 11)
    back = packing.unpack(flat)
    assert torch.equal(back[0], a) and torch.equal(back[1], b)


def test_different_batch_sizes_are_refused_naming_both():
    pig = PathIntegratedGradients(lambda x, y: x.sum(1) + y.sum(1), LinearPath(0.0))
    with pytest.raises(
        ValueError, match=r"inputs\[0\] has 2 examples, inputs\[1\] has 4$"
    ):
        pig.attribute((torch.rand(2, 3), torch.rand(4, 5)))

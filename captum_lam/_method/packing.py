"""Inputs as Captum takes them: one tensor (N, ...) or a tuple of such tensors.

The integration engine works on one tensor. A tuple of input tensors is packed
into one (N, D) tensor (each tensor flattened after its batch dimension, then
concatenated), integrated along `PackedPath` (each tensor along its own
path), and unpacked into the caller's form.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import torch
from torch import Tensor

from ..paths import Alphas, Path
from .checks import check_float_tensor

Inputs = Union[Tensor, tuple[Tensor, ...]]


def format_inputs(inputs: Any) -> tuple[tuple[Tensor, ...], bool]:
    """``(tensors, is_tuple)``, each tensor checked; raises naming ``inputs``."""
    is_tuple = isinstance(inputs, tuple)
    tensors = inputs if is_tuple else (inputs,)
    if is_tuple and len(tensors) == 0:
        raise ValueError("inputs must not be an empty tuple")
    for i, t in enumerate(tensors):
        name = f"inputs[{i}]" if is_tuple else "inputs"
        if not isinstance(t, Tensor):
            raise TypeError(
                "inputs must be a torch.Tensor of shape (N, ...) or a tuple of them, "
                f"got {type(t).__name__}" + (f" for {name}" if is_tuple else "")
            )
        if t.ndim == 0:
            raise ValueError(f"{name} must have a batch dimension, shape (N, ...)")
        check_float_tensor(t, name)
    first = tensors[0]
    for i, t in enumerate(tensors[1:], start=1):
        if t.shape[0] != first.shape[0]:
            raise ValueError(
                f"every input tensor needs the same batch size N: inputs[0] has "
                f"{first.shape[0]} examples, inputs[{i}] has {t.shape[0]}"
            )
        if t.dtype != first.dtype or t.device != first.device:
            raise ValueError(
                f"every input tensor needs the same dtype and device: inputs[0] is "
                f"{first.dtype} on {first.device}, inputs[{i}] is {t.dtype} on "
                f"{t.device}"
            )
    return tuple(tensors), is_tuple


class Packing:
    """Packs tensors (N, *shape_i) into one (N, sum of their sizes) and back."""

    def __init__(self, tensors: Sequence[Tensor]) -> None:
        self.shapes = [t.shape[1:] for t in tensors]
        self.sizes = [s.numel() for s in self.shapes]

    def pack(self, tensors: Sequence[Tensor]) -> Tensor:
        """(..., N, *shape_i) for each i -> (..., N, D); the leading shapes agree."""
        lead = [t.shape[: t.ndim - len(s)] for t, s in zip(tensors, self.shapes)]
        return torch.cat([t.reshape(*ld, -1) for t, ld in zip(tensors, lead)], dim=-1)

    def unpack(self, flat: Tensor) -> tuple[Tensor, ...]:
        """(..., N, D) -> one (..., N, *shape_i) view per tensor."""
        parts = torch.split(flat, self.sizes, dim=-1)
        return tuple(
            p.reshape(*flat.shape[:-1], *s) for p, s in zip(parts, self.shapes)
        )


class PackedPath(Path):
    """Each tensor of a packed tuple along its own path, on the packed (N, D)."""

    def __init__(self, paths: Sequence[Path], packing: Packing) -> None:
        self.paths = tuple(paths)
        self.packing = packing

    def _each(self, method: str, inputs: Tensor, *alphas: Alphas) -> Tensor:
        parts = self.packing.unpack(inputs)
        return self.packing.pack(
            [getattr(p, method)(x, *alphas) for p, x in zip(self.paths, parts)]
        )

    def points(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        return self._each("points", inputs, alphas)

    def derivatives(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        return self._each("derivatives", inputs, alphas)

    def differences(self, inputs: Tensor, starts: Alphas, ends: Alphas) -> Tensor:
        return self._each("differences", inputs, starts, ends)

    def node_density(self, alphas: Tensor) -> Optional[Tensor]:
        """The tensors' common density: theirs where all paths have the same
        one (one path for every tensor, the usual case), else None (equal
        segments: the nodes are shared)."""
        first = self.paths[0].node_density(alphas)
        for path in self.paths[1:]:
            other = path.node_density(alphas)
            if first is None or other is None or not torch.equal(first, other):
                return None
        return first

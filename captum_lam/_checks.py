"""Argument checks shared by the whole package (one message per kind of mistake)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ._validation import as_int


def check_int(name: str, value: Any, minimum: int, *, allow_none: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer >= ``minimum``.

    Python and numpy integers count (``np.int64(5)``); bools do not.
    """
    if allow_none and value is None:
        return
    number = as_int(value)
    if number is None or number < minimum:
        allowed = "None or an integer" if allow_none else "an integer"
        raise ValueError(f"{name} must be {allowed} >= {minimum}, got {value!r}")


def check_image_batch(inputs: Any, name: str = "inputs") -> None:
    """A finite float32/float64 tensor of shape (N, C, H, W), not empty."""
    if not isinstance(inputs, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (N, C, H, W), got "
            f"{type(inputs).__name__}"
        )
    if inputs.ndim != 4:
        raise ValueError(
            f"{name} must have shape (N, C, H, W), got shape {tuple(inputs.shape)}"
        )
    check_float_tensor(inputs, name)


def check_float_tensor(inputs: Tensor, name: str = "inputs") -> None:
    """Floating point (float32 or float64), not empty, finite."""
    if not inputs.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {inputs.dtype}")
    if inputs.dtype in (torch.float16, torch.bfloat16):
        raise TypeError(
            f"{name} of dtype {inputs.dtype} are not supported: use float32 or "
            "float64 (the path's small blur differences and the sum over steps "
            "need at least float32 precision)"
        )
    if inputs.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(inputs.shape)}")
    if not torch.isfinite(inputs).all():
        raise ValueError(f"{name} contain NaN or Inf values")


def check_image_output(output: Any, what: str = "model") -> None:
    """The model returned an image batch (N, C, H, W)."""
    if not isinstance(output, Tensor) or output.ndim != 4:
        got = (
            tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
        )
        raise ValueError(
            f"{what} must return an image batch of shape (N, C, H, W), got {got}"
        )


def warn_if_training(model: Any, stacklevel: int = 3) -> None:
    """BatchNorm and Dropout in training mode make a map depend on chance."""
    if isinstance(model, nn.Module) and model.training:
        warnings.warn(
            "the model is in training mode: BatchNorm and Dropout make the map "
            "depend on the batch and on chance (the model's buffers are restored "
            "afterwards; Dropout draws from the global random generators as in any "
            "forward pass); call model.eval() first",
            stacklevel=stacklevel + 1,
        )


def one_example_chw(value: Any, name: str) -> np.ndarray:
    """``value`` (tensor or array) of shape (1, C, H, W) or (C, H, W) -> (C, H, W)
    numpy array (detached, on the CPU); ``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.ndim == 4:
        if array.shape[0] != 1:
            raise ValueError(
                f"{name} must hold one example, (1, C, H, W) or (C, H, W); got "
                f"shape {array.shape}: index one example first"
            )
        array = array[0]
    if array.ndim != 3:
        raise ValueError(
            f"{name} must be (1, C, H, W) or (C, H, W), got shape {array.shape}"
        )
    return array

"""Argument and environment checks shared by the whole package.

Each raises before any heavy work, with one message per kind of mistake naming
the argument and what is allowed.
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings
from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

#: The smallest blur LAM's path accepts. Below it the kernel's nearest
#: neighbours weigh less than exp(-1 / (2 * 0.25**2)) = 3e-4 of the centre: the
#: blurred baseline is the input itself to float32 precision and the map is zero
#: or rounding noise.
MIN_PATH_SIGMA = 0.25


def as_int(value: Any) -> Optional[int]:
    """``value`` as a Python int if it is an integer (numpy's too), else None.

    Booleans are not integers here.

    Examples
    --------
    >>> as_int(np.int64(5)), as_int(True), as_int(5.0)
    (5, None, None)
    """
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    return None


def check_path_blur(sigma: Any, kernel_size: Any) -> tuple[float, int]:
    """LAM's path blur: a finite ``sigma >= MIN_PATH_SIGMA``, an odd kernel >= 3.

    ``sigma = 0``, a tiny sigma or ``kernel_size = 1`` make the baseline equal
    to the input, so the map would be silently all zero.
    """
    if (
        isinstance(sigma, (bool, np.bool_))
        or not isinstance(sigma, numbers.Real)
        or not math.isfinite(sigma)
        or sigma < 0
    ):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    if sigma < MIN_PATH_SIGMA:
        raise ValueError(
            f"sigma must be >= {MIN_PATH_SIGMA} for LAM's blur path, got {sigma!r}: "
            "a smaller blur leaves the input unchanged (to float32 precision), so "
            "the map would be all zero (the reference uses 1.2)"
        )
    size = as_int(kernel_size)
    if size is None or size < 1 or size % 2 == 0:
        raise ValueError(
            f"kernel_size must be a positive odd integer (1, 3, 5, ...), got "
            f"{kernel_size!r}"
        )
    if size == 1:
        raise ValueError(
            "kernel_size must be >= 3 for LAM's blur path, got 1: a 1x1 kernel "
            "does not blur, so the map would be all zero (the reference uses 9)"
        )
    return float(sigma), size


def check_kernel_fits(kernel_size: int, shape: Any) -> None:
    """Refuse a kernel whose radius exceeds twice the image's larger side.

    Such a kernel mirrors the image onto itself many times over and its cost
    grows with the square of its size (1001 on 8x8 allocates gigabytes); the
    reference's 9 fits every image from 2x2 up.
    """
    height, width = int(shape[-2]), int(shape[-1])
    largest = 4 * max(height, width) + 1
    if kernel_size > largest:
        raise ValueError(
            f"kernel_size {kernel_size} is too large for inputs of {height}x{width} "
            f"pixels: it must be at most {largest} (a radius of at most twice the "
            "larger side)"
        )


def check_grad_mode() -> None:
    """Refuse to run inside ``torch.inference_mode()``, where no gradient exists."""
    if torch.is_inference_mode_enabled():
        raise RuntimeError(
            "LAM needs gradients, but torch.inference_mode() is active: call it "
            "outside inference_mode (torch.no_grad() around it is fine)"
        )


def check_model_tensors(model: Any, inputs: Tensor) -> None:
    """The model's parameters and buffers must live where the inputs do.

    A parameter on ``meta`` has no values; one on another kind of device
    (CPU vs CUDA) cannot meet the inputs. Parameters spread over several
    devices of the inputs' kind (model parallelism) are allowed.
    """
    if not isinstance(model, nn.Module):
        return
    for name, tensor in (*model.named_parameters(), *model.named_buffers()):
        if tensor.device.type == "meta":
            raise ValueError(
                f"the model's {name} is on the meta device (no values); load its "
                "weights, e.g. model.to_empty(device=...) and load_state_dict, first"
            )
        if tensor.device.type != inputs.device.type:
            raise ValueError(
                f"the model's {name} is on {tensor.device} but the inputs are on "
                f"{inputs.device}; move the model and the inputs to the same device"
            )
        if tensor.is_inference():
            raise ValueError(
                f"the model's {name} was created inside torch.inference_mode(), "
                "so no gradient can flow through it; build or load the model "
                "outside inference_mode"
            )


def parse_device(spec: Any) -> torch.device:
    """A device LAM can run on, or a one-line ValueError.

    Refuses unknown names, ``meta`` (no values) and CUDA (or MPS) devices that
    this machine does not have, before anything is loaded or written.

    Examples
    --------
    >>> parse_device("cpu")
    device(type='cpu')
    """
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError, ValueError) as error:
        raise ValueError(f"device: {spec!r} is not a torch device ({error})") from None
    if device.type == "meta":
        raise ValueError(
            "device: 'meta' tensors hold no values, so nothing can be computed "
            "on it; use cpu or cuda"
        )
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device: {spec!r} asks for a CUDA GPU, but torch sees none "
                "(torch.cuda.is_available() is False); use --device cpu"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(
                f"device: {spec!r} does not exist; this machine has {count} CUDA "
                f"GPU(s): cuda:0 to cuda:{count - 1}"
            )
    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as error:
        text = str(error).strip()
        first = text.splitlines()[0].split(". ")[0] if text else type(error).__name__
        raise ValueError(
            f"device: {spec!r} is not available on this machine ({first})"
        ) from None
    return device


def integer_scale(
    in_size: Sequence[int], out_size: Sequence[int], expected: Optional[int] = None
) -> int:
    """The integer factor ``s`` with ``out_size == s * in_size``, or a ValueError.

    The one check of a network's scale: with ``expected``, ``s`` must be it.

    Examples
    --------
    >>> integer_scale((16, 16), (64, 64))
    4
    """
    (h, w), (out_h, out_w) = tuple(in_size)[-2:], tuple(out_size)[-2:]
    scale = out_h // h
    if scale < 1 or out_h != scale * h or out_w != scale * w:
        ratio = f"x{out_h / h:g}" if out_h * w == out_w * h else "different per axis"
        raise ValueError(
            f"the network maps {h}x{w} to {out_h}x{out_w} ({ratio}): captum-lam "
            "needs an output exactly an integer scale times the input (x1, x2, ...)"
        )
    if expected is not None and scale != expected:
        raise ValueError(
            f"the network maps {h}x{w} to {out_h}x{out_w}, not x{expected} "
            f"({expected * h}x{expected * w})"
        )
    return scale


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


def check_image_output(
    output: Any, what: str = "model", inputs: Optional[Tensor] = None
) -> None:
    """The model returned an image batch (N, C, H, W), on the device of ``inputs``."""
    if not isinstance(output, Tensor) or output.ndim != 4:
        got = (
            tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
        )
        raise ValueError(
            f"{what} must return an image batch of shape (N, C, H, W), got {got}"
        )
    if inputs is not None and output.device != inputs.device:
        raise ValueError(
            f"{what} output is on {output.device} but inputs are on {inputs.device}; "
            "move the model and the inputs to the same device"
        )


def caller_stacklevel() -> int:
    """``stacklevel`` for a ``warnings.warn`` in the calling function that points
    at the first frame outside captum-lam and Captum (the user's call), however
    many of their wrappers lie between.
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in (
        "captum_lam",
        "captum",
    ):
        frame, level = frame.f_back, level + 1
    return level


def warn_if_training(model: Any) -> None:
    """BatchNorm and Dropout in training mode make a map depend on chance; the
    warning names the caller's line."""
    if isinstance(model, nn.Module) and model.training:
        warnings.warn(
            "the model is in training mode: BatchNorm and Dropout make the map "
            "depend on the batch and on chance (the model's buffers are restored "
            "afterwards; Dropout draws from the global random generators as in any "
            "forward pass); call model.eval() first",
            stacklevel=caller_stacklevel(),
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

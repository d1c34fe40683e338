"""The LAM objective: one scalar per example from an image-to-image model.

``D(F(x))`` = a gradient detector applied to the model's output, summed over a
window of the output and over channels. It measures *whether there are edges
and textures* in the window, not why its pixels have their values.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Sequence, Union, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._method.checks import as_int, check_image_output, check_model_tensors

Detector = Literal["difference", "sobel"]
DETECTORS: tuple[str, ...] = get_args(Detector)

#: A window ``(top, left, size)`` in output pixels, a list of them (one per
#: example), or an integer tensor of shape (3,) or (N, 3).
Window = Union[Sequence[int], Sequence[Sequence[int]], Tensor]


def _safe_sqrt(x: Tensor) -> Tensor:
    """``sqrt`` whose gradient is 0 (not inf or NaN) where ``x == 0``.

    NaN stays NaN (``x * 0``), so a broken model output is not silently hidden.
    """
    positive = x > 0
    return torch.where(positive, torch.where(positive, x, 1.0).sqrt(), x * 0)


def gradient_magnitude(image: Tensor, detector: Detector = "difference") -> Tensor:
    """Per-pixel, per-channel gradient magnitude of an image.

    Parameters
    ----------
    image : Tensor
        Shape (N, C, H, W).
    detector : {"difference", "sobel"}
        ``"difference"`` is the LAM reference's forward difference,
        ``sqrt((y[r, c] - y[r + 1, c])**2 + (y[r, c] - y[r, c + 1])**2)``; at the
        last row (column) the vertical (horizontal) difference is taken as 0
        (replicated border). ``"sobel"`` is the magnitude of the unnormalised 3x3
        Sobel responses with replicated borders.

    Returns
    -------
    Tensor
        Shape (N, C, H, W), >= 0. Differentiable; the gradient is finite where the
        magnitude is 0.

    Examples
    --------
    >>> ramp = torch.arange(4.0).repeat(4, 1)[None, None]  # +1 per column
    >>> gradient_magnitude(ramp)[0, 0, 0].tolist()
    [1.0, 1.0, 1.0, 0.0]
    """
    _check_detector(detector)
    before = _MARGIN_BEFORE[detector]
    padded = F.pad(image, (before, 1, before, 1), mode="replicate")
    return _valid_magnitude(padded, detector, image.shape[-2], image.shape[-1])


#: Output pixels a detector looks at before a pixel (after: always one).
_MARGIN_BEFORE = {"difference": 0, "sobel": 1}


def _check_detector(detector: Any) -> None:
    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {DETECTORS}, got {detector!r}")


def _valid_magnitude(padded: Tensor, detector: str, height: int, width: int) -> Tensor:
    """Gradient magnitude of the ``height x width`` pixels that ``padded`` holds
    with the detector's margins (replicated at the image's borders) around them.
    """
    if detector == "difference":
        y = padded[..., :height, :width]
        dy = y - padded[..., 1 : height + 1, :width]
        dx = y - padded[..., :height, 1 : width + 1]
    else:
        n, c = padded.shape[:2]
        flat = padded.reshape(n * c, 1, *padded.shape[-2:])
        kx = padded.new_tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
        weight = torch.stack([kx, kx.t()])[:, None]
        responses = F.conv2d(flat, weight)[..., :height, :width]
        responses = responses.reshape(n, c, 2, height, width)
        dx, dy = responses[:, :, 0], responses[:, :, 1]
    return _safe_sqrt(dy * dy + dx * dx)


def window_gradient_sum(output: Tensor, windows: Tensor, detector: str) -> Tensor:
    """The LAM objective: gradient magnitude summed over each window, (N,).

    Computes the detector only on the windows (plus the pixel it looks at
    beyond them), not on the whole output: the same values as
    the whole-output magnitude ``gradient_magnitude(output, detector)`` summed
    over each window and its channels.
    ``windows``: (N, 3) int64, inside the output.
    """
    h, w = output.shape[-2:]
    before = _MARGIN_BEFORE[detector]
    if windows.shape[0] == 1 or bool((windows == windows[:1]).all()):
        top, left, size = windows[0].tolist()
        r0, c0 = top - before, left - before
        r1, c1 = top + size + 1, left + size + 1
        patch = output[..., max(r0, 0) : min(r1, h), max(c0, 0) : min(c1, w)]
        pads = (max(-c0, 0), max(c1 - w, 0), max(-r0, 0), max(r1 - h, 0))
        if any(pads):
            patch = F.pad(patch, pads, mode="replicate")
        return _valid_magnitude(patch, detector, size, size).sum(dim=(1, 2, 3))
    # different windows per example: gather a patch of the largest size each
    windows = windows.to(output.device)
    size = int(windows[:, 2].max())
    span = torch.arange(size + before + 1, device=output.device)
    rows = (windows[:, :1] - before + span).clamp(0, h - 1)  # (N, P)
    cols = (windows[:, 1:2] - before + span).clamp(0, w - 1)
    examples = torch.arange(output.shape[0], device=output.device)[:, None, None]
    patch = output[examples, :, rows[:, :, None], cols[:, None, :]]  # (N, P, P, C)
    magnitude = _valid_magnitude(patch.permute(0, 3, 1, 2), detector, size, size)
    inside = span[:size][None] < windows[:, 2:3]  # (N, size)
    mask = (inside[:, :, None] & inside[:, None, :]).to(magnitude.dtype)[:, None]
    return (magnitude * mask).sum(dim=(1, 2, 3))


def _refuse_meta(window: Any) -> None:
    """A window on the meta device holds no values: refuse it by name."""
    parts = [window] if isinstance(window, Tensor) else []
    if isinstance(window, (tuple, list)):
        for item in window:
            items = item if isinstance(item, (tuple, list)) else [item]
            parts += [v for v in items if isinstance(v, Tensor)]
    if any(part.device.type == "meta" for part in parts):
        raise ValueError(
            "window is on the meta device, which holds shapes but no values; give "
            "(top, left, size) as integers or a tensor on the CPU or the inputs' "
            "device"
        )


def format_windows(
    window: Window, num_examples: int, device: Union[str, torch.device, None] = None
) -> Tensor:
    """Normalise a window argument to an (N, 3) int64 tensor of ``(top, left, size)``.

    Parameters
    ----------
    window : tuple, list of tuples, or Tensor
        ``(top, left, size)`` (tuple, list or (3,) tensor) for every example, a
        list of N such tuples, or an integer tensor of shape (N, 3). A single
        window that Captum repeated element-wise along a repeated batch
        (``NoiseTunnel`` and ``sensitivity_max`` turn ``[t, l, s]`` into
        ``[t, t, l, l, s, s]``) is read back as that one window.
    num_examples : int
        The batch size N.

    Raises
    ------
    TypeError, ValueError
        Naming ``target``/``window`` and what is allowed.

    Examples
    --------
    >>> format_windows((4, 8, 16), 2).tolist()
    [[4, 8, 16], [4, 8, 16]]
    """
    if window is None:
        raise ValueError(
            "window (the LAM target) is required: a tuple (top, left, size) in "
            "output pixels, a list of them, or an integer tensor of shape (N, 3)"
        )
    _refuse_meta(window)
    window = _undo_element_repeat(window, num_examples)
    if isinstance(window, Tensor):
        if (
            window.is_floating_point()
            or window.is_complex()
            or window.dtype == torch.bool
        ):
            raise TypeError(
                f"window tensor must hold integers, got dtype {window.dtype}"
            )
        rows = window.to(device=device, dtype=torch.int64)
    else:
        if not isinstance(window, (tuple, list)):
            raise TypeError(
                "window must be a tuple (top, left, size), a list of them or an "
                f"integer tensor of shape (N, 3), got {type(window).__name__}"
            )
        nested = len(window) > 0 and all(isinstance(w, (tuple, list)) for w in window)
        values = list(window) if nested else [window]
        for row in values:
            if len(row) != 3 or not all(
                as_int(v) is not None
                or (
                    isinstance(v, Tensor)
                    and v.numel() == 1
                    and not v.is_floating_point()
                    and v.dtype != torch.bool
                )
                for v in row
            ):
                raise TypeError(
                    "window must be (top, left, size) with three integers, got "
                    f"{tuple(row)!r}"
                )
        numbers = [[int(v) for v in row] for row in values]
        if any(abs(v) >= 2**63 for row in numbers for v in row):
            raise ValueError(f"window values must fit in int64, got {numbers}")
        rows = torch.tensor(numbers, device=device)
        if nested and rows.shape[0] != num_examples:
            raise ValueError(
                f"window list has {rows.shape[0]} entries but the batch has "
                f"{num_examples} examples; give one (top, left, size) per example"
            )
    if rows.ndim == 1:
        rows = rows[None]
    if rows.ndim != 2 or rows.shape[1] != 3:
        raise ValueError(
            f"window tensor must have shape (3,) or (N, 3), got {tuple(window.shape)}"
        )
    if rows.shape[0] == 1 and num_examples != 1:
        rows = rows.expand(num_examples, 3)
    if rows.shape[0] != num_examples:
        raise ValueError(
            f"window has {rows.shape[0]} rows but the batch has {num_examples} "
            "examples; give one row per example or a single (top, left, size)"
        )
    if (rows[:, 2] < 1).any():
        raise ValueError(f"window size must be >= 1, got sizes {rows[:, 2].tolist()}")
    if (rows[:, :2] < 0).any():
        raise ValueError(
            f"window top and left must be >= 0, got {rows[:, :2].tolist()}"
        )
    return rows


def _undo_element_repeat(window: Window, num_examples: int) -> Window:
    """One window that Captum's target expansion repeated k times per element.

    ``_expand_target`` repeat-interleaves list and tensor targets when a batch is
    repeated (NoiseTunnel, sensitivity_max): ``[t, l, s]`` becomes ``[t]*k +
    [l]*k + [s]*k`` and a (1, 3) tensor (k, 3). No window form outside such an
    expansion has these shapes, so reading them back is unambiguous.
    """
    flat_list = isinstance(window, list) and not any(
        isinstance(w, (tuple, list)) for w in window
    )
    if flat_list or (isinstance(window, Tensor) and window.ndim == 1):
        k = len(window) // 3
        if k > 1 and len(window) == 3 * k and num_examples % k == 0:
            runs = torch.as_tensor([int(v) for v in window]).reshape(3, k)
            if bool((runs == runs[:, :1]).all()):
                return window[::k]
    if isinstance(window, Tensor) and window.ndim == 2 and window.shape[1] == 3:
        m = window.shape[0]
        if 1 < m < num_examples and num_examples % m == 0:
            if bool((window == window[:1]).all()):
                return window[:1]
    return window


def _of_example(windows: Tensor, i: int) -> str:
    """`` of example i`` where there are several examples, else nothing."""
    return f" of example {i}" if windows.shape[0] > 1 else ""


def check_windows_fit(windows: Tensor, height: int, width: int) -> None:
    """Raise ``ValueError`` if a window leaves an output of ``height x width``."""
    too_large = windows[:, 2] > min(height, width)
    if too_large.any():
        i = int(too_large.nonzero()[0, 0])
        raise ValueError(
            f"window size {int(windows[i, 2])}{_of_example(windows, i)} is larger "
            f"than the model's output of {height}x{width} pixels (height x width); "
            f"the largest size is "
            f"{min(height, width)}"
        )
    # written as top > height - size: top + size can overflow int64
    bad = (windows[:, 0] > height - windows[:, 2]) | (
        windows[:, 1] > width - windows[:, 2]
    )
    if bad.any():
        i = int(bad.nonzero()[0, 0])
        top, left, size = windows[i].tolist()
        raise ValueError(
            f"window (top={top}, left={left}, size={size}){_of_example(windows, i)} "
            f"lies outside the model's output of {height}x{width} pixels (height x "
            f"width); for size "
            f"{size} the largest valid top is {height - size} and left is "
            f"{width - size}"
        )


class WindowObjective(nn.Module):
    """Forward wrapper: image-to-image model -> one LAM objective value per example.

    ``forward(x)`` returns ``sum over window and channels of D(model(x))`` where
    ``D`` is [`gradient_magnitude`][captum_lam.gradient_magnitude]. Use it as the
    forward function of any Captum method with ``target=None``, to compare LAM with
    saliency, Integrated Gradients and others on the same objective.

    Parameters
    ----------
    model : nn.Module or callable
        Maps (N, C, h, w) to (N, C', H, W), e.g. an SR network.
    window : tuple, list or Tensor, optional
        Default window ``(top, left, size)`` in output pixels (top-left corner),
        used when ``forward`` is not given one.
    detector : {"difference", "sobel"}
        Gradient detector, default the reference's ``"difference"``.

    Examples
    --------
    >>> from captum.attr import Saliency
    >>> model = torch.nn.Upsample(scale_factor=2, mode="bilinear")
    >>> objective = WindowObjective(model, window=(4, 4, 8))
    >>> x = torch.rand(2, 3, 16, 16)
    >>> objective(x).shape
    torch.Size([2])
    >>> Saliency(objective).attribute(x).shape
    torch.Size([2, 3, 16, 16])
    """

    def __init__(
        self,
        model: Any,
        window: Optional[Window] = None,
        detector: Detector = "difference",
    ) -> None:
        super().__init__()
        if not callable(model):
            raise TypeError(f"model must be callable, got {type(model).__name__}")
        _check_detector(detector)
        if window is not None:
            format_windows(window, num_windows(window))
        self.model = model
        self.window = window
        self.detector = detector

    def forward(
        self, x: Tensor, window: Optional[Window] = None, *model_args: Any
    ) -> Tensor:
        """Objective per example.

        Parameters
        ----------
        x : Tensor
            Model input, shape (N, C, h, w).
        window : tuple, list or Tensor, optional
            Overrides the constructor's window; an (N, 3) tensor gives one window
            per example (Captum expands it along integration steps).
        *model_args
            Passed to the model after ``x``.

        Returns
        -------
        Tensor
            Shape (N,).
        """
        if window is None:
            window = self.window
        if window is None:
            raise ValueError(
                "window is required: pass WindowObjective(model, window=(top, left, "
                "size)) or forward(x, window)"
            )
        windows = format_windows(window, x.shape[0], device=x.device)
        # a copy: a model may modify its input in place (and the input may be a
        # leaf that requires grad, where autograd refuses in-place changes)
        output = self.model(x.clone(), *model_args)
        check_image_output(output, inputs=x)
        check_windows_fit(windows, output.shape[-2], output.shape[-1])
        return window_gradient_sum(output, windows, self.detector)

    def extra_repr(self) -> str:
        return f"window={self.window}, detector={self.detector!r}"


def probe_model(
    model: Any, inputs: Tensor, extra: tuple, windows: Tensor
) -> torch.Size:
    """One no-grad forward on a copy of the input, to fail early and clearly.

    Checks that the model's parameters are where the inputs are and that
    ``model(inputs, *extra)`` is a finite image batch (N, C, H, W) on the inputs'
    device in which every window (N, 3) fits; returns its shape. A copy, because
    a model may modify its input in place.
    """
    check_model_tensors(model, inputs)
    try:
        with torch.no_grad():
            output = model(inputs.clone(), *extra)
    except Exception as error:
        raise ValueError(
            f"model failed on inputs of shape {tuple(inputs.shape)} "
            f"({type(error).__name__}: {str(error).strip().splitlines()[0]})"
        ) from error
    check_image_output(output, inputs=inputs)
    if output.shape[0] != inputs.shape[0]:
        raise ValueError(
            f"model returned {output.shape[0]} outputs for {inputs.shape[0]} inputs"
        )
    if not torch.isfinite(output).all():
        raise ValueError("model output contains NaN or Inf values on the inputs")
    check_windows_fit(windows, output.shape[-2], output.shape[-1])
    return output.shape


def num_windows(window: Window) -> int:
    """How many windows a window argument holds (1 for a single tuple)."""
    if isinstance(window, Tensor):
        return window.shape[0] if window.ndim == 2 else 1
    nested = len(window) > 0 and all(isinstance(w, (tuple, list)) for w in window)
    return len(window) if nested else 1

"""Local Attribution Maps (Gu & Dong, CVPR 2021) as a Captum attribution method."""

from __future__ import annotations

import warnings
from typing import Any, Optional, Union

import torch
from captum.log import log_usage
from torch import Tensor, nn

from ._model_state import keeps_caller_state
from ._validation import as_int, check_kernel_fits, check_model_tensors
from .objective import (
    Detector,
    Window,
    WindowObjective,
    check_windows_fit,
    format_windows,
)
from .path_integrated_gradients import (
    Method,
    PathIntegratedGradients,
    _check_inputs,
    _check_integration,
)
from .paths import ProgressiveBlurPath


class LAM(PathIntegratedGradients):
    r"""Local Attribution Map of an image-to-image network.

    Which input pixels did the network use to reconstruct the edges and textures of
    one window of its output? LAM integrates the gradient of
    :class:`~captum_lam.objective.WindowObjective` (gradient magnitude of the output,
    summed over the window) along :class:`~captum_lam.paths.ProgressiveBlurPath`,
    from the blurred input to the input.

    The defaults reproduce the LAM paper's reference code: ``sigma=1.2``,
    ``kernel_size=9``, the ``"difference"`` detector, 50 steps and
    ``method="riemann_right"`` (gradients at the right end of each of 50 equal
    segments times the segment's blur difference). ``method="riemann_middle"``
    takes gradients at the segments' midpoints instead: same cost, about two
    orders of magnitude smaller completeness error.

    Parameters
    ----------
    model : nn.Module or callable
        Maps LR images (N, C, h, w) to outputs (N, C', H, W), e.g. ``H = s * h``.
        Put it in eval mode first.
    sigma : float
        Blur of the baseline, in input pixels. Default 1.2.
    kernel_size : int
        Odd Gaussian kernel side. Default 9.
    detector : {"difference", "sobel"}
        Gradient detector of the objective. Default ``"difference"``.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(
    ...     torch.nn.Conv2d(3, 12, 3, padding=1), torch.nn.Tanh(),
    ...     torch.nn.PixelShuffle(2)).eval()
    >>> lr = torch.rand(1, 3, 16, 16)
    >>> attr, delta = LAM(model).attribute(
    ...     lr, target=(8, 8, 8), return_convergence_delta=True)
    >>> attr.shape
    torch.Size([1, 3, 16, 16])
    >>> from captum_lam import diffusion_index
    >>> 0 <= diffusion_index(attr[0]) <= 100
    True
    """

    def __init__(
        self,
        model: Any,
        sigma: float = 1.2,
        kernel_size: int = 9,
        detector: Detector = "difference",
    ) -> None:
        super().__init__(
            WindowObjective(model, detector=detector),
            ProgressiveBlurPath(sigma=sigma, kernel_size=kernel_size),
        )
        self.model = model

    @property
    def sigma(self) -> float:
        return self.path.sigma  # type: ignore[attr-defined]

    @property
    def kernel_size(self) -> int:
        return self.path.kernel_size  # type: ignore[attr-defined]

    @property
    def detector(self) -> str:
        return self.forward_func.detector  # type: ignore[union-attr]

    @log_usage()
    @keeps_caller_state(lambda self, *args, **kwargs: self.model)
    def attribute(  # type: ignore[override]
        self,
        inputs: Tensor,
        target: Window = None,  # type: ignore[assignment]
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: Method = "riemann_right",
        internal_batch_size: Optional[int] = None,
        return_convergence_delta: bool = False,
        crop: Union[None, str, int] = None,
    ) -> Union[Tensor, tuple[Tensor, Tensor]]:
        r"""Local attribution map of the output window ``target``.

        Parameters
        ----------
        inputs : Tensor
            LR images, shape (N, C, h, w), floating point, finite (e.g. in [0, 1]).
        target : tuple, list of tuples, or Tensor
            The window ``(top, left, size)`` in output pixels (top-left corner) for
            every example, a list of N such tuples, or an integer tensor (N, 3).
        additional_forward_args : Any, optional
            Extra arguments for the model, after the input.
        n_steps : int
            Gradient evaluations along the path. Default 50 (the reference's).
        method : str
            ``"riemann_right"`` (default, the reference's), ``"riemann_middle"``
            (most exact), ``"riemann_left"``, ``"riemann_trapezoid"`` or
            ``"gausslegendre"``.
        internal_batch_size : int, optional
            Path points per forward/backward pass; bounds memory. Default: on a
            CPU about 40k input pixels per pass (10 points of 64x64; measured
            fastest), on other devices all steps at once.
        return_convergence_delta : bool
            Also return, per example, ``sum(attr) - (D(F(x)) - D(F(baseline)))``.
        crop : None, "auto" or int
            Receptive-field cropping. The path is built on the whole input, but the
            network runs only on the part of it that the windows' receptive field
            reaches; the map is written back at full size and equals the uncropped
            one (to float rounding). ``"auto"`` takes the receptive field from
            ``model.lam_info.receptive_field`` (set for the zoo's models); an int
            is how many LR pixels the network reaches beyond a pixel (the
            receptive field's radius). Refused for models with a global receptive
            field. Default None: the whole input.

        Returns
        -------
        attributions : Tensor
            Shape (N, C, h, w), same dtype and device as ``inputs``. Sums to the
            change of the objective from the blurred baseline to the input.
        delta : Tensor
            Shape (N,), with ``return_convergence_delta=True``.
        """
        _check_inputs(inputs)
        n_steps, internal_batch_size = _check_integration(
            n_steps, method, internal_batch_size
        )
        check_kernel_fits(self.kernel_size, inputs.shape)
        windows = format_windows(target, inputs.shape[0], device=inputs.device)
        if isinstance(self.model, nn.Module) and self.model.training:
            warnings.warn(
                "the model is in training mode: BatchNorm and Dropout make the map "
                "depend on the batch and on chance (the model's buffers and the "
                "random generators are restored afterwards); call model.eval() first",
                stacklevel=4,
            )
        extra = _tuple_args(additional_forward_args)
        reach = _crop_reach(self.model, crop)
        output_shape = _probe_model(self.model, inputs, extra, windows)
        if reach is not None:
            return self._attribute_cropped(
                inputs,
                windows,
                extra,
                output_shape,
                reach,
                n_steps,
                method,
                internal_batch_size,
                return_convergence_delta,
            )
        return super().attribute.__wrapped__(  # type: ignore[attr-defined]
            self,
            inputs,
            target=None,
            additional_forward_args=(windows, *extra),
            n_steps=n_steps,
            method=method,
            internal_batch_size=internal_batch_size,
            return_convergence_delta=return_convergence_delta,
        )

    def _attribute_cropped(
        self,
        inputs: Tensor,
        windows: Tensor,
        extra: tuple,
        output_shape: torch.Size,
        reach: int,
        n_steps: int,
        method: str,
        internal_batch_size: Optional[int],
        return_convergence_delta: bool,
    ) -> Union[Tensor, tuple[Tensor, Tensor]]:
        rows, cols = _crop_region(inputs.shape, output_shape, windows, reach)
        scale = output_shape[-1] // inputs.shape[-1]
        shifted = windows - windows.new_tensor(
            [rows.start * scale, cols.start * scale, 0]
        )
        args = (shifted, *extra)
        attributions = self._integrate(
            inputs, None, args, n_steps, method, internal_batch_size, (rows, cols)
        )
        if not return_convergence_delta:
            return attributions
        ends = self.path.points(inputs.detach(), [0.0, 1.0])[..., rows, cols]
        with torch.no_grad():
            change = self.forward_func(ends[1], *args) - self.forward_func(
                ends[0], *args
            )
        delta = attributions.sum(dim=(1, 2, 3)) - change
        return attributions, delta


def _crop_reach(model: Any, crop: Union[None, str, int]) -> Optional[int]:
    """LR pixels the network reaches beyond a pixel, or None for no cropping."""
    if crop is None:
        return None
    if crop == "auto":
        info = getattr(model, "lam_info", None)
        if info is None:
            raise ValueError(
                "crop='auto' needs the model's receptive field (model.lam_info, set "
                "for the zoo's models); pass crop=<its radius in LR pixels> instead"
            )
        if info.receptive_field is None:
            raise ValueError(
                f"crop is refused for {info.name}: its receptive field is global "
                "(self-attention or global pooling), so every input pixel matters"
            )
        # one pixel more than the radius: free, and safe for even fields
        return int(info.receptive_field) // 2 + 1
    reach = as_int(crop)
    if reach is None or reach < 0:
        raise ValueError(
            f"crop must be None, 'auto' or an integer >= 0 (LR pixels), got {crop!r}"
        )
    return reach


def _crop_region(
    input_shape: torch.Size, output_shape: torch.Size, windows: Tensor, reach: int
) -> tuple[slice, slice]:
    h, w = input_shape[-2:]
    out_h, out_w = output_shape[-2:]
    if out_h % h or out_w % w or out_h // h != out_w // w:
        raise ValueError(
            f"crop needs an integer scale, but the model maps {h}x{w} to "
            f"{out_h}x{out_w}"
        )
    scale = out_h // h
    top, left = windows[:, 0], windows[:, 1]
    bottom, right = top + windows[:, 2], left + windows[:, 2]
    # the detectors look one output pixel beyond the window (Sobel: on both sides)
    r0 = int(((top - 1).clamp_min(0) // scale).min()) - reach
    c0 = int(((left - 1).clamp_min(0) // scale).min()) - reach
    r1 = int((bottom.clamp_max(out_h - 1) // scale).max()) + reach + 1
    c1 = int((right.clamp_max(out_w - 1) // scale).max()) + reach + 1
    return slice(max(r0, 0), min(r1, h)), slice(max(c0, 0), min(c1, w))


def _probe_model(
    model: Any, inputs: Tensor, extra: tuple, windows: Tensor
) -> torch.Size:
    """One no-grad forward on a copy of the input, to fail early and clearly.

    A copy, because a model may modify its input in place.
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
    if not isinstance(output, Tensor) or output.ndim != 4:
        got = (
            tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
        )
        raise ValueError(
            f"model must return an image batch of shape (N, C, H, W), got {got}"
        )
    if output.device != inputs.device:
        raise ValueError(
            f"model output is on {output.device} but inputs are on {inputs.device}; "
            "move the model and the inputs to the same device"
        )
    if output.shape[0] != inputs.shape[0]:
        raise ValueError(
            f"model returned {output.shape[0]} outputs for {inputs.shape[0]} inputs"
        )
    if not torch.isfinite(output).all():
        raise ValueError("model output contains NaN or Inf values on the inputs")
    check_windows_fit(windows, output.shape[-2], output.shape[-1])
    return output.shape


def _tuple_args(args: Any) -> tuple:
    if args is None:
        return ()
    return args if isinstance(args, tuple) else (args,)

"""Local Attribution Maps (Gu & Dong, CVPR 2021) as a Captum attribution method."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union, overload

import torch
from captum._utils.common import _expand_additional_forward_args
from captum._utils.typing import TargetType
from captum.log import log_usage
from torch import Tensor

from ._method.adaptive import check_steps, integrate_steps
from ._method.attribution import PathAttribution
from ._method.checks import (
    check_grad_mode,
    check_image_batch,
    check_kernel_fits,
    integer_scale,
    warn_if_training,
)
from ._method.engine import (
    Gradient,
    Method,
    completeness_gap,
    convergence_delta,
    finite_per_step,
)
from ._method.model_state import keeps_caller_state
from ._method.reach import Reach, model_reach, reach_region
from .objective import (
    Detector,
    Window,
    WindowObjective,
    format_windows,
    probe_model,
    window_gradient_sum,
)
from .paths import ProgressiveBlurPath
from .settings import LAMSettings

#: One image batch (N, C, H, W), or a 1-tuple of it as Captum's metrics pass it.
_Images = Union[Tensor, tuple[Tensor]]


class LAM(PathAttribution):
    r"""Local Attribution Map of an image-to-image network.

    Which input pixels did the network use to reconstruct the edges and textures of
    one window of its output? LAM integrates the gradient of
    [`WindowObjective`][captum_lam.WindowObjective] (gradient magnitude of the output,
    summed over the window) along
    [`ProgressiveBlurPath`][captum_lam.ProgressiveBlurPath], from the blurred input to
    the input.

    A Captum ``GradientAttribution`` (as
    [`PathIntegratedGradients`][captum_lam.PathIntegratedGradients], not a
    subclass of it: ``target`` is a window of the output, not an index into it).

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

    References
    ----------
    .. [1] Gu, J. and Dong, C. Interpreting Super-Resolution Networks with Local
    Attribution Maps. CVPR 2021.
    .. [2] Sundararajan, M., Taly, A. and Yan, Q. Axiomatic Attribution for Deep
    Networks. ICML 2017.

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
    >>> bool(0 <= diffusion_index(attr[0]) <= 100)
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

    @classmethod
    def from_settings(cls, model: Any, settings: LAMSettings) -> LAM:
        """LAM with the path and detector of ``settings``; pass
        ``**settings.integration()`` to `attribute` for the rest."""
        return cls(model, settings.sigma, settings.kernel_size, settings.detector)

    @property
    def sigma(self) -> float:
        return self.path.sigma  # type: ignore[attr-defined]

    @property
    def kernel_size(self) -> int:
        return self.path.kernel_size  # type: ignore[attr-defined]

    @property
    def detector(self) -> str:
        return self.forward_func.detector  # type: ignore[union-attr]

    @overload
    def attribute(
        self,
        inputs: _Images,
        target: Optional[Window] = None,
        additional_forward_args: Any = None,
        n_steps: Union[int, Literal["auto"]] = 50,
        method: Method = "riemann_right",
        internal_batch_size: Optional[int] = None,
        return_convergence_delta: Literal[False] = False,
        reach: Reach = None,
        tolerance: Optional[float] = None,
    ) -> _Images: ...

    @overload
    def attribute(
        self,
        inputs: _Images,
        target: Optional[Window] = None,
        additional_forward_args: Any = None,
        n_steps: Union[int, Literal["auto"]] = 50,
        method: Method = "riemann_right",
        internal_batch_size: Optional[int] = None,
        *,
        return_convergence_delta: Literal[True],
        reach: Reach = None,
        tolerance: Optional[float] = None,
    ) -> tuple[_Images, Tensor]: ...

    @log_usage()
    @keeps_caller_state(lambda self, *args, **kwargs: self.model)
    def attribute(
        self,
        inputs: _Images,
        target: Optional[Window] = None,
        additional_forward_args: Any = None,
        n_steps: Union[int, Literal["auto"]] = 50,
        method: Method = "riemann_right",
        internal_batch_size: Optional[int] = None,
        return_convergence_delta: bool = False,
        reach: Reach = None,
        tolerance: Optional[float] = None,
    ) -> Union[_Images, tuple[_Images, Tensor]]:
        r"""Local attribution map of the output window ``target``.

        Parameters
        ----------
        inputs : Tensor or 1-tuple of a Tensor
            LR images, shape (N, C, h, w), floating point, finite (e.g. in [0, 1]).
            A 1-tuple (as Captum's metrics pass inputs) gives a 1-tuple back.
        target : tuple, list, or Tensor
            The window ``(top, left, size)`` in output pixels (top-left corner):
            a tuple, a list ``[t, l, s]`` or a (3,) tensor for every example, a
            list of N such tuples or an integer tensor (N, 3) for one each. Inside
            ``NoiseTunnel`` and ``sensitivity_max`` every form keeps its meaning.
        additional_forward_args : Any, optional
            Extra arguments for the model, after the input.
        n_steps : int or "auto"
            Gradient evaluations along the path. Default 50 (the reference's).
            ``"auto"``: as many as it takes to reach ``tolerance`` (nested
            trapezoid rules refined by doubling, every gradient reused;
            ``method`` is then not used). The steps used and the estimated error
            are in ``last_integration``. See the "Speed and accuracy" page.
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
        reach : None, "auto" or int
            How many LR pixels the network reaches beyond a pixel (its receptive
            field's radius). The path is built on the whole input, but the
            network runs only on the part of it that the windows depend on; the
            map is written back at full size and equals the whole-input one (to
            float rounding). ``"auto"`` takes it from
            ``model.lam_info.receptive_field`` (set for the zoo's and the
            published models) and uses the whole input for a global or
            undeclared field. A reach smaller than the true one gives a wrong
            map. Default None: the whole input.
        tolerance : float, optional
            With ``n_steps="auto"``: the bound on each map's estimated relative
            error ``max|map - exact map| / max|map|``, in [1e-7, 1). Default
            1e-3. Not allowed with a fixed ``n_steps``.

        Returns
        -------
        attributions : Tensor
            Shape (N, C, h, w), same dtype and device as ``inputs``. Sums to the
            change of the objective from the blurred baseline to the input.
        delta : Tensor
            Shape (N,), with ``return_convergence_delta=True``.
        """
        attributions, delta = self._attribute(
            _one_image_batch(inputs) if isinstance(inputs, tuple) else inputs,
            target,
            additional_forward_args,
            n_steps,
            method,
            internal_batch_size,
            return_convergence_delta,
            reach,
            tolerance,
        )
        result: _Images = (attributions,) if isinstance(inputs, tuple) else attributions
        return (result, delta) if delta is not None else result

    def _attribute(
        self,
        inputs: Tensor,
        target: Optional[Window],
        additional_forward_args: Any,
        n_steps: Union[int, Literal["auto"]],
        method: Method,
        internal_batch_size: Optional[int],
        return_convergence_delta: bool,
        reach: Reach,
        tolerance: Optional[float],
    ) -> tuple[Tensor, Optional[Tensor]]:
        """`attribute` on one image batch: the map and, if asked, the delta."""
        check_image_batch(inputs)
        tolerance = check_steps(n_steps, method, internal_batch_size, tolerance)
        check_kernel_fits(self.kernel_size, inputs.shape)
        check_grad_mode()
        windows = format_windows(target, inputs.shape[0], device=inputs.device)
        warn_if_training(self.model)
        extra = _tuple_args(additional_forward_args)
        radius = model_reach(self.model, reach)
        output_shape = probe_model(self.model, inputs, extra, windows)
        region: tuple[slice, ...] = ()
        if radius is not None:
            region = reach_region(inputs.shape, output_shape, windows, radius)
            scale = integer_scale(inputs.shape, output_shape)
            windows = windows - windows.new_tensor(
                [region[0].start * scale, region[1].start * scale, 0]
            )
        detector = self.detector

        def objective(points: Tensor, count: int = 1) -> Tensor:
            args = _expand_additional_forward_args(extra, count) if extra else ()
            output = self.model(points.clone(), *args)  # it may modify its input
            return window_gradient_sum(output, windows.repeat(count, 1), detector)

        def gradients(points: Tensor, steps: slice):
            count = steps.stop - steps.start
            with torch.enable_grad():
                values = objective(points, count)
                (grads,) = torch.autograd.grad(torch.unbind(values), points)
            yield Gradient(grads, finite_per_step(values, count))

        attributions, self.last_integration = integrate_steps(
            gradients,
            self.path,
            inputs,
            n_steps,
            method,
            internal_batch_size,
            tolerance,
            region=region,
            progress=self.progress_callback,
        )
        if not return_convergence_delta:
            return attributions, None
        delta = convergence_delta(attributions, objective, self.path, inputs, region)
        return attributions, delta

    def compute_convergence_delta(
        self,
        attributions: Union[Tensor, tuple[Tensor, ...]],
        start_point: Union[
            None, int, float, Tensor, tuple[Union[int, float, Tensor], ...]
        ],
        end_point: Union[Tensor, tuple[Tensor, ...]],
        target: TargetType = None,
        additional_forward_args: Any = None,
    ) -> Tensor:
        r"""``sum(attributions) - (D(F(end)) - D(F(start)))`` per example.

        As Captum's, with the window read from ``target`` (every form
        `attribute` takes); tensors or 1-tuples of them.

        Parameters
        ----------
        attributions, start_point, end_point : Tensor
            Shape (N, C, h, w); e.g. the map, ``self.path.baseline(x)`` and ``x``.
        target : tuple, list or Tensor
            The window(s), required.
        additional_forward_args : Any, optional
            Extra arguments for the model, after the input.

        Returns
        -------
        Tensor
            Shape (N,).
        """
        attributions, start_point, end_point = (
            _one_image_batch(t) if isinstance(t, tuple) else t
            for t in (attributions, start_point, end_point)
        )
        if not isinstance(start_point, Tensor):
            raise TypeError(
                "start_point must be the baseline image (N, C, H, W), e.g. "
                f"lam.path.baseline(x), got {type(start_point).__name__}"
            )
        windows = format_windows(target, end_point.shape[0], device=end_point.device)
        extra = _tuple_args(additional_forward_args)

        def objective(points: Tensor) -> Tensor:
            return window_gradient_sum(
                self.model(points, *extra), windows, self.detector
            )

        return completeness_gap(attributions, objective, start_point, end_point)


def _one_image_batch(inputs: tuple) -> Tensor:
    if len(inputs) != 1:
        raise ValueError(
            "LAM explains one image batch: give a tensor (N, C, H, W) or a 1-tuple "
            f"of it, got a tuple of {len(inputs)}"
        )
    return inputs[0]


def _tuple_args(args: Any) -> tuple:
    if args is None:
        return ()
    return args if isinstance(args, tuple) else (args,)

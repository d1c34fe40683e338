"""Path-integrated gradients along any :class:`~captum_lam.paths.Path`."""

from __future__ import annotations

from typing import Any, Callable, Literal, Optional, Union

import torch
from captum._utils.common import (
    _expand_additional_forward_args,
    _expand_target,
    _format_additional_forward_args,
    _run_forward,
)
from captum._utils.typing import TargetType
from captum.attr import GradientAttribution
from captum.log import log_usage
from torch import Tensor

from ._adaptive import IntegrationReport, check_steps, integrate_steps
from ._checks import check_image_batch
from ._engine import (
    CPU_PIXELS_PER_PASS,
    METHODS,
    Gradient,
    Method,
    convergence_delta,
    finite_per_step,
)
from .paths import Path

__all__ = ["CPU_PIXELS_PER_PASS", "METHODS", "Method", "PathIntegratedGradients"]


class _FiniteWatch:
    """Calls the forward function and remembers its last output (detached)."""

    def __init__(self, forward_func: Callable[..., Tensor]) -> None:
        self.forward_func = forward_func
        self.output = torch.ones(0)

    def __call__(self, *args: Any) -> Tensor:
        out = self.forward_func(*args)
        self.output = out.detach()
        return out


class PathIntegratedGradients(GradientAttribution):
    r"""Integrated gradients along an arbitrary path.

    For a path :math:`\gamma` from a baseline (:math:`\alpha = 0`) to the input
    (:math:`\alpha = 1`) and a forward function :math:`f` with one scalar per
    example::

        attr_i = integral_0^1  df(gamma(alpha))/dgamma_i * dgamma_i/dalpha  dalpha

    which sums to :math:`f(\gamma(1)) - f(\gamma(0))` (completeness). With
    :class:`~captum_lam.paths.LinearPath` this is Captum's ``IntegratedGradients``.

    Integration rules (``method``), with Captum's names:

    * ``"riemann_right"``, ``"riemann_left"``, ``"riemann_middle"``: ``n_steps``
      equal segments of alpha; the gradient at the segment's right end, left end or
      midpoint times the segment's difference ``gamma(end) - gamma(start)``. The
      differences telescope, so completeness holds up to the gradient's variation
      within a segment. ``"riemann_right"`` is the LAM reference's scheme;
      ``"riemann_middle"`` is the most exact at the same cost.
    * ``"riemann_trapezoid"``, ``"gausslegendre"``: Captum's nodes and weights with
      the path's exact analytic derivative.

    Parameters
    ----------
    forward_func : callable
        Maps the inputs (and ``additional_forward_args``) to one scalar per
        example, shape (N,), or to outputs that ``target`` indexes (as in Captum).
    path : Path
        The integration path.

    Attributes
    ----------
    last_integration : IntegrationReport or None
        How the last :meth:`attribute` call integrated: ``n_steps`` used,
        ``method``, and with ``n_steps="auto"`` the ``estimated_error`` per
        example (relative map error) and whether the ``tolerance`` was reached.
    progress_callback : callable or None
        Called as ``progress_callback(steps_done, n_steps)`` after each pass.

    Examples
    --------
    >>> from captum_lam import LinearPath
    >>> f = lambda x: (x ** 2).sum(dim=(1, 2, 3))
    >>> pig = PathIntegratedGradients(f, LinearPath(0.0))
    >>> x = torch.ones(1, 1, 2, 2)
    >>> attr, delta = pig.attribute(x, n_steps=20, return_convergence_delta=True)
    >>> round(float(attr.sum()), 4), abs(float(delta)) < 1e-4
    (4.0, True)
    """

    def __init__(self, forward_func: Callable[..., Tensor], path: Path) -> None:
        if not callable(forward_func):
            raise TypeError(
                f"forward_func must be callable, got {type(forward_func).__name__}"
            )
        if not isinstance(path, Path):
            raise TypeError(
                "path must be a captum_lam.Path (e.g. ProgressiveBlurPath or "
                f"LinearPath), got {type(path).__name__}"
            )
        super().__init__(forward_func)
        self.path = path
        #: Called as ``progress_callback(steps_done, n_steps)`` after each
        #: forward/backward pass, e.g. to drive a progress bar.
        self.progress_callback: Optional[Callable[[int, int], None]] = None
        #: How the last :meth:`attribute` call integrated: steps used and, with
        #: ``n_steps="auto"``, the estimated map error per example
        #: (:class:`~captum_lam.IntegrationReport`). None before the first call.
        self.last_integration: Optional[IntegrationReport] = None

    @log_usage()
    def attribute(  # type: ignore[override]
        self,
        inputs: Tensor,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: Union[int, Literal["auto"]] = 50,
        method: Method = "gausslegendre",
        internal_batch_size: Optional[int] = None,
        return_convergence_delta: bool = False,
        tolerance: Optional[float] = None,
    ) -> Union[Tensor, tuple[Tensor, Tensor]]:
        r"""Attribute ``f(gamma(1)) - f(gamma(0))`` to the input pixels.

        Parameters
        ----------
        inputs : Tensor
            Shape (N, C, H, W), floating point, finite.
        target : int, tuple, list or Tensor, optional
            Output index for ``forward_func`` as in Captum; None when it returns one
            scalar per example.
        additional_forward_args : Any, optional
            Passed to ``forward_func`` after the inputs; tensors whose first
            dimension is N are expanded along the integration steps.
        n_steps : int or "auto"
            Number of gradient evaluations, default 50. ``"auto"``: as many as
            it takes to reach ``tolerance`` (nested midpoint rules refined by
            tripling, every gradient reused; ``method`` is then not used); the
            steps used and the estimated error are in :attr:`last_integration`.
        method : str
            One of ``"riemann_right"``, ``"riemann_left"``, ``"riemann_middle"``,
            ``"riemann_trapezoid"``, ``"gausslegendre"`` (default, as Captum's IG).
        internal_batch_size : int, optional
            Path points per forward/backward pass (N examples times steps). Memory
            grows with it, not with ``n_steps``. Default: on a CPU, passes of
            about 40k input pixels (10 points of 64x64, 1 of 256x256: measured
            fastest there; at least one step per pass); on other devices all
            steps at once, as Captum.
        return_convergence_delta : bool
            Also return ``sum(attributions) - (f(gamma(1)) - f(gamma(0)))`` per
            example.
        tolerance : float, optional
            With ``n_steps="auto"``: the bound on each map's estimated relative
            error ``max|map - exact map| / max|map|``, in [1e-7, 1). Default
            1e-3. Not allowed with a fixed ``n_steps``.

        Returns
        -------
        attributions : Tensor
            Shape (N, C, H, W), the inputs' dtype and device.
        delta : Tensor
            Shape (N,), only with ``return_convergence_delta=True``.
        """
        check_image_batch(inputs)
        tolerance = check_steps(n_steps, method, internal_batch_size, tolerance)
        args = _format_additional_forward_args(additional_forward_args)
        watched = _FiniteWatch(self.forward_func)

        def gradients(points: Tensor, steps: slice):
            count = steps.stop - steps.start
            (grads,) = self.gradient_func(
                forward_fn=watched,
                inputs=(points,),
                target_ind=_expand_target(target, count),
                additional_forward_args=(
                    _expand_additional_forward_args(args, count) if args else None
                ),
            )
            yield Gradient(grads, finite_per_step(watched.output, count))

        attributions, self.last_integration = integrate_steps(
            gradients,
            self.path,
            inputs,
            n_steps,
            method,
            internal_batch_size,
            tolerance,
            progress=self.progress_callback,
        )
        if not return_convergence_delta:
            return attributions

        def objective(points: Tensor) -> Tensor:
            return _run_forward(self.forward_func, points, target, args)

        return attributions, convergence_delta(
            attributions, objective, self.path, inputs
        )

    def has_convergence_delta(self) -> bool:
        return True

    @property
    def multiplies_by_inputs(self) -> bool:
        return True

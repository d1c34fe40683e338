"""Path-integrated gradients along any [`Path`][captum_lam.Path]."""

from __future__ import annotations

from typing import Any, Callable, Literal, Optional, Union, overload

import torch
from captum._utils.common import (
    _expand_additional_forward_args,
    _expand_target,
    _format_additional_forward_args,
    _format_output,
    _validate_target,
)
from captum._utils.typing import TargetType, TensorOrTupleOfTensorsGeneric
from captum.log import log_usage
from torch import Tensor

from ._method.adaptive import check_steps, integrate_steps
from ._method.attribution import PathAttribution
from ._method.checks import check_grad_mode
from ._method.engine import (
    CPU_PIXELS_PER_PASS,
    METHODS,
    Gradient,
    Method,
    finite_per_step,
)
from ._method.model_state import keeps_caller_state
from ._method.packing import PackedPath, Packing, format_inputs
from .paths import Alphas, Path

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


class _GradientsOnly(Path):
    """``path``'s points with a unit velocity: with it the engine sums the rule's
    step weights times the gradients, without ``dgamma/dalpha``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def points(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        return self.path.points(inputs, alphas)

    def derivatives(self, inputs: Tensor, alphas: Alphas) -> Tensor:
        count = torch.as_tensor(alphas).numel()
        return inputs.new_ones(()).expand(count, *inputs.shape)

    def differences(self, inputs: Tensor, starts: Alphas, ends: Alphas) -> Tensor:
        steps = torch.as_tensor(ends, dtype=torch.float64) - torch.as_tensor(
            starts, dtype=torch.float64
        )
        steps = steps.to(dtype=inputs.dtype, device=inputs.device)
        return steps.view(-1, *([1] * inputs.ndim)).expand(-1, *inputs.shape)

    def node_density(self, alphas: Tensor) -> Optional[Tensor]:
        # the gradients change where the points do
        return self.path.node_density(alphas)


def _as_one_tuple(tensor: Tensor) -> tuple[Tensor, ...]:
    return (tensor,)


def _check_target(target: Any) -> None:
    """Catch baselines given where Captum's IntegratedGradients takes them."""

    def misplaced(value: Any) -> bool:
        if isinstance(value, Tensor):
            return value.is_floating_point() or value.is_complex()
        return isinstance(value, float)

    def baseline_like(value: Any) -> bool:
        if isinstance(value, (tuple, list)):
            return any(
                misplaced(v) or isinstance(v, Tensor) and v.ndim > 0 for v in value
            )
        return misplaced(value)

    if baseline_like(target):
        got = (
            f"a {target.dtype} tensor"
            if isinstance(target, Tensor)
            else f"{type(target).__name__} {target!r}"
            if not isinstance(target, (tuple, list))
            else f"a {type(target).__name__} holding tensors or floats"
        )
        raise TypeError(
            "target must be an output index as in Captum (an int, a tuple of ints, a "
            f"list of them or an integer tensor), got {got}. If these are baselines: "
            "baselines go into the path, not into attribute: "
            "PathIntegratedGradients(f, LinearPath(baselines)).attribute(inputs, "
            "target=...)"
        )


class PathIntegratedGradients(PathAttribution):
    r"""Integrated gradients along an arbitrary path.

    For a path $\gamma$ from a baseline ($\alpha = 0$) to the input
    ($\alpha = 1$) and a forward function $f$ with one scalar per
    example::

        attr_i = integral_0^1  df(gamma(alpha))/dgamma_i * dgamma_i/dalpha  dalpha

    which sums to $f(\gamma(1)) - f(\gamma(0))$ (completeness). With
    [`LinearPath`][captum_lam.LinearPath] this is Captum's ``IntegratedGradients``.

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
        The integration path. Baselines belong to it, e.g.
        ``LinearPath(baselines)`` with every baseline form of Captum's IG.
    multiply_by_inputs : bool
        True (default): the path integral above. False: the gradients integrated
        along the path without the velocity, ``sum_k w_k grad f(gamma(alpha_k))``
        (``w_k`` the rule's step weights, ``1/n`` for the Riemann rules); for
        [`LinearPath`][captum_lam.LinearPath] this is Captum's IG with
        ``multiply_by_inputs=False``, the attributions divided by
        ``x - baseline``. Completeness then does not hold, so the delta is not
        meaningful.

    Attributes
    ----------
    last_integration : IntegrationReport or None
        How the last ``attribute`` call **of the calling thread** integrated:
        ``n_steps`` used, ``method``, and with ``n_steps="auto"`` the
        ``estimated_error`` per example (relative map error) and whether the
        ``tolerance`` was reached. Each thread sees its own last call (None in
        a thread that has not called ``attribute``), so threads sharing one
        instance never read each other's.
    progress_callback : callable or None
        Called as ``progress_callback(steps_done, n_steps)`` after each pass.

    References
    ----------
    .. [1] Sundararajan, M., Taly, A. and Yan, Q. Axiomatic Attribution for Deep
    Networks. ICML 2017.
    .. [2] Xu, S., Venugopalan, S. and Sundararajan, M. Attribution in Scale and
    Space. CVPR 2020 (blur integrated gradients).

    Examples
    --------
    >>> from captum_lam import LinearPath
    >>> f = lambda x: (x ** 2).sum(dim=(1, 2, 3))
    >>> pig = PathIntegratedGradients(f, LinearPath(0.0))
    >>> x = torch.ones(1, 1, 2, 2)
    >>> attr, delta = pig.attribute(x, n_steps=20, return_convergence_delta=True)
    >>> round(float(attr.sum()), 4), abs(float(delta)) < 1e-4
    (4.0, True)

    Tuple inputs and Captum's baseline forms, as with ``IntegratedGradients``:

    >>> g = lambda a, b: (a * b).sum(dim=1)
    >>> pig = PathIntegratedGradients(g, LinearPath((0.0, torch.ones(1, 3))))
    >>> a_attr, b_attr = pig.attribute((torch.ones(2, 3), 2 * torch.ones(2, 3)))
    >>> round(float(a_attr.sum() + b_attr.sum()), 4)  # f(x) - f(baseline) = 12
    12.0
    """

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        path: Path,
        multiply_by_inputs: bool = True,
    ) -> None:
        if not callable(forward_func):
            raise TypeError(
                f"forward_func must be callable, got {type(forward_func).__name__}"
            )
        if not isinstance(path, Path):
            raise TypeError(
                "path must be a captum_lam.Path (e.g. ProgressiveBlurPath or "
                f"LinearPath), got {type(path).__name__}"
            )
        super().__init__(forward_func, path)
        self._multiply_by_inputs = bool(multiply_by_inputs)

    @overload
    def attribute(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: Union[int, Literal["auto"]] = 50,
        method: Method = "gausslegendre",
        internal_batch_size: Optional[int] = None,
        return_convergence_delta: Literal[False] = False,
        tolerance: Optional[float] = None,
    ) -> TensorOrTupleOfTensorsGeneric: ...

    @overload
    def attribute(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: Union[int, Literal["auto"]] = 50,
        method: Method = "gausslegendre",
        internal_batch_size: Optional[int] = None,
        *,
        return_convergence_delta: Literal[True],
        tolerance: Optional[float] = None,
    ) -> tuple[TensorOrTupleOfTensorsGeneric, Tensor]: ...

    @log_usage()
    @keeps_caller_state(lambda self, *args, **kwargs: self.forward_func)
    def attribute(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: Union[int, Literal["auto"]] = 50,
        method: Method = "gausslegendre",
        internal_batch_size: Optional[int] = None,
        return_convergence_delta: bool = False,
        tolerance: Optional[float] = None,
    ) -> Union[
        TensorOrTupleOfTensorsGeneric, tuple[TensorOrTupleOfTensorsGeneric, Tensor]
    ]:
        r"""Attribute ``f(gamma(1)) - f(gamma(0))`` to the inputs.

        Parameters
        ----------
        inputs : Tensor or tuple of Tensors
            One tensor (N, ...) of any rank, or a tuple of them (one per argument
            of ``forward_func``, the same N), floating point, finite. The path
            decides which ranks it takes (``ProgressiveBlurPath``: (N, C, H, W)).
        target : int, tuple, list or Tensor, optional
            Output index for ``forward_func`` as in Captum; None when it returns one
            scalar per example. Not the baselines: they belong to the path.
        additional_forward_args : Any, optional
            Passed to ``forward_func`` after the inputs; tensors whose first
            dimension is N are expanded along the integration steps.
        n_steps : int or "auto"
            Number of gradient evaluations, default 50. ``"auto"``: as many as
            it takes to reach ``tolerance`` (nested trapezoid rules refined by
            doubling, every gradient reused; ``method`` is then not used); the
            steps used and the estimated error are in ``last_integration``.
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
        attributions : Tensor or tuple of Tensors
            The inputs' form, shapes, dtype and device.
        delta : Tensor
            Shape (N,), only with ``return_convergence_delta=True``; equal to
            ``compute_convergence_delta(attributions, gamma(0), inputs, target,
            additional_forward_args)``.
        """
        tensors, is_tuple = format_inputs(inputs)
        _check_target(target)
        tolerance = check_steps(n_steps, method, internal_batch_size, tolerance)
        check_grad_mode()
        paths = self.path.for_inputs(len(tensors))
        for path, tensor in zip(paths, tensors):
            path.check_inputs(tensor)
        _validate_target(tensors[0].shape[0], target)
        attributions = self._integrate(
            tensors,
            paths,
            target,
            additional_forward_args,
            n_steps,
            method,
            internal_batch_size,
            tolerance,
        )
        if not return_convergence_delta:
            return _format_output(is_tuple, attributions)
        delta = self.compute_convergence_delta(
            attributions,
            tuple(path.baseline(tensor) for path, tensor in zip(paths, tensors)),
            tensors,
            target=target,
            additional_forward_args=additional_forward_args,
        )
        return _format_output(is_tuple, attributions), delta

    def _integrate(
        self,
        tensors: tuple[Tensor, ...],
        paths: tuple[Path, ...],
        target: TargetType,
        additional_forward_args: Any,
        n_steps: Union[int, str],
        method: str,
        internal_batch_size: Optional[int],
        tolerance: Optional[float],
    ) -> tuple[Tensor, ...]:
        """The engine on one tensor: the input itself or the packed tuple."""
        watched = _FiniteWatch(self.forward_func)
        if len(tensors) == 1:
            inputs, path, unpack = tensors[0], paths[0], _as_one_tuple
            forward: Callable[..., Tensor] = watched
        else:
            packing = Packing(tensors)
            inputs, path = packing.pack(tensors), PackedPath(paths, packing)
            unpack = packing.unpack

            def forward(points: Tensor, *args: Any) -> Tensor:
                return watched(*unpack(points), *args)

        if not self._multiply_by_inputs:
            path = _GradientsOnly(path)
        args = _format_additional_forward_args(additional_forward_args)

        def gradients(points: Tensor, steps: slice):
            count = steps.stop - steps.start
            (grads,) = self.gradient_func(
                forward_fn=forward,
                inputs=(points,),
                target_ind=_expand_target(target, count),
                additional_forward_args=(
                    _expand_additional_forward_args(args, count) if args else None
                ),
            )
            yield Gradient(grads, finite_per_step(watched.output, count))

        total, self.last_integration = integrate_steps(
            gradients,
            path,
            inputs,
            n_steps,
            method,
            internal_batch_size,
            tolerance,
            progress=self.progress_callback,
        )
        return tuple(t.contiguous() for t in unpack(total))

    @property
    def multiplies_by_inputs(self) -> bool:
        return self._multiply_by_inputs

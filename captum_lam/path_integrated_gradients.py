"""Path-integrated gradients along any :class:`~captum_lam.paths.Path`."""

from __future__ import annotations

import warnings
from typing import Any, Callable, Literal, Optional, Union

import torch
from captum._utils.common import (
    _expand_additional_forward_args,
    _expand_target,
    _format_additional_forward_args,
)
from captum._utils.typing import TargetType
from captum.attr import GradientAttribution
from captum.log import log_usage
from torch import Tensor

from ._model_state import keeps_caller_state
from ._quadrature import nodes_and_weights
from ._validation import as_int, check_grad_mode
from .paths import Path

Method = Literal[
    "riemann_right",
    "riemann_left",
    "riemann_middle",
    "riemann_trapezoid",
    "gausslegendre",
]
#: Integration rules, with Captum's names.
METHODS: tuple[str, ...] = (
    "riemann_right",
    "riemann_left",
    "riemann_middle",
    "riemann_trapezoid",
    "gausslegendre",
)
#: Input pixels per forward/backward pass on a CPU when internal_batch_size is None:
#: measured fastest with SPAN x4 at 10 points of 64x64, 2 of 128x128, 1 of 256x256
#: (docs/performance.md); larger passes thrash the caches.
CPU_PIXELS_PER_PASS = 10 * 64 * 64
_SEGMENT_METHODS = {"riemann_right": 1.0, "riemann_left": 0.0, "riemann_middle": 0.5}


class _Rule:
    """Where to take gradients and what to multiply them by, for one method."""

    def __init__(self, method: str, n_steps: int) -> None:
        self.method = method
        n = n_steps
        if method in _SEGMENT_METHODS:
            # n equal segments; the gradient at a point of each segment times the
            # segment's difference gamma(end) - gamma(start), which telescopes.
            idx = torch.arange(n, dtype=torch.float64)
            self.starts, self.ends = idx / n, (idx + 1) / n
            self.alphas = (idx + _SEGMENT_METHODS[method]) / n
            self.weights: Optional[Tensor] = None
        else:
            alphas, weights = nodes_and_weights(method, n)
            self.alphas = torch.tensor(alphas, dtype=torch.float64)
            self.weights = torch.tensor(weights, dtype=torch.float64)

    def velocities(self, path: Path, inputs: Tensor, steps: slice) -> Tensor:
        """Path derivative times step for the steps in ``steps``: (S, N, C, H, W)."""
        if self.weights is None:
            return path.differences(inputs, self.starts[steps], self.ends[steps])
        weights = self.weights[steps].to(dtype=inputs.dtype, device=inputs.device)
        return path.derivatives(inputs, self.alphas[steps]) * weights.view(
            -1, 1, 1, 1, 1
        )


def _raise_if_not_finite(bad: Tensor, rule: _Rule, steps: slice) -> None:
    """``bad``: (S,) booleans, True where a step's output or gradient is not finite."""
    if bad.any():
        alpha = float(rule.alphas[steps][bad.nonzero()[0, 0]])
        raise ValueError(
            f"the forward function's output or gradient is NaN or Inf at path point "
            f"alpha={alpha:.4f} (method {rule.method!r}); check the model's output "
            "along the path"
        )


class _FiniteWatch:
    """Calls the forward function and remembers where its output was finite."""

    def __init__(self, forward_func: Callable[..., Tensor]) -> None:
        self.forward_func = forward_func
        self.finite = torch.ones(0, dtype=torch.bool)

    def __call__(self, *args: Any) -> Tensor:
        out = self.forward_func(*args)
        self.finite = torch.isfinite(out.detach())
        return out


def _check_inputs(inputs: Any) -> None:
    if not isinstance(inputs, Tensor):
        raise TypeError(
            f"inputs must be a torch.Tensor of shape (N, C, H, W), got "
            f"{type(inputs).__name__}"
        )
    if inputs.ndim != 4:
        raise ValueError(
            f"inputs must have shape (N, C, H, W), got shape {tuple(inputs.shape)}"
        )
    if not inputs.is_floating_point():
        raise TypeError(f"inputs must be a floating-point tensor, got {inputs.dtype}")
    if inputs.dtype in (torch.float16, torch.bfloat16):
        raise TypeError(
            f"inputs of dtype {inputs.dtype} are not supported: use float32 or float64 "
            "(the path's small blur differences and the sum over steps need at least "
            "float32 precision)"
        )
    if inputs.numel() == 0:
        raise ValueError(f"inputs must not be empty, got shape {tuple(inputs.shape)}")
    if not torch.isfinite(inputs).all():
        raise ValueError("inputs contain NaN or Inf values")


def _check_integration(
    n_steps: Any, method: Any, internal_batch_size: Any
) -> tuple[int, Optional[int]]:
    """Validate; returns ``(n_steps, internal_batch_size)`` as Python ints."""
    check_grad_mode()
    steps = as_int(n_steps)
    if steps is None or steps < 1:
        raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "riemann_trapezoid" and steps < 2:
        raise ValueError("n_steps must be >= 2 for method 'riemann_trapezoid'")
    if internal_batch_size is None:
        return steps, None
    batch = as_int(internal_batch_size)
    if batch is None or batch < 1:
        raise ValueError(
            "internal_batch_size must be None or an integer >= 1, got "
            f"{internal_batch_size!r}"
        )
    return steps, batch


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

    @log_usage()
    @keeps_caller_state(lambda self, *args, **kwargs: self.forward_func)
    def attribute(  # type: ignore[override]
        self,
        inputs: Tensor,
        target: TargetType = None,
        additional_forward_args: Any = None,
        n_steps: int = 50,
        method: Method = "gausslegendre",
        internal_batch_size: Optional[int] = None,
        return_convergence_delta: bool = False,
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
        n_steps : int
            Number of gradient evaluations, default 50.
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

        Returns
        -------
        attributions : Tensor
            Shape (N, C, H, W), the inputs' dtype and device.
        delta : Tensor
            Shape (N,), only with ``return_convergence_delta=True``.
        """
        _check_inputs(inputs)
        n_steps, internal_batch_size = _check_integration(
            n_steps, method, internal_batch_size
        )
        attributions = self._integrate(
            inputs,
            target,
            additional_forward_args,
            n_steps,
            method,
            internal_batch_size,
        )
        if not return_convergence_delta:
            return attributions
        ends = self.path.points(inputs, [0.0, 1.0])
        delta = self.compute_convergence_delta(
            attributions,
            ends[0],
            ends[1],
            target=target,
            additional_forward_args=additional_forward_args,
        )
        return attributions, delta

    def _integrate(
        self,
        inputs: Tensor,
        target: TargetType,
        additional_forward_args: Any,
        n_steps: int,
        method: str,
        internal_batch_size: Optional[int],
        region: Optional[tuple[slice, slice]] = None,
    ) -> Tensor:
        """Sum over steps of gradient times path velocity, (N, C, H, W).

        With ``region = (rows, cols)`` the forward function sees only that part of
        each path point (the path itself is built on the whole input), and the
        gradient outside it is taken as zero.
        """
        num_examples = inputs.shape[0]
        rows, cols = region if region is not None else (slice(None), slice(None))
        if internal_batch_size is None and inputs.device.type == "cpu":
            pixels_per_step = num_examples * inputs.shape[-2] * inputs.shape[-1]
            steps_per_pass = max(1, CPU_PIXELS_PER_PASS // pixels_per_step)
        elif internal_batch_size is None:
            steps_per_pass = n_steps
        else:
            if internal_batch_size < num_examples:
                warnings.warn(
                    f"internal_batch_size {internal_batch_size} is smaller than the "
                    f"number of examples {num_examples}; using {num_examples}",
                    stacklevel=3,
                )
            steps_per_pass = max(1, internal_batch_size // num_examples)
        rule = _Rule(method, n_steps)
        args = _format_additional_forward_args(additional_forward_args)
        inputs = inputs.detach()
        total = torch.zeros_like(inputs)
        watched = _FiniteWatch(self.forward_func)
        for start in range(0, n_steps, steps_per_pass):
            steps = slice(start, min(start + steps_per_pass, n_steps))
            count = steps.stop - steps.start
            points = self.path.points(inputs, rule.alphas[steps])
            points = points.reshape(count * num_examples, *inputs.shape[1:])
            points = points[..., rows, cols].contiguous()
            (grads,) = self.gradient_func(
                forward_fn=watched,
                inputs=(points.requires_grad_(),),
                target_ind=_expand_target(target, count),
                additional_forward_args=(
                    _expand_additional_forward_args(args, count) if args else None
                ),
            )
            bad = ~torch.isfinite(grads.reshape(count, -1)).all(dim=1)
            bad |= ~watched.finite.reshape(count, -1).all(dim=1)
            _raise_if_not_finite(bad, rule, steps)
            velocities = rule.velocities(self.path, inputs, steps)[..., rows, cols]
            grads = grads.reshape(count, num_examples, *grads.shape[1:])
            total[..., rows, cols] += (grads * velocities).sum(dim=0)
            if self.progress_callback is not None:
                self.progress_callback(steps.stop, n_steps)
        return total

    def has_convergence_delta(self) -> bool:
        return True

    @property
    def multiplies_by_inputs(self) -> bool:
        return True

"""The integration engine: gradient times path velocity, summed over path points.

Every path method of the package (``PathIntegratedGradients``, ``LAM`` cropped
or not, the multi-window pass) calls `integrate`. It owns

* the integration rule (`_Rule`: where gradients are taken and what they
  are multiplied by),
* the batching policy (`steps_per_pass`, the CPU pixel rule),
* the path chunks (`path_chunks`),
* the finite checks (a NaN/Inf output or gradient names its alpha),
* the convergence delta (`convergence_delta`).

What it does not own is how a gradient is obtained: the caller passes a
``gradients(points, steps)`` function that runs the network on a chunk of path
points and yields one or more `Gradient` records (one per backward
pass). The engine then multiplies each by the path's velocity and adds it to
the maps the record names. The points are any-rank tensors (N, ...) and a
``region`` is a tuple of slices over their trailing dimensions.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Callable, Literal, NamedTuple, Optional, get_args

import torch
from torch import Tensor

from ..paths import Path
from .checks import caller_stacklevel, check_int
from .quadrature import nodes_and_weights

Method = Literal[
    "riemann_right",
    "riemann_left",
    "riemann_middle",
    "riemann_trapezoid",
    "gausslegendre",
]
#: Integration rules, with Captum's names.
METHODS: tuple[str, ...] = get_args(Method)
#: Input pixels per forward/backward pass on a CPU when internal_batch_size is None:
#: measured fastest with SPAN x4 at 10 points of 64x64, 2 of 128x128, 1 of 256x256
#: (docs/performance.md); larger passes thrash the caches.
CPU_PIXELS_PER_PASS = 10 * 64 * 64
#: Where in each of n equal segments the Riemann rules take the gradient.
_SEGMENT_POSITIONS = {"riemann_right": 1.0, "riemann_left": 0.0, "riemann_middle": 0.5}

#: Slices over the trailing dimensions of a path point (rows, cols for images).
Region = tuple[slice, ...]


@dataclass(frozen=True)
class _Rule:
    """Where to take gradients (``alphas``) and what to multiply them by.

    Segment rules multiply the gradient at ``alphas[i]`` by the path's
    difference ``gamma(ends[i]) - gamma(starts[i])`` (the differences telescope,
    so completeness only depends on the gradient's variation within a segment);
    weighted rules by ``weights[i] * dgamma/dalpha(alphas[i])``. ``alphas``,
    ``weights``, ``starts`` and ``ends`` are float64, shape (n,);
    ``derivatives`` (weighted rules only) has the inputs' dtype and device.
    """

    method: str
    alphas: Tensor
    weights: Optional[Tensor] = None
    starts: Optional[Tensor] = None
    ends: Optional[Tensor] = None
    #: weighted rules: the path's derivatives at ``alphas`` on the whole input
    #: (before any region is cut) when the caller has them already, (n, N, ...)
    derivatives: Optional[Tensor] = None

    def __post_init__(self) -> None:
        if self.derivatives is not None and (
            self.weights is None or len(self.derivatives) != len(self.alphas)
        ):
            raise ValueError("derivatives need a weighted rule, one per alpha")

    @classmethod
    def of(cls, method: str, n_steps: int) -> _Rule:
        """The rule ``method`` with ``n_steps`` gradient evaluations."""
        if method in _SEGMENT_POSITIONS:
            idx = torch.arange(n_steps, dtype=torch.float64)
            return cls(
                method,
                alphas=(idx + _SEGMENT_POSITIONS[method]) / n_steps,
                starts=idx / n_steps,
                ends=(idx + 1) / n_steps,
            )
        alphas, weights = nodes_and_weights(method, int(n_steps))
        return cls(
            method,
            alphas=torch.tensor(alphas, dtype=torch.float64),
            weights=torch.tensor(weights, dtype=torch.float64),
        )

    def __len__(self) -> int:
        return len(self.alphas)

    def velocities(self, path: Path, inputs: Tensor, steps: slice) -> Tensor:
        """Path velocity times step for the steps in ``steps``: (S, N, ...)."""
        if self.weights is None:
            return path.differences(inputs, self.starts[steps], self.ends[steps])
        weights = self.weights[steps].to(dtype=inputs.dtype, device=inputs.device)
        if self.derivatives is not None:
            derivatives = self.derivatives[steps]
        else:
            derivatives = path.derivatives(inputs, self.alphas[steps])
        return derivatives * weights.view(-1, *([1] * (derivatives.ndim - 1)))


#: The most integration steps accepted (the reference uses 50).
MAX_N_STEPS = 100_000


def check_integration(n_steps: Any, method: Any, internal_batch_size: Any) -> None:
    """Validate the integration arguments, naming the bad one."""
    check_int("n_steps", n_steps, 1)
    if n_steps > MAX_N_STEPS:
        raise ValueError(
            f"n_steps must be at most {MAX_N_STEPS}, got {n_steps}: the path's "
            "weights alone would not fit in memory and each step is a forward and "
            "a backward pass (the reference uses 50; n_steps='auto' chooses)"
        )
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "riemann_trapezoid" and n_steps < 2:
        raise ValueError("n_steps must be >= 2 for method 'riemann_trapezoid'")
    check_int("internal_batch_size", internal_batch_size, 1, allow_none=True)


def steps_per_pass(
    inputs: Tensor,
    n_steps: int,
    internal_batch_size: Optional[int],
    examples_per_point: Optional[int] = None,
) -> int:
    """Path points per forward/backward pass.

    ``internal_batch_size`` counts examples (points times the N examples of a
    point). None: on a CPU, passes of about `CPU_PIXELS_PER_PASS` input
    pixels (at least one point); elsewhere all steps at once, as Captum.
    """
    num_examples = inputs.shape[0] if examples_per_point is None else examples_per_point
    if internal_batch_size is None and inputs.device.type == "cpu":
        # pixels: the trailing dimensions after (N, C); all of them below rank 3
        spatial = inputs.shape[2:] if inputs.ndim >= 3 else inputs.shape[1:]
        pixels_per_step = max(1, spatial.numel()) * num_examples
        return max(1, CPU_PIXELS_PER_PASS // pixels_per_step)
    if internal_batch_size is None:
        return n_steps
    if internal_batch_size < num_examples:
        warnings.warn(
            f"internal_batch_size {internal_batch_size} is smaller than the "
            f"number of examples {num_examples}; using {num_examples}",
            stacklevel=caller_stacklevel(),
        )
    return max(1, internal_batch_size // num_examples)


def path_chunks(n_steps: int, per_pass: int) -> Iterator[slice]:
    """Consecutive slices of at most ``per_pass`` steps covering ``range(n_steps)``."""
    for start in range(0, n_steps, per_pass):
        yield slice(start, min(start + per_pass, n_steps))


def finite_per_step(values: Tensor, count: int) -> Tensor:
    """(S,) booleans: True where all of a step's values are finite."""
    return torch.isfinite(values.detach().reshape(count, -1)).all(dim=1)


def raise_if_not_finite(finite: Tensor, rule: _Rule, steps: slice) -> None:
    """``finite``: (S,) booleans of the steps in ``steps``; name the first bad one."""
    if not bool(finite.all()):
        alpha = float(rule.alphas[steps][(~finite).nonzero()[0, 0]])
        raise ValueError(
            f"the forward function's output or gradient is NaN or Inf at path point "
            f"alpha={alpha:.4f} (method {rule.method!r}); check the model's output "
            "along the path"
        )


class Gradient(NamedTuple):
    """One backward pass over a chunk of S path points.

    ``values``: the gradient, (S * n, ...) with the point's trailing shape (n is
    the number of examples per point the pass differentiated, 1 or N).
    ``finite``: (S,) booleans, whether the forward output was finite.
    ``into``: where it goes, pairs ``(maps, region)``: ``maps`` indexes the
    attribution maps (``slice(None)``: all N, one per example; ``slice(k,
    k + 1)``: map k), ``region`` the part of the point that belongs to them
    (the rest of the gradient belongs to other maps sharing the pass).
    """

    values: Tensor
    finite: Tensor
    into: Sequence[tuple[slice, Region]] = ((slice(None), ()),)


GradientFn = Callable[[Tensor, slice], Iterable[Gradient]]


def integrate(
    gradients: GradientFn,
    path: Path,
    inputs: Tensor,
    rule: _Rule,
    per_pass: int,
    *,
    num_maps: Optional[int] = None,
    region: Region = (),
    progress: Optional[Callable[[int, int], None]] = None,
    groups: Optional[Tensor] = None,
) -> Tensor:
    """Sum over the rule's steps of gradient times path velocity.

    Parameters
    ----------
    gradients : callable
        ``gradients(points, steps)`` with ``points`` of shape (S * N, ...) (the
        path points of the steps in ``steps``, cut to ``region``, step-major,
        requiring grad) yields `Gradient` records.
    path, inputs
        The path and the inputs (N, ...) it is built on (the whole input).
    rule : _Rule
    per_pass : int
        Steps per forward pass (`steps_per_pass`).
    num_maps : int, optional
        Number of attribution maps; default N.
    region : tuple of slices
        The part of each point the forward function sees; the gradient outside
        it is taken as zero.
    progress : callable, optional
        Called as ``progress(steps_done, n_steps)`` after each pass.
    groups : Tensor, optional
        (n_steps,) int64 labels ``0 .. G - 1``: the sum of each label's steps
        apart, from one run (the passes as full as for a single sum).

    Returns
    -------
    Tensor
        (num_maps, ...), the inputs' shape, dtype and device; with ``groups``
        (G, num_maps, ...).
    """
    inputs = inputs.detach()
    cut = (Ellipsis, *region)
    part = inputs[cut]
    maps = part.shape[0] if num_maps is None else num_maps
    n_groups = 1 if groups is None else int(groups.max()) + 1
    totals = torch.zeros(
        n_groups, maps, *part.shape[1:], dtype=part.dtype, device=part.device
    )
    n_steps = len(rule)
    for steps in path_chunks(n_steps, per_pass):
        count = steps.stop - steps.start
        points = path.points(inputs, rule.alphas[steps])[cut]
        points = points.reshape(-1, *part.shape[1:]).contiguous().requires_grad_()
        velocities = rule.velocities(path, inputs, steps)[cut]
        for grad in gradients(points, steps):
            raise_if_not_finite(
                grad.finite & finite_per_step(grad.values, count), rule, steps
            )
            values = grad.values.reshape(count, -1, *part.shape[1:])
            for index, sub in grad.into:
                at = (Ellipsis, *sub)
                products = values[at] * velocities[at]
                if groups is None:
                    totals[0][index][at] += products.sum(dim=0)
                    continue
                labels = groups[steps]
                for label in labels.unique().tolist():
                    totals[label][index][at] += products[labels == label].sum(dim=0)
        if progress is not None:
            progress(steps.stop, n_steps)
    if region:
        full = totals.new_zeros(n_groups, maps, *inputs.shape[1:])
        full[(slice(None), *cut)] = totals
        totals = full
    return totals[0] if groups is None else totals


def convergence_delta(
    attributions: Tensor,
    objective: Callable[[Tensor], Tensor],
    path: Path,
    inputs: Tensor,
    region: Region = (),
) -> Tensor:
    """``sum(attributions) - (f(gamma(1)) - f(gamma(0)))`` per map.

    ``objective(points)`` maps path points (N, ...) cut to ``region`` to one
    value per map; it runs without gradients.
    """
    ends = path.points(inputs.detach(), [0.0, 1.0])[(Ellipsis, *region)]
    return completeness_gap(attributions, objective, ends[0], ends[1])


def completeness_gap(
    attributions: Tensor,
    objective: Callable[[Tensor], Tensor],
    start: Tensor,
    end: Tensor,
) -> Tensor:
    """``sum(attributions) - (f(end) - f(start))`` per map, ``f`` without gradients."""
    with torch.no_grad():
        change = objective(end) - objective(start)
    summed = attributions.reshape(attributions.shape[0], -1).sum(dim=1)
    return summed - change.reshape(-1).to(summed.dtype)

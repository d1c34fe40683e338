"""Is the map right? Deletion, insertion, randomisation and infidelity of a window.

Every attribution of an output window (LAM, Saliency, Integrated Gradients,
blur-IG, NoiseTunnel, a map of your own) is judged on the network itself, through
the same [`WindowObjective`][captum_lam.WindowObjective] that LAM explains:

- [`deletion_curve`][captum_lam.faithfulness.deletion_curve]: the objective as the
  pixels the map ranks highest are replaced by a baseline (a faithful map makes it
  fall fast: a small area);
- [`insertion_curve`][captum_lam.faithfulness.insertion_curve]: the objective as
  those pixels are put back into the baseline (it rises fast: a large area);
- [`random_curve`][captum_lam.faithfulness.random_curve]: the same curves for random
  rankings, averaged over seeds, the reference a map must beat;
- [`faithfulness_report`][captum_lam.faithfulness_report]: all of
  these at once, with the areas of
  [`curve_area`][captum_lam.faithfulness.curve_area];
- [`randomization_check`][captum_lam.randomization_check]: the
  model-parameter randomisation test (MPRT), one rank similarity per layer;
- [`window_infidelity`][captum_lam.faithfulness.window_infidelity]: Captum's
  ``infidelity`` on the window objective.

The metrics are written here rather than wrapped from Quantus: Quantus expects a
classifier's class scores and numpy batches and imports pandas, scikit-learn and
OpenCV; the window objective is one differentiable number per image. The test
suite checks the deletion curve against ``quantus.PixelFlipping`` on shared cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional, Union

import numpy as np
import torch
from torch import Tensor

from ._faithfulness.curves import KINDS, make_setup, map_curves, random_curve_values
from ._faithfulness.randomization import RandomizationResult, randomization_check
from ._method.checks import check_image_batch, check_int
from ._method.model_state import caller_state_kept
from .objective import Window, WindowObjective, format_windows, probe_model

__all__ = [
    "FaithfulnessReport",
    "RandomizationResult",
    "curve_area",
    "deletion_curve",
    "faithfulness_report",
    "insertion_curve",
    "random_curve",
    "randomization_check",
    "window_infidelity",
]

BaselineArg = Union[Literal["blur", "zero", "mean"], Tensor]
Imputation = Literal["baseline", "noisy_linear"]
CurveKind = Literal["deletion", "insertion"]


def deletion_curve(
    model: Any,
    inputs: Tensor,
    attributions: Any,
    target: Window,
    baseline: BaselineArg = "blur",
    steps: int = 20,
    sigma: float = 1.2,
    kernel_size: int = 9,
    *,
    imputation: Imputation = "baseline",
    noise: float = 0.01,
    detector: str = "difference",
    batch_size: Optional[int] = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The window objective as the map's top-ranked LR pixels are removed.

    Pixels are ranked by the map's absolute channel sum ``|sum_c attr[n, c]|``
    (ties in a random order fixed by ``seed``); at fraction ``f`` the top
    ``round(f * H * W)`` pixels (all channels) are replaced by the baseline, and
    the objective of ``target`` is evaluated. A faithful map makes the objective
    leave its value on the input fastest.

    Parameters
    ----------
    model : nn.Module or callable
        Maps (N, C, h, w) to (N, C', H', W'), e.g. an SR network, in eval mode.
    inputs : Tensor
        LR images, shape (N, C, H, W), floating point, finite.
    attributions : Tensor or ndarray
        The maps, shape (N, C', H, W) (any channel count) or (N, H, W).
    target : tuple, list or Tensor
        The output window ``(top, left, size)``, as for
        [`LAM.attribute`][captum_lam.LAM.attribute]: one for every example or
        (N, 3).
    baseline : {"blur", "zero", "mean"} or Tensor
        What a removed pixel becomes: ``"blur"`` (default) LAM's blurred image
        ``gaussian_blur2d(inputs, kernel_size, sigma)``, the start of its path;
        ``"zero"`` black; ``"mean"`` the image's mean colour; or a tensor that
        broadcasts to the inputs.
    steps : int
        Number of equal fraction steps, ``1 <= steps <= H * W``. Default 20.
    sigma, kernel_size : float, int
        The blur of ``baseline="blur"`` (LAM's defaults 1.2 and 9).
    imputation : {"baseline", "noisy_linear"}
        ``"baseline"`` (default) puts the baseline's pixels in the hole;
        ``"noisy_linear"`` is ROAD's noisy linear imputation (each removed pixel
        the mean of its neighbours, solved jointly, plus Gaussian noise of std
        ``noise``), because a blurred or black hole is itself out of
        distribution. With every pixel removed the baseline is used.
    noise : float
        Std of ROAD's noise, in the inputs' units (0.01 for images in [0, 1]).
    detector : {"difference", "sobel"}
        The objective's gradient detector, as LAM's.
    batch_size : int, optional
        Images per forward pass. Default ``2 * (steps + 1)``.
    seed : int
        Seeds the tie order and ROAD's noise.

    Returns
    -------
    fractions : ndarray
        Shape (steps + 1,), from 0 to 1, increasing: the share of pixels removed.
    values : ndarray
        Shape (N, steps + 1), float64: the objective per example, ``values[:, 0]``
        the input's and, with ``imputation="baseline"``, ``values[:, -1]`` the
        baseline's.

    Examples
    --------
    >>> model = torch.nn.Upsample(scale_factor=2, mode="bilinear")
    >>> x = torch.rand(1, 3, 16, 16)
    >>> attr = torch.rand(1, 3, 16, 16)
    >>> fractions, values = deletion_curve(model, x, attr, target=(8, 8, 8), steps=4)
    >>> fractions.tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> values.shape
    (1, 5)
    """
    options = (baseline, steps, sigma, kernel_size, imputation, noise, detector)
    return _one_curve(
        "deletion", model, inputs, attributions, target, seed, *options, batch_size
    )


def insertion_curve(
    model: Any,
    inputs: Tensor,
    attributions: Any,
    target: Window,
    baseline: BaselineArg = "blur",
    steps: int = 20,
    sigma: float = 1.2,
    kernel_size: int = 9,
    *,
    imputation: Imputation = "baseline",
    noise: float = 0.01,
    detector: str = "difference",
    batch_size: Optional[int] = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The window objective as the map's top-ranked pixels are put back.

    The reverse of [`deletion_curve`][captum_lam.faithfulness.deletion_curve]:
    from the baseline, the top ``round(f * H * W)`` pixels of the input are
    inserted (with ``imputation="noisy_linear"`` the pixels not yet inserted are
    imputed from those that are). A faithful map makes the objective reach the
    input's value fastest. Parameters as for ``deletion_curve``.

    Returns
    -------
    fractions : ndarray
        Shape (steps + 1,), from 0 to 1: the share of pixels inserted.
    values : ndarray
        Shape (N, steps + 1): ``values[:, 0]`` the baseline's objective,
        ``values[:, -1]`` the input's.

    Examples
    --------
    >>> model = torch.nn.Upsample(scale_factor=2, mode="bilinear")
    >>> x = torch.rand(1, 3, 16, 16)
    >>> fractions, values = insertion_curve(model, x, x, target=(8, 8, 8), steps=4)
    >>> values.shape
    (1, 5)
    """
    options = (baseline, steps, sigma, kernel_size, imputation, noise, detector)
    return _one_curve(
        "insertion", model, inputs, attributions, target, seed, *options, batch_size
    )


def _one_curve(
    kind: str,
    model: Any,
    inputs: Tensor,
    attributions: Any,
    target: Window,
    seed: int,
    *options: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """One curve of ``kind`` ("deletion" or "insertion"), ``options`` as
    `make_setup` takes them."""
    setup = make_setup(model, inputs, target, *options)
    fractions, (values,) = map_curves(setup, attributions, (kind,), seed)
    return fractions, values


def curve_area(fractions: Any, values: Any, kind: CurveKind) -> np.ndarray:
    """Area under a deletion or insertion curve, normalised by the objective's change.

    A deletion curve runs from the input's objective ``v_input = values[:, 0]``
    to the baseline's ``v_base = values[:, -1]``; its area is
    ``integral of |v - v_base| / |v_input - v_base|`` over the fractions
    (trapezoid rule). An insertion curve runs from ``v_base`` to ``v_input``; its
    area is ``1 - integral of |v - v_input| / |v_input - v_base|``. For a curve
    that stays between its ends these are the usual areas under the curve
    rescaled to 1 on the input and 0 on the baseline, so that windows whose
    objectives differ by orders of magnitude compare; a curve that overshoots
    (scattered holes are edges, and the objective counts edges) is charged for
    the distance, not credited. Windows where the blur barely changes the
    objective (flat ones) give large, noisy areas: judge those by the curves.

    Parameters
    ----------
    fractions : array_like
        Shape (S,), increasing, from 0 to 1.
    values : array_like
        Shape (N, S) or (S,).
    kind : {"deletion", "insertion"}
        Which curve ``values`` is: it says which end is the input.

    Returns
    -------
    ndarray
        Shape (N,) (a 0-d array for (S,) values). Deletion: lower is more
        faithful (0 when the first step removes all the change). Insertion:
        higher is more faithful (at most 1). A straight line gives 0.5. NaN
        where the objective does not change between its ends.

    Examples
    --------
    >>> f = np.linspace(0, 1, 5)
    >>> float(curve_area(f, 10 - 10 * f, "deletion"))
    0.5
    >>> float(curve_area(f, np.array([0.0, 8, 9, 10, 10]), "insertion"))
    0.8
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be 'deletion' or 'insertion', got {kind!r}")
    fractions = np.asarray(fractions, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if fractions.ndim != 1 or fractions.size < 2:
        raise ValueError(
            f"fractions must have shape (S,) with S >= 2, got {fractions.shape}"
        )
    if np.any(np.diff(fractions) < 0) or fractions[0] != 0 or fractions[-1] != 1:
        raise ValueError("fractions must increase from 0 to 1")
    if values.shape[-1] != fractions.size or values.ndim not in (1, 2):
        raise ValueError(
            f"values must have shape (N, {fractions.size}) or ({fractions.size},) "
            f"to match fractions, got {values.shape}"
        )
    start, end = values[..., :1], values[..., -1:]
    change = np.abs(start - end)
    # the distance from the end the curve heads for: an overshoot (a random
    # ranking's scattered holes are edges the objective counts) is not progress
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(change != 0, np.abs(values - end) / change, np.nan)
    area = np.trapezoid(scaled, fractions, axis=-1)
    return np.asarray(area if kind == "deletion" else 1.0 - area)


def random_curve(
    model: Any,
    inputs: Tensor,
    target: Window,
    kind: CurveKind = "deletion",
    seeds: int = 8,
    baseline: BaselineArg = "blur",
    steps: int = 20,
    sigma: float = 1.2,
    kernel_size: int = 9,
    *,
    imputation: Imputation = "baseline",
    noise: float = 0.01,
    detector: str = "difference",
    batch_size: Optional[int] = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A random ranking's deletion or insertion curve, mean over ``seeds`` rankings.

    The reference every map must beat: rankings drawn uniformly (seeds
    ``0 .. seeds - 1``), each curve as in
    [`deletion_curve`][captum_lam.faithfulness.deletion_curve], then averaged.

    Returns
    -------
    fractions : ndarray
        Shape (steps + 1,).
    values : ndarray
        Shape (N, steps + 1): the mean curve.

    Examples
    --------
    >>> model = torch.nn.Upsample(scale_factor=2, mode="bilinear")
    >>> x = torch.rand(1, 3, 16, 16)
    >>> fractions, values = random_curve(model, x, (8, 8, 8), seeds=2, steps=4)
    >>> values.shape
    (1, 5)
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be 'deletion' or 'insertion', got {kind!r}")
    check_int("seeds", seeds, 1)
    options = (
        baseline,
        steps,
        sigma,
        kernel_size,
        imputation,
        noise,
        detector,
        batch_size,
    )
    setup = make_setup(model, inputs, target, *options)
    return random_curve_values(setup, kind, int(seeds))


@dataclass(frozen=True)
class FaithfulnessReport:
    """Deletion and insertion curves of a map, with a random ranking's.

    Attributes
    ----------
    fractions : ndarray
        Shape (S,), 0 to 1.
    deletion, insertion : ndarray
        The map's curves, shape (N, S).
    random_deletion, random_insertion : ndarray
        The mean curves of random rankings, shape (N, S).
    deletion_area, insertion_area, random_deletion_area, random_insertion_area
        [`curve_area`][captum_lam.faithfulness.curve_area] of each, shape (N,).
        A map beats random where ``deletion_area < random_deletion_area`` and
        ``insertion_area > random_insertion_area``.
    """

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    random_deletion: np.ndarray
    random_insertion: np.ndarray

    @property
    def deletion_area(self) -> np.ndarray:
        return curve_area(self.fractions, self.deletion, "deletion")

    @property
    def insertion_area(self) -> np.ndarray:
        return curve_area(self.fractions, self.insertion, "insertion")

    @property
    def random_deletion_area(self) -> np.ndarray:
        return curve_area(self.fractions, self.random_deletion, "deletion")

    @property
    def random_insertion_area(self) -> np.ndarray:
        return curve_area(self.fractions, self.random_insertion, "insertion")

    def areas(self) -> list[dict[str, float]]:
        """Per example, the four areas and the objective on the input and on the
        baseline (the change the areas are normalised by), for tables and JSON."""
        columns = {
            "input_objective": self.deletion[:, 0],
            "baseline_objective": self.deletion[:, -1],
            "deletion_area": self.deletion_area,
            "insertion_area": self.insertion_area,
            "random_deletion_area": self.random_deletion_area,
            "random_insertion_area": self.random_insertion_area,
        }
        return [
            {key: float(value[i]) for key, value in columns.items()}
            for i in range(self.deletion.shape[0])
        ]


def faithfulness_report(
    model: Any,
    inputs: Tensor,
    attributions: Any,
    target: Window,
    baseline: BaselineArg = "blur",
    steps: int = 20,
    sigma: float = 1.2,
    kernel_size: int = 9,
    *,
    random_seeds: int = 8,
    imputation: Imputation = "baseline",
    noise: float = 0.01,
    detector: str = "difference",
    batch_size: Optional[int] = None,
    seed: int = 0,
) -> FaithfulnessReport:
    """Deletion and insertion curves of a map beside those of random rankings.

    Parameters as for [`deletion_curve`][captum_lam.faithfulness.deletion_curve];
    ``random_seeds`` random rankings are averaged for the reference.

    Returns
    -------
    FaithfulnessReport
        Curves of shape (N, steps + 1) and their areas, shape (N,).

    Examples
    --------
    >>> model = torch.nn.Upsample(scale_factor=2, mode="bilinear")
    >>> x = torch.rand(1, 3, 16, 16)
    >>> report = faithfulness_report(model, x, x, (8, 8, 8), steps=4, random_seeds=2)
    >>> sorted(report.areas()[0])[:4]
    ['baseline_objective', 'deletion_area', 'input_objective', 'insertion_area']
    """
    check_int("random_seeds", random_seeds, 1)
    options = (
        baseline,
        steps,
        sigma,
        kernel_size,
        imputation,
        noise,
        detector,
        batch_size,
    )
    setup = make_setup(model, inputs, target, *options)
    fractions, (deletion, insertion) = map_curves(setup, attributions, KINDS, seed)
    _, random_deletion = random_curve_values(setup, "deletion", int(random_seeds))
    _, random_insertion = random_curve_values(setup, "insertion", int(random_seeds))
    return FaithfulnessReport(
        fractions, deletion, insertion, random_deletion, random_insertion
    )


def window_infidelity(
    model: Any,
    inputs: Tensor,
    attributions: Any,
    target: Window,
    noise: float = 0.01,
    n_perturb_samples: int = 16,
    *,
    detector: str = "difference",
    normalize: bool = True,
    seed: int = 0,
) -> Tensor:
    """Captum's ``infidelity`` of a map on the window objective.

    ``E[(I . attr - (f(x) - f(x - I)))^2]`` over Gaussian perturbations ``I`` of
    std ``noise``, computed by ``captum.metrics.infidelity`` with
    ``WindowObjective(model)`` as the forward function and, with ``normalize``
    (default), the map rescaled by its best factor so that maps of different
    scales compare. Lower is more faithful.

    Parameters
    ----------
    model, inputs, target
        As for [`deletion_curve`][captum_lam.faithfulness.deletion_curve].
    attributions : Tensor
        Shape (N, C, H, W), the inputs' shape.
    noise : float
        Std of the perturbations, > 0.
    n_perturb_samples : int
        Perturbations per example.
    seed : int
        Seeds the perturbations (a private generator: the global random state is
        neither used nor changed).

    Returns
    -------
    Tensor
        Shape (N,).

    Examples
    --------
    >>> model = torch.nn.Upsample(scale_factor=2, mode="bilinear")
    >>> x = torch.rand(1, 3, 16, 16)
    >>> window_infidelity(model, x, torch.rand(1, 3, 16, 16), (8, 8, 8)).shape
    torch.Size([1])
    """
    from captum.metrics import infidelity

    check_image_batch(inputs)
    check_int("n_perturb_samples", n_perturb_samples, 1)
    check_int("seed", seed, 0)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or noise <= 0:
        raise ValueError(f"noise must be a number > 0, got {noise!r}")
    if not isinstance(attributions, Tensor) or attributions.shape != inputs.shape:
        got = (
            tuple(attributions.shape)
            if isinstance(attributions, Tensor)
            else type(attributions).__name__
        )
        raise ValueError(
            f"attributions must be a Tensor of the inputs' shape "
            f"{tuple(inputs.shape)}, got {got}"
        )
    objective = WindowObjective(model, detector=detector)
    windows = format_windows(target, inputs.shape[0], device=inputs.device)
    probe_model(model, inputs, (), windows)

    # a private generator: the caller's (and other threads') random state is untouched
    generator = torch.Generator(device=inputs.device).manual_seed(seed)

    def perturb(x: Tensor) -> tuple[Tensor, Tensor]:
        draw = torch.randn(x.shape, generator=generator, device=x.device)
        perturbation = noise * draw.to(x.dtype)
        return perturbation, x - perturbation

    with caller_state_kept(model):
        return infidelity(
            objective,
            perturb,
            inputs.detach(),
            attributions.detach().to(inputs.dtype),
            additional_forward_args=(windows,),
            n_perturb_samples=int(n_perturb_samples),
            normalize=normalize,
        )

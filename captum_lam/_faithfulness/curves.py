"""The curves behind `captum_lam.faithfulness`: checked setup, rankings, the objective
along a deletion or insertion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

from .._method.checks import check_image_batch, check_int
from .._method.model_state import caller_state_kept
from ..objective import Window, WindowObjective, format_windows, probe_model
from ..paths import ProgressiveBlurPath
from .imputation import noisy_linear_impute

BASELINES = ("blur", "zero", "mean")
IMPUTATIONS = ("baseline", "noisy_linear")
KINDS = ("deletion", "insertion")


@dataclass(frozen=True)
class Setup:
    """The checked arguments shared by every curve of one call."""

    objective: WindowObjective
    inputs: Tensor
    windows: Tensor
    baseline: Tensor
    steps: int
    imputation: str
    noise: float
    batch_size: int


def make_setup(
    model: Any,
    inputs: Tensor,
    target: Window,
    baseline: Any,
    steps: int,
    sigma: float,
    kernel_size: int,
    imputation: str,
    noise: float,
    detector: str,
    batch_size: Optional[int],
) -> Setup:
    check_image_batch(inputs)
    height, width = inputs.shape[-2:]
    check_int("steps", steps, 1)
    if steps > height * width:
        raise ValueError(
            f"steps must be at most the number of pixels, {height * width}, got {steps}"
        )
    check_int("batch_size", batch_size, 1, allow_none=True)
    if imputation not in IMPUTATIONS:
        raise ValueError(
            f"imputation must be one of {', '.join(map(repr, IMPUTATIONS))}, "
            f"got {imputation!r}"
        )
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or noise < 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    objective = WindowObjective(model, detector=detector)  # checks model, detector
    windows = format_windows(target, inputs.shape[0], device=inputs.device)
    if isinstance(baseline, Tensor):
        try:
            base = torch.broadcast_to(baseline, inputs.shape)
        except RuntimeError:
            raise ValueError(
                f"baseline tensor of shape {tuple(baseline.shape)} does not broadcast "
                f"to the inputs' shape {tuple(inputs.shape)}"
            ) from None
        base = base.to(inputs.device, inputs.dtype)
    elif isinstance(baseline, str) and baseline in BASELINES:
        if baseline == "blur":
            base = ProgressiveBlurPath(sigma, kernel_size).baseline(inputs)
        elif baseline == "zero":
            base = torch.zeros_like(inputs)
        else:
            base = inputs.mean(dim=(-2, -1), keepdim=True).expand_as(inputs)
    else:
        raise ValueError(
            f"baseline must be one of {', '.join(map(repr, BASELINES))} or a tensor "
            f"that broadcasts to the inputs, got {baseline!r}"
        )
    probe_model(model, inputs, (), windows)
    return Setup(
        objective,
        inputs.detach(),
        windows,
        base.detach(),
        int(steps),
        imputation,
        float(noise),
        int(batch_size) if batch_size is not None else max(1, 2 * (int(steps) + 1)),
    )


def map_scores(attributions: Any, inputs: Tensor) -> Tensor:
    """|channel sum| of the map, (N, H, W), checked against the inputs."""
    if isinstance(attributions, tuple) and len(attributions) == 1:
        attributions = attributions[0]  # Captum's 1-tuples
    if isinstance(attributions, np.ndarray):
        attributions = torch.from_numpy(attributions)
    if not isinstance(attributions, Tensor):
        raise TypeError(
            "attributions must be a Tensor or ndarray of shape (N, C, H, W) or "
            f"(N, H, W), got {type(attributions).__name__}"
        )
    n, _, height, width = inputs.shape
    if attributions.ndim == 3:
        attributions = attributions.unsqueeze(1)
    if attributions.ndim != 4 or (
        attributions.shape[0],
        *attributions.shape[-2:],
    ) != (n, height, width):
        raise ValueError(
            f"attributions must have shape (N, C, H, W) or (N, H, W) with N, H, W = "
            f"{n}, {height}, {width} (the inputs'), got {tuple(attributions.shape)}"
        )
    scores = attributions.detach().to("cpu", torch.float64).sum(dim=1).abs()
    if not torch.isfinite(scores).all():
        raise ValueError("attributions contain NaN or Inf values")
    return scores


def ranking(scores: Tensor, generator: torch.Generator) -> Tensor:
    """Pixel indices (N, P), highest score first, ties in a seeded random order."""
    flat = scores.reshape(scores.shape[0], -1)
    order = []
    for row in flat:
        shuffle = torch.randperm(row.numel(), generator=generator)
        ranked = torch.argsort(-row[shuffle], stable=True)
        order.append(shuffle[ranked])
    return torch.stack(order)


def fractions(steps: int, pixels: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.rint(np.linspace(0, pixels, steps + 1)).astype(np.int64)
    return counts, counts / pixels


def curve(setup: Setup, kind: str, order: Tensor, seed: int) -> np.ndarray:
    """The objective (N, steps + 1) along one deletion or insertion curve."""
    inputs, baseline = setup.inputs, setup.baseline
    n, _, height, width = inputs.shape
    counts, _ = fractions(setup.steps, height * width)
    generator = torch.Generator().manual_seed(seed)
    points = []
    windows = []
    for i in range(n):
        for count in counts:
            first = torch.zeros(height * width, dtype=torch.bool)
            first[order[i, :count]] = True
            first = first.reshape(height, width)
            # deletion replaces the first pixels; insertion keeps only them
            replaced = first if kind == "deletion" else ~first
            if setup.imputation == "noisy_linear" and not replaced.all():
                filled = noisy_linear_impute(
                    inputs[i], replaced, setup.noise, generator
                )
            else:
                filled = baseline[i]
            mask = replaced.to(inputs.device)
            points.append(torch.where(mask, filled, inputs[i]))
            windows.append(setup.windows[i])
    values = []
    with torch.no_grad():
        for start in range(0, len(points), setup.batch_size):
            chunk = slice(start, start + setup.batch_size)
            batch = torch.stack(points[chunk])
            values.append(setup.objective(batch, torch.stack(windows[chunk])))
    return torch.cat(values).reshape(n, -1).to("cpu", torch.float64).numpy()


def random_curve_values(
    setup: Setup, kind: str, seeds: int
) -> tuple[np.ndarray, np.ndarray]:
    n, _, height, width = setup.inputs.shape
    curves = []
    with caller_state_kept(setup.objective.model):
        for seed in range(seeds):
            generator = torch.Generator().manual_seed(10_000 + seed)
            order = torch.stack(
                [torch.randperm(height * width, generator=generator) for _ in range(n)]
            )
            curves.append(curve(setup, kind, order, 10_000 + seed))
    return fractions(setup.steps, height * width)[1], np.mean(curves, axis=0)


def map_curves(
    setup: Setup, attributions: Any, kinds: tuple[str, ...], seed: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The fractions and one curve per kind for the ranking of ``attributions``."""
    check_int("seed", seed, 0)
    scores = map_scores(attributions, setup.inputs)
    with caller_state_kept(setup.objective.model):
        order = ranking(scores, torch.Generator().manual_seed(seed))
        curves = [curve(setup, kind, order, seed) for kind in kinds]
    return fractions(setup.steps, scores[0].numel())[1], curves

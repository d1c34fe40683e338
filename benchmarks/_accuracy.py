"""Shared by the accuracy benchmarks: a held-out case, a converged map, map errors.

The map error is ``max|map - converged| / max|converged|`` (the issue's measure).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Optional

import torch

from captum_lam import LAM, zoo
from captum_lam.images import bicubic_downsample, sample_image
from captum_lam.paths import _largest_kernel_rates
from captum_lam.windows import textured_windows

#: Midpoint segments of the converged map: 27 times a 162-step stop of round
#: one's levels, 17 times a 257-step stop of the trapezoid levels. Every rule
#: is first order on LAM's integrand (its jumps), so its error is about that
#: many times smaller than the stop's.
CONVERGED_STEPS = 4374


def case(name: str, side: int = 64, photo: str = "chelsea"):
    """Model, a centre ``side`` x ``side`` LR crop of a held-out photo, its most
    textured 16x16 output window."""
    model = zoo.load(name)
    scale = model.lam_info.scale
    hr = sample_image(photo)
    h, w = hr.shape[-2:]
    top, left = (h - side * scale) // 2, (w - side * scale) // 2
    hr = hr[..., top : top + side * scale, left : left + side * scale]
    lr = bicubic_downsample(hr, scale).contiguous()
    window = textured_windows(hr, size=16, count=1)[0]
    return model, lr, window


def converged(lam: LAM, lr, window, steps: int = CONVERGED_STEPS):
    """The map with many midpoint segment steps (``riemann_middle``, not the
    nested rule of ``n_steps="auto"``; reach-cut: exact, and faster)."""
    return lam.attribute(
        lr, target=window, n_steps=steps, method="riemann_middle", reach="auto"
    )


def round_three_density(self, alphas):
    """Round three's ``ProgressiveBlurPath.node_density`` (issue 30), for the
    benchmarks that compare with it: ``(kernel speed / max)^(1/3) + 0.1``."""
    speed = self._kernel_rates(alphas)[:, 0]
    largest = _largest_kernel_rates(self.sigma, self.kernel_size)[0]
    return (speed / largest) ** (1 / 3) + 0.1


def map_error(attr, reference) -> float:
    return float((attr - reference).abs().max() / reference.abs().max())


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = run()
    return out, time.perf_counter() - start


def first_order_steps(error_at: float, steps_at: int, target: float) -> int:
    """Steps a first-order rule needs for ``target``, from its error at ``steps_at``."""
    return max(1, math.ceil(steps_at * error_at / target))


def record_or_replay(doc: str, configure: Optional[Callable[[Any], None]] = None):
    """The command line of a benchmark that records to a folder, then replays:
    ``folder``, ``--record``, ``--part K/N`` (parsed to ``part, parts``), and
    what ``configure(parser)`` adds."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--part", default="0/1", help="K/N: every N-th window from K")
    if configure is not None:
        configure(parser)
    args = parser.parse_args()
    args.part, args.parts = map(int, args.part.split("/"))
    return args


def seconds_per_run(run: Callable[[], Any], rounds: int = 1) -> float:
    return min(timed(run)[1] for _ in range(rounds))


__all__ = [
    "case",
    "converged",
    "map_error",
    "round_three_density",
    "timed",
    "first_order_steps",
    "record_or_replay",
    "seconds_per_run",
    "torch",
]

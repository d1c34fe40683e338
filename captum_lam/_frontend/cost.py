"""What a LAM run will cost, measured on a small piece of its input before it starts.

A LAM of an H x W input is one forward and one backward pass of the whole input
per path step, and its memory is what autograd keeps for one pass of the path
points batched together. Both grow with the pixels: `estimate_cost` runs one
forward and backward pass on a small crop of the input, records the time and the
bytes autograd saves, and scales them by the pixels and the steps. It is an
estimate (caches, threads and the network's own scaling differ), good to a
factor of a few: enough to say "minutes and gigabytes" before starting.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._method.engine import CPU_PIXELS_PER_PASS

#: Side of the crop the probe runs on (input pixels).
PROBE_SIDE = 32
#: Past either, the command line refuses to start without ``--force``.
MAX_SECONDS = 10 * 60.0
MAX_BYTES = 8 * 1024**3
#: Past either, it says what the run will cost before it starts.
TELL_SECONDS = 60.0
TELL_BYTES = 1024**3


@dataclass(frozen=True)
class Cost:
    """Estimated wall time (s) and memory (bytes) of a LAM run."""

    seconds: float
    bytes: float

    def text(self) -> str:
        """``about 16 min and 5.2 GB``."""
        if self.seconds >= 3600:
            duration = f"{self.seconds / 3600:.1f} h"
        elif self.seconds >= 60:
            duration = f"{self.seconds / 60:.0f} min"
        else:
            duration = f"{self.seconds:.0f} s"
        return f"about {duration} and {self.bytes / 1e9:.1f} GB"

    @property
    def too_large(self) -> bool:
        return self.seconds > MAX_SECONDS or self.bytes > MAX_BYTES

    @property
    def worth_telling(self) -> bool:
        return self.seconds > TELL_SECONDS or self.bytes > TELL_BYTES


def estimate_cost(model: Any, inputs: Tensor, n_steps: int) -> Cost:
    """The time and memory of ``n_steps`` path steps of LAM on ``inputs``.

    Parameters
    ----------
    model : callable
        The network, (1, C, h, w) -> (1, C', h', w').
    inputs : Tensor
        (1, C, H, W), the input LAM will explain.
    n_steps : int
        Gradient evaluations along the path.

    Examples
    --------
    >>> net = torch.nn.Conv2d(3, 3, 3, padding=1)
    >>> cost = estimate_cost(net, torch.rand(1, 3, 64, 64), 50)
    >>> cost.too_large, cost.bytes > 0
    (False, True)
    """
    side_h = min(PROBE_SIDE, int(inputs.shape[-2]))
    side_w = min(PROBE_SIDE, int(inputs.shape[-1]))
    probe = inputs[..., :side_h, :side_w].detach().clone().requires_grad_(True)
    saved = [0]

    def pack(tensor: Tensor) -> Tensor:
        saved[0] += tensor.element_size() * tensor.nelement()
        return tensor

    seconds = math.inf
    for _ in range(2):  # the first pass also pays for warming up
        saved[0] = 0
        started = time.perf_counter()
        with (
            torch.enable_grad(),
            torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        ):
            output = model(probe)
            torch.autograd.grad(output.abs().sum(), probe)
        seconds = min(seconds, time.perf_counter() - started)
        del output
    ratio = (inputs.shape[-2] * inputs.shape[-1]) / (side_h * side_w)
    pixels = int(inputs.shape[-2]) * int(inputs.shape[-1])
    points = max(1, min(n_steps, math.ceil(CPU_PIXELS_PER_PASS / max(pixels, 1))))
    return Cost(seconds * ratio * n_steps, saved[0] * ratio * points)

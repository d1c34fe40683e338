"""Train a zoo network on the photos bundled with scikit-image and matplotlib.

Usage::

    python -m captum_lam.zoo.train NAME [--steps N] [--seed S] [--out DIR]
        [--images A,B,...] [--threads T]

The degradation is [`bicubic_downsample`][captum_lam.images.bicubic_downsample] x4 of
whole photos; training pairs are aligned random crops (96x96 HR, 24x24 LR; nearly
flat crops are re-drawn) with flips and 90-degree rotations, an L1 loss and
Adam with linear warm-up and cosine decay. Training is seeded and
reproducible: the same name, steps, seed and thread count give bitwise
identical weights. The held-out evaluation photos
(``captum_lam.images.HELD_OUT_IMAGES``) are refused.

Writes ``DIR/NAME.safetensors`` (float32 weights) and ``DIR/NAME.json``
(training metadata).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_lam.images import HELD_OUT_IMAGES, bicubic_downsample, sample_image
from captum_lam.zoo._architectures import ARCHITECTURES, SCALE, build

__all__ = ["TRAIN_IMAGES", "DEFAULT_STEPS", "LEARNING_RATES", "train", "main"]

#: Photos the zoo is trained on. RGB photos and natural grayscale photos
#: (repeated to three channels); the binary ``horse`` silhouette and the
#: synthetic ``logo`` and ``colorwheel`` graphics are left out, and so are the
#: held-out evaluation photos.
TRAIN_IMAGES: tuple[str, ...] = (
    "rocket",
    "grace_hopper",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "camera",
    "brick",
    "grass",
    "gravel",
    "coins",
    "clock",
    "moon",
    "page",
    "text",
)

#: Default number of optimiser steps.
DEFAULT_STEPS = 2000

#: Peak learning rate of each model (the plain CNNs take a higher one).
LEARNING_RATES: dict[str, float] = {
    "plain-d4": 1e-3,
    "plain-d8": 1e-3,
    "plain-d12": 1e-3,
    "plain-d20": 1e-3,
    "edsr-small": 5e-4,
    "rcan-small": 5e-4,
    "swinir-small": 5e-4,
}

_DEFAULT_OUT = Path(__file__).resolve().parent / "weights"


def _check_images(images: Sequence[str]) -> tuple[str, ...]:
    images = tuple(images)
    if not images:
        raise ValueError("images: at least one training image is needed")
    refused = sorted(set(images) & set(HELD_OUT_IMAGES))
    if refused:
        raise ValueError(
            f"images: {', '.join(refused)} held out for evaluation and never "
            f"used for training (held out: {', '.join(HELD_OUT_IMAGES)})"
        )
    return images


def _load_pairs(images: Sequence[str]) -> list[tuple[Tensor, Tensor]]:
    """(HR, LR) pairs of whole photos, HR cropped to a multiple of the scale."""
    pairs = []
    for name in images:
        hr = sample_image(name)
        hr = hr[
            ...,
            : hr.shape[-2] - hr.shape[-2] % SCALE,
            : hr.shape[-1] - hr.shape[-1] % SCALE,
        ]
        pairs.append((hr, bicubic_downsample(hr, SCALE)))
    return pairs


def _sample_batch(
    pairs: Sequence[tuple[Tensor, Tensor]],
    batch_size: int,
    lr_size: int,
    generator: torch.Generator,
    min_std: float = 0.02,
    tries: int = 10,
) -> tuple[Tensor, Tensor]:
    """Aligned random crops with flips and rot90; flat crops are re-drawn."""
    lr_batch, hr_batch = [], []
    hr_size = lr_size * SCALE
    for _ in range(batch_size):
        for _ in range(tries):
            index = int(torch.randint(len(pairs), (1,), generator=generator))
            hr, lr = pairs[index]
            top = int(
                torch.randint(lr.shape[-2] - lr_size + 1, (1,), generator=generator)
            )
            left = int(
                torch.randint(lr.shape[-1] - lr_size + 1, (1,), generator=generator)
            )
            lr_crop = lr[0, :, top : top + lr_size, left : left + lr_size]
            if float(lr_crop.std()) >= min_std:
                break
        hr_crop = hr[
            0,
            :,
            SCALE * top : SCALE * top + hr_size,
            SCALE * left : SCALE * left + hr_size,
        ]
        flips = torch.randint(2, (3,), generator=generator).tolist()
        if flips[0]:
            lr_crop, hr_crop = lr_crop.flip(-1), hr_crop.flip(-1)
        if flips[1]:
            lr_crop, hr_crop = lr_crop.flip(-2), hr_crop.flip(-2)
        if flips[2]:
            lr_crop, hr_crop = lr_crop.transpose(-2, -1), hr_crop.transpose(-2, -1)
        lr_batch.append(lr_crop)
        hr_batch.append(hr_crop)
    return torch.stack(lr_batch), torch.stack(hr_batch)


def _learning_rate(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(steps - warmup, 1)
    return peak * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def train(
    name: str,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    *,
    images: Sequence[str] = TRAIN_IMAGES,
    batch_size: int = 16,
    lr_size: int = 24,
    learning_rate: Optional[float] = None,
    warmup: Optional[int] = None,
    out: Union[str, Path, None] = None,
    log_every: int = 0,
    history: Optional[list[float]] = None,
    model: Optional[nn.Module] = None,
) -> nn.Module:
    """Train zoo network ``name`` and return it (in eval mode, float32).

    Parameters
    ----------
    name : str
        Zoo architecture (a key of ``captum_lam.zoo._architectures.ARCHITECTURES``).
    steps : int
        Optimiser steps.
    seed : int
        Seeds the initialisation and the crop sampling.
    images : sequence of str
        Training photos (names for ``captum_lam.images.sample_image``); the
        held-out evaluation photos raise ``ValueError``.
    batch_size, lr_size : int
        Crops per step and LR crop side (the HR crop is 4x larger).
    learning_rate : float, optional
        Peak learning rate; default from ``LEARNING_RATES``.
    warmup : int, optional
        Linear warm-up steps; default ``min(100, steps // 10)``, at least 1.
    out : str or Path, optional
        Folder for ``NAME.safetensors`` and ``NAME.json``; nothing is written
        when None.
    log_every : int
        Print the mean loss every so many steps (0: silent).
    history : list of float, optional
        If given, the loss of every step is appended to it.
    model : nn.Module, optional
        Start from this network (trained in place, e.g. to fine-tune) instead
        of a freshly initialised ``name``.

    Returns
    -------
    nn.Module
        The trained network, in eval mode.
    """
    if name not in ARCHITECTURES:
        raise ValueError(
            f"unknown zoo architecture {name!r}; valid names: "
            f"{', '.join(ARCHITECTURES)}"
        )
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    images = _check_images(images)
    peak = LEARNING_RATES.get(name, 5e-4) if learning_rate is None else learning_rate
    warmup = min(100, max(steps // 10, 1)) if warmup is None else warmup

    start = time.perf_counter()
    pairs = _load_pairs(images)
    torch.manual_seed(seed)
    model = (build(name) if model is None else model).float().train()
    model.requires_grad_(True)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=peak)
    losses: list[float] = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, steps, peak, warmup)
        lr_batch, hr_batch = _sample_batch(pairs, batch_size, lr_size, generator)
        loss = F.l1_loss(model(lr_batch), hr_batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if log_every and ((step + 1) % log_every == 0 or step + 1 == steps):
            recent = losses[-log_every:]
            elapsed = time.perf_counter() - start
            print(
                f"{name} step {step + 1}/{steps} loss {sum(recent) / len(recent):.5f} "
                f"({elapsed:.0f} s)",
                flush=True,
            )
    elapsed = time.perf_counter() - start
    if history is not None:
        history.extend(losses)
    model.eval()

    if out is not None:
        every = min(100, steps)
        ends = list(range(every, steps + 1, every))
        if ends[-1] != steps:
            ends.append(steps)
        curve = {
            str(end): round(sum(losses[end - every : end]) / every, 5) for end in ends
        }
        metadata: dict[str, Any] = {
            "name": name,
            "steps": steps,
            "seed": seed,
            "images": list(images),
            "batch_size": batch_size,
            "lr_crop": lr_size,
            "hr_crop": lr_size * SCALE,
            "scale": SCALE,
            "degradation": "captum_lam.images.bicubic_downsample x4",
            "loss": "L1",
            "optimizer": "Adam",
            "learning_rate": peak,
            "schedule": f"linear warm-up {warmup} steps, cosine decay to 1% of peak",
            "initial_loss": curve[str(every)],
            "final_loss": curve[str(steps)],
            "loss_curve": curve,
            "parameters": sum(p.numel() for p in model.parameters()),
            "time_s": round(elapsed, 1),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
        }
        save(model, name, out, metadata)
    return model


def save(
    model: nn.Module, name: str, out: Union[str, Path], metadata: dict[str, Any]
) -> Path:
    """Write ``out/NAME.safetensors`` and ``out/NAME.json``; return the weights path."""
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    path = out / f"{name}.safetensors"
    save_file(
        state, str(path), metadata={"name": name, "steps": str(metadata["steps"])}
    )
    (out / f"{name}.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return path


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Command line entry point (``python -m captum_lam.zoo.train``)."""
    parser = argparse.ArgumentParser(
        prog="python -m captum_lam.zoo.train", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("name", choices=sorted(ARCHITECTURES))
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(_DEFAULT_OUT))
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1)"
    )
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument(
        "--images",
        default=",".join(TRAIN_IMAGES),
        help="comma-separated training photos (default: all of TRAIN_IMAGES)",
    )
    args = parser.parse_args(argv)
    images = tuple(i.strip() for i in args.images.split(",") if i.strip())
    try:
        _check_images(images)
    except ValueError as error:
        parser.error(str(error))
    torch.set_num_threads(args.threads)
    train(
        args.name,
        args.steps,
        args.seed,
        images=images,
        out=args.out,
        log_every=args.log_every,
    )
    print(f"wrote {Path(args.out) / (args.name + '.safetensors')}")


if __name__ == "__main__":
    main()

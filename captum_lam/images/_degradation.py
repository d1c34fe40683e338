"""The degradation a model undoes, and the baseline its output is compared with.

Super-resolution (scale > 1): the HR image is bicubic-downsampled and the output is
compared with the bicubic upsampling of that input. Restoration at scale 1 (the
waifu2x CUNet denoisers): the clean image is JPEG-compressed at the quality that
matches the model's noise level, and the output is compared with the degraded input
itself. The command line calls `degrade` and `baseline`; `task` names what the model
does in the figure and the JSON.
"""

from __future__ import annotations

import io
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from captum_lam.images import bicubic_downsample, bicubic_upsample, psnr_y
from captum_lam.models._pretrained_families import DENOISER_JPEG_QUALITY

__all__ = [
    "DEFAULT_JPEG_QUALITY",
    "DENOISING_AUTO_REGION",
    "baseline",
    "degrade",
    "describe",
    "jpeg",
    "jpeg_quality",
    "psnr_line",
    "psnr_summary",
    "task",
    "task_summary",
]

#: JPEG quality for a scale-1 model without a registered noise level.
DEFAULT_JPEG_QUALITY = 50
#: ``--region auto`` region side for a scale-1 model: as many input pixels as the
#: default x4 case (256 px HR = 64x64 LR), so that explaining a denoiser costs the same.
DENOISING_AUTO_REGION = 64


def task(scale: int) -> str:
    """``"denoising"`` for scale 1, else ``"super-resolution"``."""
    return "denoising" if scale == 1 else "super-resolution"


def jpeg_quality(model_name: Optional[str]) -> int:
    """The JPEG quality that matches a registered denoiser's noise level."""
    return DENOISER_JPEG_QUALITY.get(model_name or "", DEFAULT_JPEG_QUALITY)


def jpeg(image: Tensor, quality: int) -> Tensor:
    """JPEG-compress RGB ``image`` (N, 3, H, W) in [0, 1] at ``quality`` (1-95).

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(1, 3, 16, 16)
    >>> y = jpeg(x, 50)
    >>> y.shape, bool((y - x).abs().max() > 0)
    (torch.Size([1, 3, 16, 16]), True)
    """
    from PIL import Image

    if not 1 <= quality <= 95:
        raise ValueError(f"quality must be in 1..95, got {quality}")
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be RGB (N, 3, H, W), got {tuple(image.shape)}")
    out = []
    for one in image.detach().cpu():
        pixels = (one.clamp(0, 1) * 255).round().to(torch.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels.permute(1, 2, 0).numpy()).save(
            buffer, format="JPEG", quality=quality
        )
        buffer.seek(0)
        decoded = np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32)
        out.append(torch.from_numpy(decoded / 255.0).permute(2, 0, 1))
    return torch.stack(out).to(device=image.device, dtype=image.dtype)


def degrade(hr: Tensor, scale: int, model_name: Optional[str] = None) -> Tensor:
    """The model's input for the clean image ``hr``: bicubic-downsampled by
    ``scale``, or JPEG-compressed at scale 1 (quality from the model's noise level).
    """
    if scale == 1:
        return jpeg(hr, jpeg_quality(model_name))
    return bicubic_downsample(hr, scale)


def baseline(lr: Tensor, scale: int) -> Tensor:
    """What the output is compared with: bicubic upsampling, or the degraded input
    itself at scale 1."""
    return lr if scale == 1 else bicubic_upsample(lr, scale)


def describe(scale: int, model_name: Optional[str] = None) -> str:
    """One line: the degradation `degrade` applies."""
    if scale == 1:
        return f"JPEG quality {jpeg_quality(model_name)}"
    return f"bicubic x{scale}"


def task_summary(
    scale: int, model_name: Optional[str], lr_given: bool
) -> dict[str, str]:
    """The ``task`` and ``degradation`` entries of the command line's JSON."""
    return {
        "task": task(scale),
        "degradation": "none (input given)"
        if lr_given
        else describe(scale, model_name),
    }


def psnr_summary(sr: Tensor, lr: Tensor, hr: Tensor, scale: int) -> dict[str, float]:
    """Y-PSNR of the output and of the baseline (``bicubic_psnr_y_db`` for
    super-resolution, ``degraded_psnr_y_db`` for denoising), in dB."""
    key = "degraded_psnr_y_db" if scale == 1 else "bicubic_psnr_y_db"
    return {
        "psnr_y_db": psnr_y(sr.cpu(), hr.cpu(), shave=scale),
        key: psnr_y(baseline(lr, scale).cpu(), hr.cpu(), shave=scale),
    }


def psnr_line(summary: dict) -> str:
    """One line for the terminal from a summary with `psnr_summary`'s entries."""
    if "degraded_psnr_y_db" in summary:
        return (
            f"denoised PSNR (Y): {summary['psnr_y_db']:.2f} dB "
            f"(degraded input {summary['degraded_psnr_y_db']:.2f} dB)"
        )
    return (
        f"SR PSNR (Y): {summary['psnr_y_db']:.2f} dB "
        f"(bicubic {summary['bicubic_psnr_y_db']:.2f} dB)"
    )

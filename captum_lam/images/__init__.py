"""Images: reading them, the bundled photos, bicubic resizing and Y-channel quality.

Everything here works on float tensors in [0, 1], shape (N, C, H, W), RGB order.
The command line, the zoo and the studies share these helpers.

>>> from captum_lam.images import bicubic_downsample, sample_image
>>> lr = bicubic_downsample(sample_image("astronaut"), 4)
>>> tuple(lr.shape)
(1, 3, 128, 128)
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

#: scikit-image sample photos that are kept for evaluation: never train on them.
#: ``cat`` is the same photo as ``chelsea``.
HELD_OUT_IMAGES = ("astronaut", "coffee", "chelsea", "cat")
#: The photos ``sample:NAME`` may name: scikit-image's bundled ones (shipped with
#: it, nothing is downloaded) and matplotlib's ``grace_hopper``. Any other
#: ``skimage.data`` function is refused (some download data sets, some return
#: many images).
SAMPLE_IMAGES = (
    "astronaut",
    "brick",
    "camera",
    "cat",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grace_hopper",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "microaneurysms",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)

__all__ = [
    "HELD_OUT_IMAGES",
    "bicubic_downsample",
    "bicubic_upsample",
    "crop_to_multiple",
    "psnr_y",
    "read_image",
    "read_image_spec",
    "rgb_to_y",
    "sample_image",
    "ssim_y",
    "to_tensor",
]


def sample_image(name: str) -> Tensor:
    """A bundled sample photo as a (1, 3, H, W) float32 tensor in [0, 1].

    ``name`` is one of `SAMPLE_IMAGES`: a photo bundled with scikit-image
    (``astronaut``, ``coffee``, ``chelsea``, ``rocket``, ...) or ``grace_hopper``
    (matplotlib's sample photo); nothing is downloaded. Grayscale samples are
    repeated to three channels.

    Examples
    --------
    >>> sample_image("astronaut").shape
    torch.Size([1, 3, 512, 512])
    """
    if not isinstance(name, str) or name not in SAMPLE_IMAGES:
        raise ValueError(
            f"unknown sample image {name!r}; the samples are {', '.join(SAMPLE_IMAGES)}"
        )
    if name == "grace_hopper":
        import matplotlib.cbook
        import matplotlib.image

        path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        array = matplotlib.image.imread(path)
    else:
        import skimage.data

        array = getattr(skimage.data, name)()
    return to_tensor(array)


def to_tensor(array: np.ndarray) -> Tensor:
    """(H, W) or (H, W, C) image array (uint8 or float in [0, 1]) -> (1, 3, H, W)."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    elif array.dtype == np.uint16:
        array = array.astype(np.float32) / 65535.0
    else:
        array = array.astype(np.float32)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    array = array[:, :, :3]
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]


def read_image_spec(spec: str) -> Tensor:
    """``sample:NAME`` (a bundled photo) or a PNG/JPEG path -> (1, 3, H, W)."""
    if spec.startswith("sample:"):
        return sample_image(spec.split(":", 1)[1])
    return read_image(spec)


def read_image(path: Union[str, Path]) -> Tensor:
    """Read a PNG or JPEG file as a (1, 3, H, W) float32 tensor in [0, 1].

    Grayscale files are repeated to three channels; an alpha channel is dropped.
    """
    import matplotlib.image

    return to_tensor(matplotlib.image.imread(str(path)))


def crop_to_multiple(image: Tensor, scale: int) -> Tensor:
    """Crop the bottom and right edges so that H and W are multiples of ``scale``."""
    h, w = image.shape[-2:]
    return image[..., : h - h % scale, : w - w % scale]


def bicubic_downsample(hr: Tensor, scale: int) -> Tensor:
    """Antialiased bicubic downsampling by an integer ``scale`` (the SR degradation).

    The HR image is first cropped to a multiple of ``scale``; the result is clamped
    to [0, 1]. Matches MATLAB's ``imresize`` closely (antialiased bicubic).

    Examples
    --------
    >>> bicubic_downsample(torch.rand(1, 3, 66, 64), 4).shape
    torch.Size([1, 3, 16, 16])
    """
    hr = crop_to_multiple(hr, scale)
    if scale == 1:
        return hr.clone()
    h, w = hr.shape[-2:]
    lr = F.interpolate(
        hr, size=(h // scale, w // scale), mode="bicubic", antialias=True
    )
    return lr.clamp(0.0, 1.0)


def bicubic_upsample(lr: Tensor, scale: int) -> Tensor:
    """Bicubic upsampling by ``scale`` (the baseline every SR network must beat)."""
    if scale == 1:
        return lr.clone()
    h, w = lr.shape[-2:]
    out = F.interpolate(lr, size=(h * scale, w * scale), mode="bicubic")
    return out.clamp(0.0, 1.0)


def rgb_to_y(image: Tensor) -> Tensor:
    """ITU-R BT.601 luma (the SR literature's Y channel), (N, 3, H, W) -> (N, 1, H, W).

    Values in [16/255, 235/255] for inputs in [0, 1], as MATLAB's ``rgb2ycbcr``.
    """
    weights = image.new_tensor([65.481, 128.553, 24.966]).view(1, 3, 1, 1)
    return (16.0 + (image * weights).sum(dim=1, keepdim=True)) / 255.0


def psnr_y(sr: Tensor, hr: Tensor, shave: int = 4) -> float:
    """PSNR in dB on the Y channel, ``shave`` pixels removed at each border.

    ``sr`` and ``hr`` are (1, 3, H, W) in [0, 1]; ``sr`` is clamped and
    quantised to 8 bits first, as SR papers do.

    Examples
    --------
    >>> hr = sample_image("astronaut")[..., :64, :64]
    >>> round(psnr_y(hr, hr), 1) > 40
    True
    """
    sr_y, hr_y = _y_pair(sr, hr, shave)
    mse = float(((sr_y - hr_y) ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * float(np.log10(1.0 / mse))


def ssim_y(sr: Tensor, hr: Tensor, shave: int = 4) -> float:
    """SSIM on the Y channel (Gaussian window, sigma 1.5), as SR papers report it."""
    from skimage.metrics import structural_similarity

    sr_y, hr_y = _y_pair(sr, hr, shave)
    return float(
        structural_similarity(
            sr_y.numpy(),
            hr_y.numpy(),
            data_range=1.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )


def _y_pair(sr: Tensor, hr: Tensor, shave: int) -> tuple[Tensor, Tensor]:
    if sr.shape != hr.shape:
        raise ValueError(
            f"sr and hr must have the same shape, got {tuple(sr.shape)} and "
            f"{tuple(hr.shape)}"
        )
    sr = (sr.detach().double().clamp(0, 1) * 255).round() / 255
    hr = hr.detach().double()
    sr_y, hr_y = rgb_to_y(sr)[0, 0], rgb_to_y(hr)[0, 0]
    if shave:
        sr_y, hr_y = sr_y[shave:-shave, shave:-shave], hr_y[shave:-shave, shave:-shave]
    return sr_y, hr_y

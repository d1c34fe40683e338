"""From a page's request to a LAM result: checking it, computing it.

The numbers are ``captum-lam explain``'s for the same window and settings: the
same LR input (the image cropped to a multiple of the scale, bicubic-downsampled),
the same [`LAM`][captum_lam.LAM] call on the whole image. For models with a known,
finite receptive field the network runs only where the window can see
(``reach="auto"``), which gives the same map to float rounding, much faster.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from torch import Tensor

from .. import LAM, diffusion_index, mass_area
from .._method.checks import check_kernel_fits
from ..images import bicubic_downsample
from ..objective import DETECTORS
from ..path_integrated_gradients import METHODS
from ..settings import LAMSettings
from ._catalogue import ImageEntry, Images, Models, RequestError
from ._jobs import Request

WINDOW_MIN, WINDOW_MAX = 8, 64
MAX_STEPS = 400
DEFAULT_SETTINGS = {
    "steps": 50,
    "method": "riemann_right",
    "sigma": 1.2,
    "kernel_size": 9,
    "detector": "difference",
}


def _integer(payload: dict, name: str, low: int, high: int, prefix: str = "") -> int:
    value = payload.get(name)
    label = f"{prefix}{name}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(400, f"{label} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise RequestError(400, f"{label} must be in [{low}, {high}], got {value}")
    return value


def parse_settings(payload: Any) -> dict[str, Any]:
    """LAM's settings from the page, with the defaults filled in; 400 if bad."""
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise RequestError(400, "settings must be an object")
    unknown = set(payload) - set(DEFAULT_SETTINGS)
    if unknown:
        raise RequestError(
            400,
            f"unknown setting {sorted(unknown)[0]!r}; settings are "
            f"{', '.join(DEFAULT_SETTINGS)}",
        )
    merged = {**DEFAULT_SETTINGS, **payload}
    steps = _integer(merged, "steps", 1, MAX_STEPS)
    kernel_size = _integer(merged, "kernel_size", 1, 31)
    if kernel_size % 2 == 0:
        raise RequestError(400, f"kernel_size must be odd, got {kernel_size}")
    sigma = merged["sigma"]
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)):
        raise RequestError(400, f"sigma must be a number, got {sigma!r}")
    if not (math.isfinite(sigma) and 0 <= sigma <= 20):
        raise RequestError(400, f"sigma must be in [0, 20], got {sigma}")
    if not isinstance(merged["method"], str) or merged["method"] not in METHODS:
        raise RequestError(
            400,
            f"unknown method {merged['method']!r}; choose from {', '.join(METHODS)}",
        )
    if not isinstance(merged["detector"], str) or merged["detector"] not in DETECTORS:
        raise RequestError(
            400,
            f"unknown detector {merged['detector']!r}; choose from "
            f"{', '.join(DETECTORS)}",
        )
    try:  # the library's own checks, so that no job fails on them later
        LAMSettings(
            sigma=merged["sigma"],
            kernel_size=merged["kernel_size"],
            detector=merged["detector"],
            n_steps=steps,
            method=merged["method"],
        )
    except (ValueError, TypeError) as error:
        raise RequestError(400, str(error).splitlines()[0]) from None
    return {
        "steps": steps,
        "method": merged["method"],
        "sigma": float(sigma),
        "kernel_size": kernel_size,
        "detector": merged["detector"],
    }


def parse_request(payload: Any, models: Models, images: Images) -> Request:
    """A `Request` from the page's JSON; `RequestError` if bad."""
    if not isinstance(payload, dict):
        raise RequestError(400, "the request body must be a JSON object")
    for name in ("model", "image", "window"):
        if name not in payload:
            raise RequestError(400, f"missing {name!r}")
    entry = models.entry(str(payload["model"]))
    image = images.get(str(payload["image"]))
    window = payload["window"]
    if not isinstance(window, dict):
        raise RequestError(400, "window must be an object {top, left, size}")
    size = _integer(window, "size", WINDOW_MIN, WINDOW_MAX, "window ")
    top = _integer(window, "top", 0, 1 << 20, "window ")
    left = _integer(window, "left", 0, 1 << 20, "window ")
    hr = image.hr(entry.scale)
    height, width = int(hr.shape[-2]), int(hr.shape[-1])
    if top + size > height or left + size > width:
        raise RequestError(
            400,
            f"window top={top} left={left} size={size} reaches outside the image "
            f"({width}x{height} pixels usable at x{entry.scale})",
        )
    settings = parse_settings(payload.get("settings"))
    try:
        check_kernel_fits(
            settings["kernel_size"], (height // entry.scale, width // entry.scale)
        )
    except ValueError as error:
        raise RequestError(400, str(error)) from None
    return Request(entry.name, image.id, (top, left, size), tuple(settings.items()))


@dataclass
class LamResult:
    """One model's LAM of one window, with the numbers the page shows."""

    request: Request
    image: ImageEntry
    scale: int
    attribution: Tensor  # (C, h, w)
    lr: Tensor  # (1, C, h, w)
    hr: Tensor  # (1, C, H, W)
    sr: Tensor  # (1, C', H, W)
    diffusion_index: float
    convergence_delta: float
    relative_delta: float
    mass_50: int
    mass_90: int
    seconds: float
    receptive_field_crop: bool

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.request.settings)

    def summary(self) -> dict[str, Any]:
        top, left, size = self.request.window
        return {
            "model": self.request.model,
            "image": self.image.to_dict(),
            "window": {"top": top, "left": left, "size": size},
            "scale": self.scale,
            "lr_size": [int(self.lr.shape[-2]), int(self.lr.shape[-1])],
            "settings": self.settings,
            "diffusion_index": self.diffusion_index,
            "convergence_delta": self.convergence_delta,
            "relative_convergence_delta": self.relative_delta,
            "mass_area_50": self.mass_50,
            "mass_area_90": self.mass_90,
            "seconds": round(self.seconds, 3),
            "receptive_field_crop": self.receptive_field_crop,
        }


def compute(
    request: Request,
    progress: Callable[[int, int], None],
    models: Models,
    images: Images,
) -> LamResult:
    """The LAM of ``request``; ``progress`` is called after each pass."""
    entry = models.entry(request.model)
    image = images.get(request.image)
    settings = dict(request.settings)
    model = models.model(entry.name)
    hr = image.hr(entry.scale).to(models.device)
    lr = bicubic_downsample(hr, entry.scale)
    sr = models.output(entry.name, image.id, lr)
    reach: Optional[str] = "auto" if entry.receptive_field is not None else None
    lam = LAM(
        model,
        sigma=settings["sigma"],
        kernel_size=settings["kernel_size"],
        detector=settings["detector"],
    )
    lam.progress_callback = progress
    started = time.perf_counter()
    attribution, delta = lam.attribute(
        lr,
        target=request.window,
        n_steps=settings["steps"],
        method=settings["method"],
        return_convergence_delta=True,
        reach=reach,
    )
    seconds = time.perf_counter() - started
    attribution = attribution.detach()[0].cpu()
    delta_value = float(delta[0])
    change = float(attribution.sum()) - delta_value
    relative = abs(delta_value) / abs(change) if change != 0 else float("inf")
    return LamResult(
        request=request,
        image=image,
        scale=entry.scale,
        attribution=attribution,
        lr=lr.detach().cpu(),
        hr=hr.cpu(),
        sr=sr,
        diffusion_index=float(diffusion_index(attribution)),
        convergence_delta=delta_value,
        relative_delta=relative,
        mass_50=int(mass_area(attribution, 0.5)),
        mass_90=int(mass_area(attribution, 0.9)),
        seconds=seconds,
        receptive_field_crop=reach is not None,
    )

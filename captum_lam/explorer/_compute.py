"""From a page's request to a LAM result: checking it, computing it.

The numbers are ``captum-lam explain``'s for the same window and settings: the
same LR input ([`window_input`][captum_lam.windows.window_input]: the region
around the window that ``--region auto`` keeps, degraded as ``explain``
degrades it) and the same [`LAM`][captum_lam.LAM] call with the same
[`LAMSettings`][captum_lam.LAMSettings].
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

from torch import Tensor

from .. import LAM, LAMSettings, diffusion_index, mass_area
from ..metrics import di_text
from ..objective import DETECTORS
from ..path_integrated_gradients import METHODS
from ..windows import window_input
from ._catalogue import ImageEntry, Images, Models, RequestError
from ._jobs import Request

WINDOW_MIN, WINDOW_MAX = 8, 64
MAX_STEPS = 400
#: ``captum-lam explain``'s defaults (LAMSettings'), under the page's names.
DEFAULT_SETTINGS = {
    "steps": int(LAMSettings.n_steps),
    "method": LAMSettings.method,
    "sigma": LAMSettings.sigma,
    "kernel_size": LAMSettings.kernel_size,
    "detector": LAMSettings.detector,
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
    if merged["method"] not in METHODS:
        raise RequestError(
            400,
            f"unknown method {merged['method']!r}; choose from {', '.join(METHODS)}",
        )
    if merged["detector"] not in DETECTORS:
        raise RequestError(
            400,
            f"unknown detector {merged['detector']!r}; choose from "
            f"{', '.join(DETECTORS)}",
        )
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
            f"({height}x{width} pixels, height x width, usable at x{entry.scale}: "
            f"the {image.height}x{image.width} image cropped at the bottom and "
            f"right to a multiple of the scale)",
        )
    settings = parse_settings(payload.get("settings"))
    return Request(entry.name, image.id, (top, left, size), tuple(settings.items()))


@dataclass
class LamResult:
    """One model's LAM of one window, with the numbers the page shows."""

    request: Request
    image: ImageEntry
    scale: int
    attribution: Tensor  # (C, h, w)
    lr: Tensor  # (1, C, h, w): the region's LR input, what the network saw
    hr: Tensor  # (1, C, H, W): the HR region
    sr: Tensor  # (1, C', H, W)
    #: (top, left, height, width) of the region in the image's pixels
    region: tuple[int, int, int, int]
    diffusion_index: float
    convergence_delta: float
    relative_delta: float
    mass_50: int
    mass_90: int
    seconds: float

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.request.settings)

    @property
    def origin(self) -> tuple[int, int]:
        """Where the region starts in the image (HR pixels)."""
        return self.region[0], self.region[1]

    @property
    def local_window(self) -> tuple[int, int, int]:
        """The window in the region's pixels (what LAM was given)."""
        top, left, size = self.request.window
        return top - self.region[0], left - self.region[1], size

    def summary(self) -> dict[str, Any]:
        top, left, size = self.request.window
        return {
            "model": self.request.model,
            "image": self.image.to_dict(),
            "window": {"top": top, "left": left, "size": size},
            "scale": self.scale,
            "lr_size": [int(self.lr.shape[-2]), int(self.lr.shape[-1])],
            "region": dict(zip(("top", "left", "height", "width"), self.region)),
            "settings": self.settings,
            "diffusion_index": self.diffusion_index,
            "diffusion_index_text": di_text(
                self.diffusion_index, self.lr.shape, self.scale
            ),
            "convergence_delta": self.convergence_delta,
            "relative_convergence_delta": self.relative_delta,
            "mass_area_50": self.mass_50,
            "mass_area_90": self.mass_90,
            "seconds": round(self.seconds, 3),
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
    case = window_input(
        image.pixels.to(models.device),
        request.window,
        entry.scale,
        model_name=entry.name,
    )
    lr = case.lr
    sr = models.output(entry.name, f"{image.id}@{case.region}", lr)
    lam_settings = LAMSettings(
        sigma=settings["sigma"],
        kernel_size=settings["kernel_size"],
        detector=settings["detector"],
        n_steps=settings["steps"],
        method=settings["method"],
    )
    lam = LAM.from_settings(model, lam_settings)
    lam.progress_callback = progress
    started = time.perf_counter()
    attribution, delta = lam.attribute(
        lr,
        target=case.window,
        return_convergence_delta=True,
        **lam_settings.integration(),
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
        hr=case.hr.cpu(),
        sr=sr,
        region=case.region,
        diffusion_index=float(diffusion_index(attribution)),
        convergence_delta=delta_value,
        relative_delta=relative,
        mass_50=int(mass_area(attribution, 0.5)),
        mass_90=int(mass_area(attribution, 0.9)),
        seconds=seconds,
    )

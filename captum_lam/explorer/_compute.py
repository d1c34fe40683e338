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
from typing import Any, Callable, Optional

from torch import Tensor

from .. import LAM, CausalEffectMap, LAMSettings, diffusion_index, mass_area
from .._method.checks import check_kernel_fits
from ..metrics import di_text, signed_spread
from ..objective import DETECTORS
from ..path_integrated_gradients import METHODS
from ..windows import window_input, window_region
from ._catalogue import ImageEntry, Images, Models, RequestError
from ._jobs import Request

WINDOW_MIN, WINDOW_MAX = 8, 64
MAX_STEPS = 400
#: A card's attribution: LAM's gradient path or the Causal Effect Map's swaps.
ATTRIBUTIONS = ("lam", "cem")
#: The explorer's CEM: the authors' blocks and coarse swaps, 10 fine swaps (not
#: 50) so that a card takes seconds to minutes on a CPU.
CEM_SETTINGS = {"n_coarse": 3, "n_fine": 10, "threshold_db": 0.01}
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
            f"({height}x{width} pixels, height x width, usable at x{entry.scale}: "
            f"the {image.height}x{image.width} image cropped at the bottom and "
            f"right to a multiple of the scale)",
        )
    settings = parse_settings(payload.get("settings"))
    attribution = payload.get("method", "lam")
    if attribution not in ATTRIBUTIONS:
        raise RequestError(
            400,
            f"unknown method {attribution!r}; choose from {', '.join(ATTRIBUTIONS)}",
        )
    if attribution == "cem":
        settings = {"attribution": "cem", **CEM_SETTINGS}
    else:  # the blur must fit the window's LR input (the region explain uses)
        _, _, rh, rw = window_region((top, left, size), height, width, entry.scale)
        try:
            check_kernel_fits(
                settings["kernel_size"], (rh // entry.scale, rw // entry.scale)
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
    #: The Causal Effect Map's `signed_spread` measures; None for LAM.
    effect: Optional[dict[str, Any]] = None

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.request.settings)

    @property
    def method(self) -> str:
        return str(self.settings.get("attribution", "lam"))

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
            "method": self.method,
            "effect": self.effect,
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
    if settings.get("attribution") == "cem":
        return _compute_cem(request, progress, model, image, entry.scale, case, sr)
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


def _compute_cem(
    request: Request,
    progress: Callable[[int, int], None],
    model: Any,
    image: ImageEntry,
    scale: int,
    case: Any,
    sr: Tensor,
) -> LamResult:
    """The Causal Effect Map of ``request`` against the HR image."""
    settings = {k: v for k, v in request.settings if k != "attribution"}
    cem = CausalEffectMap(model, **settings)
    cem.progress_callback = progress
    started = time.perf_counter()
    lr, hr = case.lr, case.hr
    effect = cem.attribute(lr, target=case.window, hr=hr, reach="auto")
    seconds = time.perf_counter() - started
    effect = effect.detach()[0].cpu()
    measures = signed_spread(effect, case.window, scale)
    nonzero = bool((effect != 0).any())
    return LamResult(
        request=request,
        image=image,
        scale=scale,
        attribution=effect,
        lr=lr.detach().cpu(),
        hr=hr.cpu(),
        sr=sr,
        region=case.region,
        diffusion_index=float(measures["di"]) if nonzero else 0.0,
        convergence_delta=0.0,
        relative_delta=0.0,
        mass_50=int(measures["mass_area_50"] or 0),
        mass_90=int(measures["mass_area_90"] or 0),
        seconds=seconds,
        effect=measures,
    )

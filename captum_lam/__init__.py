"""captum-lam: Local Attribution Maps for image-restoration networks, the Captum way.

>>> from captum_lam import LAM, diffusion_index
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# first, so that Ctrl-C while the command starts ends without a traceback
from . import _startup  # noqa: F401

__version__ = "0.1.0"

if TYPE_CHECKING:  # what static readers (type checkers, the API docs) see
    from ._adaptive import IntegrationReport
    from ._images import (
        bicubic_downsample,
        bicubic_upsample,
        psnr_y,
        read_image,
        sample_image,
        ssim_y,
    )
    from .filters import (
        GaussianBlur2d,
        filter2d,
        gaussian_blur2d,
        gaussian_kernel2d,
        gaussian_kernel2d_derivative,
    )
    from .lam import LAM
    from .mapfile import load_map, map_file_name, save_map
    from .metrics import (
        abs_normalized_map,
        diffusion_index,
        gini,
        mass_area,
        mean_distance,
    )
    from .multiwindow import attribute_windows, di_map, di_map_figure
    from .objective import WindowObjective, format_windows, gradient_magnitude
    from .path_integrated_gradients import METHODS, PathIntegratedGradients
    from .paths import LinearPath, Path, ProgressiveBlurPath
    from .settings import LAMSettings
    from .studies import (
        Case,
        aggregate,
        classify_content,
        evaluate,
        read_cases,
        select_cases,
    )
    from .visualization import (
        channels_last,
        comparison_figure,
        kde_map,
        lam_figure,
        save_figure,
    )
    from .window_list import WindowCandidate, list_windows
    from .windows import auto_windows, textured_windows

#: Public name -> (module, name). Loaded on first use, so that
#: ``import captum_lam`` (and ``captum-lam --help``) does not import torch.
_EXPORTS: dict[str, tuple[str, str]] = {
    "Case": ("studies", "Case"),
    "CausalEffectMap": ("causal_effect", "CausalEffectMap"),
    "GaussianBlur2d": ("filters", "GaussianBlur2d"),
    "IntegrationReport": ("_adaptive", "IntegrationReport"),
    "LAM": ("lam", "LAM"),
    "LAMSettings": ("settings", "LAMSettings"),
    "LinearPath": ("paths", "LinearPath"),
    "METHODS": ("path_integrated_gradients", "METHODS"),
    "Path": ("paths", "Path"),
    "PathIntegratedGradients": ("path_integrated_gradients", "PathIntegratedGradients"),
    "ProgressiveBlurPath": ("paths", "ProgressiveBlurPath"),
    "WindowCandidate": ("window_list", "WindowCandidate"),
    "WindowObjective": ("objective", "WindowObjective"),
    "abs_normalized_map": ("metrics", "abs_normalized_map"),
    "aggregate": ("studies", "aggregate"),
    "attribute_windows": ("multiwindow", "attribute_windows"),
    "auto_windows": ("windows", "auto_windows"),
    "bicubic_downsample": ("_images", "bicubic_downsample"),
    "bicubic_upsample": ("_images", "bicubic_upsample"),
    "channels_last": ("visualization", "channels_last"),
    "classify_content": ("studies", "classify_content"),
    "cem_figure": ("_cem_figure", "cem_figure"),
    "comparison_figure": ("visualization", "comparison_figure"),
    "di_map": ("multiwindow", "di_map"),
    "di_map_figure": ("multiwindow", "di_map_figure"),
    "diffusion_index": ("metrics", "diffusion_index"),
    "evaluate": ("studies", "evaluate"),
    "filter2d": ("filters", "filter2d"),
    "format_windows": ("objective", "format_windows"),
    "gaussian_blur2d": ("filters", "gaussian_blur2d"),
    "gaussian_kernel2d": ("filters", "gaussian_kernel2d"),
    "gaussian_kernel2d_derivative": ("filters", "gaussian_kernel2d_derivative"),
    "gini": ("metrics", "gini"),
    "gradient_magnitude": ("objective", "gradient_magnitude"),
    "kde_map": ("visualization", "kde_map"),
    "lam_figure": ("visualization", "lam_figure"),
    "list_windows": ("window_list", "list_windows"),
    "load_map": ("mapfile", "load_map"),
    "map_file_name": ("mapfile", "map_file_name"),
    "mass_area": ("metrics", "mass_area"),
    "mean_distance": ("metrics", "mean_distance"),
    "psnr_y": ("_images", "psnr_y"),
    "read_cases": ("studies", "read_cases"),
    "read_image": ("_images", "read_image"),
    "sample_image": ("_images", "sample_image"),
    "save_figure": ("visualization", "save_figure"),
    "save_map": ("mapfile", "save_map"),
    "select_cases": ("studies", "select_cases"),
    "signed_spread": ("metrics", "signed_spread"),
    "ssim_y": ("_images", "ssim_y"),
    "textured_windows": ("windows", "textured_windows"),
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, original = _EXPORTS[name]
    value = getattr(importlib.import_module(f".{module}", __name__), original)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "WindowCandidate",
    "auto_windows",
    "list_windows",
    "load_map",
    "map_file_name",
    "save_map",
    "Case",
    "aggregate",
    "attribute_windows",
    "classify_content",
    "di_map",
    "di_map_figure",
    "evaluate",
    "mass_area",
    "mean_distance",
    "signed_spread",
    "read_cases",
    "select_cases",
    "LAM",
    "CausalEffectMap",
    "cem_figure",
    "LAMSettings",
    "METHODS",
    "GaussianBlur2d",
    "IntegrationReport",
    "LinearPath",
    "Path",
    "PathIntegratedGradients",
    "ProgressiveBlurPath",
    "WindowObjective",
    "abs_normalized_map",
    "bicubic_downsample",
    "bicubic_upsample",
    "channels_last",
    "comparison_figure",
    "kde_map",
    "lam_figure",
    "psnr_y",
    "read_image",
    "sample_image",
    "save_figure",
    "ssim_y",
    "textured_windows",
    "diffusion_index",
    "filter2d",
    "format_windows",
    "gaussian_blur2d",
    "gaussian_kernel2d",
    "gaussian_kernel2d_derivative",
    "gini",
    "gradient_magnitude",
]

"""captum-lam: Local Attribution Maps for image-restoration networks, the Captum way.

>>> from captum_lam import LAM, diffusion_index
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# first, so that Ctrl-C while the command starts ends without a traceback
from ._frontend import startup as _startup  # noqa: F401

__version__ = "1.0.0"

# What static readers (type checkers, the API docs) see; a test checks that it
# imports exactly the names of _EXPORTS, from the modules _EXPORTS names.
if TYPE_CHECKING:
    from ._method.adaptive import IntegrationReport as IntegrationReport
    from .filters import GaussianBlur2d as GaussianBlur2d
    from .filters import gaussian_blur2d as gaussian_blur2d
    from .lam import LAM as LAM
    from .mapfile import load_map as load_map
    from .mapfile import save_map as save_map
    from .metrics import diffusion_index as diffusion_index
    from .metrics import gini as gini
    from .metrics import mass_area as mass_area
    from .metrics import mean_distance as mean_distance
    from .multiwindow import attribute_windows as attribute_windows
    from .multiwindow import di_map as di_map
    from .objective import WindowObjective as WindowObjective
    from .objective import gradient_magnitude as gradient_magnitude
    from .path_integrated_gradients import (
        PathIntegratedGradients as PathIntegratedGradients,
    )
    from .paths import LinearPath as LinearPath
    from .paths import Path as Path
    from .paths import ProgressiveBlurPath as ProgressiveBlurPath
    from .settings import LAMSettings as LAMSettings
    from .visualization import channels_last as channels_last
    from .visualization import comparison_figure as comparison_figure
    from .visualization import lam_figure as lam_figure

#: Public name -> the module that defines it (under the same name). Loaded on
#: first use, so that ``import captum_lam`` (and ``captum-lam --help``) does not
#: import torch. Images are in `captum_lam.images`, studies in `captum_lam.studies`.
_EXPORTS: dict[str, str] = {
    "LAM": "lam",
    "PathIntegratedGradients": "path_integrated_gradients",
    "WindowObjective": "objective",
    "gradient_magnitude": "objective",
    "LAMSettings": "settings",
    "IntegrationReport": "_method.adaptive",
    "Path": "paths",
    "LinearPath": "paths",
    "ProgressiveBlurPath": "paths",
    "GaussianBlur2d": "filters",
    "gaussian_blur2d": "filters",
    "gini": "metrics",
    "diffusion_index": "metrics",
    "mass_area": "metrics",
    "mean_distance": "metrics",
    "attribute_windows": "multiwindow",
    "di_map": "multiwindow",
    "lam_figure": "visualization",
    "comparison_figure": "visualization",
    "channels_last": "visualization",
    "save_map": "mapfile",
    "load_map": "mapfile",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))

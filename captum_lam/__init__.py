"""captum-lam: Local Attribution Maps for image-restoration networks, the Captum way.

>>> from captum_lam import LAM, diffusion_index
"""

from .filters import (
    GaussianBlur2d,
    filter2d,
    gaussian_blur2d,
    gaussian_kernel2d,
    gaussian_kernel2d_derivative,
)
from .lam import LAM
from .metrics import abs_normalized_map, diffusion_index, gini
from .objective import WindowObjective, format_windows, gradient_magnitude
from .path_integrated_gradients import METHODS, PathIntegratedGradients
from .paths import LinearPath, Path, ProgressiveBlurPath

__version__ = "0.1.0"

__all__ = [
    "LAM",
    "METHODS",
    "GaussianBlur2d",
    "LinearPath",
    "Path",
    "PathIntegratedGradients",
    "ProgressiveBlurPath",
    "WindowObjective",
    "abs_normalized_map",
    "diffusion_index",
    "filter2d",
    "format_windows",
    "gaussian_blur2d",
    "gaussian_kernel2d",
    "gaussian_kernel2d_derivative",
    "gini",
    "gradient_magnitude",
]

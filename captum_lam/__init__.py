"""captum-lam: Local Attribution Maps for image-restoration networks, the Captum way.

>>> from captum_lam import LAM, diffusion_index
"""

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
from .visualization import comparison_figure, kde_map, lam_figure, save_figure
from .windows import textured_windows

__version__ = "0.1.0"

__all__ = [
    "Case",
    "aggregate",
    "attribute_windows",
    "classify_content",
    "di_map",
    "di_map_figure",
    "evaluate",
    "mass_area",
    "mean_distance",
    "read_cases",
    "select_cases",
    "LAM",
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

"""What the registry knows about one model."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class ModelInfo:
    """Facts about one registered model.

    Attributes
    ----------
    name : str
        Stable registry name, e.g. ``"span-x4-ch48"`` or ``"plain-d8"``.
    scale : int
        Upscaling factor (1 for a denoiser).
    parameters : int or None
        Number of parameters (None where unknown until loaded).
    receptive_field : int or None
        Side of the square receptive field in LR pixels; None means global
        (self-attention over the whole image, global pooling).
    degradation : str
        What the model was trained to undo, e.g. ``"bicubic x4 (DIV2K)"``.
    source : str
        Where the weights come from (paper, package, training script).
    license : str
        Licence of the weights.
    package : str or None
        The pip package that ships the weights (None for the trained zoo).
    kind : str
        ``"pretrained"`` (published network) or ``"trained"`` (this project's zoo).
    description : str
        One line for listings.
    family : str
        Architecture family, e.g. ``"plain CNN"``, ``"U-Net with SE attention"``.
    paper : str
        The upstream paper (or ``"no paper"`` with the project that published it).
    """

    name: str
    scale: int
    parameters: Optional[int]
    receptive_field: Optional[int]
    degradation: str
    source: str
    license: str
    package: Optional[str]
    kind: str
    description: str = ""
    family: str = ""
    paper: str = ""

    @property
    def task(self) -> str:
        """``"denoising"`` for scale 1, else ``"super-resolution"``."""
        return "denoising" if self.scale == 1 else "super-resolution"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "task": self.task}

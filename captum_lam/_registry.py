"""The model registry: name -> what is known about the model + how to load it.

In the spirit of spandrel's registry: every network the package can explain is
described by a [`ModelInfo`][captum_lam.zoo.ModelInfo] and comes from a `Source` (a
catalogue of names with a loader and an "is it installed here" test). The
trained zoo (``captum_lam.zoo._trained``) and the published networks
(``captum_lam.models._pretrained``) are the two sources; `captum_lam.zoo`
puts them in one `Registry`. `model_scale` is the one place that
tells a model's upscaling factor.

This module imports neither source, so both can import it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional, Sequence, TypeVar

import torch
from torch import Tensor, nn

from ._method.checks import integer_scale

__all__ = [
    "ModelInfo",
    "Registry",
    "Source",
    "by_name",
    "measure_scale",
    "model_scale",
]

T = TypeVar("T")


def by_name(entries: Iterable[tuple[str, T]]) -> dict[str, T]:
    """``{name: value}``; a name that comes twice is refused, never shadowed."""
    table: dict[str, T] = {}
    for name, value in entries:
        if name in table:
            raise ValueError(
                f"model name {name!r} is registered twice; each name must be unique"
            )
        table[name] = value
    return table


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


@dataclass(frozen=True)
class Source:
    """A catalogue of models: their infos, a loader and an installed test.

    ``infos`` is called each time the registry is read, so a source may be
    imported lazily (and be missing: return an empty mapping).
    """

    infos: Callable[[], Mapping[str, ModelInfo]]
    load: Callable[[str], nn.Module]
    installed: Callable[[str], bool]


class Registry:
    """Names -> (info, loader) over several sources, in the sources' order.

    A name that two sources (or one source twice) register is refused with a
    ValueError naming it, as spandrel's registry does.
    """

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = list(sources)

    def _entries(self) -> dict[str, tuple[ModelInfo, Source]]:
        return by_name(
            (name, (info, source))
            for source in self.sources
            for name, info in source.infos().items()
        )

    def _entry(self, name: str) -> tuple[ModelInfo, Source]:
        entries = self._entries()
        if name not in entries:
            raise ValueError(
                f"unknown model {name!r}; valid names: {', '.join(entries)}"
            )
        return entries[name]

    def names(self) -> list[str]:
        return list(self._entries())

    def info(self, name: str) -> ModelInfo:
        return self._entry(name)[0]

    def installed(self, name: str) -> bool:
        return bool(self._entry(name)[1].installed(name))

    def load(self, name: str) -> nn.Module:
        return self._entry(name)[1].load(name)


def model_scale(model: Any, channels: int = 3, device: Any = None) -> int:
    """The upscaling factor: ``model.lam_info.scale``, else one forward of 16x16."""
    info = getattr(model, "lam_info", None)
    if info is not None and getattr(info, "scale", None):
        return int(info.scale)
    return measure_scale(model, 16, channels, device)


def measure_scale(
    model: nn.Module, size: int, channels: int = 3, device: Any = None
) -> int:
    parameters = model.parameters() if isinstance(model, nn.Module) else iter(())
    parameter = next(parameters, None)
    dtype = parameter.dtype if parameter is not None else torch.float32
    if device is None:
        device = parameter.device if parameter is not None else torch.device("cpu")
    # a private generator: the caller's global random state is not touched
    generator = torch.Generator(device=device).manual_seed(0)
    probe = torch.rand(
        1, channels, size, size, dtype=dtype, device=device, generator=generator
    )
    with torch.no_grad():
        out = model(probe)
    if not isinstance(out, Tensor) or out.ndim != 4:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"the network must return (N, C, H, W), got {shape}")
    return integer_scale((size, size), tuple(out.shape[-2:]))

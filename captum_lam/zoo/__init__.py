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

from captum_lam._registry import ModelInfo, Registry, Source
from captum_lam.zoo._trained import TRAINED, load_trained, weights_available

__all__ = ["ModelInfo", "TRAINED", "names", "load", "info", "installed"]


def _pretrained() -> Optional[ModuleType]:
    """``captum_lam.models._pretrained`` or None where it does not exist."""
    try:
        from captum_lam.models import _pretrained
    except ImportError:
        return None
    return _pretrained


def _pretrained_infos() -> dict[str, ModelInfo]:
    module = _pretrained()
    return {} if module is None else dict(module.PRETRAINED)


def _load_pretrained(name: str) -> nn.Module:
    module = _pretrained()
    assert module is not None  # the name came from its catalogue
    return module.load_pretrained(name)


def _pretrained_installed(name: str) -> bool:
    module = _pretrained()
    return module is not None and bool(module.is_installed(name))


#: The trained zoo first, then the published networks (imported lazily).
REGISTRY = Registry(
    [
        Source(lambda: TRAINED, load_trained, weights_available),
        Source(_pretrained_infos, _load_pretrained, _pretrained_installed),
    ]
)


def names() -> list[str]:
    """Every registered model name: the trained zoo first, then the pretrained."""
    return REGISTRY.names()


def info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of model ``name`` (``ValueError`` if unknown)."""
    return REGISTRY.info(name)


def installed(name: str) -> bool:
    """Whether model ``name`` can be loaded here (weights or package present)."""
    return REGISTRY.installed(name)


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
    return REGISTRY.load(name)

"""Old home of :class:`ModelInfo`; it lives in :mod:`captum_lam._registry`."""

from captum_lam._registry import ModelInfo

__all__ = ["ModelInfo"]

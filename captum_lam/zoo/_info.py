"""Old home of [`ModelInfo`][captum_lam.zoo.ModelInfo]; it lives in
`captum_lam._registry`."""

from captum_lam._registry import ModelInfo

__all__ = ["ModelInfo"]

"""Networks to explain: published SR networks imported from ncnn files, and users'
own checkpoints. The registry over all of them is `captum_lam.zoo`."""

from ._adapter import ModelAdapter

__all__ = ["ModelAdapter"]

"""``IntegratedGradients`` spelled with captum-lam's classes, for Captum's IG cases.

Captum's tests call ``IntegratedGradients(f, multiply_by_inputs).attribute(
inputs, baselines, target=..., ...)``. captum-lam puts the baselines into the
path, so the adapter is one line of translation: every call builds
``PathIntegratedGradients(f, LinearPath(baselines), multiply_by_inputs)`` and
forwards the rest unchanged. Inputs and baselines reach captum-lam exactly as
Captum's tests give them.
"""

from __future__ import annotations

from typing import Any

from captum.attr import GradientAttribution
from captum.log import log_usage

from captum_lam import LinearPath, PathIntegratedGradients


class IntegratedGradients(GradientAttribution):
    """Captum's ``IntegratedGradients`` interface over ``PathIntegratedGradients``."""

    def __init__(self, forward_func: Any, multiply_by_inputs: bool = True) -> None:
        super().__init__(forward_func)
        self._multiply_by_inputs = multiply_by_inputs

    def path_ig(self, baselines: Any = None) -> PathIntegratedGradients:
        return PathIntegratedGradients(
            self.forward_func,
            LinearPath(baselines),
            multiply_by_inputs=self._multiply_by_inputs,
        )

    @log_usage()
    def attribute(  # type: ignore[override]
        self, inputs: Any, baselines: Any = None, target: Any = None, **kwargs: Any
    ) -> Any:
        pig = self.path_ig(baselines)
        return pig.attribute.__wrapped__(pig, inputs, target=target, **kwargs)

    def attribute_future(self) -> Any:
        return self.path_ig().attribute_future()

    def has_convergence_delta(self) -> bool:
        return self.path_ig().has_convergence_delta()

    @property
    def multiplies_by_inputs(self) -> bool:
        return self.path_ig().multiplies_by_inputs

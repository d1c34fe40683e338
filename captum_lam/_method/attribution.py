"""What `PathIntegratedGradients` and `LAM` share as Captum attribution methods.

Both integrate along a `Path` with the one engine, so both keep the path, the
report of the last integration and a progress callback. Neither is the other's
subclass: `LAM`'s ``target`` is a window of the output, not an index into it.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

from captum.attr import GradientAttribution

from ..paths import Path
from .adaptive import IntegrationReport


class _PerThread:
    """An attribute with one value per thread: None where a thread never set it."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: Optional[type] = None) -> Any:
        if instance is None:
            return self
        local = instance.__dict__.get("_per_thread")
        return None if local is None else getattr(local, self.name, None)

    def __set__(self, instance: Any, value: Any) -> None:
        local = instance.__dict__.setdefault("_per_thread", threading.local())
        setattr(local, self.name, value)


class PathAttribution(GradientAttribution):
    """A Captum `GradientAttribution` that integrates along ``path``."""

    #: Per thread: two threads sharing one instance never read each other's.
    last_integration = _PerThread()

    def __init__(self, forward_func: Callable[..., Any], path: Path) -> None:
        super().__init__(forward_func)
        self.path = path
        #: Called as ``progress_callback(steps_done, n_steps)`` after each
        #: forward/backward pass, e.g. to drive a progress bar.
        self.progress_callback: Optional[Callable[[int, int], None]] = None
        #: How the last ``attribute`` call integrated: steps used and, with
        #: ``n_steps="auto"``, the estimated map error per example
        #: ([IntegrationReport][captum_lam.IntegrationReport]). None before the
        #: first call (per thread).
        self.last_integration: Optional[IntegrationReport] = None

    def attribute_future(self) -> None:
        """Not implemented, as in Captum's core attribution methods."""
        raise NotImplementedError(
            f"attribute_future is not implemented for {type(self).__name__}"
        )

    def has_convergence_delta(self) -> bool:
        return True

    @property
    def multiplies_by_inputs(self) -> bool:
        return True

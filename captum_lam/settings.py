"""LAM's settings as one frozen value, shared by LAM, the multi-window pass,
the studies and the command line."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional, Union

from ._method.adaptive import check_steps
from .objective import _check_detector
from .paths import ProgressiveBlurPath


@dataclass(frozen=True)
class LAMSettings:
    """How a Local Attribution Map is computed (defaults: the paper's reference).

    Parameters
    ----------
    sigma : float
        Blur of the baseline, in input pixels, >= 0. Default 1.2.
    kernel_size : int
        Odd Gaussian kernel side. Default 9.
    detector : {"difference", "sobel"}
        Gradient detector of the window objective. Default ``"difference"``.
    n_steps : int or "auto"
        Gradient evaluations along the path, >= 1, or ``"auto"`` (to
        ``tolerance``). Default 50.
    method : str
        Integration rule (`METHODS`). Default ``"riemann_right"``.
    internal_batch_size : int, optional
        Path points per forward/backward pass; None: sized by input pixels on a
        CPU, all at once elsewhere.
    tolerance : float, optional
        With ``n_steps="auto"``: bound on the estimated relative map error
        (default then 1e-3); None with a fixed ``n_steps``.

    Raises
    ------
    ValueError
        On construction, naming the bad field and what is allowed.

    Examples
    --------
    >>> LAMSettings(n_steps=20).replace(method="riemann_middle").method
    'riemann_middle'
    >>> LAMSettings().record()["sigma"]
    1.2
    """

    sigma: float = 1.2
    kernel_size: int = 9
    detector: str = "difference"
    n_steps: Union[int, str] = 50
    method: str = "riemann_right"
    internal_batch_size: Optional[int] = None
    tolerance: Optional[float] = None

    def __post_init__(self) -> None:
        ProgressiveBlurPath(self.sigma, self.kernel_size)  # checks both
        _check_detector(self.detector)
        check_steps(self.n_steps, self.method, self.internal_batch_size, self.tolerance)
        object.__setattr__(self, "sigma", float(self.sigma))
        for name in ("kernel_size", "n_steps", "internal_batch_size"):
            value = getattr(self, name)  # numpy integers become ints
            if value is not None and not isinstance(value, str):  # not "auto"
                object.__setattr__(self, name, int(value))

    def path(self) -> ProgressiveBlurPath:
        """The blur path these settings describe."""
        return ProgressiveBlurPath(self.sigma, self.kernel_size)

    def integration(self) -> dict[str, Any]:
        """``n_steps``, ``method``, ``internal_batch_size`` (and ``tolerance``
        with ``n_steps="auto"``) as keyword arguments."""
        kwargs: dict[str, Any] = {
            "n_steps": self.n_steps,
            "method": self.method,
            "internal_batch_size": self.internal_batch_size,
        }
        if self.tolerance is not None:
            kwargs["tolerance"] = self.tolerance
        return kwargs

    def replace(self, **changes: Any) -> LAMSettings:
        """A copy with some fields changed (validated again)."""
        return LAMSettings(**{**asdict(self), **changes})

    def record(self) -> dict[str, Any]:
        """The settings as a plain dict (for JSON records)."""
        return asdict(self)

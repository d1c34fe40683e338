"""Nodes and weights of the non-Riemann integration rules, computed once per size.

Captum's ``approximation_parameters("gausslegendre")`` calls
``numpy.polynomial.legendre.leggauss(n)`` twice (once for the nodes, once for
the weights), and leggauss is cubic in ``n`` (10,000 steps: minutes). Here both
come from one call, cached; above :data:`SCIPY_ABOVE` nodes the quadratic
``scipy.special.roots_legendre`` is used (same nodes to 1e-15, weights to 1e-10
relative).
"""

from __future__ import annotations

import functools

import numpy as np
from captum.attr._utils.approximation_methods import approximation_parameters

#: Up to this many nodes, numpy's leggauss (Captum's, bitwise); above, scipy's.
SCIPY_ABOVE = 256


@functools.lru_cache(maxsize=16)
def nodes_and_weights(method: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Alphas in [0, 1] and step weights of ``n`` points, as Captum's.

    Parameters
    ----------
    method : {"gausslegendre", "riemann_trapezoid"}
    n : int
        Number of points (``>= 2`` for the trapezoid).

    Returns
    -------
    alphas, weights : np.ndarray
        Shape (n,), float64, read-only (shared by every caller).

    Examples
    --------
    >>> alphas, weights = nodes_and_weights("gausslegendre", 4)
    >>> round(float(weights.sum()), 12), alphas.shape
    (1.0, (4,))
    """
    if method == "gausslegendre":
        if n <= SCIPY_ABOVE:
            x, w = np.polynomial.legendre.leggauss(n)
        else:
            from scipy.special import roots_legendre

            x, w = roots_legendre(n)
        alphas, weights = 0.5 * (1 + x), 0.5 * w
    elif method == "riemann_trapezoid":  # cheap: Captum's own, unchanged
        step_sizes, points = approximation_parameters(method)
        alphas, weights = np.array(points(n)), np.array(step_sizes(n))
    else:
        raise ValueError(f"no cached nodes for method {method!r}")
    alphas.setflags(write=False)
    weights.setflags(write=False)
    return alphas, weights

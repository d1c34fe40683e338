"""ROAD's noisy linear imputation: removed pixels from their kept neighbours.

Rong et al. (ICML 2022, "A Consistent and Efficient Evaluation Strategy for
Attribution Methods") replace removed pixels by the solution of a sparse linear
system, each removed pixel the weighted mean of its 8 neighbours (direct ones 1/6,
diagonal ones 1/12, renormalised at the border), plus a little Gaussian noise: the
hole then carries no shape that a network could read as the removed content,
which a constant or blurred hole does.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from scipy import sparse
from scipy.sparse.linalg import spsolve
from torch import Tensor

_NEIGHBOURS = (
    (-1, 0, 1 / 6),
    (1, 0, 1 / 6),
    (0, -1, 1 / 6),
    (0, 1, 1 / 6),
    (-1, -1, 1 / 12),
    (-1, 1, 1 / 12),
    (1, -1, 1 / 12),
    (1, 1, 1 / 12),
)


@functools.lru_cache(maxsize=8)
def _neighbour_weights(height: int, width: int) -> sparse.csr_matrix:
    """(P, P) row-stochastic neighbour weights of an H x W grid, P = H * W."""
    rows, cols, weights = [], [], []
    index = np.arange(height * width).reshape(height, width)
    for dy, dx, w in _NEIGHBOURS:
        ys = slice(max(dy, 0), height + min(dy, 0))
        xs = slice(max(dx, 0), width + min(dx, 0))
        yt = slice(max(-dy, 0), height + min(-dy, 0))
        xt = slice(max(-dx, 0), width + min(-dx, 0))
        rows.append(index[yt, xt].ravel())
        cols.append(index[ys, xs].ravel())
        weights.append(np.full(rows[-1].size, w))
    matrix = sparse.csr_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
        shape=(height * width,) * 2,
    )
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    return sparse.diags(1.0 / totals) @ matrix


def noisy_linear_impute(
    image: Tensor, removed: Tensor, noise: float, generator: torch.Generator
) -> Tensor:
    """``image`` (C, H, W) with the ``removed`` (H, W) pixels imputed.

    At least one pixel must be kept (the caller uses its baseline otherwise).
    """
    channels, height, width = image.shape
    flat_removed = removed.reshape(-1).cpu().numpy()
    if not flat_removed.any():
        return image
    weights = _neighbour_weights(height, width)
    values = image.detach().reshape(channels, -1).cpu().double().numpy().T  # (P, C)
    inner = weights[flat_removed][:, flat_removed]
    outer = weights[flat_removed][:, ~flat_removed]
    system = (sparse.identity(inner.shape[0]) - inner).tocsc()
    solved = spsolve(system, outer @ values[~flat_removed])
    solved = np.asarray(solved).reshape(-1, channels)
    result = values.copy()
    result[flat_removed] = solved
    out = torch.from_numpy(result.T.copy()).to(image.dtype).reshape(image.shape)
    if noise > 0:
        jitter = torch.randn(out.shape, generator=generator, dtype=torch.float64)
        out = out + (noise * jitter).to(out.dtype) * removed.cpu()
    return out.to(image.device)

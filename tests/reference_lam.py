"""An independent, step-by-step copy of the LAM reference notebook (Gu & Dong, 2021).

One path point at a time, numpy/scipy blur with mirror borders, the reference's
objective verbatim. The tests compare ``LAM`` with it; the benchmarks time it.
"""

import numpy as np
import torch
from scipy import ndimage


def _reference_kernel(size, sigma):
    ax = np.arange(-size // 2 + 1.0, size // 2 + 1.0)
    xx, yy = np.meshgrid(ax, ax)
    k = np.exp(-(xx**2 + yy**2) / (2.0 * (sigma + 1e-5) ** 2))
    return k / np.sum(k)


def _blur(image_chw, kernel):
    # cv2.filter2D with its default BORDER_REFLECT_101 == scipy's "mirror"
    return np.stack([ndimage.correlate(ch, kernel, mode="mirror") for ch in image_chw])


def _attr_grad(tensor, h, w, window):
    h_x, w_x = tensor.size()[2], tensor.size()[3]
    h_grad = torch.pow(tensor[:, :, : h_x - 1, :] - tensor[:, :, 1:, :], 2)
    w_grad = torch.pow(tensor[:, :, :, : w_x - 1] - tensor[:, :, :, 1:], 2)
    grad = torch.pow(h_grad[:, :, :, :-1] + w_grad[:, :, :-1, :], 1 / 2)
    return grad[:, :, h : h + window, w : w + window].sum()


def reference_path(image_chw, sigma=1.2, fold=50, size=9):
    """GaussianBlurPath: all path points and derivatives, precomputed (float32)."""
    sigmas = np.linspace(sigma, 0, fold + 1)
    kernels = [_reference_kernel(size, s) for s in sigmas]
    points = np.stack([_blur(image_chw, kernels[i + 1]) for i in range(fold)])
    derivatives = np.stack(
        [_blur(image_chw, (kernels[i + 1] - kernels[i]) * fold) for i in range(fold)]
    )
    return points.astype(np.float32), derivatives.astype(np.float32)


def reference_path_gradient(model, points, derivatives, h, w, window):
    """Path_gradient + saliency_map_PG: one point at a time, batch of 1."""
    grads = []
    for point, derivative in zip(points, derivatives):
        tensor = torch.from_numpy(point)[None].requires_grad_(True)
        _attr_grad(model(tensor), h, w, window).backward()
        grad = tensor.grad.numpy()[0]
        grad[np.isnan(grad)] = 0.0
        grads.append(grad * derivative)
    return np.mean(grads, axis=0)


def reference_lam(model, image_chw, h, w, window, sigma=1.2, fold=50, size=9):
    points, derivatives = reference_path(image_chw, sigma, fold, size)
    return reference_path_gradient(model, points, derivatives, h, w, window)

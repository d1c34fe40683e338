"""Many windows of one image in one pass over the LAM path.

[`attribute_windows`][captum_lam.attribute_windows] gives the LAM maps of K windows of
one input image at the cost of one forward pass per path point plus K backward passes
(instead of K forward and K backward passes with ``LAM(model).attribute`` on the
expanded batch). [`di_map`][captum_lam.di_map] uses it for the Diffusion Index of a
whole grid of windows, and [`di_map_figure`][captum_lam.multiwindow.di_map_figure]
draws that grid over the image.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Optional, Union

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from ._method.adaptive import check_steps, integrate_steps
from ._method.checks import (
    check_grad_mode,
    check_image_batch,
    check_int,
    check_kernel_fits,
    warn_if_training,
)
from ._method.engine import Gradient, convergence_delta, finite_per_step
from ._method.model_state import keeps_caller_state
from ._method.reach import Reach, model_reach, reach_region
from .metrics import diffusion_index
from .objective import (
    Detector,
    Window,
    format_windows,
    num_windows,
    probe_model,
    window_gradient_sum,
)
from .path_integrated_gradients import Method
from .settings import LAMSettings

__all__ = ["attribute_windows", "di_map", "di_map_figure", "grid_windows"]


@keeps_caller_state(lambda model, *args, **kwargs: model)
def attribute_windows(
    model: Any,
    inputs: Tensor,
    windows: Window,
    *,
    sigma: float = 1.2,
    kernel_size: int = 9,
    detector: Detector = "difference",
    n_steps: Union[int, Literal["auto"]] = 50,
    method: Method = "riemann_right",
    internal_batch_size: Optional[int] = None,
    return_convergence_delta: bool = False,
    reach: Reach = None,
    progress_callback: Optional[Callable[[int, int], None]] = None,
    tolerance: Optional[float] = None,
    return_integration: bool = False,
) -> Union[Tensor, tuple[Tensor, ...]]:
    r"""LAM maps of K windows of one image, sharing the forward passes.

    The result equals ``LAM(model, sigma, kernel_size, detector).attribute(
    inputs.expand(K, ...), target=windows, ...)`` (to float rounding: about
    1e-12 relative in float64), but each path point goes through the network
    once: the K window objectives are computed on the same output and their
    gradients come from K backward passes through the one graph. For one
    window it costs what LAM costs (the same passes).

    Parameters
    ----------
    model : nn.Module or callable
        Maps LR images (N, C, h, w) to outputs (N, C', H, W). Eval mode.
    inputs : Tensor
        ONE image, shape (1, C, h, w), float32 or float64, finite.
    windows : tuple, list of tuples, or Tensor
        K windows ``(top, left, size)`` in output pixels: a list of tuples or
        an integer tensor (K, 3); a single tuple means K = 1.
    sigma, kernel_size, detector
        As for [`LAM`][captum_lam.LAM] (defaults: the reference's). From a
        [`LAMSettings`][captum_lam.LAMSettings]: ``**settings.record()`` gives
        these and the four below.
    n_steps, method, internal_batch_size, tolerance
        As for [`LAM.attribute`][captum_lam.LAM.attribute] (``n_steps="auto"``
        refines until every window's map reaches ``tolerance``);
        ``internal_batch_size`` is the number of path points per forward pass
        (default: as LAM).
    return_convergence_delta : bool
        Also return, per window, ``sum(attr) - (D(F(x)) - D(F(baseline)))``.
    reach : None, "auto" or int
        As for [`LAM.attribute`][captum_lam.LAM.attribute]: LR pixels the network
        reaches beyond a pixel. Here windows whose reaches do not overlap share one
        backward pass: the gradient of one window's objective is exactly zero
        outside its reach, so the sum of their gradients splits exactly.
        Default None: one backward pass per window.
    progress_callback : callable, optional
        Called as ``progress_callback(steps_done, n_steps)`` after each pass.
    return_integration : bool
        Also return the [IntegrationReport][captum_lam.IntegrationReport] (steps used,
        estimated error per window with ``n_steps="auto"``), last.

    Returns
    -------
    attributions : Tensor
        Shape (K, C, h, w), the inputs' dtype and device.
    delta : Tensor
        Shape (K,), with ``return_convergence_delta=True``.
    report : IntegrationReport
        With ``return_integration=True``.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(
    ...     torch.nn.Conv2d(3, 12, 3, padding=1), torch.nn.Tanh(),
    ...     torch.nn.PixelShuffle(2)).eval()
    >>> lr = torch.rand(1, 3, 16, 16)
    >>> attr = attribute_windows(model, lr, [(0, 0, 8), (16, 16, 8)], n_steps=10)
    >>> attr.shape
    torch.Size([2, 3, 16, 16])
    """
    check_image_batch(inputs)
    if inputs.shape[0] != 1:
        raise ValueError(
            "attribute_windows explains windows of ONE image: inputs must have "
            f"shape (1, C, h, w), got {tuple(inputs.shape)}"
        )
    settings = LAMSettings(  # checks them all, naming the bad one
        sigma, kernel_size, detector, n_steps, method, internal_batch_size, tolerance
    )
    check_kernel_fits(settings.kernel_size, inputs.shape)
    check_grad_mode()
    if windows is None:
        format_windows(windows, 1)  # raises the library's message
    boxes = format_windows(windows, num_windows(windows), device=inputs.device)
    warn_if_training(model)
    radius = model_reach(model, reach)
    output_shape = probe_model(model, inputs, (), boxes)
    groups = _backward_groups(inputs.shape, output_shape, boxes, radius)
    path = settings.path()

    def objectives(output: Tensor) -> Tensor:
        """Every window's objective at every point, (K, S)."""
        return torch.stack(
            [
                window_gradient_sum(output, boxes[k : k + 1], settings.detector)
                for k in range(len(boxes))
            ]
        )

    def gradients(points: Tensor, steps: slice):
        count = steps.stop - steps.start
        with torch.enable_grad():
            output = model(points.clone())  # the model may modify its input
            values = objectives(output)
        finite = finite_per_step(output, count)
        for g, (members, regions) in enumerate(groups):
            with torch.enable_grad():
                (grads,) = torch.autograd.grad(
                    values[members].sum(), points, retain_graph=g < len(groups) - 1
                )
            into = [(slice(k, k + 1), region) for k, region in zip(members, regions)]
            yield Gradient(grads, finite, into)

    total, report = integrate_steps(
        gradients,
        path,
        inputs,
        settings.n_steps,
        settings.method,
        settings.internal_batch_size,
        check_steps(**settings.integration()),
        num_maps=len(boxes),
        progress=progress_callback,
    )
    results: tuple[Tensor, ...] = (total,)
    if return_convergence_delta:

        def objective(point: Tensor) -> Tensor:
            return objectives(model(point))[:, 0]

        results += (convergence_delta(total, objective, path, inputs),)
    if return_integration:
        return (*results, report)
    return results[0] if len(results) == 1 else results


def _backward_groups(
    input_shape: torch.Size,
    output_shape: torch.Size,
    boxes: Tensor,
    radius: Optional[int],
) -> list[tuple[list[int], list[tuple[slice, slice]]]]:
    """Windows that share a backward pass, with the LR region each one reaches.

    Without a reach every window is its own group and reaches the whole input.
    """
    everything = (slice(None), slice(None))
    if radius is None:
        return [([k], [everything]) for k in range(boxes.shape[0])]
    regions = [
        reach_region(input_shape, output_shape, boxes[k : k + 1], radius)
        for k in range(boxes.shape[0])
    ]
    groups: list[tuple[list[int], list[tuple[slice, slice]]]] = []
    for k, region in enumerate(regions):
        for members, taken in groups:
            if not any(_overlap(region, other) for other in taken):
                members.append(k)
                taken.append(region)
                break
        else:
            groups.append(([k], [region]))
    return groups


def _overlap(a: tuple[slice, slice], b: tuple[slice, slice]) -> bool:
    rows = a[0].start < b[0].stop and b[0].start < a[0].stop
    cols = a[1].start < b[1].stop and b[1].start < a[1].stop
    return rows and cols


def grid_windows(
    height: int, width: int, size: int = 16, stride: Optional[int] = None
) -> Tensor:
    """Windows ``(top, left, size)`` on a regular grid over an output image.

    Parameters
    ----------
    height, width : int
        Output size in pixels.
    size : int
        Window side; ``1 <= size <= min(height, width)``.
    stride : int, optional
        Step between windows; default ``size`` (tiles that do not overlap).

    Returns
    -------
    Tensor
        int64, shape (rows, cols, 3); the last row and column of windows may
        leave a strip of fewer than ``stride`` pixels at the bottom and right.

    Examples
    --------
    >>> grid_windows(64, 48, size=16).shape
    torch.Size([4, 3, 3])
    """
    check_int("size", size, 1)
    if size > min(height, width):
        raise ValueError(
            f"size {size} does not fit an output of {height}x{width} pixels"
        )
    stride = size if stride is None else stride
    check_int("stride", stride, 1)
    tops = torch.arange(0, height - size + 1, stride)
    lefts = torch.arange(0, width - size + 1, stride)
    grid = torch.stack(torch.meshgrid(tops, lefts, indexing="ij"), dim=-1)
    sizes = torch.full((*grid.shape[:2], 1), size, dtype=torch.int64)
    return torch.cat([grid.to(torch.int64), sizes], dim=-1)


def di_map(
    model: Any,
    inputs: Tensor,
    size: int = 16,
    stride: Optional[int] = None,
    *,
    windows_per_pass: int = 64,
    **lam_kwargs: Any,
) -> tuple[Tensor, np.ndarray]:
    """Diffusion Index of every window of a grid over the whole output.

    Parameters
    ----------
    model : nn.Module or callable
        The SR network (eval mode).
    inputs : Tensor
        One LR image, (1, C, h, w).
    size, stride : int
        Window side and grid step in output pixels (default stride: ``size``).
    windows_per_pass : int
        Windows attributed together (one pass over the path each); bounds the
        memory of the maps, (windows_per_pass, C, h, w).
    **lam_kwargs
        Passed to [`attribute_windows`][captum_lam.attribute_windows]: ``sigma``,
        ``kernel_size``, ``detector``, ``n_steps``, ``method``, ``internal_batch_size``,
        ``reach`` (``"auto"`` speeds up zoo models with a finite receptive
        field).

    Returns
    -------
    grid_windows : Tensor
        int64 (rows, cols, 3), the windows ``(top, left, size)``.
    di_grid : ndarray
        float64 (rows, cols), DI in [0, 100]; NaN where the map is all zero (a
        window without any gradient in the output).

    Examples
    --------
    >>> model = torch.nn.Upsample(scale_factor=2, mode="bilinear").eval()
    >>> windows, di = di_map(model, torch.rand(1, 3, 16, 16), size=8, n_steps=4)
    >>> windows.shape, di.shape
    (torch.Size([4, 4, 3]), (4, 4))
    """
    check_image_batch(inputs)
    check_int("windows_per_pass", windows_per_pass, 1)
    with torch.no_grad():
        out_h, out_w = model(inputs).shape[-2:]
    grid = grid_windows(int(out_h), int(out_w), size, stride)
    flat = grid.reshape(-1, 3)
    values = np.full(flat.shape[0], np.nan)
    for start in range(0, flat.shape[0], windows_per_pass):
        chunk = flat[start : start + windows_per_pass]
        attr = attribute_windows(model, inputs, chunk, **lam_kwargs)
        for i, one in enumerate(attr.detach()):
            if bool((one.sum(dim=0) != 0).any()):
                values[start + i] = float(diffusion_index(one))
    return grid, values.reshape(grid.shape[:2])


def di_map_figure(
    image: Any,
    grid: Tensor,
    di_grid: np.ndarray,
    *,
    title: str = "",
    alpha: float = 0.6,
    cmap: str = "viridis",
    panel_size: float = 4.0,
) -> Figure:
    """The DI map drawn over the image: one coloured cell per window.

    Parameters
    ----------
    image : Tensor or ndarray
        The image in output pixels (HR or SR output), (1, 3, H, W) in [0, 1].
    grid, di_grid
        From [`di_map`][captum_lam.di_map]. With a stride smaller than the window, each
        cell is drawn ``stride`` pixels wide around its window's centre.
    title : str
        Usually the model's name.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: the image, and the image under the DI map with a colour bar.

    Examples
    --------
    >>> g = grid_windows(32, 32, size=16)
    >>> fig = di_map_figure(torch.rand(1, 3, 32, 32), g, np.arange(4.0).reshape(2, 2))
    >>> len(fig.axes)
    3
    """
    from ._pictures.arrays import image_hwc

    picture = image_hwc(image)
    values = np.asarray(di_grid, dtype=np.float64)
    grid_t = torch.as_tensor(grid)
    if grid_t.ndim != 3 or tuple(grid_t.shape[:2]) != values.shape:
        raise ValueError(
            f"grid (rows, cols, 3) and di_grid (rows, cols) disagree: "
            f"{tuple(grid_t.shape)} and {values.shape}"
        )
    size = int(grid_t[0, 0, 2])
    tops, lefts = grid_t[:, 0, 0].tolist(), grid_t[0, :, 1].tolist()
    step_y = tops[1] - tops[0] if len(tops) > 1 else size
    step_x = lefts[1] - lefts[0] if len(lefts) > 1 else size
    y0 = tops[0] + (size - min(step_y, size)) / 2
    x0 = lefts[0] + (size - min(step_x, size)) / 2
    extent = (
        x0 - 0.5,
        x0 + min(step_x, size) * len(lefts) - 0.5,
        y0 + min(step_y, size) * len(tops) - 0.5,
        y0 - 0.5,
    )
    fig = Figure(figsize=(2 * panel_size + 0.8, panel_size + 0.4), dpi=100)
    axes = fig.subplots(1, 2)
    axes[0].imshow(picture, interpolation="nearest")
    axes[0].set_title("image", fontsize=9)
    axes[1].imshow(picture, interpolation="nearest")
    shown = axes[1].imshow(
        np.ma.masked_invalid(values),
        extent=extent,
        cmap=cmap,
        alpha=alpha,
        interpolation="nearest",
        vmin=0.0,
        vmax=float(np.nanmax(values)) if np.isfinite(values).any() else 1.0,
    )
    axes[1].set_xlim(-0.5, picture.shape[1] - 0.5)
    axes[1].set_ylim(picture.shape[0] - 0.5, -0.5)
    axes[1].set_title(f"DI of {size}x{size} windows", fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    fig.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.04, label="DI")
    finite = values[np.isfinite(values)]
    summary = (
        f"median DI {np.median(finite):.2f} (range {finite.min():.2f}-"
        f"{finite.max():.2f})"
        if finite.size
        else "no window with gradients"
    )
    fig.suptitle(f"{title}  —  {summary}" if title else summary, fontsize=11)
    return fig

"""The model-parameter randomisation test (MPRT) for window attributions.

Adebayo et al. (NeurIPS 2018, "Sanity Checks for Saliency Maps"): re-initialise
the network's layers from the output backwards and watch the map; a map that
stays the same while the weights change explains the input, not the network.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional, Union

import numpy as np
import torch
from scipy.stats import rankdata
from torch import Tensor, nn

from .._method.checks import check_image_batch, check_int
from .._method.model_state import caller_state_kept
from ..objective import Window, format_windows, probe_model

#: The attribution methods known by name (``method=`` of ``randomization_check``).
METHOD_NAMES = ("saliency", "ig", "ig-blur", "blur-ig", "lam")
#: blur-IG's largest blur (Xu et al. 2020 blur the input until it is featureless;
#: on the small LR crops of SR networks 4 pixels is already flat).
BLUR_IG_SIGMA = 4.0

AttributionFn = Callable[[nn.Module, Tensor, Window], Tensor]


def window_attribution(
    method: str,
    model: Any,
    inputs: Tensor,
    target: Window,
    n_steps: int = 25,
    sigma: float = 1.2,
    kernel_size: int = 9,
    detector: str = "difference",
    internal_batch_size: Optional[int] = None,
) -> Tensor:
    """The map of ``target`` by one of ``METHOD_NAMES``, all on the window objective.

    ``"saliency"``: the gradient; ``"ig"``: Integrated Gradients from black;
    ``"ig-blur"``: from LAM's blurred image, on a straight line; ``"blur-ig"``:
    blur IG (Xu et al. 2020), the progressive-blur path from a blur of
    ``BLUR_IG_SIGMA``; ``"lam"``: LAM. Path methods use ``n_steps`` midpoint steps.
    """
    from captum.attr import IntegratedGradients, Saliency

    from ..filters import gaussian_blur2d
    from ..lam import LAM
    from ..objective import WindowObjective
    from ..path_integrated_gradients import PathIntegratedGradients
    from ..paths import ProgressiveBlurPath

    if method == "lam":
        lam = LAM(model, sigma=sigma, kernel_size=kernel_size, detector=detector)
        return lam.attribute(
            inputs,
            target=target,
            n_steps=n_steps,
            method="riemann_middle",
            internal_batch_size=internal_batch_size,
        ).detach()
    objective = WindowObjective(model, window=None, detector=detector)
    windows = format_windows(target, inputs.shape[0], device=inputs.device)
    if method == "saliency":
        return (
            Saliency(objective)
            .attribute(
                inputs.clone().requires_grad_(),
                abs=False,
                additional_forward_args=(windows,),
            )
            .detach()
        )
    if method == "blur-ig":
        side = 2 * int(np.ceil(3 * BLUR_IG_SIGMA)) + 1
        side = min(side, 4 * max(inputs.shape[-2:]) + 1)
        path = ProgressiveBlurPath(sigma=BLUR_IG_SIGMA, kernel_size=side)
        return (
            PathIntegratedGradients(objective, path)
            .attribute(
                inputs,
                additional_forward_args=(windows,),
                n_steps=n_steps,
                method="riemann_middle",
                internal_batch_size=internal_batch_size,
            )
            .detach()
        )
    baseline = (
        torch.zeros_like(inputs)
        if method == "ig"
        else gaussian_blur2d(inputs, kernel_size, sigma)
    )
    return (
        IntegratedGradients(objective)
        .attribute(
            inputs,
            baselines=baseline,
            additional_forward_args=(windows,),
            n_steps=n_steps,
            method="riemann_middle",
            internal_batch_size=internal_batch_size,
        )
        .detach()
    )


@dataclass(frozen=True)
class RandomizationResult:
    """How much a map changes as a network's layers are re-initialised.

    Attributes
    ----------
    layers : tuple of str
        The re-initialised layers (module names), output first; in
        ``"cascade"`` mode entry ``k`` re-initialised layers ``0 .. k``.
    similarity : ndarray
        Shape (len(layers), N): Spearman's rank correlation, in [-1, 1], of the
        map's ``|channel sum|`` with the original map's, per layer and example,
        over the pixels where either map is not exactly 0 (NaN where a map is
        constant there). Near 1: the map did not notice.
    mode : {"cascade", "independent"}
    """

    layers: tuple[str, ...]
    similarity: np.ndarray
    mode: str

    def rows(self) -> list[dict[str, Any]]:
        """One row per layer: its name and the mean similarity over examples."""
        return [
            {
                "layer": name,
                "similarity": float(np.nanmean(values))
                if np.isfinite(values).any()
                else float("nan"),
            }
            for name, values in zip(self.layers, self.similarity)
        ]


def rank_similarity(first: Tensor, second: Tensor) -> np.ndarray:
    """Spearman's rho of the ``|channel sum|`` of two (N, C, H, W) maps, shape (N,),
    over the pixels where either map is not exactly 0."""
    out = []
    for a, b in zip(first, second):
        sa = a.detach().double().sum(0).abs().cpu().numpy().ravel()
        sb = b.detach().double().sum(0).abs().cpu().numpy().ravel()
        # pixels outside a local network's reach are exactly 0 in every map:
        # their tie would count as agreement whatever the weights
        support = (sa != 0) | (sb != 0)
        ra, rb = rankdata(sa[support]), rankdata(sb[support])
        if ra.size < 2 or ra.std() == 0 or rb.std() == 0:
            out.append(np.nan)
        else:
            out.append(float(np.corrcoef(ra, rb)[0, 1]))
    return np.asarray(out)


def _layers_in_call_order(model: nn.Module, inputs: Tensor) -> list[str]:
    """Names of the modules with parameters of their own, in forward-call order."""
    order: list[str] = []
    handles = []
    names = {module: name for name, module in model.named_modules()}
    for module in model.modules():
        if any(True for _ in module.parameters(recurse=False)):

            def hook(mod: nn.Module, *_: Any) -> None:
                if names[mod] not in order:
                    order.append(names[mod])

            handles.append(module.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            model(inputs.clone())
    finally:
        for handle in handles:
            handle.remove()
    return order


def _reinitialise(module: nn.Module, generator: torch.Generator) -> None:
    """Gaussian weights of each parameter's own std (its scale is kept)."""
    with torch.no_grad():
        for parameter in module.parameters(recurse=False):
            scale = parameter.detach().double().std() if parameter.numel() > 1 else None
            if scale is None or not torch.isfinite(scale) or scale == 0:
                scale = parameter.detach().double().abs().mean().clamp_min(1e-3)
            noise = torch.randn(
                parameter.shape, generator=generator, dtype=torch.float64
            )
            parameter.copy_((noise * scale).to(parameter))


def randomization_check(
    model: nn.Module,
    inputs: Tensor,
    target: Window,
    method: Union[str, AttributionFn] = "lam",
    layers: Literal["cascade", "independent"] = "cascade",
    *,
    stages: Optional[int] = None,
    n_steps: int = 25,
    sigma: float = 1.2,
    kernel_size: int = 9,
    detector: str = "difference",
    seed: int = 0,
) -> RandomizationResult:
    """Model-parameter randomisation test: the map's rank similarity per layer.

    The layers (modules with parameters of their own, in the order the forward
    pass calls them) are re-initialised from the output backwards, on a copy of
    the model (the caller's is not touched): with ``layers="cascade"`` each step
    keeps the earlier re-initialisations (Adebayo et al.'s cascading
    randomisation), with ``"independent"`` only one layer is random at a time.
    After each step the map of ``target`` is recomputed and compared with the
    original by Spearman's rank correlation of ``|channel sum|``. Weights are
    redrawn from a Gaussian with each parameter tensor's own std, so the
    network's activations keep their scale.

    Parameters
    ----------
    model : nn.Module
        The network, in eval mode.
    inputs : Tensor
        LR images, shape (N, C, H, W).
    target : tuple, list or Tensor
        The output window ``(top, left, size)``, one or (N, 3).
    method : str or callable
        One of ``"saliency"``, ``"ig"`` (black baseline), ``"ig-blur"`` (blurred
        baseline), ``"blur-ig"`` and ``"lam"`` (default), or a callable
        ``method(model, inputs, target) -> Tensor (N, C, H, W)``.
    layers : {"cascade", "independent"}
        See above. Default ``"cascade"``.
    stages : int, optional
        Re-initialise the layers in this many groups of consecutive layers
        (for deep networks: one map per group instead of per layer). Default
        None: one per layer.
    n_steps, sigma, kernel_size, detector
        The path methods' settings (midpoint rule).
    seed : int
        Seeds the new weights.

    Returns
    -------
    RandomizationResult
        ``similarity`` of shape (L, N), L the number of layers (or stages).

    Examples
    --------
    >>> model = torch.nn.Sequential(
    ...     torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Tanh(),
    ...     torch.nn.Conv2d(8, 12, 3, padding=1), torch.nn.PixelShuffle(2)).eval()
    >>> result = randomization_check(model, torch.rand(1, 3, 12, 12), (4, 4, 8),
    ...                              method="saliency")
    >>> result.layers, result.similarity.shape
    (('2', '0'), (2, 1))
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module (its layers are re-initialised), got "
            f"{type(model).__name__}"
        )
    check_image_batch(inputs)
    if layers not in ("cascade", "independent"):
        raise ValueError(f"layers must be 'cascade' or 'independent', got {layers!r}")
    if isinstance(method, str):
        if method not in METHOD_NAMES:
            raise ValueError(
                f"method must be one of {', '.join(map(repr, METHOD_NAMES))} or a "
                f"callable (model, inputs, target) -> attributions, got {method!r}"
            )
        name = method

        def attribute(net: nn.Module, x: Tensor, window: Window) -> Tensor:
            return window_attribution(
                name, net, x, window, n_steps, sigma, kernel_size, detector
            )

    elif callable(method):
        attribute = method
    else:
        raise TypeError(
            f"method must be a name or a callable, got {type(method).__name__}"
        )
    check_int("stages", stages, 1, allow_none=True)
    check_int("n_steps", n_steps, 1)
    check_int("seed", seed, 0)
    windows = format_windows(target, inputs.shape[0], device=inputs.device)
    probe_model(model, inputs, (), windows)
    with caller_state_kept(model):
        names = _layers_in_call_order(model, inputs)
        if not names:
            raise ValueError("model has no parameters to re-initialise")
        names.reverse()  # from the output backwards
        groups = [[n] for n in names]
        if stages is not None and stages < len(names):
            groups = [list(g) for g in np.array_split(np.array(names), stages)]
        original = attribute(model, inputs, windows)
        generator = torch.Generator().manual_seed(seed)
        randomised = copy.deepcopy(model)
        modules = dict(randomised.named_modules())
        similarity = []
        for group in groups:
            if layers == "independent":
                randomised = copy.deepcopy(model)
                modules = dict(randomised.named_modules())
            for layer in group:
                _reinitialise(modules[layer], generator)
            similarity.append(
                rank_similarity(original, attribute(randomised, inputs, windows))
            )
    labels = tuple(g[0] if len(g) == 1 else f"{g[0]}..{g[-1]}" for g in groups)
    return RandomizationResult(labels, np.stack(similarity), layers)

"""Causal Effect Maps (Hu, Gu et al., TPAMI 2025) of a window, as a Captum method."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from captum._utils.common import _expand_additional_forward_args
from captum._utils.progress import progress
from captum.attr import PerturbationAttribution
from captum.log import log_usage
from torch import Tensor

from ._method.checks import (
    as_int,
    check_float_tensor,
    check_grad_mode,
    check_image_batch,
    check_int,
    warn_if_training,
)
from ._method.engine import steps_per_pass
from ._method.model_state import keeps_caller_state
from ._method.patch_bank import default_bank, fit_patches
from ._method.reach import Reach, model_reach, reach_region
from .lam import _tuple_args
from .objective import Window, format_windows, probe_model

#: MSE of rounding to 8 bits, (1/255)^2 / 12: the reference quality of
#: ``hr=None`` (the clean output stands for the ground truth, so its own PSNR
#: would be infinite).
ROUNDING_MSE = 1.0 / (12.0 * 255.0**2)
#: PSNR is capped at 120 dB (MSE floored at 1e-12) when ``hr`` equals the output.
_MSE_FLOOR = 1e-12
#: The authors' intervention block: 8 output pixels (2 LR pixels at x4).
DEFAULT_BLOCK_OUTPUT_PIXELS = 8
#: Passes at once off the CPU when ``batch_size`` is None.
_DEVICE_BATCH = 64


def default_block_size(scale: int) -> int:
    """The authors' block, 8 output pixels, in LR pixels: ``max(1, 8 // scale)``."""
    return max(1, DEFAULT_BLOCK_OUTPUT_PIXELS // scale)


@dataclass(frozen=True)
class CEMReport:
    """What the last `CausalEffectMap.attribute` call computed.

    ``forward_passes``: perturbed images run through the network (clean runs
    not counted); ``blocks``: blocks in the input; ``blocks_in_reach``: blocks
    that could affect the window (the others are exact zeros); ``fine_blocks``:
    blocks whose coarse effect passed ``threshold_db`` and got fine swaps;
    ``block_size``: the block side used, in LR pixels. Summed over examples.
    """

    forward_passes: int
    blocks: int
    blocks_in_reach: int
    fine_blocks: int
    block_size: int


class CausalEffectMap(PerturbationAttribution):
    r"""Causal Effect Map of an image-to-image network's output window.

    Which input pixels *help* and which *hurt* the reconstruction of one
    output window? CEM intervenes: every block of ``block_size`` x
    ``block_size`` input pixels is replaced by patches drawn from a bank, and
    the block's effect is the window's PSNR on the clean input minus its mean
    PSNR over the swaps, in dB. Positive: the block helps (replacing it lowers
    the window's quality); negative: it hurts.

    The algorithm is the authors' (``J-FHu/CEM``,
    ``demo_causal_effect_calculation.py`` and ``demo_CEM_generation.py``):

    - **coarse swaps**: ``n_coarse`` patches for every block;
    - **fine swaps**: ``n_fine`` fresh patches for each block whose largest
      coarse change ``max_k |PSNR_clean - PSNR_k|`` is at least
      ``threshold_db``; its effect is then the fine mean alone (the coarse
      swaps are not pooled in, as in the authors' code);
    - **threshold**: effects with ``|effect| < threshold_db`` are set to 0;
    - the mean is taken over the swaps' PSNRs (dB), then subtracted from the
      clean PSNR, as theirs;
    - the block is 8 output pixels by default (their ``mask_block_size: 8``,
      divided by the scale: 2 LR pixels at x4);
    - bank patches are resized to the block (theirs with cv2's bicubic, here
      antialiased bicubic); patches already of the block's side are used as
      they are.

    Where it differs, and why:

    - **Patch bank.** Theirs is cut from DIV2K, which is not available here.
      The default bank (``patches=None``) is 600 patches of 8x8 pixels cut at
      seeded places from bundled photos that no evaluation uses (scikit-image's
      ``rocket``, ``immunohistochemistry``, ``brick``, ``grass``, ``gravel`` and
      matplotlib's ``grace_hopper``; not the held-out ``astronaut``, ``coffee``,
      ``chelsea``), luma for one-channel inputs.
    - **PSNR** is taken on the output clamped to [0, 1], in floating point
      (theirs rounds to 8 bits first, which zeroes effects smaller than a
      grey level), over all channels of the window.
    - **Draws** are seeded (``seed``) instead of Python's global ``random``:
      draw ``k`` of block ``(i, j)`` of example ``n`` is patch
      ``torch.randint(P, (N, rows, cols, n_coarse + n_fine),
      generator=torch.Generator().manual_seed(seed))[n, i, j, k]`` (the first
      ``n_coarse`` coarse, the rest fine), fixed before any block is skipped,
      so the map does not depend on ``reach`` or ``batch_size``.
    - **Exact zeros.** A swap that leaves the block as it was has effect 0
      without running the network, and blocks beyond the network's ``reach``
      (when given) are 0 without any swap.
    - **Edge blocks** of an input whose side is not a multiple of the block
      get the top-left part of the patch (theirs assume square images that the
      blocks tile).
    - The effect inside the window is kept (their figure paints it over).

    Parameters
    ----------
    model : nn.Module or callable
        Maps images (N, C, h, w) in [0, 1] to outputs (N, C', H, W) in [0, 1],
        e.g. ``H = s * h``. Put it in eval mode first.
    block_size : int, optional
        Block side in LR (input) pixels. Default: ``max(1, 8 // scale)``.
    patches : Tensor, optional
        The bank, shape (P, C, p, q), finite, in the input's range: each swap
        draws one of the P patches (with replacement). Default: the bundled
        bank above.
    n_coarse : int
        Coarse swaps per block, >= 1. Default 3 (the authors').
    n_fine : int
        Fine swaps per block that passes the threshold, >= 0. Default 50.
    threshold_db : float
        Threshold in dB, >= 0. Default 0.01 (the authors' ``tol``).
    batch_size : int, optional
        Perturbed images per forward pass; bounds memory. Default: on a CPU
        about 40k input pixels per pass, elsewhere 64.
    seed : int
        Seed of the draws (and of the default bank). Default 0.

    Attributes
    ----------
    last_report : CEMReport or None
        Passes, blocks in reach and fine blocks of the last call.
    progress_callback : callable or None
        Called as ``progress_callback(passes_done, passes_planned)`` after each
        forward pass (the plan grows when the fine stage starts).

    References
    ----------
    .. [1] Hu, J., Gu, J., Yu, S., Yu, F., Li, Z., You, Z., Lu, C. and Dong, C.
    Interpreting Low-level Vision Models with Causal Effect Maps. IEEE TPAMI
    47(8), 2025. Code: https://github.com/J-FHu/CEM

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(
    ...     torch.nn.Conv2d(3, 12, 3, padding=1), torch.nn.Sigmoid(),
    ...     torch.nn.PixelShuffle(2)).eval()
    >>> lr, hr = torch.rand(1, 3, 12, 12), torch.rand(1, 3, 24, 24)
    >>> cem = CausalEffectMap(model, block_size=2, n_fine=4)
    >>> effect = cem.attribute(lr, target=(8, 8, 8), hr=hr, reach=2)
    >>> effect.shape
    torch.Size([1, 1, 12, 12])
    >>> bool((effect[..., :2, :] == 0).all())  # beyond the 3x3 conv's reach
    True
    """

    def __init__(
        self,
        model: Any,
        block_size: Optional[int] = None,
        patches: Optional[Tensor] = None,
        n_coarse: int = 3,
        n_fine: int = 50,
        threshold_db: float = 0.01,
        batch_size: Optional[int] = None,
        seed: int = 0,
    ) -> None:
        if not callable(model):
            raise TypeError(f"model must be callable, got {type(model).__name__}")
        check_int("block_size", block_size, 1, allow_none=True)
        check_int("n_coarse", n_coarse, 1)
        check_int("n_fine", n_fine, 0)
        check_int("batch_size", batch_size, 1, allow_none=True)
        if as_int(seed) is None:
            raise ValueError(f"seed must be an integer, got {seed!r}")
        if (
            isinstance(threshold_db, bool)
            or not isinstance(threshold_db, numbers.Real)
            or not math.isfinite(threshold_db)
            or threshold_db < 0
        ):
            raise ValueError(
                f"threshold_db must be a finite number >= 0 (dB), got {threshold_db!r}"
            )
        if patches is not None:
            if not isinstance(patches, Tensor) or patches.ndim != 4:
                got = (
                    tuple(patches.shape)
                    if isinstance(patches, Tensor)
                    else type(patches).__name__
                )
                raise ValueError(
                    f"patches must be a Tensor of shape (P, C, p, q), got {got}"
                )
            check_float_tensor(patches, "patches")
        super().__init__(model)
        self.model = model
        self.block_size = None if block_size is None else as_int(block_size)
        self.patches = patches
        self.n_coarse = as_int(n_coarse)
        self.n_fine = as_int(n_fine)
        self.threshold_db = float(threshold_db)
        self.batch_size = None if batch_size is None else as_int(batch_size)
        self.seed = as_int(seed)
        self.progress_callback: Optional[Callable[[int, int], None]] = None
        self.last_report: Optional[CEMReport] = None

    @log_usage()
    @keeps_caller_state(lambda self, *args, **kwargs: self.model)
    def attribute(  # type: ignore[override]
        self,
        inputs: Tensor,
        target: Window = None,  # type: ignore[assignment]
        hr: Optional[Tensor] = None,
        additional_forward_args: Any = None,
        reach: Reach = None,
        show_progress: bool = False,
    ) -> Tensor:
        r"""Causal effect of every input block on the window ``target``.

        Parameters
        ----------
        inputs : Tensor
            Images, shape (N, C, h, w), float32/float64, finite, in [0, 1].
        target : tuple, list, or Tensor
            The window ``(top, left, size)`` in output pixels, in every form
            `LAM.attribute` takes (one for all examples or one each).
        hr : Tensor, optional
            The ground truth, the output's shape (N, C', H, W), in [0, 1]: the
            map is in dB of the window's PSNR against it. None: the model's
            own output on the clean input stands for it, and a block's effect is
            ``10 log10(1 + MSE / ROUNDING_MSE)``, the window's change when the
            block is swapped over 8-bit rounding noise: then the map measures
            **change, not quality**, and is >= 0.
        additional_forward_args : Any, optional
            Extra arguments for the model, after the input.
        reach : None, "auto" or int
            How many LR pixels the network reaches beyond a pixel, as in
            `LAM.attribute`: blocks beyond it are 0 without being swapped and the
            network runs on the part of the input the window depends on. A reach
            smaller than the true one gives a wrong map. Default None: every
            block is swapped, on the whole input.
        show_progress : bool
            A progress bar over the forward passes (Captum's, as
            ``FeatureAblation``'s).

        Returns
        -------
        Tensor
            Shape (N, 1, h, w), the inputs' dtype and device: each block's
            effect in dB on its pixels; exactly 0 where below ``threshold_db``
            or beyond the reach.
        """
        check_image_batch(inputs)
        check_grad_mode()
        windows = format_windows(target, inputs.shape[0], device=inputs.device)
        radius = model_reach(self.model, reach)
        extra = _tuple_args(additional_forward_args)
        warn_if_training(self.model)
        output_shape = probe_model(self.model, inputs, extra, windows)
        if hr is not None:
            _check_hr(hr, output_shape)
        scale = max(1, output_shape[-1] // inputs.shape[-1])
        block = self._block_size(scale, inputs.shape)
        patches = self._bank(inputs, block)
        rows = -(-inputs.shape[-2] // block)
        cols = -(-inputs.shape[-1] // block)
        draws = torch.randint(
            patches.shape[0],
            (inputs.shape[0], rows, cols, self.n_coarse + self.n_fine),
            generator=torch.Generator().manual_seed(self.seed),
        )
        bar = progress(desc="CEM", total=0) if show_progress else None
        passes = [0, 0]  # done, planned

        def tick(planned: int = 0, done: int = 0) -> None:
            passes[0] += done
            passes[1] += planned
            if bar is not None:
                bar.total = passes[1]
                bar.update(done)
            if self.progress_callback is not None and done:
                self.progress_callback(passes[0], passes[1])

        effects = torch.zeros(
            inputs.shape[0], 1, *inputs.shape[-2:], dtype=inputs.dtype
        )
        counts = [0, 0]  # blocks in reach, fine blocks
        try:
            with torch.no_grad():
                for n in range(inputs.shape[0]):
                    example = _Example(
                        self, inputs[n : n + 1], windows[n], extra, radius, scale
                    )
                    example.reference(None if hr is None else hr[n : n + 1])
                    blocks = example.blocks(block, rows, cols)
                    counts[0] += len(blocks)
                    values, fine = self._effects(
                        example, blocks, patches, draws[n], block, tick
                    )
                    counts[1] += fine
                    for (i, j), value in zip(blocks, values):
                        effects[
                            n,
                            0,
                            i * block : (i + 1) * block,
                            j * block : (j + 1) * block,
                        ] = value
        finally:
            if bar is not None:
                bar.close()
        self.last_report = CEMReport(
            forward_passes=passes[0],
            blocks=rows * cols * inputs.shape[0],
            blocks_in_reach=counts[0],
            fine_blocks=counts[1],
            block_size=block,
        )
        return effects.to(inputs.device)

    def _block_size(self, scale: int, shape: torch.Size) -> int:
        block = self.block_size
        if block is None:
            block = default_block_size(scale)
        if block > min(shape[-2:]):
            raise ValueError(
                f"block_size must be at most the input's side ({min(shape[-2:])} "
                f"pixels), got {block}"
            )
        return block

    def _bank(self, inputs: Tensor, block: int) -> Tensor:
        if self.patches is None:
            bank = default_bank(inputs.shape[1], self.seed)
        else:
            bank = self.patches
            if bank.shape[1] != inputs.shape[1]:
                raise ValueError(
                    f"patches must have the inputs' {inputs.shape[1]} channels, "
                    f"got shape {tuple(bank.shape)}"
                )
        return fit_patches(bank.to(inputs.device, inputs.dtype), block)

    def _effects(
        self,
        example: _Example,
        blocks: list[tuple[int, int]],
        patches: Tensor,
        draws: Tensor,
        block: int,
        tick: Callable[..., None],
    ) -> tuple[list[float], int]:
        """Coarse swaps for every block, fine swaps where they pass the threshold."""
        coarse = example.changes(
            [(b, draws[b][: self.n_coarse]) for b in blocks], patches, block, tick
        )
        fine_blocks = [
            b
            for b, change in zip(blocks, coarse)
            if self.n_fine and max(abs(c) for c in change) >= self.threshold_db
        ]
        fine = example.changes(
            [(b, draws[b][self.n_coarse :]) for b in fine_blocks], patches, block, tick
        )
        final = dict(zip(blocks, coarse))
        final.update(zip(fine_blocks, fine))
        values = []
        for b in blocks:
            value = sum(final[b]) / len(final[b])
            values.append(0.0 if abs(value) < self.threshold_db else value)
        return values, len(fine_blocks)


class _Example:
    """One example: its input (cropped to the reach), window, reference and swaps."""

    def __init__(
        self,
        cem: CausalEffectMap,
        inputs: Tensor,
        window: Tensor,
        extra: tuple,
        radius: Optional[int],
        scale: int,
    ) -> None:
        self.model = cem.model
        self.extra = extra
        self.batch_size = cem.batch_size
        height, width = inputs.shape[-2:]
        self.region = (slice(0, height), slice(0, width))
        if radius is not None:
            self.region = reach_region(
                inputs.shape, (scale * height, scale * width), window[None], radius
            )
        self.inputs = inputs[..., self.region[0], self.region[1]]
        self.height, self.width = height, width
        top, left, size = (int(v) for v in window)
        self.hr_window = (slice(top, top + size), slice(left, left + size))
        top -= scale * self.region[0].start
        left -= scale * self.region[1].start
        self.window = (slice(top, top + size), slice(left, left + size))

    def _forward(self, images: Tensor) -> Tensor:
        count = images.shape[0]
        args = _expand_additional_forward_args(self.extra, count) if self.extra else ()
        output = self.model(images, *args)
        return output[..., self.window[0], self.window[1]].clamp(0.0, 1.0)

    def reference(self, hr: Optional[Tensor]) -> None:
        """The window's target and clean quality (hr None: the clean output)."""
        clean = self._forward(self.inputs.clone())
        self.change_only = hr is None
        if hr is None:
            self.target = clean
        else:
            target = hr[..., self.hr_window[0], self.hr_window[1]]
            self.target = target.to(clean.device, clean.dtype)
        self.clean_quality = self._quality(clean)

    def _quality(self, windows: Tensor) -> Tensor:
        """PSNR (dB) of each window (B, C', s, s) against the target."""
        mse = ((windows - self.target) ** 2).flatten(1).mean(dim=1)
        if self.change_only:
            return -10.0 * torch.log10(mse + ROUNDING_MSE)
        return -10.0 * torch.log10(mse.clamp_min(_MSE_FLOOR))

    def blocks(self, block: int, rows: int, cols: int) -> list[tuple[int, int]]:
        """The blocks that overlap the region the window depends on."""
        r, c = self.region
        return [
            (i, j)
            for i in range(r.start // block, min(rows, -(-r.stop // block)))
            for j in range(c.start // block, min(cols, -(-c.stop // block)))
        ]

    def _extent(self, index: int, block: int, region: slice, side: int) -> tuple:
        """(start in the crop, stop in the crop, offset into the patch)."""
        start = max(index * block, region.start)
        stop = min((index + 1) * block, region.stop, side)
        return start - region.start, stop - region.start, start - index * block

    def changes(
        self,
        jobs: list[tuple[tuple[int, int], Tensor]],
        patches: Tensor,
        block: int,
        tick: Callable[..., None],
    ) -> list[list[float]]:
        """Per job (block, draws): the quality drop of each swap, in dB."""
        drops: list[list[float]] = [[0.0] * len(d) for _, d in jobs]
        pending: list[tuple[int, int, tuple, Tensor]] = []
        for j, ((bi, bj), draws) in enumerate(jobs):
            r0, r1, pr = self._extent(bi, block, self.region[0], self.height)
            c0, c1, pc = self._extent(bj, block, self.region[1], self.width)
            original = self.inputs[0, :, r0:r1, c0:c1]
            for k, index in enumerate(draws.tolist()):
                patch = patches[index, :, pr : pr + r1 - r0, pc : pc + c1 - c0]
                if not torch.equal(patch, original):
                    pending.append((j, k, (r0, r1, c0, c1), patch))
        per_pass = self.batch_size or steps_per_pass(
            self.inputs, min(len(pending), _DEVICE_BATCH) or 1, None, 1
        )
        tick(planned=len(pending))
        for start in range(0, len(pending), per_pass):
            chunk = pending[start : start + per_pass]
            images = self.inputs.repeat(len(chunk), 1, 1, 1)
            for b, (_, _, (r0, r1, c0, c1), patch) in enumerate(chunk):
                images[b, :, r0:r1, c0:c1] = patch
            quality = self._quality(self._forward(images))
            drop = (self.clean_quality - quality).tolist()
            for (j, k, _, _), value in zip(chunk, drop):
                drops[j][k] = value
            tick(done=len(chunk))
        return drops


def _check_hr(hr: Any, output_shape: torch.Size) -> None:
    check_image_batch(hr, "hr")
    if hr.shape != output_shape:
        raise ValueError(
            f"hr must have the model output's shape {tuple(output_shape)}, got "
            f"{tuple(hr.shape)}"
        )

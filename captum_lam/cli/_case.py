"""What a command settles before any work: its model, its image and window
(`CommandCase`), its device, its outputs and its cost."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import torch
from torch import Tensor, nn

from .._frontend.model_options import (
    check_model_options,
    given_adapter_options,
    split_models,
)
from .._frontend.output_paths import Output, check_outputs
from .._io import is_stdout, stream_to_stdout
from .._method.checks import integer_scale, parse_device
from ..images import (
    bicubic_upsample,
    crop_to_multiple,
    read_image_spec,
)
from ..images._degradation import degrade
from ..windows import auto_windows, window_region
from ._options import UserError, parse_mean, parse_region, parse_window

DEFAULT_PRETRAINED = "span-x4-ch48"
DEFAULT_TRAINED = "edsr-small"  # the zoo model with the best held-out PSNR
DEFAULT_WINDOW_SIZE = 16
#: Extensions of figure outputs.
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def resolve_model(args: argparse.Namespace, name: Optional[str] = None) -> nn.Module:
    from .. import zoo

    spec = name if name is not None else args.model
    if getattr(args, "checkpoint", None):
        from ..models._checkpoint import load_checkpoint

        require_file(args.checkpoint, "--checkpoint")
        return load_checkpoint(
            args.checkpoint,
            allow_torchscript=not getattr(args, "no_torchscript", False),
        )
    if spec is None:
        spec = (
            DEFAULT_PRETRAINED if zoo.installed(DEFAULT_PRETRAINED) else DEFAULT_TRAINED
        )
    if ":" in spec:
        from ..models._factory import load_factory

        if getattr(args, "weights", None):
            require_file(args.weights, "--weights")
        return load_factory(
            spec,
            getattr(args, "weights", None),
            input_range=1.0 if args.input_range is None else args.input_range,
            mean=parse_mean(args.mean),
            pad_multiple=1 if args.pad_multiple is None else args.pad_multiple,
        )
    if spec not in zoo.names():
        raise UserError(
            f"unknown model {spec!r}; run 'captum-lam models' for the list, or pass "
            "package.module:factory with --weights, or --checkpoint PATH"
        )
    return zoo.load(spec)


def model_info(model: nn.Module) -> dict[str, Any]:
    info = getattr(model, "lam_info", None)
    if info is None:
        return {"name": type(model).__name__}
    return info.to_dict()


def require_file(path: str, option: str) -> None:
    p = Path(path)
    if not p.exists():
        raise UserError(f"{option}: no such file: {path}")
    if not p.is_file():
        raise UserError(f"{option}: not a file: {path}")
    if not os.access(p, os.R_OK):
        raise UserError(f"{option}: cannot read {path}")


def read_image_option(spec: str, option: str) -> Tensor:
    """``sample:NAME`` or a PNG/JPEG path given as ``option``; UserError if bad."""
    if spec.startswith("sample:"):
        try:
            return read_image_spec(spec)
        except ValueError as error:  # the library's message lists the samples
            raise UserError(f"{option}: {error}") from None
    require_file(spec, option)
    try:
        return read_image_spec(spec)
    except Exception as error:  # PIL raises several types for bad files
        raise UserError(
            f"{option}: {spec} is not a readable PNG/JPEG image ({error})"
        ) from None


class CommandCase:
    """The LR input, the HR image (if known) and the window, after cropping."""

    def __init__(
        self,
        args: argparse.Namespace,
        scale: int,
        device: torch.device,
        model_name: Optional[str] = None,
    ) -> None:
        image, self.source = read_image_option(args.image, "--image"), args.image
        image = image.to(device)
        self.image_size = (int(image.shape[-2]), int(image.shape[-1]))
        if args.lr:
            lr_full = image
            reference = bicubic_upsample(lr_full, scale)
        else:
            reference = crop_to_multiple(image, scale)
            if min(reference.shape[-2:]) < scale:
                raise UserError(
                    f"--image: {image.shape[-2]}x{image.shape[-1]} pixels (height x "
                    f"width) is too small for scale {scale}"
                )
        h, w = reference.shape[-2:]
        window = parse_window(args.window)
        if window is None:
            size = min(DEFAULT_WINDOW_SIZE, h, w)
            # ranked on the image as given, as 'windows' and the explorer do
            ranked = auto_windows(reference if args.lr else image, size=size)
            if not ranked or ranked[0][0] + size > h or ranked[0][1] + size > w:
                ranked = auto_windows(reference, size=size)
            window = ranked[0]
            self.window_how = "the most textured, chosen automatically"
        else:
            self.window_how = "given"
            check_window_inside(window, self.image_size, (h, w), scale, args.lr)
        region_option: Any = parse_region(args.region, scale)
        if region_option is None:
            region_option = args.region
        try:
            top0, left0, rh, rw = window_region(window, h, w, scale, region_option)
        except ValueError as error:
            raise UserError(f"--region: {error}") from None
        #: the whole HR image (cropped to the scale), for the figure's context
        self.image_hr: Optional[Tensor] = None if args.lr else reference
        reference = reference[..., top0 : top0 + rh, left0 : left0 + rw]
        self.crop = {"top": top0, "left": left0, "height": rh, "width": rw}
        self.origin = (top0, left0)
        #: in the region's pixels (what LAM sees) and in the image's (what users see)
        self.window = (window[0] - top0, window[1] - left0, window[2])
        self.window_in_image = window
        if args.lr:
            r0, c0 = top0 // scale, left0 // scale
            self.lr = lr_full[..., r0 : r0 + rh // scale, c0 : c0 + rw // scale]
            self.hr = None
        else:
            self.hr: Optional[Tensor] = reference
            self.lr = degrade(reference, scale, model_name)


def check_window_inside(
    window: tuple[int, int, int],
    image_size: tuple[int, int],
    usable: tuple[int, int],
    scale: int,
    lr: bool,
) -> None:
    """``--window`` inside what the network's output covers, or why not."""
    top, left, size = window
    h, w = usable
    if top + size <= h and left + size <= w:
        return
    cut = ""
    if not lr and tuple(image_size) != (h, w):
        cut = (
            f"; the {image_size[0]}x{image_size[1]} image is cropped at the bottom "
            f"and right to {h}x{w}, a multiple of the scale {scale}, so that "
            f"the network's x{scale} output covers it"
        )
    if size > min(h, w):
        raise UserError(
            f"--window size {size} is larger than the {h}x{w} (height x width) "
            f"pixels that can be explained{cut}"
        )
    raise UserError(
        f"--window {top},{left},{size} reaches outside the {h}x{w} (height x "
        f"width) pixels that can be explained{cut}; a {size}-pixel window needs "
        f"TOP <= {h - size} and LEFT <= {w - size}"
    )


def check_command_outputs(outputs: Sequence[Output]) -> dict[str, Optional[Path]]:
    """Every output of a command checked together, before any work; with a ``-``
    output, the command's messages go to stderr and stdout holds only it."""
    try:
        checked = check_outputs(outputs)
    except ValueError as error:
        raise UserError(str(error)) from None
    if any(is_stdout(path) for path in checked.values()):
        stream_to_stdout()
    return checked


def check_model_args(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """``--models`` split, and options that would do nothing refused.

    Returns the models ``--models`` names (empty when not given) and the
    warnings (a factory without ``--weights``), which the command prints with
    ``warn`` once the model has loaded, so a failing load stays one line.
    """
    try:
        models = split_models(getattr(args, "models", None))
    except ValueError as error:
        raise UserError(str(error)) from None
    adapter = given_adapter_options(args)
    try:
        warnings = check_model_options(
            model=getattr(args, "model", None),
            models=models,
            checkpoint=args.checkpoint,
            adapter=adapter,
            weights=args.weights,
        )
    except ValueError as error:
        raise UserError(str(error)) from None
    return list(models or []), warnings


def command_device(args: argparse.Namespace) -> torch.device:
    """``--device`` parsed and checked (meta, missing GPUs), before any work."""
    try:
        return parse_device(args.device)
    except ValueError as error:
        raise UserError(f"--{error}") from None


def check_output_size(sr: Any, lr: Tensor, scale: int) -> None:
    """The network's output is exactly ``scale`` times its input, before LAM runs."""
    if not isinstance(sr, Tensor) or sr.ndim != 4:
        got = tuple(sr.shape) if isinstance(sr, Tensor) else type(sr).__name__
        raise UserError(f"the model returned {got}, not an image batch (N, C, H, W)")
    try:
        integer_scale(lr.shape, sr.shape, expected=scale)
    except ValueError as error:
        raise UserError(str(error)) from None


def check_cost(
    models: Sequence[Any], lr: Tensor, args: argparse.Namespace, runs: int = 1
) -> None:
    """Say what a long run will cost (``runs`` LAM runs of each model), and
    refuse one past the limits unless ``--force``, before any network runs on
    the whole input."""
    from .._frontend.cost import Cost, estimate_cost

    steps = args.steps if isinstance(args.steps, int) else 54  # "auto": at least
    costs = [estimate_cost(model, lr, steps) for model in models]
    cost = Cost(runs * sum(c.seconds for c in costs), max(c.bytes for c in costs))
    size = f"{lr.shape[-2]}x{lr.shape[-1]} LR pixels, {steps} steps"
    if cost.too_large and not getattr(args, "force", False):
        raise UserError(
            f"this run would take {cost.text()} ({size}); explain a smaller "
            "--region (auto: 256 HR pixels around the window), fewer --steps, or "
            "give --force to run it anyway"
        )
    if cost.worth_telling:
        print(f"captum-lam: note: this run will take {cost.text()} ({size})",
              file=sys.stderr)  # fmt: skip

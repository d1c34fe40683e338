"""What the commands share: options, models, images, windows, progress, output."""

from __future__ import annotations

import argparse
import math
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import torch
from torch import Tensor, nn

from .._frontend.model_options import (
    check_model_options,
    given_adapter_options,
    split_models,
)
from .._frontend.output_paths import Output, check_outputs
from .._io import is_stdout, stream_to_stdout
from .._method.adaptive import IntegrationReport
from .._method.checks import integer_scale, parse_device
from ..images import (
    bicubic_upsample,
    crop_to_multiple,
    read_image_spec,
)
from ..images._degradation import degrade
from ..objective import DETECTORS
from ..path_integrated_gradients import METHODS
from ..settings import LAMSettings
from ..windows import auto_windows, window_region

DEFAULT_PRETRAINED = "span-x4-ch48"
DEFAULT_TRAINED = "edsr-small"  # the zoo model with the best held-out PSNR
DEFAULT_IMAGE = "sample:chelsea"
DEFAULT_WINDOW_SIZE = 16
#: Relative completeness error above which ``explain`` warns.
DELTA_WARNING = 0.01
COMPARE_METHODS = ("saliency", "ig", "ig-blur", "lam", "cem")
#: ``--steps`` and ``--rule`` when not given: the reference's scheme.
DEFAULT_STEPS = int(LAMSettings.n_steps)
DEFAULT_RULE = LAMSettings.method


class UserError(Exception):
    """A mistake on the command line: one line on stderr, exit code 2."""


#: Extensions of figure outputs.
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")

# --- models and images -------------------------------------------------------


def resolve_model(args: argparse.Namespace, name: Optional[str] = None) -> nn.Module:
    from .. import zoo

    spec = name if name is not None else args.model
    if getattr(args, "checkpoint", None):
        from ..models._loading import load_checkpoint

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
        from ..models._loading import load_factory

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


def parse_mean(text: Optional[str]) -> Optional[tuple[float, ...]]:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UserError(
            f"--mean must be comma-separated numbers, got {text!r}"
        ) from None


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


def parse_window(text: Optional[str]) -> Optional[tuple[int, int, int]]:
    if text is None:
        return None
    try:
        top, left, size = (int(v) for v in text.split(","))
    except ValueError:
        raise UserError(
            "--window must be TOP,LEFT,SIZE (three integers, the image's pixels), "
            f"got {text!r}"
        ) from None
    if size < 1 or top < 0 or left < 0:
        raise UserError(f"--window needs TOP, LEFT >= 0 and SIZE >= 1, got {text!r}")
    return top, left, size


def parse_region(text: str, scale: int) -> Optional[int]:
    if text in ("auto", "none"):
        return None
    try:
        size = int(text)
    except ValueError:
        raise UserError(
            f"--region must be auto, none or a size in HR pixels, got {text!r}"
        ) from None
    if size < scale or size % scale:
        raise UserError(
            f"--region must be a positive multiple of the scale {scale}, got {size}"
        )
    return size


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


# --- progress ----------------------------------------------------------------


@contextmanager
def progress_bar(
    total: int, quiet: bool, label: str
) -> Iterator[Callable[[int, int], None]]:
    show = not quiet and sys.stderr.isatty()
    if not show:
        yield lambda done, n: None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=label, unit="step", file=sys.stderr, leave=False)

    def update(done: int, n: int) -> None:
        bar.total = max(bar.total, n)  # n_steps="auto" plans one level at a time
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        bar.close()


def say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text)


# --- atomic output -----------------------------------------------------------


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


def warn(texts: Sequence[str]) -> None:
    """One ``captum-lam: warning:`` line on stderr per text."""
    for text in texts:
        print(f"captum-lam: warning: {text}", file=sys.stderr)


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


# --- parser ------------------------------------------------------------------


def _number(text: str, cast: Callable[[str], Any], allowed: str, ok) -> Any:
    """``cast(text)`` if it parses and ``ok`` accepts it, else argparse's error."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _number(text, int, "an integer >= 1", lambda v: v >= 1)


def odd_int(text: str) -> int:
    value = positive_int(text)
    if value % 2 == 0:
        raise argparse.ArgumentTypeError(f"expected an odd integer, got {text!r}")
    return value


def sigma_value(text: str) -> float:
    return _number(text, float, "a finite number >= 0", lambda v: 0 <= v < math.inf)


def settle_integration_options(args: argparse.Namespace) -> None:
    """Refuse ``--steps``/``--rule`` beside ``--tolerance``; fill their defaults.

    Called first by every command that integrates, before any work. Records
    in ``args.chose_integration`` whether any of the three was given.
    """
    args.chose_integration = any(
        value is not None for value in (args.steps, args.method, args.tolerance)
    )
    if args.tolerance is not None:
        clash = [
            option
            for option, value in (("--steps", args.steps), ("--rule", args.method))
            if value is not None
        ]
        if clash:
            raise UserError(
                f"--tolerance chooses the steps and the rule itself (nested "
                f"trapezoid rules, as many steps as the tolerance needs): drop "
                f"{' and '.join(clash)}, or drop --tolerance for a fixed rule"
            )
    if args.steps is None:
        args.steps = DEFAULT_STEPS
    if args.method is None:
        args.method = DEFAULT_RULE


def integration_text(args: argparse.Namespace) -> str:
    """How the options say to integrate, for the terminal."""
    if args.tolerance is None:
        return f"rule {args.method}, {args.steps} steps"
    return f"n_steps auto to tolerance {args.tolerance:g}"


def integration_label(
    args: argparse.Namespace, integration: Optional[IntegrationReport] = None
) -> tuple[Optional[int], str]:
    """Steps and rule for a figure's heading: what was run, not the options.

    With ``--tolerance``: the steps used (None when unknown, e.g. several maps
    that each took their own) and ``"n_steps auto, tolerance T"``.
    """
    if args.tolerance is None:
        return args.steps, args.method
    steps = None if integration is None else integration.n_steps
    return steps, f"n_steps auto, tolerance {args.tolerance:g}"


def lam_settings(args: argparse.Namespace) -> LAMSettings:
    """The [`LAMSettings`][captum_lam.LAMSettings] of the `add_lam_settings` options."""
    return LAMSettings(
        sigma=args.sigma,
        kernel_size=args.kernel_size,
        detector=args.detector,
        n_steps=args.steps if args.tolerance is None else "auto",
        method=args.method,
        internal_batch_size=args.batch_size,
        tolerance=args.tolerance,
    )


def tolerance_value(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 1e-7 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a number in [1e-7, 1), got {text!r}"
        )
    return value


def add_lam_settings(p: argparse.ArgumentParser) -> None:
    """LAM's settings, shared by explain, compare and evaluate."""
    # --steps and --rule default to None, so that settle_integration_options
    # can tell them given (abbreviated too) and refuse them beside --tolerance
    p.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help=f"integration steps ({DEFAULT_STEPS})",
    )
    p.add_argument(
        "--tolerance",
        type=tolerance_value,
        default=None,
        help="integrate until the estimated relative map error is below this "
        "(e.g. 1e-3): nested trapezoid rules refined until the estimate says so, "
        "reusing every gradient; replaces --steps and --rule",
    )
    p.add_argument("--sigma", type=sigma_value, default=1.2, help="baseline blur (1.2)")
    p.add_argument(
        "--kernel-size", type=odd_int, default=9, help="blur kernel side (9)"
    )
    p.add_argument(
        "--rule",
        dest="method",
        choices=METHODS,
        default=None,
        help=f"LAM's integration rule ({DEFAULT_RULE} = the reference's; "
        "riemann_middle = most exact at the same cost)",
    )
    p.add_argument("--detector", choices=DETECTORS, default="difference")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="path points per forward/backward pass (default: automatic, about "
        "40k input pixels per pass on a CPU, all steps at once on a GPU)",
    )
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")


def add_model_options(p: argparse.ArgumentParser) -> None:
    """How a user's network is loaded: explain, compare and evaluate."""
    p.add_argument("--weights", help="weights for a package.module:factory model")
    p.add_argument(
        "--checkpoint",
        help="any SR checkpoint spandrel knows (.pt files may run TorchScript: "
        "see --no-torchscript)",
    )
    p.add_argument(
        "--no-torchscript",
        action="store_true",
        help="refuse TorchScript checkpoints: spandrel opens .pt files with "
        "torch.jit.load, which runs the program stored in the file",
    )
    p.add_argument(
        "--input-range",
        type=float,
        default=None,
        help="with a factory: the network's input range (default 1; 255 for "
        "0-255 networks)",
    )
    p.add_argument(
        "--mean", help="with a factory: per-channel mean the network subtracts, R,G,B"
    )
    p.add_argument(
        "--pad-multiple",
        type=positive_int,
        default=None,
        help="with a factory: pad the input to a multiple of this (default 1; "
        "window attention)",
    )


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--image",
        default=DEFAULT_IMAGE,
        help="PNG/JPEG file, or sample:NAME for a built-in photo "
        f"(default {DEFAULT_IMAGE}); an HR image is bicubic-downsampled",
    )
    p.add_argument("--lr", action="store_true", help="take --image as the LR input")
    add_model_options(p)
    p.add_argument(
        "--window",
        help="TOP,LEFT,SIZE in the image's own pixels, as explain and 'windows' "
        "print them (default: the most textured, away from the border)",
    )
    p.add_argument(
        "--region",
        default="auto",
        help="side of the HR region around the window that is explained: SIZE "
        "(HR pixels), none (the whole image) or auto (default: 256x256 around the "
        "window, when the image is larger; LAM's cost and the DI grow with the image)",
    )
    add_lam_settings(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument(
        "--force",
        action="store_true",
        help="run even when the estimated cost is over 10 minutes or 8 GB",
    )


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


def describe_case(args: argparse.Namespace, case: CommandCase, scale: int) -> None:
    """Image, LR size and window, all in the image's own pixels, height x width."""
    h, w = case.image_size
    lr_h, lr_w = case.lr.shape[-2:]
    region = case.crop
    cut = region["height"] < h or region["width"] < w
    say(
        args,
        f"image: {case.source}, {h}x{w} pixels (height x width), scale x{scale}, "
        f"{'LR input' if scale > 1 else 'input'} {lr_h}x{lr_w}"
        + (
            f" (made from the {region['height']}x{region['width']} region at "
            f"top={region['top']} left={region['left']}, --region {args.region})"
            if cut
            else ""
        ),
    )
    top, left, size = case.window_in_image
    say(
        args,
        f"window: top={top} left={left} size={size} in the image's pixels "
        f"({case.window_how}; give it back as --window {top},{left},{size})",
    )


def report_completeness(
    args: argparse.Namespace,
    delta: float,
    relative: float,
    integration: Optional[IntegrationReport] = None,
) -> None:
    """Completeness as information; a warning only for settings the user chose."""
    how = integration_text(args)
    if integration is not None and integration.tolerance is not None:
        how += (
            f": {integration.n_steps} steps, estimated map error "
            f"{integration.max_estimated_error:.2g}"
        )
    text = (
        f"completeness: the map sums to the objective's change within "
        f"{100 * relative:.2g}% (delta {delta:.4g}; {how})"
    )
    if relative <= DELTA_WARNING:
        say(args, text)
        return
    fix = (
        "--rule riemann_middle (same cost), more --steps or a smaller --tolerance "
        "makes it exact"
    )
    if args.chose_integration:
        print(f"warning: {text}; {fix}", file=sys.stderr)
    else:
        say(args, f"{text}: the reference's scheme, as published; {fix}")


def print_table(rows: Sequence[dict[str, Any]], quiet: bool, scale: int = 2) -> None:
    """The rows' DIs (on the LR input they share), PSNR, completeness, time."""
    if quiet:
        return
    width = max(len(r["label"]) for r in rows)
    psnr = any("psnr_y" in r for r in rows)
    h, w = rows[0]["lr_size"]
    print(f"DI on a {h}x{w} {'LR input' if scale > 1 else 'input'} (every row's):")
    print(
        f"{'':<{width}}  {'DI':>7}"
        + ("  PSNR-Y" if psnr else "")
        + "  completeness error  seconds"
    )
    for r in rows:
        line = f"{r['label']:<{width}}  {r['diffusion_index']:7.2f}"
        if psnr:
            line += f"  {r.get('psnr_y', float('nan')):6.2f}"
        relative = r.get("relative_convergence_delta")
        done = "-" if relative is None else f"{100 * relative:.2g}%"
        print(line + f"  {done:>18}  {r['seconds']:7.2f}")

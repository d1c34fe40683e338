"""The commands' options: value types, option groups, and what they parse to.

`UserError` is a mistake on the command line (one line on stderr, exit code 2);
every module of `cli/` raises it.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable, Optional

from .._method.adaptive import IntegrationReport
from ..objective import DETECTORS
from ..path_integrated_gradients import METHODS
from ..settings import LAMSettings

DEFAULT_IMAGE = "sample:chelsea"
#: ``--steps`` and ``--rule`` when not given: the reference's scheme.
DEFAULT_STEPS = int(LAMSettings.n_steps)
DEFAULT_RULE = LAMSettings.method


class UserError(Exception):
    """A mistake on the command line: one line on stderr, exit code 2."""


def checked_number(text: str, cast: Callable[[str], Any], allowed: str, ok) -> Any:
    """``cast(text)`` if it parses and ``ok`` accepts it, else argparse's error."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return checked_number(text, int, "an integer >= 1", lambda v: v >= 1)


def odd_int(text: str) -> int:
    value = positive_int(text)
    if value % 2 == 0:
        raise argparse.ArgumentTypeError(f"expected an odd integer, got {text!r}")
    return value


def sigma_value(text: str) -> float:
    return checked_number(
        text, float, "a finite number >= 0", lambda v: 0 <= v < math.inf
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


def parse_mean(text: Optional[str]) -> Optional[tuple[float, ...]]:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UserError(
            f"--mean must be comma-separated numbers, got {text!r}"
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

"""What a command prints: progress, messages, warnings, the case it explains,
completeness and the comparison table."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence

from .._method.adaptive import IntegrationReport
from ._options import integration_text

if TYPE_CHECKING:
    from ._case import CommandCase

#: Relative completeness error above which ``explain`` warns.
DELTA_WARNING = 0.01


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


def warn(texts: Sequence[str]) -> None:
    """One ``captum-lam: warning:`` line on stderr per text."""
    for text in texts:
        print(f"captum-lam: warning: {text}", file=sys.stderr)


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

"""``captum-lam windows``: windows worth explaining, as ``--window`` options."""

from __future__ import annotations

import argparse
from typing import Any

from .._frontend.commands import COMMANDS
from ._case import DEFAULT_WINDOW_SIZE, read_image_option, resolve_model
from ._options import DEFAULT_IMAGE, UserError, positive_int


def cmd_windows(args: argparse.Namespace) -> int:
    """``captum-lam windows IMAGE`` and ``explain --list-windows``."""
    import torch

    from .._registry import model_scale
    from ..images import bicubic_upsample
    from ..windows import list_windows

    image = read_image_option(args.image, getattr(args, "image_option", "--image"))
    if args.lr:
        scale = model_scale(resolve_model(args).eval(), 3, torch.device("cpu"))
        image = bicubic_upsample(image, scale)
    size = getattr(args, "size", DEFAULT_WINDOW_SIZE)
    h, w = image.shape[-2:]
    if size > min(h, w):
        raise UserError(f"--size {size} is larger than the {h}x{w} image")
    count = args.count if args.list_windows is None else args.list_windows
    found = list_windows(image, count=count, size=size)
    print(
        f"{args.image}: {h}x{w} pixels (height x width); the {len(found)} most "
        f"textured {size}x{size} windows, in the image's pixels:"
    )
    print(f"{'rank':>4}  {'top':>4}  {'left':>4}  {'energy':>6}  content  option")
    for rank, c in enumerate(found, 1):
        print(
            f"{rank:>4}  {c.top:>4}  {c.left:>4}  {c.energy:6.3f}  {c.content:<7}  "
            f"--window {c.top},{c.left},{c.size}"
        )
    if len(found) < count:
        from ..windows import border_margin

        margin = border_margin(h, w, size)
        print(
            f"only {len(found)} of the {count} windows asked for fit: {size}x{size} "
            f"windows that do not overlap, at least {margin} pixels from every "
            f"border of the {h}x{w} image (four window sizes, or as much as the "
            "image allows, so that no map is cut off by the border); a smaller "
            "--size leaves room for more"
        )
    return 0


def add_windows_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``windows`` sub-command."""
    windows = sub.add_parser(
        "windows",
        help=COMMANDS["windows"],
        description="List the most textured, non-overlapping windows of an image, "
        "away from its border, with their content class. The first is the one "
        "'explain' picks by itself. Coordinates are the image's own pixels.",
    )
    windows.add_argument(
        "image",
        nargs="?",
        default=DEFAULT_IMAGE,
        help=f"PNG/JPEG file or sample:NAME (default {DEFAULT_IMAGE})",
    )
    windows.add_argument(
        "--count", type=positive_int, default=8, help="how many windows (8)"
    )
    windows.add_argument(
        "--size",
        type=positive_int,
        default=DEFAULT_WINDOW_SIZE,
        help=f"window side in pixels ({DEFAULT_WINDOW_SIZE})",
    )
    windows.set_defaults(
        func=cmd_windows, lr=False, image_option="IMAGE", list_windows=None
    )
    return windows

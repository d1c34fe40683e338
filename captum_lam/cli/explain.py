"""``captum-lam explain``: the LAM of one window, a figure and a JSON summary."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import torch
from torch import Tensor, nn

from .. import __version__
from .._adaptive import IntegrationReport
from .._images import (
    bicubic_upsample,
    psnr_y,
)
from .._io import write_text_atomic
from .._registry import model_scale
from ..lam import LAM
from ..metrics import diffusion_index
from ._common import (
    DEFAULT_PRETRAINED,
    DELTA_WARNING,
    CommandCase,
    UserError,
    add_common,
    check_writable,
    lam_settings,
    model_info,
    progress_bar,
    resolve_model,
    say,
)

# --- explain -----------------------------------------------------------------


def run_lam(
    model: nn.Module,
    lr: Tensor,
    window: tuple[int, int, int],
    args: argparse.Namespace,
    label: str,
) -> tuple[Tensor, float, float, IntegrationReport]:
    settings = lam_settings(args)
    lam = LAM.from_settings(model, settings)
    with progress_bar(args.steps, args.quiet, label) as update:
        lam.progress_callback = update
        attr, delta = lam.attribute(
            lr,
            target=window,
            return_convergence_delta=True,
            **settings.integration(),
        )
    change = float(attr.sum()) - float(delta)
    relative = abs(float(delta)) / abs(change) if change != 0 else float("inf")
    assert lam.last_integration is not None
    return attr, float(delta), relative, lam.last_integration


def cmd_explain(args: argparse.Namespace) -> int:
    from ..visualization import lam_figure, save_figure

    out = check_writable(args.out, "--out")
    json_path = check_writable(args.json, "--json")
    if out is not None and out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise UserError(f"--out must end in .png, .pdf or .svg, got {args.out!r}")
    device = torch.device(args.device)
    started = time.perf_counter()
    model = resolve_model(args).to(device).eval()
    info = model_info(model)
    fallback = (
        args.model is None and not args.checkpoint and info.get("kind") == "trained"
    )
    scale = model_scale(model, 3, device)
    case = CommandCase(args, scale, device)
    lr, hr, source, window, window_how = (
        case.lr,
        case.hr,
        case.source,
        case.window,
        case.window_how,
    )
    with torch.no_grad():
        sr = model(lr)
    if sr.ndim != 4:
        raise UserError(f"the model returned shape {tuple(sr.shape)}, not (N, C, H, W)")
    load_time = time.perf_counter() - started

    say(args, f"model: {info.get('name')}  ({info.get('source', 'user model')})")
    if fallback:
        say(
            args,
            f"note: {DEFAULT_PRETRAINED} is not installed (pip install "
            "'captum-lam[pretrained]'); using the trained zoo model "
            f"{info.get('name')} instead",
        )
    crop = case.crop
    say(
        args,
        f"image: {source}, LR {lr.shape[-1]}x{lr.shape[-2]}, scale x{scale}"
        + (
            f", region top={crop['top']} left={crop['left']} of the image"
            if crop["top"] or crop["left"]
            else ""
        ),
    )
    say(
        args,
        f"window: top={window[0]} left={window[1]} size={window[2]} ({window_how})",
    )

    t0 = time.perf_counter()
    attr, delta, relative, integration = run_lam(model, lr, window, args, "LAM")
    lam_time = time.perf_counter() - t0
    di = float(diffusion_index(attr[0]))

    summary: dict[str, Any] = {
        "model": info,
        "default_model_fallback": fallback,
        "image": source,
        "lr_size": [int(lr.shape[-2]), int(lr.shape[-1])],
        "scale": scale,
        "window": {
            "top": window[0],
            "left": window[1],
            "size": window[2],
            "chosen": window_how,
        },
        "window_in_image": list(case.window_in_image),
        "crop": case.crop,
        "settings": {
            **lam_settings(args).record(),
            "device": str(device),
            "n_steps_used": integration.n_steps,
            "estimated_map_error": integration.max_estimated_error,
        },
        "diffusion_index": di,
        "convergence_delta": delta,
        "relative_convergence_delta": relative,
        "timing_s": {"load": round(load_time, 3), "lam": round(lam_time, 3)},
        "captum_lam_version": __version__,
    }
    if hr is not None:
        summary["psnr_y_db"] = psnr_y(sr.cpu(), hr.cpu(), shave=scale)
        summary["bicubic_psnr_y_db"] = psnr_y(
            bicubic_upsample(lr, scale).cpu(), hr.cpu(), shave=scale
        )

    say(args, f"Diffusion Index: {di:.2f}")
    say(
        args,
        f"convergence delta: {delta:.4g} "
        f"({100 * relative:.3g}% of the objective's change)",
    )
    if integration.tolerance is not None:
        say(
            args,
            f"integration: {integration.n_steps} steps, estimated map error "
            f"{integration.max_estimated_error:.2g} (tolerance {args.tolerance:g})",
        )
    if relative > DELTA_WARNING:
        how = (
            f"method {args.method}, {args.steps} steps"
            if args.tolerance is None
            else f"--tolerance {args.tolerance:g}, {integration.n_steps} steps"
        )
        print(
            f"warning: LAM misses completeness by {100 * relative:.2g}% of the "
            f"objective's change ({how}); --method riemann_middle (same cost), "
            "more --steps or a smaller --tolerance makes it exact",
            file=sys.stderr,
        )
    if hr is not None:
        say(
            args,
            f"SR PSNR (Y): {summary['psnr_y_db']:.2f} dB "
            f"(bicubic {summary['bicubic_psnr_y_db']:.2f} dB)",
        )
    say(args, f"LAM took {lam_time:.1f} s")

    if out is not None:
        title = str(info.get("name"))
        fig = lam_figure(
            attr.cpu(),
            lr.cpu(),
            window,
            hr=None if hr is None else hr.cpu(),
            sr=sr.cpu(),
            scale=scale,
            title=title,
            di=di,
        )
        save_figure(fig, out)
        summary["figure"] = str(out)
        say(args, f"wrote {out}")
    if json_path is not None:
        write_text_atomic(json_path, json.dumps(summary, indent=2) + "\n")
        say(args, f"wrote {json_path}")
    return 0


def add_explain_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``explain`` sub-command."""
    explain = sub.add_parser(
        "explain", help="LAM of one window: figure and JSON summary"
    )
    explain.add_argument(
        "--model", help="registry name (see 'models') or package.module:factory"
    )
    add_common(explain)
    explain.add_argument("--out", default="lam.png", help="figure (.png/.pdf/.svg)")
    explain.add_argument("--json", default="lam.json", help="JSON summary")
    explain.set_defaults(func=cmd_explain)
    return explain

"""``captum-lam explain``: the LAM of one window, a figure and a JSON summary."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, Optional

import torch
from torch import Tensor, nn

from .. import __version__
from .._frontend.commands import COMMANDS
from .._frontend.output_paths import Output
from .._io import write_text_atomic
from .._method.adaptive import IntegrationReport
from .._registry import model_scale
from ..images._degradation import psnr_line, psnr_summary, task_summary
from ..lam import LAM
from ..metrics import di_text, diffusion_index, signed_spread
from ._case import (
    DEFAULT_PRETRAINED,
    FIGURE_SUFFIXES,
    CommandCase,
    check_command_outputs,
    check_cost,
    check_model_args,
    check_output_size,
    command_device,
    model_info,
    resolve_model,
)
from ._cem import (
    add_cem_options,
    add_method_option,
    cem_settings,
    run_cem,
    settings_text,
    settle_cem_options,
)
from ._options import (
    add_common,
    integration_label,
    lam_settings,
    positive_int,
    settle_integration_options,
)
from ._report import describe_case, progress_bar, report_completeness, say, warn

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

    settle_cem_options(args, args.attribution, "--method")
    settle_integration_options(args)
    outputs = check_command_outputs(
        [
            Output("--out", args.out, FIGURE_SUFFIXES, stream=True),
            Output("--json", args.json, stream=True),
            Output("--save-map", args.save_map, (".npz",)),
        ]
    )
    out, json_path = outputs["--out"], outputs["--json"]
    map_path = outputs["--save-map"]
    if args.list_windows is not None:
        from .windows import cmd_windows

        return cmd_windows(args)
    device = command_device(args)
    _, warnings = check_model_args(args)
    started = time.perf_counter()
    model = resolve_model(args).to(device).eval()
    warn(warnings)
    info = model_info(model)
    fallback = (
        args.model is None and not args.checkpoint and info.get("kind") == "trained"
    )
    scale = model_scale(model, 3, device)
    case = CommandCase(args, scale, device, info.get("name"))
    lr, hr, source, window = case.lr, case.hr, case.source, case.window
    check_cost([model], lr, args)
    with torch.no_grad():
        sr = model(lr)
    check_output_size(sr, lr, scale)
    load_time = time.perf_counter() - started

    say(args, f"model: {info.get('name')}  ({info.get('source', 'user model')})")
    if fallback:
        say(
            args,
            f"note: {DEFAULT_PRETRAINED} is not installed (pip install "
            "'captum-lam[pretrained]'); using the trained zoo model "
            f"{info.get('name')} instead",
        )
    describe_case(args, case, scale)
    if args.attribution == "cem":
        return explain_cem(args, model, case, sr, scale, info, fallback, outputs)

    t0 = time.perf_counter()
    attr, delta, relative, integration = run_lam(model, lr, window, args, "LAM")
    lam_time = time.perf_counter() - t0
    di = float(diffusion_index(attr[0]))

    summary: dict[str, Any] = {
        **_case_summary(args, info, fallback, source, case, lr, scale),
        "settings": {
            **lam_settings(args).record(),
            "device": str(device),
            "n_steps_used": integration.n_steps,
            "estimated_map_error": integration.max_estimated_error,
            "rule_used": integration.method,
        },
        "diffusion_index": di,
        "convergence_delta": delta,
        "relative_convergence_delta": relative,
        "timing_s": {"load": round(load_time, 3), "lam": round(lam_time, 3)},
        "captum_lam_version": __version__,
    }
    if hr is not None:
        summary.update(psnr_summary(sr, lr, hr, scale))

    say(args, f"Diffusion Index: {di_text(di, lr.shape, scale)[3:]}")
    report_completeness(args, delta, relative, integration)
    if hr is not None:
        say(args, psnr_line(summary))
    say(args, f"LAM took {lam_time:.1f} s")

    if out is not None:
        steps, rule = integration_label(args, integration)
        fig = lam_figure(
            attr.cpu(),
            lr.cpu(),
            window,
            hr=None if hr is None else hr.cpu(),
            sr=sr.cpu(),
            scale=scale,
            title=f"{info.get('name')} ({summary['task']})",
            di=di,
            image=source,
            origin=case.origin,
            n_steps=steps,
            method=rule,
            task=summary["task"],
            full_image=None
            if case.image_hr is None or case.image_hr.shape == case.hr.shape
            else case.image_hr.cpu(),
        )
        save_figure(fig, out)
        summary["figure"] = str(out)
        say(args, f"wrote {out}")
    if map_path is not None:
        _save_map(map_path, attr, lr, case, scale, summary, info, source, args, delta)
        say(args, f"wrote {map_path}")
    if json_path is not None:
        write_text_atomic(json_path, json.dumps(summary, indent=2) + "\n")
        say(args, f"wrote {json_path}")
    return 0


def explain_cem(
    args: argparse.Namespace,
    model: nn.Module,
    case: CommandCase,
    sr: Tensor,
    scale: int,
    info: dict,
    fallback: bool,
    outputs: dict,
) -> int:
    """``explain --method cem``: the Causal Effect Map, its figure and summary."""
    from ..cem_figure import cem_figure
    from ..visualization import save_figure

    lr, hr, window = case.lr, case.hr, case.window
    if hr is None:
        say(args, "no HR image (--lr): the map measures change, not quality")
    t0 = time.perf_counter()
    effect, report = run_cem(model, lr, window, hr, args, "CEM")
    seconds = time.perf_counter() - t0
    settings = cem_settings(args, report.block_size)
    measures = signed_spread(effect[0, 0], window, scale)
    summary: dict[str, Any] = {
        **_case_summary(args, info, fallback, case.source, case, lr, scale),
        "method": "cem",
        "reference": "HR image" if hr is not None else "the clean output (change)",
        "settings": {**settings, "device": str(lr.device)},
        "effect": measures,
        "forward_passes": report.forward_passes,
        "blocks": report.blocks,
        "blocks_in_reach": report.blocks_in_reach,
        "fine_blocks": report.fine_blocks,
        "timing_s": {"cem": round(seconds, 3)},
        "captum_lam_version": __version__,
    }
    if hr is not None:
        summary.update(psnr_summary(sr, lr, hr, scale))
    say(
        args,
        f"Causal effects: {measures['positive_db']:+.2f} to "
        f"{measures['negative_db']:+.2f} dB; {measures['negative_area']} LR pixels "
        f"hurt the window, {measures['positive_area']} help",
    )
    say(args, f"CEM took {seconds:.1f} s ({report.forward_passes} forward passes)")
    out, json_path, map_path = (outputs[k] for k in ("--out", "--json", "--save-map"))
    if out is not None:
        fig = cem_figure(
            effect.cpu(),
            lr.cpu(),
            window,
            scale=scale,
            sr=sr.cpu(),
            title=f"{info.get('name')} ({summary['task']})",
            image=case.source,
            origin=case.origin,
            settings=settings_text(settings),
            block_size=report.block_size,
            task=summary["task"],
        )
        save_figure(fig, out)
        summary["figure"] = str(out)
        say(args, f"wrote {out}")
    if map_path is not None:
        _save_map(map_path, effect, lr, case, scale, summary, info, case.source, args)
        say(args, f"wrote {map_path}")
    if json_path is not None:
        write_text_atomic(json_path, json.dumps(summary, indent=2) + "\n")
        say(args, f"wrote {json_path}")
    return 0


def _case_summary(
    args: argparse.Namespace,
    info: dict,
    fallback: Any,
    source: str,
    case: Any,
    lr: Tensor,
    scale: int,
) -> dict[str, Any]:
    """The JSON summary's fields about the case: model, image, input and window."""
    top, left, size = case.window_in_image
    return {
        "command": args.command_line,
        "model": info,
        "default_model_fallback": fallback,
        "image": source,
        "image_size": list(case.image_size),
        "lr_size": [int(lr.shape[-2]), int(lr.shape[-1])],
        "scale": scale,
        **task_summary(scale, info.get("name"), args.lr),
        "window": {
            "top": top,
            "left": left,
            "size": size,
            "chosen": case.window_how,
            "coordinates": "the image's pixels (HR); give back as --window",
        },
        "window_option": f"--window {top},{left},{size}",
        "window_in_image": [top, left, size],
        "region": case.crop,
    }


def _save_map(
    map_path: Any,
    attribution: Tensor,
    lr: Tensor,
    case: Any,
    scale: int,
    summary: dict,
    info: dict,
    source: str,
    args: argparse.Namespace,
    delta: Optional[float] = None,
) -> None:
    """``--save-map``: the raw map with the run's settings, window and command."""
    from ..mapfile import save_map

    save_map(
        map_path,
        attribution.cpu(),
        lr.cpu(),
        case.window_in_image,
        scale=scale,
        origin=case.origin,
        settings={
            **summary["settings"],
            "model": info.get("name"),
            "image": source,
            "command": args.command_line,
        },
        convergence_delta=delta,
    )
    summary["map"] = str(map_path)


def add_explain_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``explain`` sub-command."""
    explain = sub.add_parser("explain", help=COMMANDS["explain"])
    explain.add_argument(
        "--model", help="registry name (see 'models') or package.module:factory"
    )
    add_common(explain)
    add_method_option(explain)
    add_cem_options(explain)
    explain.add_argument("--out", default="lam.png", help="figure (.png/.pdf/.svg)")
    explain.add_argument("--json", default="lam.json", help="JSON summary")
    explain.add_argument(
        "--save-map",
        metavar="FILE.npz",
        help="the raw map, LR input, window, settings, DI and delta (numpy .npz)",
    )
    explain.add_argument(
        "--list-windows",
        nargs="?",
        const=8,
        type=positive_int,
        metavar="N",
        help="print the N (8) most textured windows of --image and stop "
        "(as the 'windows' command)",
    )
    explain.set_defaults(func=cmd_explain)
    return explain

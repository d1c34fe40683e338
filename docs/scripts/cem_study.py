"""Causal Effect Maps beside LAM on real published networks, for the docs.

    python docs/scripts/cem_study.py              # run (resumable), then tables and figures
    python docs/scripts/cem_study.py --plot-only  # tables and figures from the records

On the networks of ``NETWORKS`` and the hard (edge and texture) windows that the
real-network study (``real_network_study.py``) chose in its 48-pixel LR crops of the
three held-out photos, computes on the same small input, a 24x24 LR crop around the
window (``SIDE``), both LAM (the study's 25 midpoint steps) and the Causal Effect
Map (the authors' algorithm: 8-output-pixel blocks, 3 coarse swaps, threshold
0.01 dB; 10 fine swaps instead of 50, for the CPU), timed, and appends one JSON
record per (network, photo, window) to ``docs/data/cem_vs_lam.jsonl``: an
interrupted run resumes where it stopped. The records hold both maps at the CEM's
block resolution (LAM summed over each block), so the tables and figures are
redrawn from them alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
DOCS = SCRIPTS.parent
sys.path.insert(0, str(SCRIPTS))
import real_network_study as rns  # noqa: E402

PREFIX = "cem_vs_lam"
SIDE = 24  # LR side of the input both methods see
N_STEPS, METHOD = 25, "riemann_middle"  # LAM, as the real-network study
N_COARSE, N_FINE, THRESHOLD_DB = 3, 10, 0.01  # CEM (the authors' 50 fine swaps: 10)


@dataclass(frozen=True)
class Network:
    name: str
    family: str
    training: str


#: Cheapest first, so that an interrupted run has the most networks. The eight x2
#: networks span receptive fields from 14 LR pixels to global at one scale.
NETWORKS = (
    Network("waifu2x-upconv7-photo-x2", "waifu2x upconv_7", "PSNR"),
    Network("span-x2-ch48", "SPAN", "PSNR"),
    Network("realesr-animevideov3-x2", "SRVGGNetCompact", "GAN"),
    Network("waifu2x-upconv7-anime-x2", "waifu2x upconv_7", "PSNR"),
    Network("span-hfa2k-x2", "SPAN", "community"),
    Network("waifu2x-cunet-x2", "waifu2x cunet", "PSNR"),
    Network("srmd-x2", "SRMD", "PSNR"),
    Network("realcugan-nose-x2", "Real-CUGAN no SE", "GAN"),
    Network("span-x4-ch48", "SPAN", "PSNR"),
    Network("srmd-x4", "SRMD", "PSNR"),
)


def record_key(model: str, photo: str, window: Sequence[int]) -> str:
    return f"{model}|{photo}|{','.join(str(int(v)) for v in window)}"


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def study_windows(photo: str, scale: int) -> tuple[Any, list[tuple[tuple, str]]]:
    """The real-network study's HR crop of ``photo`` and its hard windows."""
    from captum_lam import classify_content

    config = rns.CONFIGS["full"]
    image, windows = rns.case_windows(config, photo, scale, 48)
    labelled = [(tuple(w), classify_content(image, w)[0]) for w in windows]
    return image, [(w, c) for w, c in labelled if c in rns.HARD]


def sub_crop(hr, window: Sequence[int], scale: int):
    """LR and HR crops of SIDE LR pixels around the window, and the window in them."""
    from captum_lam import bicubic_downsample

    lr = bicubic_downsample(hr, scale)
    top, left, size = (int(v) for v in window)
    h, w = lr.shape[-2:]
    row = min(max((top + size // 2) // scale - SIDE // 2, 0), h - SIDE)
    col = min(max((left + size // 2) // scale - SIDE // 2, 0), w - SIDE)
    lr_crop = lr[..., row : row + SIDE, col : col + SIDE].contiguous()
    hr_crop = hr[
        ..., row * scale : (row + SIDE) * scale, col * scale : (col + SIDE) * scale
    ].contiguous()
    return lr_crop, hr_crop, (top - row * scale, left - col * scale, size), (row, col)


def block_sums(values, block: int) -> np.ndarray:
    """(h, w) -> (rows, cols): sums over the CEM's blocks."""
    array = np.asarray(values, dtype=np.float64)
    rows, cols = -(-array.shape[0] // block), -(-array.shape[1] // block)
    padded = np.zeros((rows * block, cols * block))
    padded[: array.shape[0], : array.shape[1]] = array
    return padded.reshape(rows, block, cols, block).sum(axis=(1, 3))


def one_record(net: Network, model, info, photo: str, hr, window, content) -> dict:
    import torch

    from captum_lam import LAM, CausalEffectMap, signed_spread
    from captum_lam.metrics import abs_normalized_map

    scale = info.scale
    lr, hr_crop, local, origin = sub_crop(hr, window, scale)
    started = time.perf_counter()
    lam_map = LAM(model).attribute(lr, target=local, n_steps=N_STEPS, method=METHOD)
    lam_seconds = time.perf_counter() - started
    cem = CausalEffectMap(
        model, n_coarse=N_COARSE, n_fine=N_FINE, threshold_db=THRESHOLD_DB
    )
    started = time.perf_counter()
    effect = cem.attribute(lr, target=local, hr=hr_crop, reach="auto")
    cem_seconds = time.perf_counter() - started
    report = cem.last_report
    block = report.block_size
    lam_abs = abs_normalized_map(lam_map[0])
    lam_blocks = block_sums(lam_abs, block)
    cem_blocks = effect[0, 0, ::block, ::block].double().numpy()
    with torch.no_grad():
        out = model(lr)[
            ..., local[0] : local[0] + local[2], local[1] : local[1] + local[2]
        ]
    window_hr = hr_crop[
        ..., local[0] : local[0] + local[2], local[1] : local[1] + local[2]
    ]
    mse = float(((out.clamp(0, 1) - window_hr) ** 2).mean())
    lam = signed_spread(lam_abs, local, scale)
    record = {
        "key": record_key(net.name, photo, window),
        "model": net.name,
        "family": net.family,
        "training": net.training,
        "photo": photo,
        "content": content,
        "top": int(window[0]),
        "left": int(window[1]),
        "size": int(window[2]),
        "crop_origin": list(origin),
        "local_window": list(local),
        "scale": scale,
        "receptive_field": info.receptive_field,
        "side": SIDE,
        "window_psnr": -10 * math.log10(mse),
        "lam": {
            k: lam[k]
            for k in (
                "di",
                "mass_area_50",
                "mass_area_90",
                "mean_distance",
                "beyond_window_fraction",
            )
        },
        "cem": signed_spread(effect[0, 0], local, scale),
        "lam_seconds": lam_seconds,
        "cem_seconds": cem_seconds,
        "forward_passes": report.forward_passes,
        "blocks": report.blocks,
        "blocks_in_reach": report.blocks_in_reach,
        "fine_blocks": report.fine_blocks,
        "block_size": block,
        "n_steps": N_STEPS,
        "n_coarse": N_COARSE,
        "n_fine": N_FINE,
        "threshold_db": THRESHOLD_DB,
        "lam_blocks": np.round(lam_blocks / lam_blocks.max(), 5).tolist(),
        "cem_blocks": np.round(cem_blocks, 5).tolist(),
    }
    return record


def run(networks: Sequence[Network], records_path: Path) -> None:
    import torch

    from captum_lam import zoo

    torch.set_num_threads(1)
    done = {r["key"] for r in read_records(records_path)}
    records_path.parent.mkdir(parents=True, exist_ok=True)
    for net in networks:
        if not zoo.installed(net.name):
            print(f"not installed: {net.name}", flush=True)
            continue
        info = zoo.info(net.name)
        model = None
        for photo in rns.PHOTOS:
            hr, windows = study_windows(photo, info.scale)
            for window, content in windows:
                if record_key(net.name, photo, window) in done:
                    continue
                model = model or zoo.load(net.name)
                record = one_record(net, model, info, photo, hr, window, content)
                with open(records_path, "a") as handle:
                    handle.write(json.dumps(record) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                print(
                    f"{net.name} {photo} {content} {window}: LAM {record['lam_seconds']:.1f} s, "
                    f"CEM {record['cem_seconds']:.1f} s ({record['forward_passes']} passes)",
                    flush=True,
                )


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--root", type=Path, default=DOCS, help="folder of data/, generated/, images/"
    )
    parser.add_argument("--models", help="comma-separated subset of NETWORKS")
    parser.add_argument(
        "--plot-only", action="store_true", help="only tables and figures"
    )
    args = parser.parse_args(argv)
    networks = list(NETWORKS)
    if args.models:
        wanted = args.models.split(",")
        unknown = sorted(set(wanted) - {n.name for n in networks})
        if unknown:
            parser.error(f"--models: not in the study: {', '.join(unknown)}")
        networks = [n for n in networks if n.name in wanted]
    records_path = args.root / "data" / f"{PREFIX}.jsonl"
    if not args.plot_only:
        run(networks, records_path)
    records = read_records(records_path)
    if not records:
        parser.error(f"no records at {records_path}: run without --plot-only first")
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
from typing import Any, Mapping, Optional, Sequence

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
    Network("span-x4-ch48", "SPAN", "PSNR"),
    Network("realcugan-nose-x2", "Real-CUGAN no SE", "GAN"),
    Network("srmd-x4", "SRMD", "PSNR"),
)


#: Other receptive field, same scale, windows and training style: (smaller, larger).
#: The real-network study's pairs and waifu2x's two architectures.
RF_PAIRS = rns.RF_PAIRS + (("waifu2x-upconv7-photo-x2", "waifu2x-cunet-x2"),)


def record_key(model: str, photo: str, window: Sequence[int]) -> str:
    return f"{model}|{photo}|{','.join(str(int(v)) for v in window)}"


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def study_windows(photo: str, scale: int) -> tuple[Any, list[tuple[tuple, str]]]:
    """The real-network study's HR crop of ``photo`` and its hard windows."""
    from captum_lam.windows import classify_content

    config = rns.CONFIGS["full"]
    image, windows = rns.case_windows(config, photo, scale, 48)
    labelled = [(tuple(w), classify_content(image, w)[0]) for w in windows]
    return image, [(w, c) for w, c in labelled if c in rns.HARD]


def sub_crop(hr, window: Sequence[int], scale: int):
    """LR and HR crops of SIDE LR pixels around the window, and the window in them."""
    from captum_lam.images import bicubic_downsample

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

    from captum_lam import LAM, CausalEffectMap
    from captum_lam.metrics import abs_normalized_map, signed_spread

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


# --- numbers ------------------------------------------------------------------------


def block_spearman(record: Mapping[str, Any]) -> Optional[float]:
    """Rank correlation of |LAM| and |CEM| over the blocks either one reaches."""
    lam = np.asarray(record["lam_blocks"]).ravel()
    cem = np.abs(np.asarray(record["cem_blocks"])).ravel()
    used = (lam > 1e-3) | (cem > 0)  # blocks with 0.1% of LAM's peak, or any effect
    if used.sum() < 3 or np.ptp(cem[used]) == 0 or np.ptp(lam[used]) == 0:
        return None
    return rns.spearman(lam[used], cem[used])[0]


def negative_beyond(record: Mapping[str, Any]) -> float:
    """Share of the CEM's |effect| beyond the window that is negative (blocks)."""
    cem = np.asarray(record["cem_blocks"])
    block, scale = record["block_size"], record["scale"]
    top, left, size = record["local_window"]
    inside = np.zeros_like(cem, dtype=bool)
    r0, c0 = top // scale // block, left // scale // block
    r1 = math.ceil(math.ceil((top + size) / scale) / block)
    c1 = math.ceil(math.ceil((left + size) / scale) / block)
    inside[r0:r1, c0:c1] = True
    outside = np.abs(cem[~inside]).sum()
    return float(-cem[~inside][cem[~inside] < 0].sum() / outside) if outside else 0.0


#: (record field, label, digits): the per-network table's columns, means with CIs.
AGREEMENT = (
    ("rank", "rank correlation of the magnitudes", 2),
    ("lam_area", "LAM area 90% (LR px)", 1),
    ("cem_area", "CEM area 90% (LR px)", 1),
    ("lam_beyond", "LAM share beyond the window", 2),
    ("cem_beyond", "CEM share beyond the window", 2),
)
NEGATIVE = (
    ("negative", "negative share of the effect", 3),
    ("negative_beyond", "negative share beyond the window", 2),
    ("negative_area", "negative area (LR px)", 1),
    ("window_psnr", "window PSNR (dB)", 2),
)
MEASURES = AGREEMENT + NEGATIVE


def values(record: Mapping[str, Any]) -> dict[str, Optional[float]]:
    cem = record["cem"]
    return {
        "rank": block_spearman(record),
        "lam_area": record["lam"]["mass_area_90"],
        "cem_area": cem["mass_area_90"],
        "lam_beyond": record["lam"]["beyond_window_fraction"],
        "cem_beyond": cem["beyond_window_fraction"],
        "negative": cem["negative_fraction"],
        "negative_beyond": negative_beyond(record),
        "negative_area": cem["negative_area"],
        "window_psnr": record["window_psnr"],
        "lam_seconds": record["lam_seconds"],
        "cem_seconds": record["cem_seconds"],
        "passes": record["forward_passes"],
    }


def summarise(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per network, in NETWORKS order: means with 95% bootstrap intervals."""
    grouped = rns.by_model(records)
    summary = {}
    for net in NETWORKS:
        rows = grouped.get(net.name)
        if not rows:
            continue
        table = [values(r) for r in rows]
        entry: dict[str, Any] = {"network": net, "n": len(rows)}
        for field in {k for k, _, _ in MEASURES} | {
            "lam_seconds",
            "cem_seconds",
            "passes",
        }:
            entry[field] = rns.bootstrap_mean([t[field] for t in table])
        entry["scale"] = rows[0]["scale"]
        entry["receptive_field"] = rows[0]["receptive_field"]
        entry["block_size"] = rows[0]["block_size"]
        entry["with_negative"] = sum(r["cem"]["negative_area"] > 0 for r in rows)
        summary[net.name] = entry
    return summary


def network_table(summary, measures, negative: bool = False) -> str:
    header = ["network", "scale", "RF (LR px)", "block (LR px)", "n"]
    header += [label + " [95% CI]" for _, label, _ in measures]
    if negative:
        header.append("windows with negative effects")
    rows = []
    for name, e in summary.items():
        row = [f"`{name}`", f"x{e['scale']}", rns.rf_text(e["receptive_field"])]
        row += [str(e["block_size"]), str(e["n"])]
        row += [rns.fmt_ci(e[field], digits) for field, _, digits in measures]
        if negative:
            row.append(f"{e['with_negative']} of {e['n']}")
        rows.append(row)
    return rns.markdown_table(header, rows)


def cost_table(summary) -> str:
    header = [
        "network",
        "LAM s / window",
        "CEM s / window",
        "CEM / LAM",
        "CEM passes / window",
    ]
    rows = []
    for name, e in summary.items():
        lam, cem = e["lam_seconds"][0], e["cem_seconds"][0]
        rows.append(
            [
                f"`{name}`",
                f"{lam:.1f}",
                f"{cem:.1f}",
                f"{cem / lam:.1f}x",
                f"{e['passes'][0]:.0f}",
            ]
        )
    return rns.markdown_table(header, rows)


def rf_rows(records, summary) -> list[dict[str, Any]]:
    """The receptive-field question at x2: Spearman over networks of the RF
    (global ranked last) against each method's reach and the negative share."""
    x2 = [e for e in summary.values() if e["scale"] == 2]
    if len(x2) < 3:
        return []
    rank_rf = [e["receptive_field"] or 10**6 for e in x2]
    out = []
    for field, label in (
        ("lam_beyond", "LAM: share of the map beyond the window"),
        ("cem_beyond", "CEM: share of the effect's magnitude beyond the window"),
        ("negative_beyond", "CEM: negative share of the effect beyond the window"),
        ("window_psnr", "window PSNR (dB)"),
    ):
        rho, p = rns.spearman(rank_rf, [e[field][0] for e in x2])
        out.append({"measure": label, "field": field, "rho": rho, "p": p, "n": len(x2)})
    return out


def paired_rf(records) -> list[dict[str, Any]]:
    """Other receptive field, same scale and windows: mean paired differences
    (larger field minus smaller) with 95% bootstrap intervals."""
    by_window: dict[str, dict[tuple, dict]] = {}
    for r in records:
        by_window.setdefault(r["model"], {})[(r["photo"], r["top"], r["left"])] = r
    out = []
    for small, large in RF_PAIRS:
        a, b = by_window.get(small, {}), by_window.get(large, {})
        shared = sorted(set(a) & set(b))
        if not shared:
            continue
        row: dict[str, Any] = {"small": small, "large": large, "n": len(shared)}
        for field in ("lam_beyond", "cem_beyond", "negative_beyond", "window_psnr"):
            diffs = [values(b[k])[field] - values(a[k])[field] for k in shared]
            row[field] = rns.bootstrap_mean(diffs)
        row["rf"] = (a[shared[0]]["receptive_field"], b[shared[0]]["receptive_field"])
        out.append(row)
    return out


def signed(stat, digits: int) -> str:
    mean, (low, high) = stat
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def pairs_table(pairs) -> str:
    header = [
        "smaller RF -> larger RF",
        "windows",
        "LAM share beyond the window",
        "CEM share beyond the window",
        "CEM negative share beyond the window",
        "window PSNR (dB)",
    ]
    rows = [
        [
            f"`{p['small']}` ({rns.rf_text(p['rf'][0])}) -> "
            f"`{p['large']}` ({rns.rf_text(p['rf'][1])})",
            str(p["n"]),
            signed(p["lam_beyond"], 2),
            signed(p["cem_beyond"], 2),
            signed(p["negative_beyond"], 2),
            signed(p["window_psnr"], 2),
        ]
        for p in pairs
    ]
    return rns.markdown_table(header, rows)


def findings(records, summary, rf, pairs) -> str:
    """The page's numbers in sentences, all computed from the records."""
    entries = list(summary.values())
    ranks = sorted(entries, key=lambda e: e["rank"][0])
    low, high = ranks[0], ranks[-1]
    larger = [e for e in entries if e["cem_area"][0] > e["lam_area"][0]]
    windows = len(records)
    negative = sum(r["cem"]["negative_area"] > 0 for r in records)
    beyond = sorted(entries, key=lambda e: e["negative_beyond"][0])
    ratio = [e["cem_seconds"][0] / e["lam_seconds"][0] for e in entries]
    lines = [
        f"- **Agreement.** On {len(entries)} networks and {windows} windows, the rank "
        f"correlation of the two maps' magnitudes over the CEM's blocks is "
        f"{low['rank'][0]:.2f} (`{low['network'].name}`) to {high['rank'][0]:.2f} "
        f"(`{high['network'].name}`) on average per network. The CEM's 90% area is "
        f"larger than LAM's on {len(larger)} of {len(entries)} networks.",
        f"- **Negative effects.** {negative} of {windows} windows have at least one "
        f"block whose swap *raises* the window's PSNR. Beyond the window, the negative "
        f"share of the effect is {beyond[0]['negative_beyond'][0]:.2f} for "
        f"`{beyond[0]['network'].name}` and {beyond[-1]['negative_beyond'][0]:.2f} for "
        f"`{beyond[-1]['network'].name}`.",
    ]
    if rf:
        text = "; ".join(
            f"{r['measure']}: rho {r['rho']:+.2f} (p {r['p']:.2f})" for r in rf
        )
        lines.append(
            f"- **Receptive field, across the {rf[0]['n']} x2 networks** (Spearman, "
            f"global ranked last): {text}."
        )
    lines.append(
        f"- **Cost.** The CEM took {min(ratio):.1f} to {max(ratio):.1f} times LAM's "
        f"time per window here ({N_COARSE} coarse and {N_FINE} fine swaps)."
    )
    return "\n".join(lines) + "\n"


def write_docs(records, root: Path) -> dict[str, Any]:
    """Tables to docs/generated/cem_vs_lam_*.md, figures to docs/images/."""
    summary = summarise(records)
    generated, images = root / "generated", root / "images"
    generated.mkdir(parents=True, exist_ok=True)
    images.mkdir(parents=True, exist_ok=True)
    (generated / f"{PREFIX}_agreement.md").write_text(network_table(summary, AGREEMENT))
    negative = network_table(summary, NEGATIVE, negative=True)
    (generated / f"{PREFIX}_negative.md").write_text(negative)
    (generated / f"{PREFIX}_cost.md").write_text(cost_table(summary))
    rf = rf_rows(records, summary)
    rf_table = rns.markdown_table(
        [
            "measure (per x2 network, mean over windows)",
            "Spearman rho with RF",
            "p",
            "networks",
        ],
        [[r["measure"], f"{r['rho']:+.2f}", f"{r['p']:.2f}", str(r["n"])] for r in rf],
    )
    (generated / f"{PREFIX}_receptive_field.md").write_text(rf_table)
    pairs = paired_rf(records)
    (generated / f"{PREFIX}_rf_pairs.md").write_text(pairs_table(pairs))
    (generated / f"{PREFIX}_findings.md").write_text(
        findings(records, summary, rf, pairs)
    )
    figure_receptive_field(summary, images / f"{PREFIX}_receptive_field.png")
    figure_examples(records, images / f"{PREFIX}_examples.png")
    return {"summary": summary, "rf": rf, "pairs": pairs}


def figure_receptive_field(summary, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.6), layout="constrained")
    panels = (
        ("lam_beyond", "LAM: share of |map|\nbeyond the window"),
        ("cem_beyond", "CEM: share of |effect|\nbeyond the window"),
        ("negative_beyond", "CEM: negative share of the\neffect beyond the window"),
    )
    entries = list(summary.values())
    finite = sorted({e["receptive_field"] for e in entries if e["receptive_field"]})
    global_x = (max(finite) if finite else 50) + 15
    for k, (field, title) in enumerate(panels):
        ax = fig.add_subplot(1, 3, k + 1)
        seen: dict[float, int] = {}
        for e in entries:
            x = e["receptive_field"] or global_x
            mean, (low, high) = e[field]
            marker = "o" if e["scale"] == 2 else "s"
            shift = 1.2 * seen.get(x, 0)  # networks of one field side by side
            seen[x] = seen.get(x, 0) + 1
            ax.errorbar(
                x + shift,
                mean,
                yerr=[[mean - low], [high - mean]],
                fmt=marker,
                capsize=3,
                label=e["network"].name,
            )
        ax.set_xticks(finite + [global_x], [str(v) for v in finite] + ["global"])
        ax.set_xlabel("receptive field (LR px)")
        ax.set_title(title, fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=7)
    fig.suptitle(
        "Receptive field against how far each method says the window reaches "
        "(95% CIs; o x2, s x4)",
        fontsize=9,
    )
    fig.savefig(path, dpi=110)


def figure_examples(records, path: Path) -> None:
    """LAM and CEM of one window per network (the first texture window of astronaut)."""
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    chosen = []
    for net in NETWORKS:
        rows = [
            r for r in records if r["model"] == net.name and r["photo"] == "astronaut"
        ]
        rows.sort(key=lambda r: (r["content"] != "texture", r["key"]))
        if rows:
            chosen.append(rows[0])
    if not chosen:
        return
    fig = Figure(figsize=(1.6 * len(chosen), 3.6), layout="constrained")
    for k, r in enumerate(chosen):
        lam = np.asarray(r["lam_blocks"])
        cem = np.asarray(r["cem_blocks"])
        top = fig.add_subplot(2, len(chosen), k + 1)
        top.imshow(lam, cmap="Reds", vmin=0, vmax=1, interpolation="nearest")
        top.set_title(r["model"].replace("-", "-\n", 1), fontsize=6)
        bottom = fig.add_subplot(2, len(chosen), len(chosen) + k + 1)
        limit = max(float(np.abs(cem).max()) / 10, 1e-3)  # window blocks saturate
        bottom.imshow(
            cem,
            cmap="seismic",
            norm=TwoSlopeNorm(0, -limit, limit),
            interpolation="nearest",
        )
        block, scale = r["block_size"], r["scale"]
        t, left, size = r["local_window"]
        for ax in (top, bottom):
            ax.add_patch(
                Rectangle(
                    (left / scale / block - 0.5, t / scale / block - 0.5),
                    size / scale / block,
                    size / scale / block,
                    fill=False,
                    edgecolor="#00b000",
                    linewidth=1,
                )
            )
            ax.set_xticks([])
            ax.set_yticks([])
        if k == 0:
            top.set_ylabel("|LAM| per block", fontsize=7)
            bottom.set_ylabel("CEM (red helps,\nblue hurts)", fontsize=7)
    fig.suptitle(
        "One astronaut window, LAM (top) and CEM (bottom, +-10% of the peak) "
        "on the CEM's blocks",
        fontsize=8,
    )
    fig.savefig(path, dpi=130)


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
    write_docs(records, args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())

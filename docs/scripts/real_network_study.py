"""The LAM paper's analyses on real published networks, for the docs.

    python docs/scripts/real_network_study.py              # run (resumable), then plot
    python docs/scripts/real_network_study.py --plot-only  # re-plot from the records
    python docs/scripts/real_network_study.py --probe      # time each network, no study

Runs :func:`captum_lam.studies.evaluate` over the networks of ``NETWORKS`` on small
crops of the three held-out photos (``PHOTOS``), appending one JSON record per (network,
photo, window) to ``docs/data/real_networks.jsonl`` (an interrupted run resumes
where it stopped), then writes the per-network table and the analyses' tables
to ``docs/generated/real_networks_*.md`` and one figure per analysis to
``docs/images/real_networks_*.png``. ``--config tiny --root DIR`` is a seconds-long
run of the same code on a few networks, written under DIR (for development).

Every network sees an LR input of the same side (``lr_size``: 48 pixels; 32 for the
16.7M-parameter RRDBNets, which are too slow for LAM on a CPU at 48), so DIs are
comparable between the networks of one ``lr_size``; the size-robust companions
(``mass_area_50/90``, ``mean_distance``, in LR pixels) are comparable across all.
The HR crop (``lr_size * scale`` pixels) is centred at the same point of each photo
for every scale, and its windows are chosen by the documented rule:
``select_cases(mode="stratified")``, ``per_class`` windows of each content class
(flat / edge / texture), 16x16 HR pixels, seeded, of which ``flat`` flat ones are
kept (they cost as much as the others and say little). The per-network table and all
analyses except the content one use the edge and texture windows only (the paper
interprets hard windows); the content analysis uses all. LAM: the reference's path
and objective, 25 steps of the midpoint rule (``riemann_middle``: on SPAN x4 the same
maps as 50 right-rule steps to about 2% in DI, with a completeness error below 1%
instead of 1-9%, at half the cost).

Before computing, ``run`` probes every network without records (one forward and one
backward pass on its crop), estimates its study time, and leaves out those over
``--budget-minutes`` (listed in the docs as "for a GPU run"); the probe's numbers go to
``docs/data/real_networks_probe.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

DOCS = Path(__file__).resolve().parents[1]
HARD = ("edge", "texture")
CLASSES = ("flat", "edge", "texture")
PREFIX = "real_networks"


@dataclass(frozen=True)
class Network:
    """One network of the study and how the analyses group it."""

    name: str  # registry name (captum_lam.zoo)
    family: str  # architecture family, for colours and the scale analysis
    training: str  # "PSNR" (pixel loss), "GAN" (adversarial + perceptual), "community"
    lr_size: int = 48  # LR side of the crops it sees


NETWORKS = (
    Network("srmd-x2", "SRMD", "PSNR"),
    Network("srmd-x3", "SRMD", "PSNR"),
    Network("srmd-x4", "SRMD", "PSNR"),
    Network("waifu2x-upconv7-photo-x2", "waifu2x upconv_7", "PSNR"),
    Network("waifu2x-upconv7-anime-x2", "waifu2x upconv_7", "PSNR"),
    Network("waifu2x-cunet-x2", "waifu2x cunet", "PSNR"),
    Network("span-x2-ch48", "SPAN", "PSNR"),
    Network("span-x4-ch48", "SPAN", "PSNR"),
    Network("span-hfa2k-x2", "SPAN", "community"),
    Network("span-anime-pretrain-x2", "SPAN", "community"),
    Network("span-kendata-x4", "SPAN", "community"),
    Network("span-clearreality-x4", "SPAN", "community"),
    Network("realesr-animevideov3-x2", "SRVGGNetCompact", "GAN"),
    Network("realesr-animevideov3-x3", "SRVGGNetCompact", "GAN"),
    Network("realesr-animevideov3-x4", "SRVGGNetCompact", "GAN"),
    Network("realcugan-se-x2", "Real-CUGAN", "GAN"),
    Network("realcugan-se-x3", "Real-CUGAN", "GAN"),
    Network("realcugan-se-x4", "Real-CUGAN", "GAN"),
    Network("realcugan-pro-x2", "Real-CUGAN", "GAN"),
    Network("realcugan-nose-x2", "Real-CUGAN no SE", "GAN"),
    Network("realsr-df2k-x4", "RRDBNet", "GAN", lr_size=32),
    Network("realesrgan-x4plus", "RRDBNet", "GAN", lr_size=32),
)

#: Centre (row, column) of the crops in each held-out photo: chosen so that the
#: crops of every scale hold windows of all three content classes.
PHOTOS = {"astronaut": (192, 256), "coffee": (160, 288), "chelsea": (160, 320)}

#: Same architecture, other training (or other block): (reference, other).
PAIRS = (
    ("realcugan-nose-x2", "realcugan-se-x2"),
    ("realcugan-se-x2", "realcugan-pro-x2"),
    ("realesrgan-x4plus", "realsr-df2k-x4"),
    ("waifu2x-upconv7-photo-x2", "waifu2x-upconv7-anime-x2"),
    ("span-x2-ch48", "span-hfa2k-x2"),
    ("span-x2-ch48", "span-anime-pretrain-x2"),
    ("span-x4-ch48", "span-kendata-x4"),
    ("span-x4-ch48", "span-clearreality-x4"),
)
ATTENTION = ("realcugan-nose-x2", "realcugan-se-x2")
#: Other receptive field, same training style and scale: (smaller field, larger).
RF_PAIRS = (
    ("waifu2x-upconv7-photo-x2", "srmd-x2"),
    ("srmd-x2", "span-x2-ch48"),
    ("waifu2x-upconv7-photo-x2", "span-x2-ch48"),
    ("srmd-x4", "span-x4-ch48"),
)
#: Global attention (SE block) or not: (without, with).
ATTENTION_PAIRS = (ATTENTION, ("waifu2x-upconv7-photo-x2", "waifu2x-cunet-x2"))
SCALE_FAMILIES = ("SRMD", "Real-CUGAN", "SRVGGNetCompact", "SPAN")
METRICS = (
    ("di", "DI", 2),
    ("mass_area_50", "mass area 50% (LR px)", 1),
    ("mass_area_90", "mass area 90% (LR px)", 1),
    ("mean_distance", "mean distance (LR px)", 2),
)


@dataclass(frozen=True)
class Config:
    networks: tuple[Network, ...]
    photos: tuple[str, ...]  # keys of PHOTOS
    per_class: int  # edge and texture windows per photo (stratified draw)
    flat: int  # flat windows kept per photo (of the per_class drawn)
    n_steps: int
    method: str = "riemann_middle"
    seed: int = 0


CONFIGS = {
    "full": Config(NETWORKS, tuple(PHOTOS), per_class=2, flat=1, n_steps=25),
    # A seconds-long check of the pipeline on networks of the base registry.
    "tiny": Config(
        (
            Network("span-x2-ch48", "SPAN", "PSNR", 24),
            Network("span-x4-ch48", "SPAN", "PSNR", 24),
            Network("span-kendata-x4", "SPAN", "community", 24),
            Network("realesr-animevideov3-x2", "SRVGGNetCompact", "GAN", 24),
            Network("realesr-animevideov3-x4", "SRVGGNetCompact", "GAN", 24),
        ),
        ("astronaut", "coffee"),
        per_class=1,
        flat=1,
        n_steps=8,
    ),
}


# --- cases ------------------------------------------------------------------------


def main_lr(networks: Iterable[Network]) -> int:
    """The LR side most networks see: DIs are compared at this size only."""
    sizes = [n.lr_size for n in networks]
    return max(set(sizes), key=sizes.count)


def image_key(photo: str, scale: int, lr_size: int) -> str:
    return f"{photo}-x{scale}-lr{lr_size}"


def crop(photo: str, scale: int, lr_size: int):
    """The HR crop of ``lr_size * scale`` pixels of ``photo``, centred per PHOTOS."""
    from captum_lam.images import sample_image

    image = sample_image(photo)
    side = lr_size * scale
    height, width = image.shape[-2:]
    if side > min(height, width):
        raise ValueError(f"a {side}-pixel crop does not fit {photo} ({width}x{height})")
    row, col = PHOTOS[photo]
    top = min(max(row - side // 2, 0), height - side)
    left = min(max(col - side // 2, 0), width - side)
    return image[..., top : top + side, left : left + side].contiguous()


def case_windows(config: Config, photo: str, scale: int, lr_size: int):
    """The HR crop of ``photo`` for a network of ``scale`` and its windows."""
    from captum_lam.studies import select_cases
    from captum_lam.windows import classify_content

    key = image_key(photo, scale, lr_size)
    image = crop(photo, scale, lr_size)
    chosen = select_cases(
        {key: image},
        per_image=config.per_class,
        size=16,
        seed=config.seed,
        scale=scale,
        mode="stratified",
    )
    flat = [c.window for c in chosen if classify_content(image, c.window)[0] == "flat"]
    windows = [
        c.window
        for c in chosen
        if c.window not in flat or c.window in flat[: config.flat]
    ]
    return image, windows


def build_cases(config: Config, networks: Sequence[Network], info: Mapping[str, Any]):
    """The study's cases and HR images, keyed by :func:`image_key`."""
    from captum_lam.studies import Case

    images, windows, cases = {}, {}, []
    for net in networks:
        scale = info[net.name].scale
        for photo in config.photos:
            key = image_key(photo, scale, net.lr_size)
            if key not in images:
                images[key], windows[key] = case_windows(
                    config, photo, scale, net.lr_size
                )
            cases += [Case(net.name, key, w) for w in windows[key]]
    return cases, images


# --- running ------------------------------------------------------------------------


def probe(networks: Sequence[Network], config: Config) -> list[dict[str, Any]]:
    """Time one forward and one window's backward per network on its crop.

    The estimate of a network's study time is ``photos * n_steps * (forward +
    windows * backward)``: what :func:`captum_lam.attribute_windows` does.
    """

    from captum_lam import zoo
    from captum_lam.images import bicubic_downsample

    rows = []
    for net in networks:
        model = zoo.load(net.name)
        scale = zoo.info(net.name).scale
        lr = bicubic_downsample(crop(config.photos[0], scale, net.lr_size), scale)
        lr = lr.expand(2, -1, -1, -1).clone().requires_grad_(True)  # 2 path points
        model(lr)  # warm-up
        started = time.perf_counter()
        out = model(lr)
        forward = time.perf_counter() - started
        started = time.perf_counter()
        out[..., :16, :16].abs().sum().backward()
        backward = time.perf_counter() - started
        windows = 2 * config.per_class + config.flat
        estimate = (
            len(config.photos) * config.n_steps / 2 * (forward + windows * backward)
        )
        rows.append(
            {
                "model": net.name,
                "lr_size": net.lr_size,
                "forward_s": forward / 2,
                "backward_s": backward / 2,
                "estimate_s": estimate,
            }
        )
        print(
            f"{net.name:28s} lr {net.lr_size}: forward {forward / 2:.3f} s, "
            f"backward {backward / 2:.3f} s per point; study ~{estimate:.0f} s",
            flush=True,
        )
    return rows


def run(
    config: Config, networks: Sequence[Network], root: Path, budget_minutes: float
) -> None:
    """Probe the networks without records, drop those over budget, evaluate the rest."""
    from captum_lam import zoo
    from captum_lam.studies import evaluate

    records_path = root / "data" / f"{PREFIX}.jsonl"
    probe_path = root / "data" / f"{PREFIX}_probe.json"
    done = by_model(read_records(records_path)) if records_path.exists() else {}
    pending = [n for n in networks if len(done.get(n.name, [])) == 0]
    probes = json.loads(probe_path.read_text()) if probe_path.exists() else {}
    for row in probe([n for n in pending if zoo.installed(n.name)], config):
        row["skipped"] = row["estimate_s"] > budget_minutes * 60
        probes[row["model"]] = row
    root.joinpath("data").mkdir(parents=True, exist_ok=True)
    probe_path.write_text(json.dumps(probes, indent=1, sort_keys=True) + "\n")
    chosen = [
        n
        for n in networks
        if n.name in done
        or (zoo.installed(n.name) and not probes.get(n.name, {}).get("skipped"))
    ]
    for n in networks:
        if n not in chosen:
            print(f"not run: {n.name} (not installed or over the budget)", flush=True)
    if not chosen:
        return
    info = {net.name: zoo.info(net.name) for net in chosen}
    cases, images = build_cases(config, chosen, info)
    started = time.perf_counter()
    evaluate(
        None,
        cases,
        images=images,
        n_steps=config.n_steps,
        method=config.method,
        out=records_path,
        progress=sys.stderr.isatty(),
        on_record=lambda r: print(
            f"{r['model']} {r['image']} {r['content']}: DI {fmt(r['di'], 3)} "
            f"({r['group_seconds']:.0f} s for {r['group_windows']} windows)",
            flush=True,
        ),
    )
    print(f"study: {time.perf_counter() - started:.0f} s", flush=True)


def read_records(path: Path) -> list[dict[str, Any]]:
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


# --- numbers ------------------------------------------------------------------------


def bootstrap_mean(values: Sequence[float], seed: int = 0, n_boot: int = 2000):
    """Mean and 95% percentile-bootstrap interval (seeded: the same every run)."""
    data = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if data.size == 0:
        return math.nan, (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n_boot, data.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(data.mean()), (float(low), float(high))


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    from scipy.stats import spearmanr

    result = spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


def by_model(
    records: Iterable[Mapping[str, Any]],
) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list] = {}
    for r in records:
        grouped.setdefault(r["model"], []).append(r)
    return grouped


def hard(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in rows if r["content"] in HARD]


def summarise(records: Sequence[Mapping[str, Any]], networks: Sequence[Network]):
    """Per network (hard windows): means with CIs, PSNR, completeness, time."""
    grouped = by_model(records)
    summary = {}
    for net in networks:
        rows = hard(grouped.get(net.name, []))
        if not rows:
            continue
        entry: dict[str, Any] = {"network": net, "n": len(rows)}
        for field, _, _ in METRICS:
            entry[field] = bootstrap_mean([r[field] for r in rows])
        per_image = {r["image"]: r for r in grouped[net.name]}.values()
        entry["psnr_y"] = float(np.mean([r["psnr_y"] for r in per_image]))
        entry["bicubic_psnr_y"] = float(
            np.mean([r["bicubic_psnr_y"] for r in per_image])
        )
        entry["gain"] = entry["psnr_y"] - entry["bicubic_psnr_y"]
        entry["ssim_y"] = float(np.mean([r["ssim_y"] for r in per_image]))
        rel_hard = [
            r["relative_delta"] for r in rows if r["relative_delta"] is not None
        ]
        entry["rel_delta_median"] = float(np.median(rel_hard)) if rel_hard else math.nan
        entry["rel_delta_max"] = float(np.max(rel_hard)) if rel_hard else math.nan
        entry["seconds"] = float(np.mean([r["seconds"] for r in grouped[net.name]]))
        first = rows[0]
        entry["scale"] = first["scale"]
        entry["lr_size"] = first["lr_height"]
        entry["receptive_field"] = first["receptive_field"]
        entry["parameters"] = first["parameters"]
        summary[net.name] = entry
    return summary


def paired(records, reference: str, other: str, field: str, seed: int = 0):
    """Mean paired difference other - reference over shared hard windows, with CI."""
    grouped = by_model(records)
    ref = {
        (r["image"], r["top"], r["left"]): r for r in hard(grouped.get(reference, []))
    }
    diffs = [
        r[field] - ref[k][field]
        for r in hard(grouped.get(other, []))
        if (k := (r["image"], r["top"], r["left"])) in ref
        and r[field] is not None
        and ref[k][field] is not None
    ]
    mean, ci = bootstrap_mean(diffs, seed)
    return {"n": len(diffs), "mean": mean, "ci": ci}


def fmt(value: Optional[float], digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def fmt_ci(stat, digits: int) -> str:
    mean, (low, high) = stat
    return f"{fmt(mean, digits)} [{fmt(low, digits)}, {fmt(high, digits)}]"


def fmt_signed_ci(stat, digits: int) -> str:
    low, high = stat["ci"]
    return f"{stat['mean']:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[str]], right: int = 1
) -> str:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append(
        "| " + " | ".join(["---"] * right + ["---:"] * (len(header) - right)) + " |"
    )
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def rf_text(rf: Optional[int]) -> str:
    return "global" if rf is None else str(rf)


def network_table(summary) -> str:
    header = (
        "network",
        "family",
        "training",
        "scale",
        "LR crop",
        "parameters",
        "RF (LR px)",
        "n",
        "DI mean [95% CI]",
        "area 50%",
        "area 90% [95% CI]",
        "distance [95% CI]",
        "PSNR-Y (dB)",
        "gain (dB)",
        "SSIM-Y",
        "rel. delta median / max",
        "s / window",
    )
    rows = []
    for name, s in summary.items():
        net = s["network"]
        rows.append(
            (
                f"`{name}`",
                net.family,
                net.training,
                f"x{s['scale']}",
                str(s["lr_size"]),
                f"{s['parameters'] / 1e6:.2f}M" if s["parameters"] else "-",
                rf_text(s["receptive_field"]),
                str(s["n"]),
                fmt_ci(s["di"], 2),
                fmt(s["mass_area_50"][0], 1),
                fmt_ci(s["mass_area_90"], 1),
                fmt_ci(s["mean_distance"], 2),
                fmt(s["psnr_y"], 2),
                f"{s['gain']:+.2f}",
                fmt(s["ssim_y"], 3),
                f"{s['rel_delta_median'] * 100:.1f}% / {s['rel_delta_max'] * 100:.1f}%",
                fmt(s["seconds"], 1),
            )
        )
    return markdown_table(header, rows, right=3)


def correlation_rows(summary) -> list[tuple[str, str, str]]:
    """Spearman's rho of the DI (main LR size only) and the size-robust metrics."""
    rows = []
    size = main_lr(s["network"] for s in summary.values())
    finite = [s for s in summary.values() if s["receptive_field"] is not None]
    main = [s for s in summary.values() if s["lr_size"] == size]
    tests = [
        (
            f"DI vs receptive field (finite fields, {size} px crops)",
            [s for s in finite if s in main],
            "receptive_field",
            "di",
        ),
        (
            "90% area vs receptive field (finite fields)",
            finite,
            "receptive_field",
            "mass_area_90",
        ),
        (
            "distance vs receptive field (finite fields)",
            finite,
            "receptive_field",
            "mean_distance",
        ),
        (f"DI vs PSNR gain ({size} px crops)", main, "gain", "di"),
        ("90% area vs PSNR gain", list(summary.values()), "gain", "mass_area_90"),
        (
            f"DI vs PSNR gain, PSNR-trained only ({size} px crops)",
            [s for s in main if s["network"].training == "PSNR"],
            "gain",
            "di",
        ),
        (
            "90% area vs PSNR gain, PSNR-trained only",
            [s for s in summary.values() if s["network"].training == "PSNR"],
            "gain",
            "mass_area_90",
        ),
        (
            f"DI vs PSNR gain, PSNR-trained x2 only ({size} px crops)",
            [s for s in main if s["network"].training == "PSNR" and s["scale"] == 2],
            "gain",
            "di",
        ),
    ]
    for label, group, xfield, yfield in tests:
        if len(group) < 3:
            continue
        x = [s[xfield] for s in group]
        y = [s[yfield][0] for s in group]
        rho, p = spearman(x, y)
        rows.append((label, str(len(group)), f"{rho:.2f} (p = {p:.3f})"))
    return rows


def pair_rows(records, pairs) -> list[tuple[str, ...]]:
    rows = []
    present = set(by_model(records))
    for reference, other in pairs:
        if reference not in present or other not in present:
            continue
        stats = [paired(records, reference, other, f) for f, _, _ in METRICS]
        rows.append(
            (f"`{other}` - `{reference}`", str(stats[0]["n"]))
            + tuple(fmt_signed_ci(st, d) for st, (_, _, d) in zip(stats, METRICS))
        )
    return rows


def scale_rows(summary) -> list[tuple[str, ...]]:
    rows = []
    for family in SCALE_FAMILIES:
        members = [
            s
            for s in summary.values()
            if s["network"].family == family
            and s["network"].training != "community"
            and not s["network"].name.startswith("realcugan-pro")
        ]
        for s in sorted(members, key=lambda s: s["scale"]):
            rows.append(
                (
                    family,
                    f"`{s['network'].name}`",
                    f"x{s['scale']}",
                    f"{16 / s['scale']:.1f}",
                    fmt_ci(s["di"], 2),
                    fmt_ci(s["mass_area_90"], 1),
                    fmt_ci(s["mean_distance"], 2),
                )
            )
    return rows


def relative_to_network(records):
    """Records whose metrics are divided by their network's mean over its windows."""
    means = {}
    for model, rows in by_model(records).items():
        for f, _, _ in METRICS:
            values = [r[f] for r in rows if r[f] is not None]
            means[model, f] = float(np.mean(values)) if values else math.nan
    return [
        {
            **r,
            **{
                f: None if r[f] is None else r[f] / means[r["model"], f]
                for f, _, _ in METRICS
            },
        }
        for r in records
    ]


def content_stats(records, networks):
    """DI / 90% area / distance by content class, per family and pooled."""
    families = list(dict.fromkeys(n.family for n in networks))
    names = {n.name: n for n in networks}
    table = {}
    for group in [*families, "all"]:
        rows = [
            r
            for r in records
            if r["model"] in names
            and (group == "all" or names[r["model"]].family == group)
        ]
        if not rows:
            continue
        table[group] = {
            c: {
                f: bootstrap_mean([r[f] for r in rows if r["content"] == c])
                for f, _, _ in METRICS
            }
            for c in CLASSES
        }
        table[group]["n"] = {c: sum(r["content"] == c for r in rows) for c in CLASSES}
    return table


def not_run_table(records, networks: Sequence[Network], probes: Mapping) -> str:
    present = set(by_model(records))
    rows = []
    for net in networks:
        if net.name in present:
            continue
        row = probes.get(net.name)
        if row is None:
            rows.append(
                (f"`{net.name}`", net.family, str(net.lr_size), "-", "not run (time)")
            )
        else:
            rows.append(
                (
                    f"`{net.name}`",
                    net.family,
                    str(net.lr_size),
                    f"{row['estimate_s'] / 60:.0f}",
                    "over the CPU budget: for a GPU run",
                )
            )
    groups = {(r["model"], r["image"]): r["group_seconds"] for r in records}
    cost = (
        f"LAM time of these records: {sum(groups.values()) / 60:.0f} minutes in all "
        f"({len(present)} networks, {len(groups)} (network, photo) passes, on the "
        "shared 2-core CPU with other jobs running).\n\n"
    )
    if not rows:
        return cost + "Every network of the study ran.\n"
    return cost + markdown_table(
        ("network", "family", "LR crop", "probe's estimate (min)", "why"), rows, right=2
    )


def markdown_fragments(
    records, networks: Sequence[Network], probes: Optional[Mapping] = None
) -> dict[str, str]:
    """Every generated markdown file of the study, from the records (and probes)."""
    summary = summarise(records, networks)
    frags = {f"{PREFIX}_table.md": network_table(summary)}
    frags[f"{PREFIX}_correlations.md"] = markdown_table(
        ("Spearman's rho over networks", "networks", "rho (p)"),
        correlation_rows(summary),
    )
    header = ("pair (other - reference)", "windows") + tuple(
        f"{label} diff. [95% CI]" for _, label, _ in METRICS
    )
    frags[f"{PREFIX}_pairs.md"] = markdown_table(
        header, pair_rows(records, PAIRS), right=1
    )
    frags[f"{PREFIX}_rf_pairs.md"] = markdown_table(
        header, pair_rows(records, RF_PAIRS), right=1
    )
    frags[f"{PREFIX}_attention.md"] = markdown_table(
        header, pair_rows(records, ATTENTION_PAIRS), right=1
    )
    frags[f"{PREFIX}_scale.md"] = markdown_table(
        (
            "family",
            "network",
            "scale",
            "window (LR px)",
            "DI [95% CI]",
            "area 90% [95% CI]",
            "distance [95% CI]",
        ),
        scale_rows(summary),
        right=3,
    )
    size = main_lr(networks)
    content = content_stats([r for r in records if r["lr_height"] == size], networks)
    relative = content_stats(
        relative_to_network([r for r in records if r["lr_height"] == size]), networks
    )
    if "all" in relative:
        content["all, relative to each network's mean"] = relative["all"]
    rows = []
    for group, stats in content.items():
        for field, label, digits in (METRICS[0], METRICS[2]):
            digits = 2 if "relative" in group else digits
            rows.append(
                (
                    group,
                    label,
                    *(
                        f"{fmt_ci(stats[c][field], digits)} (n={stats['n'][c]})"
                        for c in CLASSES
                    ),
                )
            )
    frags[f"{PREFIX}_content.md"] = markdown_table(
        ("family", "metric", *CLASSES), rows, right=2
    )
    groups = {}
    for s in summary.values():
        groups.setdefault(s["network"].training, []).append(s)
    rows = []
    for training, members in groups.items():
        for lr in sorted({s["lr_size"] for s in members}, reverse=True):
            sub = [s for s in members if s["lr_size"] == lr]
            rows.append(
                (
                    training,
                    str(lr),
                    str(len(sub)),
                    f"{np.mean([s['gain'] for s in sub]):+.2f}",
                    fmt(float(np.mean([s["di"][0] for s in sub])), 2),
                    fmt(float(np.mean([s["mass_area_90"][0] for s in sub])), 1),
                    fmt(float(np.mean([s["mean_distance"][0] for s in sub])), 2),
                )
            )
    frags[f"{PREFIX}_training.md"] = markdown_table(
        (
            "training",
            "LR crop",
            "networks",
            "mean PSNR gain (dB)",
            "mean DI",
            "mean area 90%",
            "mean distance",
        ),
        rows,
        right=1,
    )
    frags[f"{PREFIX}_not_run.md"] = not_run_table(records, networks, probes or {})
    return frags


# --- figures ------------------------------------------------------------------------

MARKERS = {"PSNR": "o", "GAN": "s", "community": "^"}


def _style(networks: Sequence[Network]):
    import matplotlib

    families = list(dict.fromkeys(n.family for n in networks))
    cmap = matplotlib.colormaps["tab10"]
    return {f: cmap(i % 10) for i, f in enumerate(families)}


def _legend(fig, networks, colours, hollow=False) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=colours[f], marker="o", linestyle="", label=f)
        for f in colours
    ]
    handles += [
        Line2D(
            [],
            [],
            color="grey",
            marker=m,
            linestyle="",
            label=f"{t}-trained" if t != "community" else "community fine-tune",
        )
        for t, m in MARKERS.items()
        if any(n.training == t for n in networks)
    ]
    if hollow:
        handles.append(
            Line2D(
                [],
                [],
                color="grey",
                marker="o",
                markerfacecolor="white",
                linestyle="",
                label="smaller LR crops",
            )
        )
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncol=min(len(handles), 5),
        fontsize=9,
        frameon=False,
    )


def _point(ax, x, y, ci, net, colours, hollow, horizontal=False) -> None:
    face = "white" if hollow else colours[net.family]
    err = [[y - ci[0]], [ci[1] - y]]
    kwargs = dict(
        marker=MARKERS[net.training],
        color=colours[net.family],
        markerfacecolor=face,
        markersize=7,
        capsize=2,
        linestyle="",
    )
    if horizontal:
        ax.errorbar(y, x, xerr=err, **kwargs)
    else:
        ax.errorbar(x, y, yerr=err, **kwargs)


def figure_receptive_field(summary, networks):
    """Dot plot of DI / 90% area / distance, networks sorted by receptive field."""
    from matplotlib.figure import Figure

    colours = _style(networks)
    size = main_lr(networks)
    order = sorted(
        summary.values(),
        key=lambda s: (
            math.inf if s["receptive_field"] is None else s["receptive_field"],
            s["network"].name,
        ),
    )
    fig = Figure(figsize=(10, 0.32 * len(order) + 1.8), layout="constrained")
    axes = fig.subplots(1, 3, sharey=True)
    for y, s in enumerate(order):
        for ax, (field, _, _) in zip(axes, (METRICS[0], METRICS[2], METRICS[3])):
            if field == "di" and s["lr_size"] != size:
                continue  # DIs compare only at one input size
            _point(
                ax,
                y,
                s[field][0],
                s[field][1],
                s["network"],
                colours,
                s["lr_size"] != size,
                horizontal=True,
            )
    labels = [
        f"{s['network'].name} (RF {rf_text(s['receptive_field'])})" for s in order
    ]
    axes[0].set_yticks(range(len(order)), labels, fontsize=9)
    axes[0].invert_yaxis()
    for ax, (_, label, _) in zip(axes, (METRICS[0], METRICS[2], METRICS[3])):
        ax.set_xlabel(label + " [95% CI]", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_title(f"DI ({size} px LR crops)", fontsize=10)
    axes[1].set_title("pixels holding 90% of the map", fontsize=10)
    axes[2].set_title("how far the map reaches", fontsize=10)
    fig.suptitle(
        "Used pixels vs receptive field (top: smallest field; edge + texture windows)",
        fontsize=11,
    )
    hollow = any(s["lr_size"] != size for s in order)
    _legend(fig, [s["network"] for s in order], colours, hollow)
    return fig


def figure_attention(records):
    """Per window: realcugan-nose-x2 (x) vs realcugan-se-x2 (y)."""
    from matplotlib.figure import Figure

    grouped = by_model(records)
    reference, other = ATTENTION
    ref = {(r["image"], r["top"], r["left"]): r for r in grouped.get(reference, [])}
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (field, label, digits) in zip(axes, (METRICS[0], METRICS[2], METRICS[3])):
        for content, colour in zip(CLASSES, ("0.6", "tab:blue", "tab:orange")):
            pts = [
                (ref[k][field], r[field])
                for r in grouped.get(other, [])
                if (k := (r["image"], r["top"], r["left"])) in ref
                and r["content"] == content
                and r[field] is not None
                and ref[k][field] is not None
            ]
            if pts:
                x, y = zip(*pts)
                ax.scatter(x, y, s=22, color=colour, label=content)
        lims = [
            min(ax.get_xlim()[0], ax.get_ylim()[0]),
            max(ax.get_xlim()[1], ax.get_ylim()[1]),
        ]
        ax.plot(lims, lims, color="k", lw=0.8, alpha=0.5)
        ax.set_xlim(lims), ax.set_ylim(lims)
        stat = paired(records, reference, other, field)
        ax.set_title(
            f"{label}\nse - nose (edge + texture): {fmt_signed_ci(stat, digits)}",
            fontsize=9,
        )
        ax.set_xlabel(f"{reference} (no SE block)", fontsize=9)
        ax.set_ylabel(f"{other} (SE block)", fontsize=9)
    axes[0].legend(fontsize=8, title="window", title_fontsize=8)
    fig.suptitle(
        "Attention vs none: the same U-Net with and without its global SE block "
        "(one point per window)",
        fontsize=11,
    )
    return fig


def figure_training(summary, networks):
    """DI and 90% area against the PSNR gain over bicubic, by training."""
    from matplotlib.figure import Figure

    colours = _style(networks)
    size = main_lr(networks)
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    axes = fig.subplots(1, 2)
    for s in summary.values():
        for ax, field in zip(axes, ("di", "mass_area_90")):
            if field == "di" and s["lr_size"] != size:
                continue
            _point(
                ax,
                s["gain"],
                s[field][0],
                s[field][1],
                s["network"],
                colours,
                s["lr_size"] != size,
            )
    for ax, (_, label, _) in zip(axes, (METRICS[0], METRICS[2])):
        ax.set_xlabel("PSNR-Y gain over bicubic on the crops (dB)", fontsize=10)
        ax.set_ylabel(label + " [95% CI]", fontsize=10)
        ax.axvline(0, color="k", lw=0.8, alpha=0.4)
        ax.grid(alpha=0.3)
    axes[0].set_title(f"DI ({size} px LR crops)", fontsize=10)
    axes[1].set_title("pixels holding 90% of the map (all crops)", fontsize=10)
    fig.suptitle(
        "Used pixels vs performance: PSNR-trained, GAN-trained, community fine-tunes",
        fontsize=11,
    )
    _legend(
        fig,
        [s["network"] for s in summary.values()],
        colours,
        any(s["lr_size"] != size for s in summary.values()),
    )
    return fig


def figure_pairs(records, pairs, title: str):
    """Forest plot: paired differences (other - reference) over shared windows."""
    from matplotlib.figure import Figure

    present = set(by_model(records))
    pairs = [(a, b) for a, b in pairs if a in present and b in present]
    fig = Figure(figsize=(10, 0.45 * len(pairs) + 1.4), layout="constrained")
    axes = fig.subplots(1, 3, sharey=True)
    for ax, (field, label, _) in zip(axes, (METRICS[0], METRICS[2], METRICS[3])):
        for y, (a, b) in enumerate(pairs):
            st = paired(records, a, b, field)
            colour = "tab:red" if st["ci"][0] > 0 or st["ci"][1] < 0 else "0.3"
            ax.errorbar(
                st["mean"],
                y,
                xerr=[[st["mean"] - st["ci"][0]], [st["ci"][1] - st["mean"]]],
                marker="o",
                color=colour,
                capsize=3,
            )
        ax.axvline(0, color="k", lw=0.8, alpha=0.5)
        ax.set_xlabel(f"difference in {label}", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(
        range(len(pairs)), [f"{b}\n  - {a}" for a, b in pairs], fontsize=8
    )
    axes[0].invert_yaxis()
    fig.suptitle(
        f"{title}: paired differences on the same windows (red: CI excludes 0)",
        fontsize=11,
    )
    return fig


def figure_scale(summary, networks):
    """DI / 90% area / distance against the scale, one line per family."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    colours = _style(networks)
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    for offset, family in zip((-0.09, -0.03, 0.03, 0.09), SCALE_FAMILIES):
        members = sorted(
            (
                s
                for s in summary.values()
                if s["network"].family == family
                and s["network"].training != "community"
                and not s["network"].name.startswith("realcugan-pro")
            ),
            key=lambda s: s["scale"],
        )
        if not members:
            continue
        for ax, (field, _, _) in zip(axes, (METRICS[0], METRICS[2], METRICS[3])):
            x = [s["scale"] + offset for s in members]
            y = [s[field][0] for s in members]
            err = [
                [s[field][0] - s[field][1][0] for s in members],
                [s[field][1][1] - s[field][0] for s in members],
            ]
            ax.errorbar(
                x,
                y,
                yerr=err,
                color=colours[family],
                marker="o",
                capsize=2,
                label=family,
            )
    for ax, (_, label, _) in zip(axes, (METRICS[0], METRICS[2], METRICS[3])):
        ax.set_xticks([2, 3, 4], ["x2", "x3", "x4"])
        ax.set_ylabel(label + " [95% CI]", fontsize=10)
        ax.set_yscale("log")
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
        ax.tick_params(axis="y", which="minor", labelsize=8)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=9)
    fig.suptitle(
        f"Scale: the same family at x2 / x3 / x4 ({main_lr(networks)} px LR crops, "
        "16 px HR windows; log scales)",
        fontsize=11,
    )
    return fig


def figure_content(records, networks):
    """DI and 90% area by content class, per family and pooled."""
    from matplotlib.figure import Figure

    colours = _style(networks)
    stats = content_stats(relative_to_network(records), networks)
    if "all" not in stats:
        stats["all"] = {
            c: {f: (math.nan, (math.nan, math.nan)) for f, _, _ in METRICS}
            for c in CLASSES
        }
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    axes = fig.subplots(1, 2)
    groups = [g for g in stats if g != "all"]
    width = 0.6 / max(len(groups), 1)
    for ax, (field, label, _) in zip(axes, (METRICS[0], METRICS[2])):
        for i, group in enumerate([*groups, "all"]):
            x = np.arange(3) + (-0.3 + width * i if group != "all" else 0.38)
            mean = [stats[group][c][field][0] for c in CLASSES]
            err = [
                [m - stats[group][c][field][1][0] for m, c in zip(mean, CLASSES)],
                [stats[group][c][field][1][1] - m for m, c in zip(mean, CLASSES)],
            ]
            colour = "k" if group == "all" else colours[group]
            ax.errorbar(
                x,
                mean,
                yerr=err,
                color=colour,
                marker="o" if group != "all" else "D",
                linestyle="",
                capsize=2,
                label=group,
            )
        ax.set_xticks(range(3), CLASSES)
        ax.set_ylabel(f"{label} / the network's mean [95% CI]", fontsize=9)
        ax.axhline(1, color="k", lw=0.8, alpha=0.4)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_title(f"DI ({main_lr(networks)} px LR crops)", fontsize=10)
    axes[1].set_title("pixels holding 90% of the map", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=5, fontsize=9)
    fig.suptitle(
        "Content: flat / edge / texture windows, each relative to its network's mean "
        "(per family; all networks: black)",
        fontsize=11,
    )
    return fig


def write_figures(records, networks: Sequence[Network], images: Path) -> list[Path]:
    summary = summarise(records, networks)
    size = main_lr(networks)
    main = [r for r in records if r["lr_height"] == size]
    figures = {
        "receptive_field": figure_receptive_field(summary, networks),
        "attention": figure_attention(records),
        "training": figure_training(summary, networks),
        "pairs": figure_pairs(records, PAIRS, "Same architecture, other training"),
        "rf_pairs": figure_pairs(
            records, RF_PAIRS, "Larger receptive field, same training and scale"
        ),
        "scale": figure_scale(summary, networks),
        "content": figure_content(main, networks),
    }
    images.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        path = images / f"{PREFIX}_{name}.png"
        fig.savefig(path, dpi=110)
        paths.append(path)
    return paths


def write_docs(records, networks: Sequence[Network], root: Path) -> None:
    generated = root / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    probe_path = root / "data" / f"{PREFIX}_probe.json"
    probes = json.loads(probe_path.read_text()) if probe_path.exists() else {}
    for name, text in markdown_fragments(records, networks, probes).items():
        (generated / name).write_text(text)
    for path in write_figures(records, networks, root / "images"):
        print(f"wrote {path}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="full")
    parser.add_argument(
        "--root",
        type=Path,
        default=DOCS,
        help="folder of data/, generated/, images/ (default: docs/)",
    )
    parser.add_argument(
        "--models", help="comma-separated subset of the config's networks"
    )
    parser.add_argument(
        "--plot-only",
        action="store_true",
        help="only tables and figures, from the records",
    )
    parser.add_argument("--probe", action="store_true", help="only time each network")
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=20.0,
        help="networks whose probe estimates more are not run (default 20)",
    )
    args = parser.parse_args(argv)
    config = CONFIGS[args.config]
    if args.config != "full" and args.root == DOCS:
        parser.error(
            "--config tiny writes under --root DIR: name a folder other than docs/"
        )
    networks = list(config.networks)
    if args.models:
        wanted = args.models.split(",")
        unknown = sorted(set(wanted) - {n.name for n in networks})
        if unknown:
            parser.error(
                f"--models: not in the {args.config} config: {', '.join(unknown)}"
            )
        networks = sorted(
            (n for n in networks if n.name in wanted),
            key=lambda n: wanted.index(n.name),
        )
    records_path = args.root / "data" / f"{PREFIX}.jsonl"
    if args.probe:
        probe(networks, config)
        return 0
    if not args.plot_only:
        run(config, networks, args.root, args.budget_minutes)
    if not records_path.exists():
        parser.error(f"no records at {records_path}: run without --plot-only first")
    records = read_records(records_path)
    write_docs(records, list(config.networks), args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())

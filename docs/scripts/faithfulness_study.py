"""Is the map right? Faithfulness of five attribution methods on real networks.

    python docs/scripts/faithfulness_study.py              # run (resumable), then plot
    python docs/scripts/faithfulness_study.py --plot-only  # re-plot from the records

For every network of ``NETWORKS``, the three held-out photos and their edge and
texture windows (the real-network study's crops and window rule, on 24-pixel LR
crops so that the whole study runs on one CPU thread), five maps of the window
(``METHODS``: Saliency, IG from black, IG from the blurred image, blur-IG, LAM) are
judged on the network itself with :mod:`captum_lam.faithfulness`: deletion and
insertion areas beside a random ranking's (mean of ``RANDOM_SEEDS`` rankings),
Captum's infidelity, and, on the first hard window of each photo, the cascading
model-parameter randomisation test in ``STAGES`` stages. One JSON line per
(network, photo, window, method) goes to ``docs/data/faithfulness.jsonl``; an
interrupted run resumes at the first window without records. Then the tables go to
``docs/generated/faithfulness_*.md`` and the figures to
``docs/images/faithfulness_*.png``. ``--config tiny --root DIR``: a minute-long run
of the same code (for development).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_network_study as rns  # noqa: E402  (the crops and windows of that study)

DOCS = Path(__file__).resolve().parents[1]
PREFIX = "faithfulness"
HARD = ("edge", "texture")
METHODS = (
    ("saliency", "Saliency"),
    ("ig", "IG (black)"),
    ("ig-blur", "IG (blurred)"),
    ("blur-ig", "blur-IG"),
    ("lam", "LAM"),
)
LABELS = dict(METHODS)


@dataclass(frozen=True)
class Config:
    networks: tuple[rns.Network, ...]
    photos: tuple[str, ...]
    lr_size: int = 24  # LR side of every crop
    per_class: int = 1  # edge and texture windows per photo
    n_steps: int = 16  # path methods, midpoint rule
    steps: int = 10  # deletion / insertion fractions
    random_seeds: int = 4
    perturb_samples: int = 8  # infidelity
    stages: int = 3  # randomisation test, cascading, output first
    seed: int = 0


NETWORKS = (
    rns.Network("span-x2-ch48", "SPAN", "PSNR"),
    rns.Network("span-x4-ch48", "SPAN", "PSNR"),
    rns.Network("span-kendata-x4", "SPAN", "community"),
    rns.Network("realesr-animevideov3-x2", "SRVGGNetCompact", "GAN"),
    rns.Network("realesr-animevideov3-x4", "SRVGGNetCompact", "GAN"),
    rns.Network("waifu2x-upconv7-photo-x2", "waifu2x upconv_7", "PSNR"),
    rns.Network("waifu2x-upconv7-anime-x2", "waifu2x upconv_7", "PSNR"),
    rns.Network("waifu2x-cunet-x2", "waifu2x cunet", "PSNR"),
    rns.Network("realcugan-nose-x2", "Real-CUGAN no SE", "GAN"),
    rns.Network("realcugan-se-x2", "Real-CUGAN", "GAN"),
)

CONFIGS = {
    "full": Config(NETWORKS, tuple(rns.PHOTOS)),
    "tiny": Config(
        NETWORKS[:2], ("astronaut",), n_steps=4, steps=4, random_seeds=2, stages=2
    ),
}


# --- running ------------------------------------------------------------------------


def case_list(config: Config, networks: Sequence[rns.Network]):
    """(network, photo, HR crop, hard windows) in run order."""
    from captum_lam import zoo

    window_config = rns.Config(
        networks, config.photos, per_class=config.per_class, flat=0, n_steps=1
    )
    out = []
    for net in networks:
        scale = zoo.info(net.name).scale
        for photo in config.photos:
            image, windows = rns.case_windows(
                window_config, photo, scale, config.lr_size
            )
            out.append((net, photo, scale, image, windows))
    return out


def case_key(model: str, image: str, window: Sequence[int]) -> str:
    return f"{model}|{image}|{','.join(map(str, window))}"


def evaluate_case(config, model, lr, window, randomise: bool) -> list[dict[str, Any]]:
    """The records of one window: one per method."""
    import torch

    from captum_lam._faithfulness.randomization import window_attribution
    from captum_lam.faithfulness import (
        curve_area,
        deletion_curve,
        insertion_curve,
        random_curve,
        randomization_check,
        window_infidelity,
    )

    curve_options = {"steps": config.steps, "seed": config.seed}
    started = time.perf_counter()
    fractions, random_del = random_curve(
        model, lr, window, "deletion", config.random_seeds, steps=config.steps
    )
    _, random_ins = random_curve(
        model, lr, window, "insertion", config.random_seeds, steps=config.steps
    )
    random_seconds = time.perf_counter() - started
    rows = []
    for method, _ in METHODS:
        started = time.perf_counter()
        attr = window_attribution(method, model, lr, window, n_steps=config.n_steps)
        map_seconds = time.perf_counter() - started
        _, deletion = deletion_curve(model, lr, attr, window, **curve_options)
        _, insertion = insertion_curve(model, lr, attr, window, **curve_options)
        infidelity = window_infidelity(
            model, lr, attr, window, n_perturb_samples=config.perturb_samples
        )
        row = {
            "method": method,
            "fractions": fractions.tolist(),
            "deletion": deletion[0].tolist(),
            "insertion": insertion[0].tolist(),
            "random_deletion": random_del[0].tolist(),
            "random_insertion": random_ins[0].tolist(),
            "deletion_area": float(curve_area(fractions, deletion, "deletion")[0]),
            "insertion_area": float(curve_area(fractions, insertion, "insertion")[0]),
            "random_deletion_area": float(
                curve_area(fractions, random_del, "deletion")[0]
            ),
            "random_insertion_area": float(
                curve_area(fractions, random_ins, "insertion")[0]
            ),
            "input_objective": float(deletion[0, 0]),
            "baseline_objective": float(deletion[0, -1]),
            "infidelity": float(infidelity[0]),
            "map_seconds": map_seconds,
            "random_seconds": random_seconds,
            "randomization": None,
            "randomization_layers": None,
        }
        if randomise:
            result = randomization_check(
                model,
                lr,
                window,
                method=method,
                stages=config.stages,
                n_steps=config.n_steps,
                seed=config.seed,
            )
            row["randomization"] = result.similarity[:, 0].tolist()
            row["randomization_layers"] = list(result.layers)
        row["seconds"] = time.perf_counter() - started
        rows.append(row)
        torch.cuda.empty_cache() if torch.cuda.is_available() else None
    return rows


def run(
    config: Config, networks: Sequence[rns.Network], root: Path, reverse: bool = False
) -> None:
    """Evaluate every window without records; ``reverse``: last network first.

    The records are re-read before each window, so that two processes (one of
    them ``reverse``) can share the work and meet in the middle.
    """
    import torch

    from captum_lam import zoo
    from captum_lam.images import bicubic_downsample
    from captum_lam.windows import classify_content

    torch.set_num_threads(1)
    path = root / "data" / f"{PREFIX}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    cases = case_list(config, networks)
    for net, photo, scale, image, windows in reversed(cases) if reverse else cases:
        if not zoo.installed(net.name):
            print(f"not installed: {net.name}", flush=True)
            continue
        key_image = rns.image_key(photo, scale, config.lr_size)
        model = None
        for window in windows:
            done = {r["key"] for r in read_records(path)} if path.exists() else set()
            keys = [f"{case_key(net.name, key_image, window)}|{m}" for m, _ in METHODS]
            if all(k in done for k in keys):
                continue
            if model is None:
                model = zoo.load(net.name).eval()
                lr = bicubic_downsample(image, scale)
            content = classify_content(image, window)[0]
            t0 = time.perf_counter()
            rows = evaluate_case(config, model, lr, window, window == windows[0])
            base = {
                "model": net.name,
                "family": net.family,
                "training": net.training,
                "image": key_image,
                "photo": photo,
                "scale": scale,
                "lr_size": config.lr_size,
                "window": list(window),
                "content": content,
                "n_steps": config.n_steps,
                "steps": config.steps,
                "random_seeds": config.random_seeds,
            }
            lines = [
                json.dumps({"key": key, **base, **row}) + "\n"
                for key, row in zip(keys, rows)
            ]
            with open(path, "a") as handle:  # one write: one window's records
                handle.write("".join(lines))
            best = min(rows, key=lambda r: r["deletion_area"])["method"]
            print(
                f"{net.name} {photo} {content} {tuple(window)}: "
                f"{time.perf_counter() - t0:.0f} s, lowest deletion area: {best}",
                flush=True,
            )
    print(f"study: {time.perf_counter() - started:.0f} s", flush=True)


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records, the first of each key (two processes may meet on a window)."""
    records: dict[str, dict[str, Any]] = {}
    with open(path) as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                records.setdefault(record["key"], record)
    return list(records.values())


# --- numbers ------------------------------------------------------------------------

AREAS = ("deletion_area", "insertion_area")


def complete_cases(records) -> dict[tuple[str, str, tuple[int, ...]], dict[str, Any]]:
    """(model, image, window) -> {method: record}, for windows with every method."""
    cases: dict[tuple[str, str, tuple[int, ...]], dict[str, Any]] = {}
    for r in records:
        key = (r["model"], r["image"], tuple(r["window"]))
        cases.setdefault(key, {})[r["method"]] = r
    return {k: v for k, v in cases.items() if all(m in v for m, _ in METHODS)}


def studied(records, networks) -> list[rns.Network]:
    names = {k[0] for k in complete_cases(records)}
    return [n for n in networks if n.name in names]


def column(cases, method: str, field: str, model: Optional[str] = None) -> list[float]:
    return [
        c[method][field]
        for (m, _, _), c in cases.items()
        if (model is None or m == model) and c[method][field] is not None
    ]


def random_column(cases, field: str, model: Optional[str] = None) -> list[float]:
    """The random reference, one value per window (the same in every method)."""
    return [
        c["lam"][f"random_{field}"]
        for (m, _, _), c in cases.items()
        if model is None or m == model
    ]


def paired_difference(cases, method: str, other: str, field: str, model=None):
    diffs = [
        c[method][field] - c[other][field]
        for (m, _, _), c in cases.items()
        if model is None or m == model
    ]
    return rns.bootstrap_mean(diffs)


def wins_over_random(cases, method: str) -> float:
    """Share of windows where the map beats random on both curves."""
    wins = [
        c[method]["deletion_area"] < c[method]["random_deletion_area"]
        and c[method]["insertion_area"] > c[method]["random_insertion_area"]
        for c in cases.values()
    ]
    return float(np.mean(wins))


def best_counts(cases, field: str) -> dict[str, int]:
    """How often each method has the window's best area (lowest deletion,
    highest insertion)."""
    counts = {m: 0 for m, _ in METHODS}
    for c in cases.values():
        values = {m: c[m][field] for m, _ in METHODS}
        pick = min if field == "deletion_area" else max
        counts[pick(values, key=values.get)] += 1
    return counts


def infidelity_ranks(cases) -> dict[str, list[float]]:
    """Per window, each method's rank by infidelity (1 = lowest)."""
    from scipy.stats import rankdata

    ranks: dict[str, list[float]] = {m: [] for m, _ in METHODS}
    for c in cases.values():
        order = rankdata([c[m]["infidelity"] for m, _ in METHODS])
        for (m, _), rank in zip(METHODS, order):
            ranks[m].append(float(rank))
    return ranks


def randomization_stages(cases, method: str) -> list[list[float]]:
    """Per stage, the similarities of the windows with a randomisation test."""
    runs = [
        c[method]["randomization"] for c in cases.values() if c[method]["randomization"]
    ]
    return [list(v) for v in zip(*runs)] if runs else []


def area_table(cases, networks, field: str) -> str:
    digits = 2
    header = ["network", "n", "random"] + [label for _, label in METHODS]
    rows = []
    for net in networks:
        n = len(column(cases, "lam", field, net.name))
        means = {
            m: rns.bootstrap_mean(column(cases, m, field, net.name)) for m, _ in METHODS
        }
        pick = min if field == "deletion_area" else max
        best = pick(means, key=lambda m: means[m][0])
        cells = [
            f"**{rns.fmt_ci(means[m], digits)}**"
            if m == best
            else rns.fmt_ci(means[m], digits)
            for m, _ in METHODS
        ]
        random = rns.bootstrap_mean(random_column(cases, field, net.name))
        rows.append([f"`{net.name}`", str(n), rns.fmt_ci(random, digits), *cells])
    return rns.markdown_table(header, rows)


def pooled_table(cases) -> str:
    header = [
        "method",
        "deletion area",
        "insertion area",
        "beats random",
        "best deletion",
        "best insertion",
        "infidelity rank",
        "similarity, all layers random",
    ]
    ranks = infidelity_ranks(cases)
    best_del = best_counts(cases, "deletion_area")
    best_ins = best_counts(cases, "insertion_area")
    n = len(cases)
    rows = [
        [
            "random ranking",
            rns.fmt_ci(rns.bootstrap_mean(random_column(cases, "deletion_area")), 3),
            rns.fmt_ci(rns.bootstrap_mean(random_column(cases, "insertion_area")), 3),
            "-",
            "-",
            "-",
            "-",
            "-",
        ]
    ]
    for m, label in METHODS:
        stages = randomization_stages(cases, m)
        final = (
            rns.bootstrap_mean(stages[-1]) if stages else (math.nan, (math.nan,) * 2)
        )
        rows.append(
            [
                label,
                rns.fmt_ci(rns.bootstrap_mean(column(cases, m, "deletion_area")), 3),
                rns.fmt_ci(rns.bootstrap_mean(column(cases, m, "insertion_area")), 3),
                f"{100 * wins_over_random(cases, m):.0f}%",
                f"{best_del[m]} / {n}",
                f"{best_ins[m]} / {n}",
                rns.fmt_ci(rns.bootstrap_mean(ranks[m]), 2),
                rns.fmt_ci(final, 2),
            ]
        )
    return rns.markdown_table(header, rows)


def lam_table(cases, networks) -> str:
    """Per network, LAM minus each other method (paired over windows)."""
    others = [(m, label) for m, label in METHODS if m != "lam"]
    header = ["network"] + [f"LAM - {label}" for _, label in others]
    rows = []
    for field in AREAS:
        rows.append([f"*{field.replace('_', ' ')}*"] + [""] * len(others))
        for net in networks:
            rows.append(
                [f"`{net.name}`"]
                + [
                    rns.fmt_ci(paired_difference(cases, "lam", m, field, net.name), 2)
                    for m, _ in others
                ]
            )
    return rns.markdown_table(header, rows)


def cost_table(records, cases, networks) -> str:
    header = [
        "network",
        "windows",
        "s / window (maps, curves, infidelity, randomisation)",
        "total s",
    ]
    rows = []
    for net in networks:
        mine = [r for r in records if r["model"] == net.name]
        windows = len({tuple(r["window"]) + (r["image"],) for r in mine})
        by_window: dict[Any, float] = {}
        for r in mine:
            key = (r["image"], tuple(r["window"]))
            by_window[key] = by_window.get(key, r["random_seconds"]) + r["seconds"]
        total = sum(by_window.values())
        rows.append(
            [
                f"`{net.name}`",
                str(windows),
                f"{total / max(windows, 1):.0f}",
                f"{total:.0f}",
            ]
        )
    return rns.markdown_table(header, rows)


def markdown_fragments(records, networks) -> dict[str, str]:
    cases = complete_cases(records)
    nets = studied(records, networks)
    return {
        f"{PREFIX}_deletion.md": area_table(cases, nets, "deletion_area"),
        f"{PREFIX}_insertion.md": area_table(cases, nets, "insertion_area"),
        f"{PREFIX}_pooled.md": pooled_table(cases),
        f"{PREFIX}_lam.md": lam_table(cases, nets),
        f"{PREFIX}_cost.md": cost_table(records, cases, nets),
    }


# --- figures ------------------------------------------------------------------------

COLOURS = {
    "saliency": "tab:blue",
    "ig": "tab:orange",
    "ig-blur": "tab:green",
    "blur-ig": "tab:purple",
    "lam": "tab:red",
}


def figure_areas(cases, networks):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1,
        2,
        figsize=(10, 0.45 * len(networks) + 1.8),
        sharey=True,
        layout="constrained",
    )
    offsets = np.linspace(-0.3, 0.3, len(METHODS) + 1)
    for ax, field in zip(axes, AREAS):
        for i, net in enumerate(networks):
            series = [("random", "0.5", random_column(cases, field, net.name))]
            series += [
                (m, COLOURS[m], column(cases, m, field, net.name)) for m, _ in METHODS
            ]
            for offset, (m, colour, values) in zip(offsets, series):
                mean, (low, high) = rns.bootstrap_mean(values)
                ax.errorbar(
                    mean,
                    i + offset,
                    xerr=[[mean - low], [high - mean]],
                    color=colour,
                    marker="x" if m == "random" else "o",
                    markersize=4,
                    capsize=2,
                    linestyle="",
                    label=(LABELS.get(m, "random ranking") if i == 0 else None),
                )
        better = "lower" if field == "deletion_area" else "higher"
        # a few windows where the blur barely changes the objective stretch the
        # intervals far out; the tables hold them in full
        ax.set_xlim((-0.05, 2.0) if field == "deletion_area" else (-1.0, 1.05))
        ax.set_title(
            f"{field.split('_')[0]} area ({better} is more faithful; axis cut)",
            fontsize=10,
        )
        ax.grid(axis="x", color="0.9")
    axes[0].set_yticks(range(len(networks)), [n.name for n in networks])
    axes[0].invert_yaxis()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=6, frameon=False)
    return fig


def normalised(values: Sequence[float], kind: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    source, base = (v[0], v[-1]) if kind == "deletion" else (v[-1], v[0])
    return (v - base) / (source - base) if source != base else np.full_like(v, np.nan)


def figure_curves(cases):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    any_case = next(iter(cases.values()))
    fractions = np.asarray(any_case["lam"]["fractions"])
    for ax, kind in zip(axes, ("deletion", "insertion")):
        series = [
            ("random", "0.5", [c["lam"][f"random_{kind}"] for c in cases.values()])
        ]
        series += [
            (m, COLOURS[m], [c[m][kind] for c in cases.values()]) for m, _ in METHODS
        ]
        for m, colour, curves in series:
            stack = np.stack([normalised(c, kind) for c in curves])
            ax.plot(
                fractions,
                np.nanmedian(stack, axis=0),
                color=colour,
                linestyle=":" if m == "random" else "-",
                label=LABELS.get(m, "random ranking"),
            )
        ax.axhline(0, color="0.8", linewidth=0.5)
        ax.axhline(1, color="0.8", linewidth=0.5)
        verb = "removed" if kind == "deletion" else "inserted"
        ax.set_xlabel(f"share of LR pixels {verb}, in the map's order")
        ax.set_title(f"{kind} (median over {len(cases)} windows)")
    axes[0].set_ylabel("window objective (input 1, baseline 0)")
    axes[1].legend(fontsize=8)
    return fig


def figure_randomization(cases):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
    for m, label in METHODS:
        stages = randomization_stages(cases, m)
        if not stages:
            continue
        stats = [rns.bootstrap_mean(s) for s in stages]
        x = np.arange(len(stages) + 1)
        means = [1.0] + [s[0] for s in stats]
        low = [1.0] + [s[1][0] for s in stats]
        high = [1.0] + [s[1][1] for s in stats]
        ax.plot(x, means, marker="o", color=COLOURS[m], label=label)
        ax.fill_between(x, low, high, color=COLOURS[m], alpha=0.12)
    n = (
        len(randomization_stages(cases, "lam")[0])
        if randomization_stages(cases, "lam")
        else 0
    )
    ax.set_xticks(x, ["trained"] + [f"+ stage {i}" for i in range(1, len(x))])
    ax.set_ylabel("rank similarity with the trained map")
    ax.set_title(f"Cascading randomisation, output first ({n} windows)")
    ax.set_ylim(top=1.02)
    ax.legend(fontsize=8)
    return fig


def write_docs(records, networks, root: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    generated = root / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    for name, text in markdown_fragments(records, networks).items():
        (generated / name).write_text(text)
    cases = complete_cases(records)
    figures = {
        "areas": figure_areas(cases, studied(records, networks)),
        "curves": figure_curves(cases),
        "randomization": figure_randomization(cases),
    }
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    for name, fig in figures.items():
        path = images / f"{PREFIX}_{name}.png"
        fig.savefig(path, dpi=110)
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
    parser.add_argument("--models", help="comma-separated subset of the networks")
    parser.add_argument(
        "--plot-only", action="store_true", help="only tables and figures"
    )
    parser.add_argument(
        "--reverse",
        action="store_true",
        help="last network first (a second process shares the run)",
    )
    args = parser.parse_args(argv)
    config = CONFIGS[args.config]
    if args.config != "full" and args.root == DOCS:
        parser.error("--config tiny writes under --root DIR: not docs/")
    networks = list(config.networks)
    if args.models:
        wanted = args.models.split(",")
        unknown = sorted(set(wanted) - {n.name for n in networks})
        if unknown:
            parser.error(f"--models: not in the study: {', '.join(unknown)}")
        networks = [n for n in networks if n.name in wanted]
    if not args.plot_only:
        run(config, networks, args.root, args.reverse)
    path = args.root / "data" / f"{PREFIX}.jsonl"
    if not path.exists():
        parser.error(f"no records at {path}: run without --plot-only first")
    write_docs(read_records(path), list(config.networks), args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

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


def write_docs(records, networks, root: Path) -> None:  # filled in below
    pass


if __name__ == "__main__":
    sys.exit(main())

"""An observed-order error estimate per map region, replayed on recorded level maps.

Run:  python -m benchmarks.region_estimate --record DIR   (about 15 minutes on 2 cores)
      python -m benchmarks.region_estimate DIR            (the table, seconds)
writes docs/generated/region_estimate.md.
``--record`` computes again the maps of every level (3 to 257 nodes) of
round three's levels ("w2": the node density by the kernel's speed) for every
window of docs/data/honesty_levels_round3.jsonl and docs/data/level_errors.jsonl
and writes one file per window to DIR (about 1 MB each; not kept in the
repository). Their true errors are the recorded ones (the maps are the same
up to float32 rounding: ``D_n`` agrees to 1e-5 relative).

The replay judges, besides the package's first-order rule ``1.2 * D_n``,
estimates per block of ``b`` x ``b`` pixels (the largest over channels and
the block): where a block's last ``need`` differences each shrank by at least
``threshold``, its error is ``D / (q - 1)`` with ``q`` the smallest of those
ratios (at most 4: second order), elsewhere ``D``; the map's estimate is the
safety factor times the largest block estimate over ``max|S_n|``. For each
rule: the honesty over the study's tolerances (stops up to 162 steps) and the
stops at 1e-3 on the SPAN x4 64x64 windows with their ratio to the reference
scheme's steps (docs/speed-accuracy.md, round four).
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Callable, Optional

import torch

from . import stop_rules
from .stop_rules import FIRST_ORDER, PIECEWISE_LINEAR, SMOOTH, distinct_stops, stop

ROOT = Path(__file__).resolve().parents[1]
HONESTY = ROOT / "docs" / "data" / "honesty_levels_round3.jsonl"
LEVELS = ROOT / "docs" / "data" / "level_errors.jsonl"
TABLE = ROOT / "docs" / "generated" / "region_estimate.md"
FAMILY = "w2"
JUDGED = 162

Rule = Callable[[dict], list[Optional[float]]]


def windows() -> list[dict]:
    """Every recorded window: model, side, photo, window, tolerances, levels."""
    from .honesty import FULL

    side = {c.model: c.side for c in FULL}
    out = []
    for line in HONESTY.read_text().splitlines():
        r = json.loads(line)
        out.append(
            dict(
                source="honesty",
                model=r["model"],
                side=side[r["model"]],
                photo=r["photo"],
                window=r["window"],
                tolerances=r["tolerances"],
                levels=r["levels"],
            )
        )
    for line in LEVELS.read_text().splitlines():
        r = json.loads(line)
        if FAMILY not in r["families"]:
            continue
        tolerances = FIRST_ORDER if r["model"] in PIECEWISE_LINEAR else SMOOTH
        out.append(
            dict(
                source=r["set"],
                model=r["model"],
                side=r["side"],
                photo=r["photo"],
                window=r["window"],
                tolerances=list(tolerances),
                levels=r["families"][FAMILY],
                reference_steps=r["reference_steps"],
            )
        )
    return out


def _name(w: dict) -> str:
    where = "_".join(map(str, w["window"]))
    return f"{w['source']}_{w['model']}_{w['photo']}_{w['side']}_{where}.pt"


def record(folder: Path, part: int = 0, parts: int = 1) -> None:
    from captum_lam import LAM, zoo

    from .honesty import crop
    from .level_errors import levels

    folder.mkdir(parents=True, exist_ok=True)
    for k, w in enumerate(windows()):
        out = folder / _name(w)
        if k % parts != part or out.exists() or not zoo.installed(w["model"]):
            continue
        model, _, lr = crop(w["model"], w["side"], w["photo"])
        rows = levels(LAM(model), lr, tuple(w["window"]), FAMILY)
        torch.save(torch.stack([r["map"][0] for r in rows]), out)
        print(out.name, flush=True)


def _block_max(x: torch.Tensor, b: int) -> torch.Tensor:
    x = x.abs().amax(0)
    if b == 1:
        return x
    return torch.nn.functional.max_pool2d(x[None, None], b, ceil_mode=True)[0, 0]


def first_order(safety: float) -> Rule:
    """The package's rule, ``safety * D_n`` while the differences shrink."""
    rule = stop_rules.first_order(safety, 2.0)
    return lambda w: rule(w["levels"])


def per_region(safety: float, b: int, threshold: float, need: int) -> Rule:
    def rule(w):
        maps = w["maps"]
        diffs = [None] + [maps[k] - maps[k - 1] for k in range(1, len(maps))]
        blocks = [None] + [_block_max(d, b) for d in diffs[1:]]
        out: list[Optional[float]] = [None, None]
        for k in range(2, len(maps)):
            den = float(maps[k].abs().max())
            last = float(diffs[k].abs().max()) / den
            before = float(diffs[k - 1].abs().max()) / float(maps[k - 1].abs().max())
            if not last < before:
                out.append(math.inf)
                continue
            if k - need < 1:
                out.append(safety * last)
                continue
            q = torch.full_like(blocks[k], math.inf)
            for j in range(need):
                q = torch.minimum(
                    q, blocks[k - 1 - j] / blocks[k - j].clamp_min(1e-300)
                )
            factor = torch.where(q >= threshold, 1 / (q.clamp(max=4.0) - 1), 1.0)
            out.append(safety * float((blocks[k] * factor).max()) / den)
        return out

    return rule


def judge(ws: list[dict], rule: Rule) -> str:
    ok = total = 0
    stops = []
    for w in ws:
        estimates = rule(w)
        levels = w["levels"]
        for _, i in distinct_stops(estimates, w["tolerances"]):
            if levels[i]["steps"] <= JUDGED:
                total += 1
                ok += levels[i]["true"] <= estimates[i]
        if w["model"] == "span-x4-ch48" and "reference_steps" in w:
            i = stop(estimates, 1e-3)
            if i is None:
                stops.append((math.inf, math.inf))
                continue
            stops.append(
                (levels[i]["steps"], levels[i]["steps"] / w["reference_steps"])
            )
    ratios = [r for _, r in stops]
    return (
        f"{ok} of {total} ({100 * ok / max(total, 1):.0f}%) | "
        f"{', '.join(str(s) for s, _ in stops)} | "
        f"{statistics.median(ratios):.3f} / {max(ratios):.3f}"
    )


def main() -> None:
    from ._accuracy import record_or_replay

    args = record_or_replay(__doc__)
    if args.record:
        record(args.folder, args.part, args.parts)
        return
    ws = []
    for w in windows():
        path = args.folder / _name(w)
        if path.exists():
            w["maps"] = torch.load(path)
            ws.append(w)
    rules = {"first order x1.2 (the package's)": first_order(1.2)}
    for b in (1, 2, 4, 8):
        for threshold in (3.0, 3.5):
            for need in (1, 2):
                for safety in (1.2, 1.5):
                    rules[f"blocks {b}, ratio >= {threshold} on {need}, x{safety}"] = (
                        per_region(safety, b, threshold, need)
                    )
    lines = [
        f"{len(ws)} windows (round three's levels)",
        "",
        "| estimate | stops bounded | SPAN x4 stops at 1e-3 "
        "| steps ratio median / largest |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {name} | {judge(ws, rule)} |" for name, rule in rules.items()]
    TABLE.write_text("\n".join(lines) + "\n")
    print(TABLE.read_text())


if __name__ == "__main__":
    main()

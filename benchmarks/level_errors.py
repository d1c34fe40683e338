"""Per-level records of ``n_steps="auto"``'s nested levels, for offline stopping rules.

Run:  OMP_NUM_THREADS=1 python -m benchmarks.level_errors [--set NAME] [--quick]
Appends one record per (network, photo, crop, window) to
docs/data/level_errors.jsonl (resumable: a window already there is skipped).
About 4 minutes per 64x64 SPAN x4 window on one CPU core.

For each window, the nested midpoint levels of two families (first level 2:
2, 6, ..., 1458; first level 4: 4, 12, ..., 324) are computed once, as
``LAM.attribute(n_steps="auto")`` computes them, and each level's map is
kept. Per level: steps, ``D_n`` (relative, as the controller sees it), the
true map error against the converged map (family 2's level 1458, 9 times the
finest stop judged), and the seconds spent so far. The reference scheme's
steps to 1e-3 are predicted from its error at 200 steps (it is first order;
``benchmarks/tolerance_bar.py`` measures them). Any stopping rule on these
levels can then be simulated without recomputing (``benchmarks/stop_rules.py``).
``--add FAMILY`` records one more family for windows recorded without it:
"t2" (trapezoids of equal segments), "w2" (round three's node density),
"w3" (the package's).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from unittest import mock

import torch

from captum_lam import LAM, ProgressiveBlurPath
from captum_lam._method import adaptive
from captum_lam._method.schedule import Warp
from captum_lam.windows import textured_windows

from ._accuracy import first_order_steps, map_error, round_three_density
from .honesty import crop

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "docs" / "data" / "level_errors.jsonl"
#: family -> (levels, most segments): 2: midpoints of 2, 6, 18, ... (round
#: one's), 4: of 4, 12, 36, ..., "t2": nested trapezoids of 2, 4, 8, ...
#: segments (endpoints included: level n costs n + 1 gradients)
FAMILIES: dict = {
    2: (adaptive.MIDPOINT, 1458),
    4: (dataclasses.replace(adaptive.MIDPOINT, first=4), 324),
    "t2": (adaptive.TRAPEZOID, 512),
    # trapezoids in the variable of the blur path's density: round three's
    # (the kernel's speed) and the package's (its first three derivatives)
    "w2": (
        dataclasses.replace(
            adaptive.TRAPEZOID,
            name="nested trapezoid, round three's density",
            warp=Warp(lambda a: round_three_density(ProgressiveBlurPath(), a)),
        ),
        256,
    ),
    # uniform levels by the package's density (round four's rule; the
    # package's quarters are these to 16 segments)
    "w3": (
        dataclasses.replace(
            adaptive.levels_for(ProgressiveBlurPath()),
            name="nested trapezoid, the package's density",
            blocks=1,
        ),
        256,
    ),
}
#: the family of round four's levels (the package's to 16 segments)
PACKAGE = "w3"
TRUTH = (2, 1458)
TOLERANCE = 1e-3

#: name -> (network, LR side, photos, windows per photo, margin)
SETS = {
    # the windows of benchmarks/tolerance_bar.py: calibration
    "bar": ("span-x4-ch48", 64, ("chelsea", "coffee", "astronaut", "rocket"), 2, 0),
    # held-out photos: validation (skimage's "cat" is chelsea: not held out)
    "held": ("span-x4-ch48", 64, ("grace_hopper", "camera"), 1, 0),
    "held2": (
        "span-x4-ch48",
        64,
        ("immunohistochemistry", "retina", "brick", "astronaut"),
        1,
        48,
    ),
    # other networks of the honesty study (its crops), for the estimate's honesty
    "span2": ("span-x2-ch48", 32, ("chelsea", "astronaut"), 2, 16),
    "plain": ("plain-d8", 32, ("chelsea", "coffee"), 2, 16),
    "edsr": ("edsr-small", 24, ("astronaut", "coffee"), 2, 16),
}


def levels(lam: LAM, lr, window, family) -> list[dict]:
    """Every level of one family: the map, its ``D_n``, seconds so far."""
    out: list[dict] = []
    rules, most = FAMILIES[family]

    def record_all(contributions, tolerance, max_steps, _levels):
        start = time.perf_counter()
        total = None
        level = rules.first
        while level <= most:
            alphas, weights = rules.new_nodes(level)
            added = contributions(alphas, weights)
            refined = added if total is None else total / rules.growth + added
            d = None
            if total is not None:
                d = float(adaptive._relative_max(refined - total, refined).max())
            total = refined
            out.append(
                dict(
                    steps=rules.gradients(level),
                    D=d,
                    seconds=time.perf_counter() - start,
                    map=total.double().clone(),
                )
            )
            level *= rules.growth
        report = adaptive.IntegrationReport(
            n_steps=rules.gradients(most),
            method=rules.name,
            estimated_error=torch.zeros(total.shape[0], dtype=torch.float64),
            tolerance=tolerance,
        )
        return total, report

    with mock.patch.object(adaptive, "integrate_to_tolerance", record_all):
        lam.attribute(lr, target=window, n_steps="auto", tolerance=0.5, reach="auto")
    return out


def judged(family, rows: list[dict], exact) -> list[dict]:
    """The records of a family's levels: their maps judged against ``exact``
    (the converged map itself left out)."""
    return [
        dict(
            steps=r["steps"],
            D=r["D"],
            true=map_error(r["map"], exact),
            seconds=r["seconds"],
        )
        for r in rows
        if (family, r["steps"]) != TRUTH
    ]


def measure(name: str, done: set) -> None:
    model_name, side, photos, count, margin = SETS[name]
    for photo in photos:
        model, hr, lr = crop(model_name, side, photo)
        lam = LAM(model)
        for window in textured_windows(hr, size=16, count=count, margin=margin):
            key = (model_name, photo, side, tuple(window))
            if key in done:
                continue
            families = {f: levels(lam, lr, window, f) for f in FAMILIES}
            exact = next(r["map"] for r in families[2] if r["steps"] == TRUTH[1])
            start = time.perf_counter()
            right = lam.attribute(lr, target=window, n_steps=200, reach="auto")
            right_seconds = time.perf_counter() - start
            right_error = map_error(right.double(), exact)
            record = dict(
                set=name,
                model=model_name,
                photo=photo,
                side=side,
                window=list(window),
                reference_steps=first_order_steps(right_error, 200, TOLERANCE),
                reference_seconds_per_step=right_seconds / 200,
                families={
                    str(f): judged(f, rows, exact) for f, rows in families.items()
                },
            )
            with RECORDS.open("a") as out:
                out.write(json.dumps(record) + "\n")
            print(json.dumps(record), flush=True)


def add_family(name: str, family, out: Path = RECORDS) -> None:
    """Record ``family`` for the set's windows recorded without it (all
    records written to ``out``)."""
    source = out if out.exists() else RECORDS
    records = [json.loads(line) for line in source.read_text().splitlines()]
    for r in records:
        if r["set"] != name or str(family) in r["families"]:
            continue
        model, hr, lr = crop(r["model"], r["side"], r["photo"])
        lam = LAM(model)
        window = tuple(r["window"])
        exact = levels(lam, lr, window, TRUTH[0])[-1]["map"]
        rows = levels(lam, lr, window, family)
        r["families"][str(family)] = judged(family, rows, exact)
        print(json.dumps(r), flush=True)
        # rewritten whole after each window: an interrupted run keeps the rest
        out.write_text("".join(json.dumps(x) + "\n" for x in records))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default=",".join(SETS), help="comma-separated")
    parser.add_argument("--add", help="a family to add to recorded windows (w2)")
    parser.add_argument(
        "--out", type=Path, default=RECORDS, help="where --add writes the records"
    )
    args = parser.parse_args()
    if args.add:
        for name in args.set.split(","):
            add_family(name, args.add, args.out)
        return
    done = set()
    if RECORDS.exists():
        for line in RECORDS.read_text().splitlines():
            r = json.loads(line)
            done.add((r["model"], r["photo"], r["side"], tuple(r["window"])))
    for name in args.set.split(","):
        measure(name, done)


if __name__ == "__main__":
    main()

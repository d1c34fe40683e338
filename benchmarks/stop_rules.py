"""Stopping rules for ``n_steps="auto"`` simulated on recorded levels, no recomputation.

Run:  python -m benchmarks.stop_rules
Reads docs/data/level_errors.jsonl (``benchmarks/level_errors.py``), prints
every rule's misses and writes docs/generated/stop_rules.md: for each rule, on
the SPAN x4 64x64 windows (calibration: the windows of
``benchmarks/tolerance_bar.py``; held-out: other photos), the stops at 1e-3,
how many have a true error <= 1e-3, and the ratio to the reference scheme in
steps (auto's steps over the reference's predicted steps: a gradient costs
the same in both) and in time (auto's seconds to the stop over the reference's
steps times its seconds per step, both from the recording run, on a shared
CPU); and on every recorded window of every network the honesty: of the
distinct stops over the honesty study's tolerances, how many have an estimate
at least their true error (stops up to 162 steps: the converged map has 1458).

A rule maps a family's level records to one estimate per level (None: no
estimate yet); the stop is the first level whose estimate is <= the tolerance.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "docs" / "data" / "level_errors.jsonl"
TABLE = ROOT / "docs" / "generated" / "stop_rules.md"
BAR = 1e-3
SMOOTH = (3e-2, 1e-2, 3e-3, 1e-3)
FIRST_ORDER = (1e-1, 3e-2, 1e-2)
PIECEWISE_LINEAR = ("plain-d8", "edsr-small")
#: the converged map has 1458 steps: stops up to 162 are judged (9 times)
JUDGED = 162
#: record sets (by the start of their name) -> label
SETS = {"bar": "calibration", "held": "held-out"}

Estimates = Callable[[list[dict]], list[Optional[float]]]


def _tail(ratio: Callable[[float, float], float], safety: float) -> Estimates:
    """``safety * D_n / (ratio(D_{n/g}, D_n) - 1)`` while D shrinks, else
    infinite; None for the first two levels."""

    def rule(levels):
        out: list[Optional[float]] = [None]
        for prev, cur in zip(levels, levels[1:]):
            if prev["D"] is None:
                out.append(None)
            elif cur["D"] < prev["D"]:
                out.append(safety * cur["D"] / (ratio(prev["D"], cur["D"]) - 1))
            else:
                out.append(math.inf)
        return out

    return rule


def first_order(safety: float, ratio: float = 3.0) -> Estimates:
    """The package's rule: ``safety * D_n / (ratio - 1)`` while D shrinks."""
    return _tail(lambda previous, last: ratio, safety)


def observed(safety: float, cap: float) -> Estimates:
    """``safety * D_n / (q - 1)``, q the observed ratio ``D_{n/3} / D_n``
    clamped to [3, cap] (first order at worst)."""
    return _tail(
        lambda previous, last: min(max(previous / max(last, 1e-300), 3.0), cap), safety
    )


#: (family, rule name) -> rule. Families: "2" (2, 6, 18, ...: the package's),
#: "4" (4, 12, 36, ...), "t2" (nested trapezoid by doubling, 3, 5, 9, 17, ...),
#: "w2" (the same in the variable of round three's node density of the blur
#: path, the kernel's speed), "w3" (of the package's: its first three derivatives).
RULES: dict[tuple[str, str], Estimates] = {}
for _family in ("2", "4"):
    for _safety in (1.5, 1.2, 1.0, 0.8):
        RULES[(_family, f"first order x{_safety}")] = first_order(_safety)
    for _cap in (5.0, 9.0):
        RULES[(_family, f"observed ratio <= {_cap:g}, x1.5")] = observed(1.5, _cap)
for _family in ("t2", "w2", "w3"):
    for _safety in (2.0, 1.5, 1.2, 1.0):
        RULES[(_family, f"first order (ratio 2) x{_safety}")] = first_order(
            _safety, 2.0
        )
for _family in ("2", "4", "t2", "w2", "w3"):
    # not a rule: the true error itself (what a perfect estimate would say)
    RULES[(_family, "oracle: the true error")] = lambda levels: [
        x["true"] for x in levels
    ]


def stop(estimates: list[Optional[float]], tolerance: float) -> Optional[int]:
    """Index of the first level whose estimate is <= the tolerance."""
    for i, e in enumerate(estimates):
        if e is not None and e <= tolerance:
            return i
    return None


def distinct_stops(
    estimates: list[Optional[float]], tolerances
) -> list[tuple[float, int]]:
    """``(tolerance, level index)`` of each distinct stop over ``tolerances``
    (in their order; a level met by several tolerances once, for the first)."""
    out: list[tuple[float, int]] = []
    for tolerance in tolerances:
        i = stop(estimates, tolerance)
        if i is not None and all(i != j for _, j in out):
            out.append((tolerance, i))
    return out


def bar(records: list[dict], family: str, rule: Estimates) -> Optional[dict]:
    """Stops at 1e-3 on the windows of ``records`` and their ratios."""
    rows = []
    for r in records:
        levels = r["families"][family]
        i = stop(rule(levels), BAR)
        if i is None:
            rows.append((math.inf, False, math.inf, math.inf))
            continue
        level = levels[i]
        reference = r["reference_steps"] * r["reference_seconds_per_step"]
        rows.append(
            (
                level["steps"],
                level["true"] <= BAR,
                level["steps"] / r["reference_steps"],
                level["seconds"] / reference,
            )
        )
    if not rows:
        return None
    return dict(
        steps=[x[0] for x in rows],
        reached=sum(x[1] for x in rows),
        step_ratio=(statistics.median(x[2] for x in rows), max(x[2] for x in rows)),
        time_ratio=(statistics.median(x[3] for x in rows), max(x[3] for x in rows)),
    )


def honesty(records: list[dict], family: str, rule: Estimates):
    """(bounded, judged, misses) over the honesty study's tolerances."""
    ok = total = 0
    misses = []
    for r in records:
        levels = r["families"][family]
        estimates = rule(levels)
        tolerances = FIRST_ORDER if r["model"] in PIECEWISE_LINEAR else SMOOTH
        for _, i in distinct_stops(estimates, tolerances):
            if levels[i]["steps"] > JUDGED:
                continue
            total += 1
            if levels[i]["true"] <= estimates[i]:
                ok += 1
            else:
                ratio = levels[i]["true"] / estimates[i]
                misses.append((r["model"], r["photo"], levels[i]["steps"], ratio))
    return ok, total, misses


def table(records: list[dict]) -> str:
    lines = [
        "| levels | estimate | "
        + " | ".join(
            f"{label}: stops at 1e-3, true <= 1e-3, steps ratio median / largest, "
            "time ratio median / largest"
            for label in SETS.values()
        )
        + " | honesty (all networks) |",
        "| --- | --- | " + "--- | " * len(SETS) + "--- |",
    ]
    for (family, name), rule in RULES.items():
        mine = [r for r in records if family in r["families"]]
        if not mine:  # a family not recorded yet (level_errors.py --add)
            continue
        cells = [family_label(family), name]
        for key in SETS:
            res = bar([r for r in mine if r["set"].startswith(key)], family, rule)
            if res is None:
                cells.append("")
                continue
            cells.append(
                f"{', '.join(map(str, res['steps']))}; {res['reached']} of "
                f"{len(res['steps'])}; {res['step_ratio'][0]:.3f} / "
                f"{res['step_ratio'][1]:.3f}; {res['time_ratio'][0]:.3f} / "
                f"{res['time_ratio'][1]:.3f}"
            )
        ok, total, _ = honesty(mine, family, rule)
        cells.append(f"{ok} of {total} ({100 * ok / max(total, 1):.0f}%)")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def family_label(family: str) -> str:
    if family == "t2":
        return "trapezoid 3, 5, 9, 17, ... (doubling)"
    if family == "w2":
        return "trapezoid 3, 5, 9, 17, ... by the kernel's speed (round three)"
    if family == "w3":
        return "trapezoid 3, 5, 9, 17, ... by the kernel's derivatives (the package's)"
    first = int(family)
    return ", ".join(str(first * 3**k) for k in range(4)) + ", ..."


def main() -> None:
    records = [json.loads(line) for line in RECORDS.read_text().splitlines()]
    for (family, name), rule in RULES.items():
        mine = [r for r in records if family in r["families"]]
        for miss in honesty(mine, family, rule)[2]:
            print(family, name, "miss:", miss)
    TABLE.write_text(table(records))
    print(TABLE.read_text())


if __name__ == "__main__":
    main()

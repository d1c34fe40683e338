"""Is ``n_steps="auto"``'s error estimate honest? The true map error against it.

Run:  python -m benchmarks.honesty [--quick] [--models a,b]
Writes docs/generated/honesty.md and docs/data/honesty.jsonl (tens of minutes
on a CPU; ``--quick`` is the subset that ``tests/test_honesty_study.py`` runs).

Or:   python -m benchmarks.honesty --levels [--models a,b]   (then --replay)
records, once per window, every uniform level (``adaptive.TRAPEZOID`` by
the path's density, round four's rule) up to 256 segments with its ``D_n``
and its true error against the converged map with the case's most steps
(docs/data/honesty_levels.jsonl; resumable), and ``--replay`` judges that
stopping rule (``adaptive.SAFETY``; or ``--safety``) on those records for the
case's tolerances, without recomputing: docs/generated/honesty_levels.md. The
package's quarters refined apart (``adaptive.QUARTERS``) are judged by the
study itself (the first form), which calls ``LAM.attribute``.

For each network, held-out photo and textured 16x16 window (float32,
reach-cut), ``LAM.attribute(n_steps="auto", tolerance=t)`` runs for a range of
tolerances, as a user would call it, and every distinct stop's reported
estimate is set against its true map error. The true error is measured against
the midpoint segment rule (``method="riemann_middle"``, not the nested rule
``auto`` uses) with 27 times the steps of the finest stop, at most 1458 (4374
for the cheap networks): every rule is first order on LAM's integrand (its
jumps), so that map's error is about 1/27 (at least 1/9) of the stop's.
(Gauss-Legendre with 512 nodes was tried as the reference for smooth networks
and was not converged enough: 1.9e-4 from the 486-segment midpoint map on one
SPAN window.) For each network's first window the reference is checked
against Gauss-Legendre with as many nodes ("reference check").
"""

from __future__ import annotations

import argparse
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from torch import Tensor

from captum_lam import LAM, zoo
from captum_lam.images import bicubic_downsample, sample_image
from captum_lam.windows import textured_windows

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "generated" / "honesty.md"
RECORDS = ROOT / "docs" / "data" / "honesty.jsonl"
LEVEL_RECORDS = ROOT / "docs" / "data" / "honesty_levels.jsonl"
LEVEL_TABLE = ROOT / "docs" / "generated" / "honesty_levels.md"
PHOTOS = ("chelsea", "coffee", "astronaut")


@dataclass(frozen=True)
class Case:
    """One network's share of the study."""

    model: str
    side: int  # LR crop side
    windows: int  # textured windows per photo
    tolerances: tuple[float, ...]  # asked of n_steps="auto", loosest first
    photos: tuple[str, ...] = PHOTOS
    kind: str = ""
    max_reference: int = 1458  # most steps of the converged map


SMOOTH = (3e-2, 1e-2, 3e-3, 1e-3)
FIRST_ORDER = (1e-1, 3e-2, 1e-2)
#: Most steps of the converged map for the cheap networks (27 x 162).
CHEAP = 4374

FULL = (
    Case("span-x4-ch48", 32, 2, SMOOTH, kind="SPAN (SiLU, sigmoid attention)"),
    Case("span-x2-ch48", 32, 2, SMOOTH, ("chelsea", "astronaut"), kind="SPAN"),
    Case("span-kendata-x4", 32, 1, SMOOTH, ("coffee", "astronaut"), kind="SPAN"),
    Case("span-clearreality-x4", 32, 1, SMOOTH, ("chelsea", "coffee"), kind="SPAN"),
    Case("swinir-small", 24, 2, SMOOTH, ("coffee",), kind="window attention, GELU"),
    Case("plain-d8", 32, 2, FIRST_ORDER, kind="ReLU", max_reference=CHEAP),
    Case("edsr-small", 32, 1, FIRST_ORDER, kind="ReLU", max_reference=CHEAP),
    Case("rcan-small", 24, 1, FIRST_ORDER, ("chelsea", "astronaut"), "ReLU, attention"),
    Case("waifu2x-upconv7-photo-x2", 24, 1, FIRST_ORDER, ("coffee",), "LeakyReLU"),
    Case("realesr-animevideov3-x2", 24, 1, FIRST_ORDER, ("chelsea",), kind="PReLU"),
    Case("srmd-x2", 24, 1, FIRST_ORDER, ("astronaut",), kind="ReLU"),
    Case("realcugan-nose-x2", 24, 1, FIRST_ORDER, ("chelsea",), "LeakyReLU, U-Net"),
)
QUICK = (
    Case("span-x4-ch48", 32, 2, (3e-2, 1e-2), ("chelsea", "coffee")),
    Case("plain-d8", 24, 2, FIRST_ORDER, ("chelsea", "coffee"), max_reference=CHEAP),
    Case("edsr-small", 24, 1, (1e-1, 3e-2), ("astronaut",)),
    Case("span-x2-ch48", 32, 2, (3e-2, 1e-2), ("chelsea", "astronaut")),
    Case("swinir-small", 24, 1, (3e-2, 1e-2), ("coffee",)),
)


def crop(model_name: str, side: int, photo: str):
    """The model and a centre ``side`` x ``side`` LR crop of ``photo`` (HR, LR)."""
    model = zoo.load(model_name)
    scale = model.lam_info.scale
    hr = sample_image(photo)
    h, w = hr.shape[-2:]
    top, left = (h - side * scale) // 2, (w - side * scale) // 2
    hr = hr[..., top : top + side * scale, left : left + side * scale]
    return model, hr, bicubic_downsample(hr, scale).contiguous()


def _error(attr: Tensor, exact: Tensor) -> float:
    return float((attr - exact).abs().max() / exact.abs().max())


def judge(lam: LAM, lr, window, case: Case, check: bool = False) -> Iterator[dict]:
    """One record per distinct stop of ``n_steps="auto"`` over the case's
    tolerances: steps, reported estimate, true error. With ``check``, also the
    reference's distance to Gauss-Legendre with as many nodes."""
    stops = {}
    for tolerance in case.tolerances:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a stop at the step cap warns
            attr = lam.attribute(
                lr, target=window, n_steps="auto", tolerance=tolerance, reach="auto"
            )
        report = lam.last_integration
        stops.setdefault(report.n_steps, (tolerance, attr.double(), report))
    steps = min(27 * max(stops), case.max_reference)

    def reference(method):
        attr = lam.attribute(
            lr, target=window, n_steps=steps, method=method, reach="auto"
        )
        return attr.double()

    exact = reference("riemann_middle")
    extra = {"reference_steps": steps}
    if check:
        extra["reference_check"] = _error(reference("gausslegendre"), exact)
    for n, (tolerance, attr, report) in sorted(stops.items()):
        yield dict(
            tolerance=tolerance,
            steps=n,
            estimate=report.max_estimated_error,
            true=_error(attr, exact),
            converged=report.converged,
            **extra,
        )


def study(cases, progress=print, check: bool = False) -> list[dict]:
    records = []
    for case in cases:
        first = check
        for photo in case.photos:
            model, hr, lr = crop(case.model, case.side, photo)
            lam = LAM(model)
            for window in textured_windows(hr, size=16, count=case.windows, margin=16):
                for r in judge(lam, lr, window, case, first):
                    r.update(model=case.model, photo=photo, window=list(window))
                    records.append(r)
                    progress(
                        f"{case.model} {photo} {window} tolerance {r['tolerance']:g}: "
                        f"{r['steps']} steps, true {r['true']:.2e}, "
                        f"estimate {r['estimate']:.2e}"
                    )
                first = False
    return records


#: A stop is judged only against a converged map with at least this many times
#: its steps (closer, the converged map's own error is too large a part).
LEAST_FINER = 9


def is_judged(record: dict) -> bool:
    """Whether the record's converged map is fine enough to judge it."""
    return record["reference_steps"] >= LEAST_FINER * record["steps"]


def judged(records: list[dict]) -> list[dict]:
    """The records whose converged map is fine enough to judge them."""
    return [r for r in records if is_judged(r)]


def bounded(records: list[dict]) -> float:
    """Fraction of the judged records whose estimate is at least the true error."""
    records = judged(records)
    return sum(r["true"] <= r["estimate"] for r in records) / len(records)


def table(records: list[dict], cases) -> str:
    kinds = {c.model: c.kind for c in cases}
    lines = [
        "| network | activation | windows | steps used | bounded "
        "| largest true / estimate | converged map finer by | reference check |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    skipped: dict[str, list[int]] = {}
    for r in records:
        if not is_judged(r):
            skipped.setdefault(r["model"], []).append(r["steps"])
    records = judged(records)
    for name in dict.fromkeys(r["model"] for r in records):
        rows = [r for r in records if r["model"] == name]
        windows = {(r["photo"], tuple(r["window"])) for r in rows}
        steps = ", ".join(map(str, sorted({r["steps"] for r in rows})))
        if name in skipped:
            steps += " (not judged: " + ", ".join(map(str, skipped[name])) + ")"
        worst = max(r["true"] / r["estimate"] for r in rows)
        ok = sum(r["true"] <= r["estimate"] for r in rows)
        finer = min(r["reference_steps"] // r["steps"] for r in rows)
        checks = [r["reference_check"] for r in rows if "reference_check" in r]
        check = f"{max(checks):.1e}" if checks else ""
        lines.append(
            f"| {name} | {kinds.get(name, '')} | {len(windows)} "
            f"| {steps} | {ok} of {len(rows)} | {worst:.2f} "
            f"| {finer}x | {check} |"
        )
    ok = sum(r["true"] <= r["estimate"] for r in records)
    lines.append(
        f"| **all** | | | | **{ok} of {len(records)} "
        f"({100 * ok / len(records):.1f}%)** | "
        f"{max(r['true'] / r['estimate'] for r in records):.2f} | | |"
    )
    return "\n".join(lines) + "\n"


def record_levels(cases, out: Path = LEVEL_RECORDS) -> None:
    """Every level of the package's rule per window, judged against the
    converged map with the case's most steps (``--levels``)."""
    from .level_errors import PACKAGE, levels
    from .level_errors import judged as judge_levels

    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            r = json.loads(line)
            done.add((r["model"], r["photo"], tuple(r["window"])))
    for case in cases:
        for photo in case.photos:
            model, hr, lr = crop(case.model, case.side, photo)
            lam = LAM(model)
            for window in textured_windows(hr, size=16, count=case.windows, margin=16):
                if (case.model, photo, tuple(window)) in done:
                    continue
                rows = levels(lam, lr, window, PACKAGE)
                exact = lam.attribute(
                    lr,
                    target=window,
                    n_steps=case.max_reference,
                    method="riemann_middle",
                    reach="auto",
                ).double()
                record = dict(
                    model=case.model,
                    photo=photo,
                    window=list(window),
                    reference_steps=case.max_reference,
                    tolerances=list(case.tolerances),
                    levels=judge_levels(PACKAGE, rows, exact),
                )
                with out.open("a") as f:
                    f.write(json.dumps(record) + "\n")
                print(
                    case.model,
                    photo,
                    window,
                    " ".join(
                        f"{x['steps']}:{x['true']:.1e}/{x['D'] or 0:.1e}"
                        for x in record["levels"]
                    ),
                    flush=True,
                )


def replay(level_records: list[dict], safety: float) -> list[dict]:
    """The study's records (one per distinct stop over a window's
    tolerances) for the rule ``safety * D_n / (2 - 1)``, from recorded levels."""
    from .stop_rules import distinct_stops, first_order

    rule = first_order(safety, 2.0)
    out = []
    for r in level_records:
        estimates = rule(r["levels"])
        for tolerance, i in distinct_stops(estimates, r["tolerances"]):
            level = r["levels"][i]
            out.append(
                dict(
                    model=r["model"],
                    photo=r["photo"],
                    window=r["window"],
                    tolerance=tolerance,
                    steps=level["steps"],
                    estimate=estimates[i],
                    true=level["true"],
                    reference_steps=r["reference_steps"],
                )
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the test's subset")
    parser.add_argument("--models", help="comma-separated subset of the networks")
    parser.add_argument(
        "--table-only", action="store_true", help=f"the table again from {RECORDS.name}"
    )
    parser.add_argument("--levels", action="store_true", help="record every level")
    parser.add_argument("--replay", action="store_true", help="judge recorded levels")
    parser.add_argument(
        "--safety", type=float, help="factor to replay (default: the package's)"
    )
    args = parser.parse_args()
    if args.replay:
        from captum_lam._method import adaptive

        level_records = [
            json.loads(line) for line in LEVEL_RECORDS.read_text().splitlines()
        ]
        safety = adaptive.SAFETY if args.safety is None else args.safety
        text = table(replay(level_records, safety), FULL)
        print(text)
        if args.safety is None:
            LEVEL_TABLE.write_text(text)
        return
    if args.levels:
        cases = FULL
        if args.models:
            cases = tuple(c for c in cases if c.model in args.models.split(","))
        record_levels(tuple(c for c in cases if zoo.installed(c.model)))
        return
    if args.table_only:
        records = [json.loads(line) for line in RECORDS.read_text().splitlines()]
        TABLE.write_text(table(records, FULL))
        print(TABLE.read_text())
        return
    cases = QUICK if args.quick else FULL
    if args.models:
        cases = tuple(c for c in cases if c.model in args.models.split(","))
    cases = tuple(c for c in cases if zoo.installed(c.model))
    torch.manual_seed(0)
    records = study(cases, check=not args.quick)
    text = table(records, cases)
    print(text)
    if not args.quick and not args.models:
        TABLE.write_text(text)
        RECORDS.write_text("".join(json.dumps(r) + "\n" for r in records))
        print(f"wrote {TABLE} and {RECORDS}")


if __name__ == "__main__":
    main()

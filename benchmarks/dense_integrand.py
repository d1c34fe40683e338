"""Integration rules replayed on LAM's integrand recorded at 1025 nodes.

Run:  python -m benchmarks.dense_integrand --record DIR [--part K/N]
      (about a minute per window on one core), then
      python -m benchmarks.dense_integrand DIR   (the table, seconds)
      [--record --set honesty HDIR; then DIR --honesty HDIR]
writes docs/generated/dense_integrand.md.

``--record`` writes, for each SPAN x4 64x64 window of
``benchmarks/tolerance_bar.py`` (its calibration photos' 2 most textured
16x16 windows, one of each of round four's held-out photos: the 14
"developed" windows; and one of each of round six's held-out photos), the
integrand of the package's
nodes ``g(u) = gradient * dgamma/dalpha * dalpha/du`` at ``u = k / 1024``
(k = 0..1024, float32) and the converged map of ``tolerance_bar`` (1458
midpoint segment steps) to one file per window in DIR (about 50 MB each; not
kept in the repository). Every rule below whose nodes are among those 1025 is
then exact to replay, and the replay is the controller: the stops of the
package's rule here are the ones ``LAM.attribute`` makes (checked on moon and
clock: 25 and 81 steps in round eight, 29 and 81 before, the same estimates).

Rules: the uniform trapezoid levels of round four (``adaptive.TRAPEZOID``,
stop at ``1.2 * D_n``), the package's (``adaptive.QUARTERS``: the same to 16
segments, then the quarters of ``u`` doubled apart), and the oracle (the
first uniform level whose true error is within the tolerance: no estimate can
stop sooner on these levels). A second table: the map error of other rules
at equal gradients (Romberg from the last two trapezoid levels, Gregory's end
corrections, Gauss-Legendre whole or on 4 panels). The steps are set against
the reference scheme's steps to 1e-3 recorded by ``tolerance_bar``
(docs/data/tolerance_bar_round4.jsonl; the held-out windows':
docs/data/tolerance_bar_round6.jsonl). Round seven's observed-order rules
(``adaptive.OBSERVED_ORDER``, ``GATED_ORDER``) are replayed beside them.

``--record --set honesty`` records the honesty study's windows instead (every
window of ``benchmarks/honesty.py`` ``FULL`` whose network is installed, about
3 minutes each), and ``DIR --honesty HDIR`` adds, per network, how many of
each rule's distinct stops (the case's tolerances) its estimate bounds.
``--record --set fresh FDIR`` records the 2 most textured windows of each of
``FRESH_PHOTOS`` with the reference scheme's steps to 1e-3 (its error at 400
steps, as ``tolerance_bar``), and ``DIR --fresh FDIR`` replays them too.
Round eight's rule (``adaptive.SIMPSON_QUARTERS``, the package's) is replayed
beside round seven's (``QUARTERS``).
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from unittest import mock

import torch

from captum_lam import LAM, ProgressiveBlurPath, zoo
from captum_lam._method import adaptive
from captum_lam.windows import textured_windows

from ._accuracy import converged, map_error, record_or_replay
from .honesty import crop
from .tolerance_bar import CONVERGED, MODEL, ROUND_EIGHT, reference_scheme

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "generated" / "dense_integrand.md"
REFERENCE = ROOT / "docs" / "data" / "tolerance_bar_round4.jsonl"
HELD_OUT_REFERENCE = ROOT / "docs" / "data" / "tolerance_bar_round6.jsonl"
NODES = 1024
TOLERANCES = (1e-2, 3e-3, 1e-3, 3e-4)
#: nodes per engine call while recording (one sum per node)
CHUNK = 64
#: round eight's held-out photos (``tolerance_bar.ROUND_EIGHT``)
FRESH_PHOTOS = ROUND_EIGHT


def reference_steps() -> dict[tuple, tuple[str, int]]:
    """(photo, window) -> (set, the reference scheme's steps to 1e-3): the
    windows tolerance_bar recorded in round four ("developed") and its
    held-out photos of round six ("held-out")."""
    out = {}
    for line in REFERENCE.read_text().splitlines():
        r = json.loads(line)
        out[(r["photo"], tuple(r["window"]))] = ("developed", r["reference"]["steps"])
    for line in HELD_OUT_REFERENCE.read_text().splitlines():
        r = json.loads(line)
        if r["set"] == "held-out":
            key = (r["photo"], tuple(r["window"]))
            out[key] = ("held-out", r["reference"]["steps"])
    return out


def jobs() -> list[tuple[str, tuple[int, int, int]]]:
    """(photo, window) of every window of ``reference_steps``."""
    return list(reference_steps())


def fresh_jobs() -> list[tuple]:
    """The tolerance bar's cases on ``FRESH_PHOTOS`` (2 windows each)."""
    out = []
    for photo in FRESH_PHOTOS:
        _, hr, _ = crop(MODEL, 64, photo)
        for window in textured_windows(hr, size=16, count=2):
            out.append((MODEL, 64, photo, tuple(window), CONVERGED, TOLERANCES))
    return out


def honesty_jobs() -> list[tuple]:
    """(model, side, photo, window, converged steps, tolerances) of every
    window of the honesty study's ``FULL`` cases whose network is installed."""
    from .honesty import FULL

    out = []
    for case in FULL:
        if not zoo.installed(case.model):
            continue
        for photo in case.photos:
            _, hr, _ = crop(case.model, case.side, photo)
            for window in textured_windows(hr, size=16, count=case.windows, margin=16):
                out.append(
                    (
                        case.model,
                        case.side,
                        photo,
                        tuple(window),
                        case.max_reference,
                        case.tolerances,
                    )
                )
    return out


def record(directory: Path, part: int, parts: int, study: str = "span") -> None:
    """The integrand at every node and the converged map, one file per window
    (``study``: "span", the tolerance bar's windows, or "honesty", the
    honesty study's)."""
    directory.mkdir(parents=True, exist_ok=True)
    warp = adaptive.levels_for(ProgressiveBlurPath()).warp
    if study == "span":
        todo = [(MODEL, 64, p, w, CONVERGED, TOLERANCES) for p, w in jobs()]
    elif study == "fresh":
        todo = fresh_jobs()
    else:
        todo = honesty_jobs()
    for k, (name, side, photo, window, steps, tolerances) in enumerate(todo):
        prefix = f"{name}_" if study == "honesty" else ""
        out = directory / f"{prefix}{photo}_{'_'.join(map(str, window))}.pt"
        if k % parts != part or out.exists():
            continue
        model, _, lr = crop(name, side, photo)
        lam = LAM(model)
        rows = []

        def every_node(contributions, tolerance, max_steps, levels, rows=rows):
            alphas, slope = warp(torch.arange(NODES + 1, dtype=torch.float64) / NODES)
            # one engine call per chunk of nodes, one sum per node (its group)
            for i in range(0, NODES + 1, CHUNK):
                part = slice(i, i + CHUNK)
                groups = torch.arange(len(alphas[part]))
                rows.extend(contributions(alphas[part], slope[part], groups))
            report = adaptive.IntegrationReport(
                n_steps=NODES + 1,
                method="every node",
                estimated_error=torch.zeros(1, dtype=torch.float64),
                tolerance=tolerance,
            )
            return rows[-1], report

        with mock.patch.object(adaptive, "integrate_to_tolerance", every_node):
            lam.attribute(
                lr, target=window, n_steps="auto", tolerance=0.5, reach="auto"
            )
        exact = converged(lam, lr, window, steps).double()
        extra = {}
        if study == "fresh":  # the tolerance bar's steps to 1e-3 (its timing unused)
            extra["reference_steps"] = reference_scheme(lam, lr, window, exact)[0]
        g = torch.stack(rows).float()
        torch.save(
            dict(
                g=g,
                ref=exact,
                window=list(window),
                photo=photo,
                model=name,
                tolerances=list(tolerances),
                **extra,
            ),
            out,
        )
        print(out, flush=True)


class BeyondRecord(ValueError):
    """The rule asked for a node between the recorded ones."""


class Replay:
    """``contributions`` for the controller from the recorded nodes (u = alpha)."""

    def __init__(self, g: torch.Tensor) -> None:
        self.g = g.double()

    def __call__(self, alphas, weights, groups=None) -> torch.Tensor:
        index = torch.round(alphas * NODES).long()
        if not torch.allclose(index.double() / NODES, alphas, atol=1e-12, rtol=0):
            raise BeyondRecord("a node that was not recorded")
        values = weights.view(-1, *[1] * (self.g.ndim - 1)) * self.g[index]
        return adaptive.sum_by_group(values, groups)


def oracle(g: torch.Tensor, exact: torch.Tensor, tolerance: float) -> int:
    """Gradients of the first uniform level within ``tolerance``."""
    n = 2
    while n <= NODES:
        if map_error(trapezoid(g, n), exact) <= tolerance:
            return n + 1
        n *= 2
    return math.inf


#: The rules replayed: round four's, round seven's quarters, the package's
#: (round eight's), and round seven's observed-order estimates (measured,
#: not adopted: docs/speed-accuracy.md).
RULES = {
    "round four": adaptive.TRAPEZOID,
    "round seven": adaptive.QUARTERS,
    "package": adaptive.SIMPSON_QUARTERS,
    "observed order": adaptive.OBSERVED_ORDER,
    "gated order": adaptive.GATED_ORDER,
}


def honesty_replay(windows: list[dict]) -> str:
    """Estimate >= true error at every distinct stop of each rule on the
    honesty study's windows (the case's tolerances), by network."""
    counts: dict = {}
    beyond: list[str] = []
    for data in windows:
        g, exact = data["g"], data["ref"].double()
        for name, levels in RULES.items():
            stops = {}
            for tolerance in data["tolerances"]:
                try:
                    total, report = adaptive.integrate_to_tolerance(
                        Replay(g), tolerance, levels=levels
                    )
                except BeyondRecord:
                    beyond.append(
                        f"{name}: {data['model']} {data['photo']} {tolerance:g}"
                    )
                    continue
                stops.setdefault(report.n_steps, (total, report.max_estimated_error))
            row = counts.setdefault(data["model"], {}).setdefault(name, [0, 0, 0])
            for total, estimate in stops.values():
                true = map_error(total, exact)
                row[0] += true <= estimate
                row[1] += 1
                row[2] = max(row[2], true / estimate)
    lines = [
        f"The honesty study's windows ({len(windows)}; the cases of "
        "benchmarks/honesty.py FULL): stops whose estimate bounds the true "
        "error, of distinct stops (largest true / estimate):",
        "",
        "| network | " + " | ".join(RULES) + " |",
        "| --- | " + "--- | " * len(RULES),
    ]
    everything = {name: [0, 0, 0.0] for name in RULES}
    for model, per in counts.items():
        cells = []
        for name, (b, n, worst) in per.items():
            cells.append(f"{b} of {n} ({worst:.2f})")
            everything[name][0] += b
            everything[name][1] += n
            everything[name][2] = max(everything[name][2], worst)
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines.append(
        "| all | "
        + " | ".join(
            f"{b} of {n}, {100 * b / n:.1f}% ({worst:.2f})"
            for b, n, worst in everything.values()
        )
        + " |"
    )
    if beyond:
        lines += [
            "",
            "Not replayed (a node finer than the record's): " + "; ".join(beyond),
        ]
    return "\n".join(lines) + "\n"


def replay(windows: list[dict]) -> str:
    steps_to = reference_steps()
    rules = RULES
    lines = [
        "| window | reference steps to 1e-3 | tolerance | "
        + " | ".join(f"{name}: steps, true, estimate" for name in rules)
        + " | oracle steps |",
        "| --- | --- | --- | " + "--- | " * len(rules) + "--- |",
    ]
    summary: dict = {}
    bounded = {name: [0, 0] for name in rules}
    for data in windows:
        g, exact = data["g"], data["ref"].double()  # (1025, M=1, C, H, W), (1, C, H, W)
        key = (data["photo"], tuple(data["window"]))
        if "reference_steps" in data:  # ``--set fresh``: measured with the record
            kind, reference = "round eight's held-out", data["reference_steps"]
        else:
            kind, reference = steps_to[key]
        for tolerance in TOLERANCES:
            per = summary.setdefault(
                (kind, tolerance), {n: [] for n in [*rules, "oracle"]}
            )
            cells = [f"{key[0]} {key[1]}", str(reference), f"{tolerance:g}"]
            for name, levels in rules.items():
                total, report = adaptive.integrate_to_tolerance(
                    Replay(g), tolerance, levels=levels
                )
                true = map_error(total, exact)
                bounded[name][0] += true <= report.max_estimated_error
                bounded[name][1] += 1
                per[name].append(report.n_steps / reference)
                cells.append(
                    f"{report.n_steps}, {true:.1e}, {report.max_estimated_error:.1e}"
                )
            best = oracle(g, exact, tolerance)
            per["oracle"].append(best / reference)
            cells.append(str(best))
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "Steps over the reference scheme's steps to 1e-3, median / largest "
        "(at 1e-3 the bar's measure in steps):"
    )
    lines.append("")
    lines.append("| windows | tolerance | " + " | ".join([*rules, "oracle"]) + " |")
    lines.append("| --- | --- | " + "--- | " * (len(rules) + 1))
    for (kind, tolerance), per in sorted(
        summary.items(), key=lambda kv: (kv[0][0], -kv[0][1])
    ):
        count = len(per["oracle"])
        cells = [
            f"{statistics.median(v):.3f} / {max(v):.3f}" for v in per.values() if v
        ]
        lines.append(
            f"| {kind} ({count}) | {tolerance:g} | " + " | ".join(cells) + " |"
        )
    lines.append("")
    lines.append(
        "Estimate >= true error: "
        + ", ".join(f"{name} {b} of {n}" for name, (b, n) in bounded.items())
        + " stops."
    )
    return "\n".join(lines) + "\n"


def trapezoid(g: torch.Tensor, n: int) -> torch.Tensor:
    """The trapezoid rule on ``n`` equal segments of ``u`` (recorded nodes)."""
    w = torch.full((n + 1,), 1.0 / n, dtype=torch.float64)
    w[[0, -1]] /= 2
    return (w.view(-1, *[1] * (g.ndim - 1)) * g[:: NODES // n].double()).sum(0)


def gregory(g: torch.Tensor, n: int) -> torch.Tensor:
    """The trapezoid rule with Gregory's end corrections to third differences."""
    nodes = g[:: NODES // n].double()
    forward, backward = nodes, nodes.flip(0)
    total = trapezoid(g, n)
    for c in (-1 / 12, -1 / 24, -19 / 720):
        forward, backward = forward.diff(dim=0), backward.diff(dim=0)
        total = total + c * (forward[0] + backward[0]) / n
    return total


def gauss(g: torch.Tensor, n: int, panels: int = 1) -> torch.Tensor:
    """Gauss-Legendre, ``n`` nodes on each of ``panels`` equal parts of ``u``,
    the integrand linearly interpolated between the recorded nodes."""
    import numpy as np

    x, w = np.polynomial.legendre.leggauss(n)
    total = 0
    for p in range(panels):
        u = torch.tensor((p + (x + 1) / 2) / panels) * NODES
        i = u.floor().long().clamp(max=NODES - 1)
        t = (u - i).view(-1, *[1] * (g.ndim - 1))
        values = g[i].double() * (1 - t) + g[i + 1].double() * t
        weights = torch.tensor(w / 2 / panels).view(-1, *[1] * (g.ndim - 1))
        total = total + (weights * values).sum(0)
    return total


def other_rules(windows: list[dict]) -> str:
    """Map errors of other rules at equal gradients (17, 33, 65)."""
    rules = {
        "trapezoid": lambda g, n: trapezoid(g, n),
        "Romberg": lambda g, n: (4 * trapezoid(g, n) - trapezoid(g, n // 2)) / 3,
        "Gregory": gregory,
        "Gauss-Legendre": lambda g, n: gauss(g, n),
        "Gauss-Legendre, 4 panels": lambda g, n: gauss(g, n // 4, 4),
    }
    lines = [
        "| window | "
        + " | ".join(
            f"{name}: {'16 / 32 / 64' if 'Gauss' in name else '17 / 33 / 65'}"
            for name in rules
        )
        + " |",
        "| --- | " + "--- | " * len(rules),
    ]
    for data in windows:
        g, exact = data["g"], data["ref"].double()
        cells = [f"{data['photo']} {tuple(data['window'])}"]
        for rule in rules.values():
            cells.append(
                " / ".join(f"{map_error(rule(g, n), exact):.1e}" for n in (16, 32, 64))
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _options(parser) -> None:
    parser.add_argument(
        "--set",
        choices=("span", "honesty", "fresh"),
        default="span",
        help="with --record: the tolerance bar's windows or the honesty study's",
    )
    parser.add_argument(
        "--fresh",
        type=Path,
        metavar="DIR",
        help="replay: also the windows of --record --set fresh in DIR",
    )
    parser.add_argument(
        "--honesty",
        type=Path,
        metavar="DIR",
        help="replay: also judge the rules on the honesty study's records in DIR",
    )


def main() -> None:
    args = record_or_replay(__doc__, _options)
    if args.record:
        record(args.folder, args.part, args.parts, args.set)
        return
    windows = [torch.load(path) for path in sorted(args.folder.glob("*.pt"))]
    if args.fresh is not None:
        windows += [torch.load(path) for path in sorted(args.fresh.glob("*.pt"))]
    text = replay(windows)
    if args.honesty is not None:
        studied = [torch.load(path) for path in sorted(args.honesty.glob("*.pt"))]
        text += "\n" + honesty_replay(studied)
    TABLE.write_text(
        text + "\nMap error at equal gradients (Gauss-Legendre: 16, 32, 64 nodes; "
        "the others 17, 33, 65):\n\n" + other_rules(windows)
    )
    print(TABLE.read_text())


if __name__ == "__main__":
    main()

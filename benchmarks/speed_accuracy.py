"""Time to reach a map error, per integration setting and network (docs table).

Run:  python -m benchmarks.speed_accuracy [--models a,b] [--side 48]
Writes docs/generated/speed_accuracy.md. Minutes per network on a CPU, so not
run by CI. For each network (a centre crop of chelsea, its most textured
16x16 window, float32, reach-cut to the receptive field):

* the reference scheme (``riemann_right``): first order, so the steps for a
  target are predicted from its error at 200 steps, then timed and checked;
* Captum-style quadrature (``gausslegendre``, Captum IG's default): the first
  of 8, 16, 32, ... steps that reaches the target;
* ``n_steps="auto"`` with ``tolerance`` = the target.

The converged map is the midpoint segment rule with 4374 steps (17 times an
``auto`` stop at 257 steps, so about 1/17 of its error; a stop at 513 or more
is judged against a map at most 8.5 times finer, and the table says so).
Smooth networks are measured at 1e-2 and 1e-3; piecewise-linear ones
(first order for every rule) at 1e-2 only: judging 1e-3 there needs a
converged map of about 40,000 steps.

All times of one network come from one run (ratios are what to read: the
machine is shared).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from captum_lam import LAM, zoo

from ._accuracy import (
    CONVERGED_STEPS,
    case,
    converged,
    first_order_steps,
    map_error,
    timed,
)

SMOOTH = (1e-2, 1e-3)
FIRST_ORDER = (1e-2,)
MODELS = {
    "span-x4-ch48": SMOOTH,
    "span-x2-ch48": SMOOTH,
    "span-kendata-x4": SMOOTH,
    "swinir-small": SMOOTH,
    "plain-d8": FIRST_ORDER,
    "edsr-small": FIRST_ORDER,
    "waifu2x-upconv7-photo-x2": FIRST_ORDER,
    "realesr-animevideov3-x2": FIRST_ORDER,
}
OUT = Path(__file__).resolve().parents[1] / "docs" / "generated" / "speed_accuracy.md"


def measure(name: str, side: int) -> list[dict]:
    model, lr, window = case(name, side)
    lam = LAM(model)
    exact = converged(lam, lr, window)

    def run(**kw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an auto stop at the step cap warns
            return timed(lambda: lam.attribute(lr, target=window, reach="auto", **kw))

    rows = []
    coarse, _ = run(n_steps=200)
    e200 = map_error(coarse, exact)
    for target in MODELS.get(name, SMOOTH):
        steps = first_order_steps(e200, 200, target)
        attr, seconds = run(n_steps=steps)
        rows.append(
            dict(
                model=name,
                target=target,
                setting="riemann_right (reference)",
                steps=steps,
                error=map_error(attr, exact),
                seconds=seconds,
            )
        )
        steps = 8
        while True:
            attr, seconds = run(n_steps=steps, method="gausslegendre")
            error = map_error(attr, exact)
            if error <= target or steps >= 1024:
                break
            steps *= 2
        rows.append(
            dict(
                model=name,
                target=target,
                setting="gausslegendre (Captum)",
                steps=steps,
                error=error,
                seconds=seconds,
            )
        )
        attr, seconds = run(n_steps="auto", tolerance=target)
        report = lam.last_integration
        rows.append(
            dict(
                model=name,
                target=target,
                setting="n_steps='auto'",
                steps=report.n_steps,
                error=map_error(attr, exact),
                estimate=report.max_estimated_error,
                seconds=seconds,
            )
        )
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| network | target | setting | steps | true map error | estimate "
        "| time (s) | time / reference |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    reference = {}
    for r in rows:
        key = (r["model"], r["target"])
        if r["setting"].startswith("riemann_right"):
            reference[key] = r["seconds"]
        estimate = f"{r['estimate']:.1e}" if "estimate" in r else ""
        error = f"{r['error']:.1e}"
        if "estimate" in r and CONVERGED_STEPS < 27 * r["steps"]:
            error += f" (converged map {CONVERGED_STEPS // r['steps']}x finer)"
        lines.append(
            f"| {r['model']} | {r['target']:.0e} | {r['setting']} | {r['steps']} "
            f"| {error} | {estimate} | {r['seconds']:.2f} "
            f"| {r['seconds'] / reference[key]:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--side", type=int, default=48, help="LR crop side")
    args = parser.parse_args()
    rows = []
    for name in args.models.split(","):
        if not zoo.installed(name):
            print(f"skipped {name}: not installed")
            continue
        rows += measure(name, args.side)
        print(table(rows), flush=True)
    OUT.write_text(table(rows))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

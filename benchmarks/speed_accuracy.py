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

All times of one network come from one run (ratios are what to read: the
machine is shared).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from captum_lam import LAM

from ._accuracy import case, converged, first_order_steps, map_error, timed

TARGETS = (1e-2, 1e-3)
MODELS = ("span-x4-ch48", "realesr-animevideov3-x3", "edsr-small", "plain-d8")
OUT = Path(__file__).resolve().parents[1] / "docs" / "generated" / "speed_accuracy.md"


def measure(name: str, side: int) -> list[dict]:
    model, lr, window = case(name, side)
    lam = LAM(model)
    exact = converged(lam, lr, window)

    def run(**kw):
        return timed(lambda: lam.attribute(lr, target=window, reach="auto", **kw))

    rows = []
    coarse, _ = run(n_steps=200)
    e200 = map_error(coarse, exact)
    for target in TARGETS:
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
        lines.append(
            f"| {r['model']} | {r['target']:.0e} | {r['setting']} | {r['steps']} "
            f"| {r['error']:.1e} | {estimate} | {r['seconds']:.2f} "
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
        rows += measure(name, args.side)
        print(table(rows), flush=True)
    OUT.write_text(table(rows))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

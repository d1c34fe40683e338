"""attribute_windows on one window, LAM and the bare floor, interleaved rounds.

Run:  PYTHONPATH=. python benchmarks/one_window.py [--model span-x4-ch48] [--rounds 3]
Prints the best time of each and the two ratios of the issue's targets:
attribute_windows / LAM (<= 1.15) and LAM / floor (<= 1.05), SPAN x4, LR 64x64,
all defaults (50 steps, riemann_right, 10 points per pass on a CPU). Rounds
alternate between the three, so a busy machine slows them alike.
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.test_performance import BATCH, WINDOW, _floor, _lr
from captum_lam import LAM, attribute_windows, zoo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="span-x4-ch48")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = zoo.load(args.model)
    lr = _lr(64)
    lam = LAM(model)
    runs = {
        "lam": lambda: lam.attribute(lr, target=WINDOW),
        "attribute_windows": lambda: attribute_windows(model, lr, WINDOW),
        "floor": lambda: _floor(model, lr, 50, BATCH),
    }
    maps = runs["lam"](), runs["attribute_windows"]()
    assert torch.allclose(
        maps[0], maps[1], rtol=0, atol=1e-6 * float(maps[0].abs().max())
    )
    best = {name: float("inf") for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    for name, seconds in best.items():
        print(f"{name:18s} {seconds:7.3f} s (best of {args.rounds})")
    print(f"attribute_windows / LAM = {best['attribute_windows'] / best['lam']:.3f}")
    print(f"LAM / floor             = {best['lam'] / best['floor']:.3f}")


if __name__ == "__main__":
    main()

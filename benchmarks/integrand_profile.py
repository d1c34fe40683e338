"""Where along the blur path LAM's integrand lives, and where ``auto`` puts its nodes.

Run:  python -m benchmarks.integrand_profile
Writes docs/generated/integrand_profile.md (about a minute on one CPU core).

For two SPAN x4 windows of ``benchmarks/tolerance_bar.py`` (centre 64x64 LR
crops, float32, reach-cut), the integrand ``gradient * dgamma/dalpha`` at 257
equally spaced alphas. Per eighth of the path: the integrand's largest pixel
(relative to the converged map's, here the 256-segment trapezoid), the map
error of the trapezoid rule with 4 equal segments on that eighth against 32
(the rule's local error: where equal segments lose accuracy), and how many of
the 129 nodes of ``n_steps="auto"``'s level 128 fall in it (the package's
nodes, by the path's node density; equal segments put 16 in each).
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import torch

from captum_lam import LAM, ProgressiveBlurPath
from captum_lam._method import adaptive
from captum_lam.windows import textured_windows

from .honesty import crop

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "generated" / "integrand_profile.md"
NODES = 256
#: (photo, index among its 2 most textured windows): windows of tolerance_bar.py
WINDOWS = (("chelsea", 0), ("astronaut", 1))


def integrand(lam: LAM, lr, window) -> torch.Tensor:
    """(NODES + 1, ...) float64: the integrand at alpha = k / NODES."""
    rows = []

    def every_node(contributions, tolerance, max_steps, levels):
        for k in range(NODES + 1):
            alpha = torch.tensor([k / NODES], dtype=torch.float64)
            rows.append(contributions(alpha, torch.ones(1, dtype=torch.float64)))
        report = adaptive.IntegrationReport(
            n_steps=NODES + 1,
            method="every node",
            estimated_error=torch.zeros(rows[0].shape[0], dtype=torch.float64),
            tolerance=tolerance,
        )
        return rows[-1], report

    with mock.patch.object(adaptive, "integrate_to_tolerance", every_node):
        lam.attribute(lr, target=window, n_steps="auto", tolerance=0.5, reach="auto")
    return torch.stack(rows).double()


def trapezoid(values: torch.Tensor, start: int, stop: int, stride: int) -> torch.Tensor:
    """Trapezoid rule on nodes start, start + stride, ..., stop (alpha = k / NODES)."""
    nodes = values[start : stop + 1 : stride]
    return (nodes[1:] + nodes[:-1]).sum(0) * stride / (2 * NODES)


def profile(values: torch.Tensor) -> list[tuple[float, float, float, int]]:
    scale = trapezoid(values, 0, NODES, 1).abs().max()
    warp = adaptive.levels_for(ProgressiveBlurPath()).warp
    nodes = warp(torch.arange(129, dtype=torch.float64) / 128)[0]
    rows = []
    eighth = NODES // 8
    for j in range(8):
        lo, hi = j * eighth, (j + 1) * eighth
        error = trapezoid(values, lo, hi, eighth // 4) - trapezoid(values, lo, hi, 1)
        inside = (nodes >= lo / NODES) & (nodes < hi / NODES)
        if j == 7:
            inside |= nodes == 1.0
        rows.append(
            (
                lo / NODES,
                float(values[lo : hi + 1].abs().max() / scale),
                float(error.abs().max() / scale),
                int(inside.sum()),
            )
        )
    return rows


def main() -> None:
    lines = []
    for photo, index in WINDOWS:
        model, hr, lr = crop("span-x4-ch48", 64, photo)
        window = textured_windows(hr, size=16, count=2)[index]
        rows = profile(integrand(LAM(model), lr, window))
        lines.append(f"**{photo} {tuple(window)}**\n")
        lines.append(
            "| alpha | largest integrand pixel | error of 4 equal segments "
            "| nodes of 129 (auto) |"
        )
        lines.append("| --- | --- | --- | --- |")
        for start, peak, error, count in rows:
            lines.append(
                f"| {start:.3f} to {start + 0.125:.3f} | {peak:.2f} | {error:.1e} "
                f"| {count} |"
            )
        lines.append("")
    TABLE.write_text("\n".join(lines))
    print(TABLE.read_text())


if __name__ == "__main__":
    main()

"""``compare --faithfulness``: deletion, insertion and randomisation columns, and
the curves figure."""

from __future__ import annotations

import argparse
from typing import Any, Callable

from torch import Tensor, nn

from .._frontend.output_paths import Output
from ._case import FIGURE_SUFFIXES
from ._options import UserError


def add_faithfulness_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("faithfulness (captum_lam.faithfulness)")
    group.add_argument(
        "--faithfulness",
        action="store_true",
        help="add deletion and insertion areas (and a random ranking's), infidelity "
        "and the randomisation test's similarity per row",
    )
    group.add_argument(
        "--faithfulness-steps",
        type=int,
        default=20,
        metavar="N",
        help="fractions of the deletion and insertion curves (default 20)",
    )
    group.add_argument(
        "--randomization-stages",
        type=int,
        default=3,
        metavar="N",
        help="re-initialise the layers in N groups, output first (default 3)",
    )
    group.add_argument(
        "--curves", metavar="FIGURE", help="deletion and insertion curves figure"
    )


def faithfulness_outputs(args: argparse.Namespace) -> list[Output]:
    """The curves figure, for the command's output check; refuses options that
    would do nothing."""
    if not args.faithfulness:
        given = [
            flag
            for flag, value, default in (
                ("--curves", args.curves, None),
                ("--faithfulness-steps", args.faithfulness_steps, 20),
                ("--randomization-stages", args.randomization_stages, 3),
            )
            if value != default
        ]
        if given:
            raise UserError(f"{', '.join(given)} needs --faithfulness")
    for flag, value in (
        ("--faithfulness-steps", args.faithfulness_steps),
        ("--randomization-stages", args.randomization_stages),
    ):
        if value < 1:
            raise UserError(f"{flag} must be an integer >= 1, got {value}")
    return [Output("--curves", args.curves, FIGURE_SUFFIXES)]


def faithfulness_columns(
    model: nn.Module,
    lr: Tensor,
    window: tuple[int, int, int],
    attr: Tensor,
    method: Callable[[nn.Module, Tensor, Any], Tensor],
    args: argparse.Namespace,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The row's new columns and, for the JSON and the figure, the curves and
    the similarity per stage."""
    from ..faithfulness import (
        faithfulness_report,
        randomization_check,
        window_infidelity,
    )

    steps = min(args.faithfulness_steps, lr.shape[-2] * lr.shape[-1])
    options = {"sigma": args.sigma, "kernel_size": args.kernel_size}
    report = faithfulness_report(
        model, lr, attr, window, steps=steps, detector=args.detector, **options
    )
    infidelity = window_infidelity(model, lr, attr, window, detector=args.detector)
    randomised = randomization_check(
        model,
        lr,
        window,
        method=method,
        stages=args.randomization_stages,
        detector=args.detector,
    )
    (areas,) = report.areas()
    final = float(randomised.similarity[-1, 0])
    columns = {
        "deletion_area": areas["deletion_area"],
        "insertion_area": areas["insertion_area"],
        "random_deletion_area": areas["random_deletion_area"],
        "random_insertion_area": areas["random_insertion_area"],
        "infidelity": float(infidelity[0]),
        "randomized_similarity": final,
    }
    details = {
        "fractions": report.fractions.tolist(),
        "deletion": report.deletion[0].tolist(),
        "insertion": report.insertion[0].tolist(),
        "random_deletion": report.random_deletion[0].tolist(),
        "random_insertion": report.random_insertion[0].tolist(),
        "randomization_mode": randomised.mode,
        "randomization_layers": list(randomised.layers),
        "randomization_similarity": randomised.similarity[:, 0].tolist(),
    }
    return columns, details


def curves_figure(details: dict[str, dict[str, Any]], title: str = "") -> Any:
    """Deletion and insertion curves per row, each beside its random reference.

    The objective is shown rescaled to 1 on the input and 0 on the baseline.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    # the methods of one model share one random reference: draw it once, in grey
    shared = len({str(d["random_deletion"]) for d in details.values()}) == 1
    for i, (label, d) in enumerate(details.items()):
        colour = colours[i % len(colours)]
        fractions = np.asarray(d["fractions"])
        for ax, kind in zip(axes, ("deletion", "insertion")):
            values = np.asarray(d[kind])
            start, end = values[0], values[-1]
            source, base = (start, end) if kind == "deletion" else (end, start)
            change = source - base if source != base else 1.0
            ax.plot(fractions, (values - base) / change, color=colour, label=label)
            if shared and i > 0:
                continue
            rand = np.asarray(d[f"random_{kind}"])
            ax.plot(
                fractions,
                (rand - base) / change,
                color="0.45" if shared else colour,
                linestyle=":",
                linewidth=1.5,
                label="random ranking" if shared else f"{label}: random ranking",
            )
    for ax, kind in zip(axes, ("deletion", "insertion")):
        verb = "removed" if kind == "deletion" else "inserted"
        ax.set_xlabel(f"share of LR pixels {verb} (map's order)")
        ax.set_title(
            f"{kind}: {'lower' if kind == 'deletion' else 'higher'} is more faithful"
        )
        ax.axhline(0, color="0.7", linewidth=0.5)
        ax.axhline(1, color="0.7", linewidth=0.5)
    axes[0].set_ylabel("window objective (input 1, baseline 0)")
    axes[1].legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    return fig


def print_faithfulness_table(rows: list[dict[str, Any]], quiet: bool) -> None:
    """The new columns under the DI table: each area beside the random ranking's."""
    if quiet:
        return
    width = max(len(r["label"]) for r in rows)
    print(
        f"{'':<{width}}  deletion (random)  insertion (random)  infidelity"
        "  randomised similarity"
    )
    for r in rows:
        deletion = f"{r['deletion_area']:.3f} ({r['random_deletion_area']:.3f})"
        insertion = f"{r['insertion_area']:.3f} ({r['random_insertion_area']:.3f})"
        print(
            f"{r['label']:<{width}}  {deletion:>17}  {insertion:>18}"
            f"  {r['infidelity']:10.3g}  {r['randomized_similarity']:21.2f}"
        )
    print(
        "(deletion: lower is more faithful, insertion: higher; randomised "
        "similarity: the map's rank correlation once every layer is re-initialised)"
    )

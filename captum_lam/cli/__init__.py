"""The ``captum-lam`` command: explain, compare, evaluate, models.

``captum-lam explain`` with no arguments runs the main job: a built-in photo, a
real published SR network (SPAN x4) when the pretrained extra is installed (the
best trained zoo model otherwise), the most textured window, and writes
``lam.png`` and ``lam.json``.

One module per command (:mod:`.explain`, :mod:`.compare`, :mod:`.evaluate`,
:mod:`.models`), each adding its sub-parser; :mod:`._common` holds what they
share. This module builds the parser and runs a command.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Optional, Sequence

from .. import __version__
from ._common import DEFAULT_PRETRAINED, DEFAULT_TRAINED, UserError
from .compare import add_compare_parser
from .evaluate import add_evaluate_parser
from .explain import add_explain_parser
from .models import add_models_parser

__all__ = ["DEFAULT_PRETRAINED", "DEFAULT_TRAINED", "UserError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="captum-lam",
        description="Local Attribution Maps for super-resolution networks.",
    )
    parser.add_argument(
        "--version", action="version", version=f"captum-lam {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_explain_parser(sub)
    add_compare_parser(sub)
    add_evaluate_parser(sub)
    add_models_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Input Tensor .* did not already require"
            )
            return int(args.func(args))
    except KeyboardInterrupt:
        print("captum-lam: interrupted", file=sys.stderr)
        return 130
    except (
        UserError,
        ValueError,
        TypeError,
        OSError,
        ModuleNotFoundError,
        RuntimeError,
    ) as error:
        message = (
            str(error).strip().splitlines()[0]
            if str(error).strip()
            else type(error).__name__
        )
        print(f"captum-lam: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``captum-lam`` command: explain, windows, compare, evaluate, models, serve.

``captum-lam explain`` with no arguments runs the main job: a built-in photo, a
real published SR network (SPAN x4) when the pretrained extra is installed (the
best trained zoo model otherwise), the most textured window, and writes
``lam.png`` and ``lam.json``.

One module per command (`explain`, `windows`, `compare`, `evaluate`, `models`;
`serve` lives in `captum_lam.explorer`), each adding its sub-parser; what they
share is in `_options` (option types and groups, `UserError`), `_case` (the model,
image, window, device, outputs and cost, settled before any work) and `_report`
(what is printed). This module builds the parser (importing the command
modules only when a command runs, so that `--help` is fast) and runs a command.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from typing import Any, NoReturn, Optional, Sequence

from .. import __version__
from .._frontend.commands import COMMANDS
from .._frontend.startup import Terminated, command_process, restore_interrupts
from .._io import printable

__all__ = ["DEFAULT_PRETRAINED", "DEFAULT_TRAINED", "UserError", "build_parser", "main"]

DESCRIPTION = "Local Attribution Maps for super-resolution networks."


def __getattr__(name: str) -> Any:
    # the shared names load with the commands (and torch) only when asked for
    if name in ("DEFAULT_PRETRAINED", "DEFAULT_TRAINED"):
        from . import _case

        return getattr(_case, name)
    if name == "UserError":
        from ._options import UserError

        return UserError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Parser(argparse.ArgumentParser):
    """argparse's parser with the one error prefix of every command's errors,
    ``captum-lam: error:`` (argparse's own would say ``captum-lam explain: error:``)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"captum-lam: error: {message}\n")


def _top_parser() -> tuple[argparse.ArgumentParser, Any]:
    parser = _Parser(prog="captum-lam", description=DESCRIPTION)
    parser.add_argument(
        "--version", action="version", version=f"captum-lam {__version__}"
    )
    return parser, parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole parser (imports every command's module, and torch with them)."""
    from ..explorer import add_serve_parser
    from ._case import resolve_model
    from ._options import add_model_options
    from .compare import add_compare_parser
    from .evaluate import add_evaluate_parser
    from .explain import add_explain_parser
    from .models import add_models_parser
    from .windows import add_windows_parser

    parser, sub = _top_parser()
    add_explain_parser(sub)
    add_windows_parser(sub)
    add_compare_parser(sub)
    add_evaluate_parser(sub)
    add_models_parser(sub)
    add_serve_parser(sub, resolve_model, add_model_options)
    return parser


def _answer_without_commands(argv: Sequence[str]) -> None:
    """``captum-lam``, ``--help`` and ``--version`` from the command names alone,
    in well under a second: argparse prints and exits."""
    parser, sub = _top_parser()
    for name, text in COMMANDS.items():
        sub.add_parser(name, help=text)
    parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    with command_process():  # SIGTERM unwinds; closed streams; odd file names
        return _main(argv)


def _main(argv: Optional[Sequence[str]]) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    if not argv or argv[0] in ("-h", "--help", "--version"):
        _answer_without_commands(argv)
    parser = build_parser()  # imports torch: Ctrl-C until here is _frontend.startup's
    restore_interrupts()
    args = parser.parse_args(argv)
    args.argv = argv
    #: the exact command, for the JSON: running it again reproduces the run
    args.command_line = shlex.join(["captum-lam", *argv])
    return _run(args)


def _run(args: Any) -> int:
    from ._options import UserError

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Input Tensor .* did not already require"
            )
            return int(args.func(args))
    except Terminated:
        print("captum-lam: terminated", file=sys.stderr)
        return 143
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
        print(f"captum-lam: error: {printable(message)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``captum-lam serve``: the parser and the command (Flask imported only to run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

from .._frontend.commands import COMMANDS
from .._frontend.model_options import check_model_options, given_adapter_options

#: ``resolve_model(args, name)``: the command line's model loader (explain's),
#: passed in by the CLI so that this package does not import it.
ResolveModel = Callable[[argparse.Namespace, Any], Any]

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"


def add_serve_parser(
    subparsers: Any,
    resolve_model: ResolveModel,
    add_model_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``serve`` to the ``captum-lam`` subcommands.

    The command line passes in how it loads a user's model and the options that
    say how (the same as ``explain``'s), so this package does not import it.
    """
    serve = subparsers.add_parser(
        "serve",
        help=COMMANDS["serve"],
        description="A local web page: the image with how textured each window "
        "is, click a window, see the LAM of each selected network side by side.",
    )
    serve.add_argument(
        "--models",
        help="comma-separated registry names selected when the page opens "
        "(every registered model can be chosen on the page)",
    )
    serve.add_argument(
        "--model",
        help="one more model: package.module:factory (with --weights), as explain",
    )
    add_model_options(serve)
    serve.add_argument(
        "--image",
        default="sample:chelsea",
        help="PNG/JPEG file or sample:NAME shown first (default sample:chelsea)",
    )
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}"
    )
    serve.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")
    serve.set_defaults(func=lambda args: cmd_serve(args, resolve_model))


def _need_flask() -> None:
    try:
        import flask  # noqa: F401
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "captum-lam serve needs Flask: pip install 'captum-lam[serve]'"
        ) from None


def build_app(args: argparse.Namespace, resolve_model: ResolveModel) -> Any:
    """The Flask app ``serve`` runs, from its command-line options."""
    _need_flask()
    from ._app import create_app
    from ._catalogue import Images, Models, RequestError, registry_entries

    entries = registry_entries()
    extra = _command_line_model(args, resolve_model)
    if extra is not None:
        entries.append(extra)
    names = [e.name for e in entries]
    selected = [m for m in (args.models or "").split(",") if m]
    for name in selected:
        if name not in names:
            raise ValueError(
                f"--models: unknown model {name!r}; run 'captum-lam models' for the "
                "list"
            )
    if extra is not None:
        selected.append(extra.name)
    models = Models(entries, device=args.device)
    images = Images()
    image_id = args.image
    if not args.image.startswith("sample:"):
        from ..images import read_image

        path = Path(args.image)
        if not path.is_file():
            raise ValueError(f"--image: no such file: {args.image}")
        try:
            pixels = read_image(path)
        except Exception as error:
            raise ValueError(
                f"--image: {args.image} is not a readable PNG/JPEG image ({error})"
            ) from None
        image_id = images.add_file(args.image, pixels).id
    try:
        return create_app(
            models, images, image=image_id, selected=selected, host=args.host
        )
    except RequestError as error:
        option = "--image" if "image" in error.message else "--models"
        raise ValueError(f"{option}: {error.message}") from None


def _command_line_model(args: argparse.Namespace, resolve_model: ResolveModel) -> Any:
    from ._catalogue import loaded_entry

    if args.checkpoint:
        model = resolve_model(args, None)
        return loaded_entry(
            Path(args.checkpoint).stem, model, ["--checkpoint", args.checkpoint]
        )
    if not args.model:
        return None
    if ":" not in args.model:
        raise ValueError(
            f"--model takes package.module:factory (registry models go in "
            f"--models), got {args.model!r}"
        )
    model = resolve_model(args, args.model)
    explain_args = ["--model", args.model]
    if args.weights:
        explain_args += ["--weights", args.weights]
    if args.input_range not in (None, 1.0):
        explain_args += ["--input-range", f"{args.input_range:g}"]
    if args.mean:
        explain_args += ["--mean", args.mean]
    if args.pad_multiple not in (None, 1):
        explain_args += ["--pad-multiple", str(args.pad_multiple)]
    return loaded_entry(args.model, model, explain_args)


def cmd_serve(args: argparse.Namespace, resolve_model: ResolveModel) -> int:
    """Run the explorer until Ctrl-C."""
    for text in check_model_options(
        model=args.model,
        checkpoint=args.checkpoint,
        adapter=given_adapter_options(args),
        weights=args.weights,
    ):
        print(f"captum-lam: warning: {text}", file=sys.stderr)
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in [0, 65535], got {args.port}")
    _need_flask()
    from ._app import listen, make_server, server_url

    sock = listen(args.host, args.port)  # a busy port fails before any loading
    try:
        app = build_app(args, resolve_model)
    except BaseException:
        sock.close()
        raise
    server = make_server(app, args.host, args.port, sock=sock)
    url = server_url(args.host, server.server_port)
    print(f"LAM explorer on {url}  (Ctrl-C stops it)", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"note: bound to {args.host}: other machines can reach this page",
            file=sys.stderr,
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.extensions["lam_runner"].close()
        server.server_close()
    return 0

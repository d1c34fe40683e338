"""The LAM explorer: a local web page to choose windows by clicking and compare
networks side by side (``captum-lam serve``).

The page shows the image with how textured each window is; a click asks every
selected model for the LAM of that window, computed one request at a time per
model, cancelled when a newer click supersedes it, and cached. The numbers equal
``captum-lam explain``'s for the same window and settings.

Running it needs the ``serve`` extra (Flask): ``pip install 'captum-lam[serve]'``.
Importing this package does not import Flask.
"""

from __future__ import annotations

from typing import Any

from ._cli import add_serve_parser

__all__ = ["add_serve_parser", "create_app"]


def create_app(**kwargs: Any) -> Any:
    """The explorer's Flask application (see ``captum_lam.explorer._app``).

    Keyword arguments: ``models``, ``images``, ``image`` (the id of the image the
    page opens with, e.g. ``"sample:astronaut"``) and ``selected`` (model names).
    Serve it with any WSGI server, or test it with ``app.test_client()``.
    """
    from ._app import create_app as _create_app

    return _create_app(**kwargs)

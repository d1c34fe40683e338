"""The LAM explorer: a local web page to choose windows by clicking and compare
networks side by side (``captum-lam serve``).

The page shows the image with how textured each window is; a click asks every
selected model for the LAM of that window, computed one request at a time per
model, cancelled when a newer click supersedes it, and cached. The numbers equal
``captum-lam explain``'s for the same window and settings.

Running it needs the ``serve`` extra (Flask): ``pip install 'captum-lam[serve]'``.
Importing this package does not import Flask.
"""

from ._cli import add_serve_parser

__all__ = ["add_serve_parser"]

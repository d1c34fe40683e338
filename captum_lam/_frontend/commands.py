"""The ``captum-lam`` commands and their one-line help.

Torch-free, so that ``captum-lam --help`` answers without importing the
commands' modules (and torch with them).
"""

COMMANDS: dict[str, str] = {
    "explain": "LAM of one window: figure and JSON summary",
    "windows": "the most textured windows of an image, to give to --window",
    "compare": "several models or methods on one window",
    "evaluate": "a LAM study: DI and its companions over models, images and windows",
    "models": "list the registered models",
    "serve": "explore LAM in a browser: click a window, compare networks",
}

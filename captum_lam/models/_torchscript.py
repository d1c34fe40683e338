"""Recognise TorchScript archives, which run code from the file when opened.

``torch.jit.load`` (which spandrel uses for ``.pt`` files, and ``torch.load``
dispatches to for TorchScript archives) executes the TorchScript program stored
in the file. A plain checkpoint (a pickled state dict, a safetensors file) only
holds tensors. Callers that must not run code from a file refuse archives that
:func:`is_torchscript_archive` recognises.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Union


def is_torchscript_archive(path: Union[str, Path]) -> bool:
    """True for a TorchScript archive (a zip with ``constants.pkl``), any suffix.

    This is the test ``torch.load`` itself uses to dispatch to ``torch.jit.load``.
    """
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    return any(name.rsplit("/", 1)[-1] == "constants.pkl" for name in names)


def refuse_torchscript(path: Union[str, Path]) -> None:
    """Raise ValueError if ``path`` would run TorchScript code when loaded."""
    path = Path(path)
    if is_torchscript_archive(path):
        raise ValueError(
            f"{path} is a TorchScript archive: loading it runs the program stored "
            "in the file, and TorchScript files are refused here "
            "(allow_torchscript=False / --no-torchscript)"
        )
    if path.suffix.lower() == ".pt":
        raise ValueError(
            f"{path}: spandrel opens .pt files with torch.jit.load, which runs "
            "TorchScript code, and TorchScript files are refused here "
            "(allow_torchscript=False / --no-torchscript); if it is a plain state "
            "dict, rename it to .pth"
        )

"""One readable line for an error raised while a checkpoint loads.

spandrel and torch raise errors that say little to someone who gave a file:
``OSError: [Errno 22] Invalid argument`` or ``PytorchStreamReader failed`` for a
truncated file, an ``UnsupportedModelError`` with an empty message for an
unknown architecture, and messages with terminal colour codes.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
#: Words of torch's and safetensors' messages about a file cut short.
_TRUNCATION_HINTS = (
    "central directory",
    "pytorchstreamreader",
    "unexpected eof",
    "ran out of input",
    "incomplete metadata",
    "truncated",
    "invalid load key",
)


def plain_text(text: str) -> str:
    """``text`` without ANSI colour codes, on one line."""
    text = _ANSI.sub("", text).strip()
    return " ".join(text.split()) if text else ""


def describe_load_error(error: BaseException, path: Path) -> str:
    """One line: what went wrong with ``path``, in the user's terms."""
    message = plain_text(str(error))
    name = type(error).__name__
    size = path.stat().st_size if path.exists() else 0
    if (
        isinstance(error, EOFError)
        or (isinstance(error, OSError) and error.errno == errno.EINVAL)
        or any(hint in message.lower() for hint in _TRUNCATION_HINTS)
    ):
        return (
            f"cannot read checkpoint {path} ({size} bytes): the file is truncated "
            f"or not a checkpoint ({name}: {message or 'no details'})"
        )
    if name == "UnsupportedModelError":
        return (
            f"spandrel does not recognise the architecture in {path}"
            + (f": {message}" if message else "")
            + " (see spandrel's list of supported architectures; for other "
            "networks use --model package.module:factory --weights FILE)"
        )
    return f"spandrel cannot load checkpoint {path}: {name}: {message or 'no details'}"

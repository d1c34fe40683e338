"""Writing output files without clobbering what the user named; text tables.

Regular files are replaced atomically (a temporary file beside the target, then a
rename), so an interrupted or failed write leaves the old file or the new one,
never half of one. A symlink is followed and its target written (the link stays a
link); a FIFO, a character device (``/dev/stdout``) or a socket is written
directly, because renaming over it would replace the special file itself.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Callable, Union

PathLike = Union[str, os.PathLike]


def resolve_output(path: PathLike) -> Path:
    """The file that writing ``path`` must change: symlinks followed (even dangling)."""
    return Path(os.path.realpath(path))


def is_special_file(path: PathLike) -> bool:
    """True for an existing FIFO, character/block device or socket (after links)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def write_atomic(path: PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(binary_file)`` so that the result lands in ``path``.

    Regular (or new) files: through a temporary file beside the target and an
    atomic rename, keeping the target's permissions. Symlinks: the target they
    point to. FIFOs and devices: written directly. Returns the file written.
    """
    target = resolve_output(path)
    if is_special_file(target):
        with open(target, "wb") as handle:
            write(handle)
        return target
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        except FileNotFoundError:
            pass
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def write_text_atomic(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` with :func:`write_atomic`'s guarantees."""
    data = text.encode("utf-8")
    return write_atomic(path, lambda handle: handle.write(data))


def text_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1
) -> str:
    """Fixed-width columns; columns from ``right_from`` on are right-aligned.

    >>> print(text_table(("name", "n"), [("a", "10"), ("bb", "2")]))
    name   n
    a     10
    bb     2
    """
    table = [tuple(header), *(tuple(r) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            v.rjust(w) if i >= right_from else v.ljust(w)
            for i, (v, w) in enumerate(zip(r, widths))
        ).rstrip()
        for r in table
    )

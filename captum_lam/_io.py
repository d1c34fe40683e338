"""Writing output files without clobbering what the user named; text tables.

Regular files are replaced atomically (a temporary file beside the target, then a
rename), so an interrupted or failed write leaves the old file or the new one,
never half of one. The temporary name is short (``.NAME[:20].RANDOM.tmp``), so
any name the file system accepts can be written, and it is removed on failure,
Ctrl-C and SIGTERM (the command line turns SIGTERM into an exception). A symlink
is followed and its target written (the link stays a link); a FIFO, a character
device (``/dev/stdout``, also when it is a pipe) or a socket is written directly,
because renaming over it would replace the special file itself. ``-`` is the
standard output.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Callable, Optional, Union

PathLike = Union[str, os.PathLike]

#: The name that means the standard output.
STDOUT = "-"
#: Where ``-`` is written: set by `stream_to_stdout` (the real standard output,
#: while the command's messages go to stderr); None: ``sys.stdout``.
_stream: Optional[IO[str]] = None


def stream_to_stdout() -> None:
    """Keep the standard output for ``-`` outputs; messages go to stderr."""
    global _stream
    if _stream is None:
        _stream = sys.stdout
        sys.stdout = sys.stderr


def release_stdout() -> None:
    """Undo `stream_to_stdout` (the command has finished)."""
    global _stream
    if _stream is not None:
        sys.stdout = _stream
        _stream = None


def is_stdout(path: Optional[PathLike]) -> bool:
    """True for ``-``, the standard output."""
    return path is not None and os.fspath(path) == STDOUT


def resolve_output(path: PathLike) -> Path:
    """The file that writing ``path`` must change: symlinks followed (even dangling).

    A special file reached through links (``/dev/stdout`` -> ``/proc/self/fd/1``
    -> ``pipe:[N]``, which is no path) is the path as given.
    """
    if is_special_file(path):
        return Path(path)
    return Path(os.path.realpath(path))


def printable(text: str) -> str:
    """``text`` with what UTF-8 cannot encode (the undecodable bytes of a file
    name) replaced by U+FFFD, for titles, messages and JSON.

    >>> printable("caf" + chr(0xDCE9) + ".png") == "caf" + chr(0xFFFD) + ".png"
    True
    """
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


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
    point to. FIFOs and devices: written directly. ``-``: the standard output.
    Returns the file written.
    """
    if is_stdout(path):
        stream = _stream if _stream is not None else sys.stdout
        stream.flush()
        write(stream.buffer)
        stream.buffer.flush()
        return Path(STDOUT)
    target = resolve_output(path)
    if is_special_file(target):
        with open(target, "wb") as handle:
            write(handle)
        return target
    fd, name = tempfile.mkstemp(
        prefix=f".{target.name[:20]}.", suffix=".tmp", dir=target.parent
    )
    tmp = Path(name)
    try:
        with open(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:  # a new file: the permissions open() would give
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def write_text_atomic(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` with :func:`write_atomic`'s guarantees.

    Undecodable bytes of file names in ``text`` become U+FFFD (`printable`).
    """
    data = printable(text).encode("utf-8")
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

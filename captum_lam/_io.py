"""Small file and text helpers shared by the command line and the studies."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path, suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``path`` that is renamed over it on success.

    An interrupted or failed write leaves no half-written file.
    """
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


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

"""The results file of ``evaluate``: recognised before it is touched, locked while used.

A results file is JSON Lines: one JSON object per line, each with a string
``"key"`` first (``json.dumps`` of the records keeps their order, so every
record line starts with ``{"key": "``). The last line may lack its newline:

* if it parses, it is a complete record (only its newline is missing);
* if it does not, but starts like a record, it was cut by a killed process and
  is dropped, so its case is computed again.

Anything else (a notes file, a CSV, a line holding ``42`` or ``null``) is not a
results file, and nothing here modifies it. While one process uses a results
file it holds an exclusive ``fcntl.flock`` lock on it; a second process is
refused at once (or, with ``wait=True``, waits) so that no record is lost.
"""

from __future__ import annotations

import fcntl
import json
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal, Union

from .._io import is_special_file, resolve_output

PathLike = Union[str, os.PathLike]

#: How every line that ``evaluate`` writes begins.
RECORD_START = b'{"key": "'


class ResultsFileInUse(RuntimeError):
    """Another process holds the lock of a results file."""


@dataclass
class ResultsFile:
    """What :func:`read_results` found in a recognised results file."""

    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    #: The line number of each record, for messages.
    lines: list[int] = field(default_factory=list)
    #: ``"complete"``, ``"missing_newline"`` (the last record lacks only its
    #: newline) or ``"cut"`` (the last line is a record cut off mid-write).
    tail: Literal["complete", "missing_newline", "cut"] = "complete"
    #: Byte offset where the cut record begins (the file's length otherwise).
    cut_at: int = 0
    #: Line number of the cut record (0 when there is none).
    cut_line: int = 0


def _not_results(path: Path, where: str) -> ValueError:
    return ValueError(
        f"{path}{where} is not a results file of captum-lam evaluate (JSON objects "
        "with a 'key', one per line); it was left unchanged: name another file"
    )


def read_results(path: PathLike) -> ResultsFile:
    """Read and recognise a results file, without modifying it.

    A missing or empty file is an empty results file.

    Raises
    ------
    ValueError
        Naming the file (and the line) when it is not a results file, or when
        it is a folder or a special file.
    """
    path = Path(path)
    _check_regular(path)
    if not path.exists():
        return ResultsFile(path)
    data = path.read_bytes()
    found = ResultsFile(path, cut_at=len(data))
    lines = data.split(b"\n")
    last = len(lines)  # after the final newline: b""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        unterminated = number == last
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            if unterminated and (
                raw.startswith(RECORD_START) or RECORD_START.startswith(raw)
            ):
                found.tail = "cut"
                found.cut_at = len(data) - len(raw)
                found.cut_line = number
                break
            raise _not_results(path, f":{number}") from None
        if not isinstance(record, dict) or not isinstance(record.get("key"), str):
            raise _not_results(path, f":{number}")
        found.records.append(record)
        found.lines.append(number)
        if unterminated:
            found.tail = "missing_newline"
    return found


def repair_tail(results: ResultsFile) -> None:
    """Make a recognised results file end with a complete line, ready to append.

    A cut last record is removed, with a warning naming its line; a complete
    one gets its newline.
    """
    if results.tail == "cut":
        warnings.warn(
            f"{results.path}:{results.cut_line}: the last record was cut off "
            "mid-write (an interrupted run); it is dropped and its case computed "
            "again",
            stacklevel=2,
        )
        with open(results.path, "r+b") as handle:
            handle.truncate(results.cut_at)
    elif results.tail == "missing_newline":
        with open(results.path, "ab") as handle:
            handle.write(b"\n")
    results.tail = "complete"


@contextmanager
def results_lock(path: PathLike, *, wait: bool = False) -> Iterator[Path]:
    """Hold the results file ``path`` exclusively (``fcntl.flock``) inside the block.

    The file is created if missing, and removed again on leaving if this call
    created it and it is still empty (a run that failed before its first
    record leaves nothing behind). A file replaced while waiting (the holder
    rewrites it by an atomic rename) is locked anew. Yields the resolved path
    (symlinks followed).

    Raises
    ------
    ResultsFileInUse
        When another process holds it and ``wait`` is False.
    ValueError
        When ``path`` is a folder or a special file.
    """
    target = resolve_output(path)
    _check_regular(Path(path))
    while True:
        created = False
        try:
            fd = os.open(target, os.O_RDWR)
        except FileNotFoundError:
            try:
                fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
                created = True
            except FileExistsError:
                continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            raise ResultsFileInUse(
                f"{path} is being written by another captum-lam evaluate run; "
                "wait for it to finish, or write to another file"
            ) from None
        if _same_file(fd, target):
            break
        os.close(fd)  # replaced or removed while we waited: lock the new one
    try:
        yield target
    finally:
        try:
            if created and _same_file(fd, target) and os.fstat(fd).st_size == 0:
                os.unlink(target)
        finally:
            os.close(fd)


def _check_regular(path: Path) -> None:
    """A results file is appended and rewritten: no folder, pipe or device."""
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a results file")
    if is_special_file(path):
        raise ValueError(
            f"{path} is not a regular file (a pipe or a device); results are "
            "appended and rewritten, so they need a regular file"
        )


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False

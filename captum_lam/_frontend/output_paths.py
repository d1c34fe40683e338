"""Every output a command will write, checked together before any work.

A command names its outputs (``--out``, ``--json``, ``--csv``, ...) with the
extensions each accepts; `check_outputs` refuses, before anything runs, an
empty name, a wrong extension, a name that is a folder, a missing or read-only
folder (a folder output that is missing is created by the command), and two
options that name the same file (one would overwrite the other). ``-`` is the
standard output, for the outputs that can be streamed (``stream=True``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from .._io import STDOUT, is_special_file, is_stdout, resolve_output


@dataclass(frozen=True)
class Output:
    """One output of a command: its option, the path given, what it may be."""

    option: str
    path: Optional[str]
    #: Allowed extensions (lower case, with the dot); None: any.
    suffixes: Optional[tuple[str, ...]] = None
    #: True for an output that is a folder (e.g. ``--figures``).
    folder: bool = False
    #: Files the command writes inside a folder output, by name.
    files: tuple[str, ...] = ()
    #: True when ``-`` (the standard output) may be given.
    stream: bool = False


def check_outputs(outputs: Sequence[Output]) -> dict[str, Optional[Path]]:
    """Check every output; returns option -> Path (None where not given).

    Raises
    ------
    ValueError
        One line naming the option and the problem.
    """
    checked: dict[str, Optional[Path]] = {}
    written: dict[Path, str] = {}
    streams: dict[str, str] = {}
    for out in outputs:
        if out.path is None:
            checked[out.option] = None
            continue
        if is_stdout(out.path):
            if not out.stream:
                raise ValueError(
                    f"{out.option} cannot be the standard output ('-'): it is "
                    "written as a file; give a file name"
                )
            if STDOUT in streams:
                raise ValueError(
                    f"{streams[STDOUT]} and {out.option} both name the standard "
                    "output ('-'); give one of them a file"
                )
            streams[STDOUT] = out.option
            checked[out.option] = Path(STDOUT)
            continue
        path = _check_one(out)
        checked[out.option] = path
        targets = [path / name for name in out.files] if out.folder else [path]
        for target in targets:
            key = resolve_output(target)
            if key in written and not is_special_file(key):
                raise ValueError(
                    f"{written[key]} and {out.option} both name {target}: one would "
                    "overwrite the other; give them different files"
                )
            written[key] = out.option
    return checked


def _check_one(out: Output) -> Path:
    if not out.path.strip():
        raise ValueError(f"{out.option}: empty file name")
    path = Path(out.path)
    if out.folder:
        # a folder output that does not exist yet is created by the command
        if path.exists() and not path.is_dir():
            raise ValueError(f"{out.option}: {path} is a file, not a folder")
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            raise ValueError(f"{out.option}: cannot write to folder {path}")
        return path
    if out.path.endswith(("/", os.sep)) or path.is_dir():
        raise ValueError(f"{out.option}: {out.path} is a folder, not a file name")
    if out.suffixes is not None and path.suffix.lower() not in out.suffixes:
        raise ValueError(
            f"{out.option} must end in {_either(out.suffixes)}, got {out.path!r}"
        )
    target = resolve_output(path)
    parent = target.parent
    if not parent.is_dir():
        raise ValueError(f"{out.option}: folder {path.parent} does not exist")
    if target.exists() and not os.access(target, os.W_OK):
        raise ValueError(f"{out.option}: cannot write {path}")
    if not target.exists() and not os.access(parent, os.W_OK):
        raise ValueError(f"{out.option}: cannot write to folder {path.parent}")
    return path


def _either(suffixes: tuple[str, ...]) -> str:
    if len(suffixes) == 1:
        return suffixes[0]
    return ", ".join(suffixes[:-1]) + " or " + suffixes[-1]

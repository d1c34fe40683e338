"""Records on disk: cases files, JSON Lines and CSV, the resumable store."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, Union

import numpy as np

from .._io import write_text_atomic
from ._identity import validate_record
from ._store import ResultsFile, read_results
from .cases import Case

PathLike = Union[str, os.PathLike]


# --- records on disk -----------------------------------------------------------


def read_cases(path: PathLike) -> list[Case]:
    """An explicit list of cases from a JSON Lines or CSV file.

    JSON Lines (``.jsonl``/``.json``): one object per line with ``image`` and
    either ``window: [top, left, size]`` or ``top``, ``left``, ``size``;
    ``model`` is optional (a registry name: a cases file never names code).
    CSV: a header with ``image,top,left,size`` and optionally ``model``. Blank
    lines and JSON lines starting with ``#`` are skipped.

    Raises
    ------
    ValueError
        Naming the file and line of the first bad entry.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "cases.csv"
    >>> _ = p.write_text("image,top,left,size\\nsample:coffee,40,80,16\\n")
    >>> read_cases(p)
    [Case(model=None, image='sample:coffee', window=(40, 80, 16))]
    """
    path = Path(path)
    text = path.read_text()
    cases: list[Case] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = {"image", "top", "left", "size"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(
                f"{path}: the CSV header must name image, top, left, size (and "
                f"optionally model); missing {', '.join(sorted(missing))}"
            )
        for line, row in enumerate(reader, start=2):
            cases.append(_case_from(row, path, line))
        return cases
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{line}: not JSON ({error.msg})") from None
        if not isinstance(entry, dict):
            raise ValueError(f"{path}:{line}: expected a JSON object")
        if "window" in entry:
            window = entry["window"]
            if not isinstance(window, list) or len(window) != 3:
                raise ValueError(f"{path}:{line}: window must be [top, left, size]")
            entry = {**entry, "top": window[0], "left": window[1], "size": window[2]}
        cases.append(_case_from(entry, path, line))
    return cases


def _case_from(entry: Mapping[str, Any], path: Path, line: int) -> Case:
    image = entry.get("image")
    if not image or not isinstance(image, str):
        raise ValueError(f"{path}:{line}: 'image' is missing")
    model = entry.get("model") or None
    if model is not None and (not isinstance(model, str) or ":" in model):
        # data never chooses code: package.module:factory only from the caller
        raise ValueError(
            f"{path}:{line}: model {model!r} is not a registry name; cases files "
            "may name registry models only (a package.module:factory would import "
            "and run code): give factories with --models"
        )
    try:
        window = tuple(int(entry[k]) for k in ("top", "left", "size"))
        return Case(model, image, window)  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(
            f"{path}:{line}: needs integers top, left >= 0 and size >= 1 ({error})"
        ) from None


def to_plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN/Inf to None."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def write_jsonl(records: Iterable[Mapping[str, Any]], path: PathLike) -> Path:
    """Write records as JSON Lines, atomically (a temporary file, then rename)."""
    path = Path(path)
    lines = [
        json.dumps({k: to_plain(v) for k, v in r.items()}, allow_nan=False)
        for r in records
    ]
    write_text_atomic(path, "".join(line + "\n" for line in lines))
    return path


def read_jsonl(path: PathLike) -> list[dict[str, Any]]:
    """Records of a JSON Lines file; a cut-off last line is skipped, with a warning.

    Raises ``ValueError`` (``FILE:LINE``) for a line that is not a JSON object,
    unless it is a malformed last line without its newline (an interrupted write).
    """
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    records = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError:
            if number == len(lines):  # no newline after it: an interrupted write
                warnings.warn(
                    f"{path}:{number}: the last line was cut off mid-write (an "
                    "interrupted run); it is skipped",
                    stacklevel=2,
                )
                continue
            raise ValueError(f"{path}:{number}: not a JSON record") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: not a JSON record (an object)")
        records.append(record)
    return records


def write_csv(records: Sequence[Mapping[str, Any]], path: PathLike) -> Path:
    """Write records as CSV (columns: every key, in order of first appearance).

    Missing and None values are empty cells; lists are written as JSON. Atomic.
    """
    columns: list[str] = []
    for r in records:
        columns.extend(k for k in r if k not in columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for r in records:
        row = []
        for column in columns:
            value = to_plain(r.get(column))
            if value is None:
                row.append("")
            elif isinstance(value, (list, tuple, dict)):
                row.append(json.dumps(value))
            else:
                row.append(value)
        writer.writerow(row)
    path = Path(path)
    write_text_atomic(path, buffer.getvalue())
    return path


# --- the resumable store: one file per rank, merged at the end ---------------


def rank_path(out: Path, rank: int) -> Path:
    """The shard of process ``rank`` of a sharded run on ``out``."""
    return out.with_name(f"{out.stem}.rank{rank}{out.suffix}")


def rank_files(out: Path) -> list[Path]:
    """The shards of ``out`` beside it: exactly ``STEM.rankN.SUFFIX`` (N digits).

    Matched by name, never by a glob: ``study.rankings.jsonl`` (another run's
    file) and brackets in the stem are no shards of ``study.jsonl``.
    """
    if not out.parent.is_dir():
        return []
    pattern = re.compile(
        re.escape(out.stem) + r"\.rank(0|[1-9][0-9]{0,5})" + re.escape(out.suffix)
    )
    found = [
        (int(match.group(1)), entry)
        for entry in out.parent.iterdir()
        if (match := pattern.fullmatch(entry.name)) and entry.is_file()
    ]
    return [entry for _, entry in sorted(found)]


def read_records(path: PathLike) -> ResultsFile:
    """`read_results`, and every record validated (types, finite numbers, key).

    Raises
    ------
    ValueError
        ``FILE:LINE: field 'di' is 'abc', not a number`` for the first bad
        record, before anything is written.
    """
    found = read_results(path)
    for record, line in zip(found.records, found.lines):
        validate_record(record, f"{found.path}:{line}")
    return found


def merge_rank_files(
    out: Path, order: Mapping[str, int], extra: Sequence[Path]
) -> list[dict]:
    """Records of ``out`` and ``extra`` files, without duplicates, in job order."""
    merged: dict[str, dict] = {}
    for source in [out, *extra]:
        for r in read_records(source).records:
            merged.setdefault(r["key"], r)
    known = sorted((k for k in merged if k in order), key=order.__getitem__)
    others = [k for k in merged if k not in order]
    records = [merged[k] for k in known + others]
    write_jsonl(records, out)
    for source in extra:
        source.unlink()
    return records

"""A corrupt line anywhere in a results file: the resume refuses it naming
FILE:LINE and changes nothing; only a record cut off at the very end (no newline
after it: an interrupted write) is dropped, with a warning naming its line, and
computed again. No complete record is ever dropped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from captum_lam.studies import Case, evaluate, read_jsonl
from captum_lam.studies.records import read_records

from .conftest import make_tiny_sr

IMAGE = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
WINDOWS = [(0, 0, 8), (8, 8, 8), (16, 0, 8), (0, 16, 8)]


def study(out: Path, windows=WINDOWS, on_record=None) -> list[dict]:
    cases = [Case(None, "img", w) for w in windows]
    return evaluate(
        {"tiny": make_tiny_sr()},
        cases,
        images={"img": IMAGE},
        n_steps=2,
        out=out,
        on_record=on_record,
    )


@pytest.fixture(scope="module")
def complete(tmp_path_factory) -> list[str]:
    """The four lines of a finished study, each with its newline."""
    out = tmp_path_factory.mktemp("corrupt") / "r.jsonl"
    study(out)
    return out.read_text().splitlines(keepends=True)


def corruption(kind: str, line: str) -> str:
    record = json.loads(line)
    if kind == "not json":
        return "{{ this is not json\n"
    if kind == "cut record":  # the start of a record, cut mid-write
        return line[: len(line) // 2] + "\n"
    if kind == "a number":
        return "42\n"
    if kind == "a list":
        return json.dumps(list(record.values())[:3]) + "\n"
    if kind == "no key":
        return json.dumps({k: v for k, v in record.items() if k != "key"}) + "\n"
    if kind == "di is text":
        return json.dumps({**record, "di": "abc"}) + "\n"
    if kind == "top is text":
        return json.dumps({**record, "top": str(record["top"])}) + "\n"
    if kind == "key of another case":
        return json.dumps({**record, "left": record["left"] + 1}) + "\n"
    raise AssertionError(kind)


def at(path: Path, line: int) -> str:
    """The start of a message naming ``FILE:LINE``."""
    return rf"^{re.escape(str(path))}:{line}(?!\d)"


KINDS = [
    "not json",
    "cut record",
    "a number",
    "a list",
    "no key",
    "di is text",
    "top is text",
    "key of another case",
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "where", [0, 1, 2, 3], ids=["first", "middle", "before-last", "last"]
)
def test_a_corrupt_line_is_refused_by_file_and_line(tmp_path, complete, kind, where):
    out = tmp_path / "r.jsonl"
    lines = list(complete)
    lines[where] = corruption(kind, lines[where])
    out.write_text("".join(lines))
    before = out.read_bytes()
    with pytest.raises(ValueError) as error:
        study(out)
    assert re.match(at(out, where + 1), str(error.value))
    assert out.read_bytes() == before  # nothing dropped, appended or rewritten
    with pytest.raises(ValueError, match=at(out, where + 1)):
        read_records(out)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "cut record"])
def test_a_corrupt_last_line_without_its_newline_is_refused_unless_cut(
    tmp_path, complete, kind
):
    """Only a cut record may lack its newline; anything else there is refused."""
    out = tmp_path / "r.jsonl"
    last = corruption(kind, complete[-1]).rstrip("\n")
    out.write_text("".join(complete[:-1]) + last)
    before = out.read_bytes()
    with pytest.raises(ValueError, match=at(out, 4)):
        study(out)
    assert out.read_bytes() == before


@pytest.mark.parametrize("cut", [1, 9, 40, -2])
def test_a_record_cut_at_the_end_is_dropped_with_a_warning_and_redone(
    tmp_path, complete, cut
):
    out = tmp_path / "r.jsonl"
    out.write_text("".join(complete[:-1]) + complete[-1][:cut])
    seen: list[dict] = []
    with pytest.warns(UserWarning, match=at(out, 4) + ": the last record was cut off"):
        records = study(out, on_record=seen.append)
    assert [(r["top"], r["left"]) for r in seen] == [WINDOWS[3][:2]]  # only it
    text = out.read_text()
    assert text.startswith("".join(complete[:-1]))  # the others kept, byte for byte
    assert [json.loads(line)["key"] for line in text.splitlines()] == [
        json.loads(line)["key"] for line in complete
    ]
    assert records[3]["di"] == pytest.approx(json.loads(complete[3])["di"])


def test_a_complete_last_record_without_its_newline_is_kept(tmp_path, complete):
    out = tmp_path / "r.jsonl"
    out.write_text("".join(complete).rstrip("\n"))
    seen: list[dict] = []
    study(out, on_record=seen.append)
    assert seen == [] and out.read_text() == "".join(complete)


@pytest.mark.parametrize("where", [0, 1, 2, 3])
def test_read_jsonl_refuses_a_corrupt_line_with_its_newline(tmp_path, complete, where):
    for kind in ("not json", "cut record", "a number", "a list"):
        out = tmp_path / f"{where}.jsonl"
        lines = list(complete)
        lines[where] = corruption(kind, lines[where])
        out.write_text("".join(lines))
        with pytest.raises(
            ValueError, match=at(out, where + 1) + ": not a JSON record"
        ):
            read_jsonl(out)


def test_read_jsonl_skips_a_cut_last_line_and_says_so(tmp_path, complete):
    out = tmp_path / "r.jsonl"
    out.write_text("".join(complete[:-1]) + complete[-1][:30])
    with pytest.warns(UserWarning, match=at(out, 4) + ": the last line was cut off"):
        records = read_jsonl(out)
    assert [r["key"] for r in records] == [json.loads(x)["key"] for x in complete[:3]]

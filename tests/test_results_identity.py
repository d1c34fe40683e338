"""A study's results file holds the numbers of one computation only: what decides
them is in every record, a resume that differs is refused before anything is
written, shards are matched exactly and every record is checked on read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from captum_lam.mapfile import load_map, map_file_name
from captum_lam.studies import Case, evaluate
from captum_lam.studies.records import rank_files

from .conftest import make_tiny_sr

IMAGE = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))


def run(out, *, model=None, image=IMAGE, windows=((0, 0, 8),), name="img", **kw):
    models = {"tiny": model if model is not None else make_tiny_sr()}
    cases = [Case(None, name, w) for w in windows]
    return evaluate(models, cases, images={name: image}, n_steps=2, out=out, **kw)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- identity: everything that decides the numbers ------------------------------


def test_every_record_says_what_decided_its_numbers(tmp_path):
    record = run(tmp_path / "r.jsonl")[0]
    assert len(record["model_digest"]) == 16 and len(record["image_digest"]) == 16
    assert record["degradation"] == "bicubic x2"
    assert record["captum_lam_version"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"model": make_tiny_sr(seed=1)}, "model_digest"),  # other --weights
        ({"image": IMAGE[..., :16, :16]}, "image_digest"),  # other --centre-crop
        ({"image": IMAGE * 0.5}, "image_digest"),  # other --input-range of pixels
        ({"sigma": 2.0}, "sigma"),
    ],
)
def test_a_resume_that_would_compute_otherwise_is_refused(tmp_path, change, field):
    out = tmp_path / "r.jsonl"
    run(out)
    before = out.read_bytes()
    with pytest.raises(ValueError, match=rf"r.jsonl:1: .*{field}=") as error:
        run(out, windows=((8, 8, 8),), **change)
    assert "another file" in str(error.value)
    assert out.read_bytes() == before  # nothing appended, nothing rewritten


def test_other_settings_on_other_cases_are_refused_too(tmp_path):
    out = tmp_path / "r.jsonl"
    run(out, windows=((0, 0, 8),))  # n_steps 2
    models = {"tiny": make_tiny_sr()}
    with pytest.raises(ValueError, match="n_steps=2 and this run has n_steps=8"):
        evaluate(
            models, [Case(None, "img", (8, 8, 8))], images={"img": IMAGE},
            n_steps=8, out=out,
        )  # fmt: skip
    assert len(lines(out)) == 1


def test_the_same_run_resumes(tmp_path):
    out = tmp_path / "r.jsonl"
    run(out, windows=((0, 0, 8),))
    seen = []
    run(out, windows=((0, 0, 8), (8, 8, 8)), on_record=seen.append)
    assert [r["top"] for r in seen] == [8] and len(lines(out)) == 2


# --- records validated on read, before anything is rewritten ---------------------


def edit(out: Path, **changes) -> bytes:
    record = lines(out)[0]
    record.update(changes)
    text = json.dumps(record, allow_nan=True)
    out.write_text(text + "\n")
    return out.read_bytes()


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"model": "other"}, "does not match"),  # a hand-edited model
        ({"top": 4}, "does not match"),
        ({"di": float("nan")}, "field 'di' is nan, not a finite number"),
        ({"di": "abc"}, "field 'di' is 'abc', not a number"),
        ({"size": "8"}, "field 'size' is '8', not an integer"),
        ({"delta": float("inf")}, "not a finite number"),
    ],
)
def test_a_bad_record_is_refused_with_file_and_line(tmp_path, changes, message):
    out = tmp_path / "r.jsonl"
    run(out)
    before = edit(out, **changes)
    with pytest.raises(ValueError, match=rf"r.jsonl:1: .*{message}"):
        run(out, windows=((0, 0, 8), (8, 8, 8)))
    assert out.read_bytes() == before


def test_a_missing_key_field_is_refused(tmp_path):
    out = tmp_path / "r.jsonl"
    run(out)
    record = lines(out)[0]
    del record["image"]
    out.write_text(json.dumps(record) + "\n")
    with pytest.raises(ValueError, match="r.jsonl:1: the record has no 'image'"):
        run(out)


# --- shards matched exactly ---------------------------------------------------------


def test_another_runs_file_is_never_taken_for_a_shard(tmp_path):
    other = tmp_path / "study.rankings.jsonl"
    run(other, windows=((8, 8, 8),))
    kept = other.read_bytes()
    run(tmp_path / "study.jsonl")
    assert other.read_bytes() == kept  # not merged, not deleted
    assert len(lines(tmp_path / "study.jsonl")) == 1


def test_shards_are_matched_by_exact_name(tmp_path):
    out = tmp_path / "s[1].jsonl"
    names = ["s[1].rank0.jsonl", "s[1].rank12.jsonl", "s1.rank0.jsonl",
             "s[1].rank.jsonl", "s[1].rank0x.jsonl", "s[1].rank-1.jsonl"]  # fmt: skip
    for name in names:
        (tmp_path / name).write_text("")
    found = [p.name for p in rank_files(out)]
    assert found == ["s[1].rank0.jsonl", "s[1].rank12.jsonl"]


def test_a_leftover_shard_with_brackets_in_the_name_is_merged(tmp_path):
    shard = tmp_path / "s[1].rank0.jsonl"
    run(shard, windows=((8, 8, 8),))
    records = run(tmp_path / "s[1].jsonl", windows=((0, 0, 8), (8, 8, 8)))
    assert len(records) == 2 and not shard.exists()


# --- map files: one per case, short names -------------------------------------


def test_map_names_are_unique_per_case(tmp_path):
    maps = tmp_path / "maps"
    models = {"tiny": make_tiny_sr()}
    other = IMAGE.flip(-1)
    cases = [Case(None, "a b.png", (0, 0, 8)), Case(None, "a-b.png", (0, 0, 8))]
    records = evaluate(
        models, cases, images={"a b.png": IMAGE, "a-b.png": other}, n_steps=2,
        save_maps=maps,
    )  # fmt: skip
    assert records[0]["map"] != records[1]["map"]
    for record in records:
        saved = load_map(record["map"])
        assert saved["settings"]["image"] == record["image"]
        assert saved["diffusion_index"] == pytest.approx(record["di"])


def test_map_names_stay_short_for_long_labels():
    long = "tiny|" + "/very/long/folder" * 40 + "/image.png|0,0,8"
    name = map_file_name(long)
    assert len(name.encode()) < 100 and name.endswith(".npz")
    assert map_file_name(long) != map_file_name(long.replace("0,0,8", "0,0,9"))
    assert map_file_name("é|ü") != map_file_name("a|b")

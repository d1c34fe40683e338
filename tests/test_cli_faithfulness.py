"""``captum-lam compare --faithfulness``: new columns, JSON curves, the figure."""

from __future__ import annotations

import csv
import json

from captum_lam.cli import main

from .test_cli import TINY_CASE, run

FAITHFULNESS_COLUMNS = [
    "deletion_area",
    "insertion_area",
    "random_deletion_area",
    "random_insertion_area",
    "infidelity",
    "randomized_similarity",
]


def test_compare_faithfulness_writes_the_columns_curves_and_figure(tmp_path, capsys):
    csv_path, js, curves = tmp_path / "t.csv", tmp_path / "t.json", tmp_path / "c.png"
    code, out, _ = run(
        capsys,
        "compare",
        *TINY_CASE,
        "--methods",
        "saliency,lam",
        "--steps",
        6,
        "--faithfulness",
        "--faithfulness-steps",
        8,
        "--randomization-stages",
        2,
        "--curves",
        curves,
        "--out",
        tmp_path / "grid.png",
        "--csv",
        csv_path,
        "--json",
        js,
    )
    assert code == 0, out
    with open(csv_path) as handle:
        rows = list(csv.DictReader(handle))
    assert set(FAITHFULNESS_COLUMNS) <= set(rows[0])
    payload = json.loads(js.read_text())
    lam = next(r for r in payload["rows"] if r["method"] == "lam")
    assert lam["deletion_area"] < lam["random_deletion_area"]
    assert lam["insertion_area"] > lam["random_insertion_area"]
    details = payload["faithfulness"]["LAM"]
    assert len(details["fractions"]) == len(details["deletion"]) == 9
    assert len(details["randomization_similarity"]) == 2
    assert details["randomization_similarity"][-1] == lam["randomized_similarity"]
    assert curves.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "deletion (random)" in out and "LAM" in out.split("deletion (random)")[1]


def test_faithfulness_options_without_the_flag_are_refused(tmp_path, capsys):
    for extra in (["--curves", tmp_path / "c.png"], ["--faithfulness-steps", 5]):
        code, _, err = run(
            capsys, "compare", *TINY_CASE, "--out", tmp_path / "g.png", *extra
        )
        assert code == 2 and "needs --faithfulness" in err
        assert not (tmp_path / "g.png").exists()
    code, _, err = run(
        capsys, "compare", *TINY_CASE, "--faithfulness", "--faithfulness-steps", 0
    )
    assert code == 2 and "--faithfulness-steps must be an integer >= 1" in err


def test_compare_without_faithfulness_keeps_its_columns(tmp_path, capsys):
    js = tmp_path / "t.json"
    assert (
        main(
            [
                "compare",
                *map(str, TINY_CASE),
                "--steps",
                "4",
                "--out",
                str(tmp_path / "g.png"),
                "--json",
                str(js),
            ]
        )
        == 0
    )
    payload = json.loads(js.read_text())
    assert "faithfulness" not in payload
    assert not set(FAITHFULNESS_COLUMNS) & set(payload["rows"][0])

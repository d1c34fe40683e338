"""The Causal Effect Map on the command line: explain, compare and evaluate."""

import csv
import json

import matplotlib.image
import numpy as np
import pytest
import torch
from skimage.data import rocket

from captum_lam import LAM, CausalEffectMap, diffusion_index, zoo
from captum_lam.cli import main
from captum_lam.images import bicubic_downsample, read_image
from captum_lam.mapfile import load_map


@pytest.fixture
def hr_png(tmp_path):
    path = tmp_path / "hr.png"
    matplotlib.image.imsave(path, rocket()[100:164, 200:264])  # 64x64 HR
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


CASE = ("--model", "plain-d4", "--window", "24,24,16", "--region", "none")


def test_explain_method_cem_writes_the_map_figure_and_measures(
    tmp_path, hr_png, capsys
):
    out, js, npz = tmp_path / "cem.png", tmp_path / "cem.json", tmp_path / "cem.npz"
    code, stdout, _ = run(
        capsys,
        "explain",
        "--image",
        hr_png,
        *CASE,
        "--method",
        "cem",
        "--fine",
        4,
        "--out",
        out,
        "--json",
        js,
        "--save-map",
        npz,
    )
    assert code == 0, stdout
    assert out.read_bytes().startswith(b"\x89PNG")
    summary = json.loads(js.read_text())
    assert summary["method"] == "cem" and summary["settings"]["n_fine"] == 4
    assert summary["reference"] == "HR image"
    hr = read_image(hr_png)
    expected = CausalEffectMap(zoo.load("plain-d4"), n_fine=4).attribute(
        bicubic_downsample(hr, 4), target=(24, 24, 16), hr=hr, reach="auto"
    )
    saved = load_map(npz)
    np.testing.assert_allclose(saved["attribution"], expected[0].numpy(), atol=1e-4)
    effect = summary["effect"]
    assert effect["negative_area"] == int((expected < 0).sum())
    assert effect["positive_db"] == pytest.approx(float(expected.max()), abs=1e-4)
    assert summary["settings"]["block_size"] == 2  # 8 output pixels at x4
    assert "Causal effects" in stdout and "hurt the window" in stdout


def test_explain_cem_with_an_lr_input_measures_change(tmp_path, hr_png, capsys):
    js = tmp_path / "cem.json"
    code, stdout, _ = run(
        capsys,
        "explain",
        "--image",
        hr_png,
        "--lr",
        "--model",
        "plain-d4",
        "--window",
        "40,40,16",
        "--region",
        "none",
        "--method",
        "cem",
        "--fine",
        0,
        "--out",
        tmp_path / "cem.png",
        "--json",
        js,
    )
    assert code == 0
    summary = json.loads(js.read_text())
    assert summary["reference"].startswith("the clean output")
    assert summary["effect"]["negative_area"] == 0  # change is never negative
    assert "measures change, not quality" in stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--method", "cem", "--steps", "4"], "--steps: LAM's integration options"),
        (["--method", "cem", "--tolerance", "0.01"], "--tolerance: LAM's"),
        (["--fine", "3"], "--fine: the Causal Effect Map's options need --method cem"),
        (["--block", "2", "--threshold", "0.1"], "--block, --threshold: the Causal"),
    ],
)
def test_options_that_do_nothing_are_refused_in_one_line(
    tmp_path, hr_png, capsys, monkeypatch, argv, message
):
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.iterdir())
    code, _, err = run(capsys, "explain", "--image", hr_png, *CASE, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert set(tmp_path.iterdir()) == before


def test_bad_cem_option_values_exit_2(capsys):
    for argv in (["--fine", "-1"], ["--coarse", "0"], ["--threshold", "-1"]):
        with pytest.raises(SystemExit) as info:
            main(["explain", "--method", "cem", *argv])
        assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["explain", "--method", "shap"])
    assert "invalid choice: 'shap'" in capsys.readouterr().err


def test_compare_has_a_cem_row_with_its_measures(tmp_path, hr_png, capsys):
    table = tmp_path / "rows.csv"
    code, stdout, _ = run(
        capsys,
        "compare",
        "--image",
        hr_png,
        *CASE,
        "--methods",
        "lam,cem",
        "--steps",
        4,
        "--fine",
        2,
        "--out",
        tmp_path / "grid.png",
        "--csv",
        table,
    )
    assert code == 0
    rows = list(csv.DictReader(table.open()))
    assert [r["method"] for r in rows] == ["lam", "cem"]
    assert rows[0]["cem_negative_fraction"] == ""
    # the row's measures are those of the library's map of the same case
    hr = read_image(hr_png)
    expected = CausalEffectMap(zoo.load("plain-d4"), n_fine=2).attribute(
        bicubic_downsample(hr, 4), target=(24, 24, 16), hr=hr, reach="auto"
    )
    magnitude = expected.abs()
    negative = float(magnitude[expected < 0].sum() / magnitude.sum())
    assert float(rows[1]["cem_negative_fraction"]) == pytest.approx(negative, abs=1e-6)
    assert float(rows[1]["cem_positive_db"]) == pytest.approx(
        float(expected.max()), abs=1e-4
    )
    assert "CEM" in stdout


def test_evaluate_cem_records_signed_measures_beside_lam(tmp_path, hr_png, capsys):
    records = tmp_path / "records.jsonl"
    code, _, _ = run(
        capsys,
        "evaluate",
        "--models",
        "plain-d4",
        "--images",
        hr_png,
        "--per-image",
        1,
        "--steps",
        4,
        "--cem",
        "--fine",
        2,
        "--out",
        records,
        "--quiet",
    )
    assert code == 0
    (record,) = [json.loads(line) for line in records.read_text().splitlines()]
    assert record["cem_n_fine"] == 2
    hr = read_image(hr_png)
    window = (record["top"], record["left"], record["size"])
    cem = CausalEffectMap(zoo.load("plain-d4"), n_fine=2)
    expected = cem.attribute(
        bicubic_downsample(hr, 4), target=window, hr=hr, reach="auto"
    )
    lam = LAM(zoo.load("plain-d4")).attribute(
        bicubic_downsample(hr, 4), target=window, n_steps=4
    )
    assert record["di"] == pytest.approx(float(diffusion_index(lam[0])), rel=1e-5)
    magnitude = expected.abs()
    negative = float(magnitude[expected < 0].sum() / magnitude.sum())
    assert record["cem_negative_fraction"] == pytest.approx(negative, abs=1e-6)
    assert record["cem_negative_area"] == int((expected < 0).sum())
    assert record["cem_forward_passes"] == cem.last_report.forward_passes
    # without --cem the CEM options would do nothing
    code, _, err = run(
        capsys,
        "evaluate",
        "--models",
        "plain-d4",
        "--images",
        hr_png,
        "--fine",
        2,
        "--out",
        tmp_path / "other.jsonl",
    )
    assert code == 2 and "--fine: the Causal Effect Map's options need --cem" in err


def test_evaluate_api_refuses_unknown_cem_options():
    from captum_lam.studies import Case, evaluate

    cases = [Case("plain-d4", "sample:rocket", (0, 0, 16))]
    with pytest.raises(ValueError, match="cem: unknown options n_steps"):
        evaluate(None, cases, cem={"n_steps": 3})
    with pytest.raises(ValueError, match="n_fine must be an integer >= 0"):
        evaluate(None, cases, cem={"n_fine": -1})
    assert torch.is_grad_enabled()

"""The command-line checks no other test reached (found with coverage): each
refuses with exit code 2 and one line that names the option and the fix."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest
from skimage.data import rocket

from captum_lam import zoo
from captum_lam._frontend.cost import Cost
from captum_lam.cli import main
from captum_lam.windows import list_windows

X2 = "tests.test_region_alignment:make_x2"
X3 = "tests.test_region_alignment:make_x3"


@pytest.fixture
def png(tmp_path):
    path = tmp_path / "hr.png"
    matplotlib.image.imsave(path, rocket()[100:164, 200:272])  # 64x72 HR
    return path


def refused(capsys, *argv) -> str:
    """The one error line of a refused command."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    errors = [
        line for line in err.splitlines() if line.startswith("captum-lam: error:")
    ]
    assert len(errors) == 1 and err.strip().endswith(errors[0]), err
    return errors[0].removeprefix("captum-lam: error: ")


def explain(png, tmp_path, *argv):
    return (
        "explain",
        "--image",
        png,
        *argv,
        "--steps",
        1,
        "--out",
        tmp_path / "f.png",
        "--json",
        tmp_path / "s.json",
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ("--model", "plain-d4", "--window=-1,0,8"),
            "--window needs TOP, LEFT >= 0 and SIZE >= 1, got '-1,0,8'",
        ),
        (
            ("--model", "plain-d4", "--window=3,-2,8"),
            "--window needs TOP, LEFT >= 0 and SIZE >= 1, got '3,-2,8'",
        ),
        (
            ("--model", "plain-d4", "--window", "0,0,0"),
            "--window needs TOP, LEFT >= 0 and SIZE >= 1, got '0,0,0'",
        ),
        (
            ("--model", "plain-d4", "--region", "big"),
            "--region must be auto, none or a size in HR pixels, got 'big'",
        ),
        (
            ("--model", "plain-d4", "--region", "6"),
            "--region must be a positive multiple of the scale 4, got 6",
        ),
        (
            ("--model", "plain-d4", "--region", "0"),
            "--region must be a positive multiple of the scale 4, got 0",
        ),
        (
            ("--model", "plain-d4", "--window", "0,0,16", "--region", "8"),
            "--region: region 8 is smaller than the window size 16",
        ),
        (
            ("--model", "plain-d4", "--window", "0,0,65"),
            "--window size 65 is larger than the 64x72 (height x width) pixels "
            "that can be explained",
        ),
        (
            ("--model", X2, "--mean", "0.5,half"),
            "--mean must be comma-separated numbers, got '0.5,half'",
        ),
    ],
)
def test_explain_refuses_by_option(tmp_path, png, capsys, argv, message):
    assert refused(capsys, *explain(png, tmp_path, *argv)) == message
    assert not (tmp_path / "s.json").exists()


def test_an_image_smaller_than_the_scale_is_refused(tmp_path, capsys):
    tiny = tmp_path / "tiny.png"
    matplotlib.image.imsave(tiny, np.zeros((3, 5, 3)))
    message = refused(capsys, *explain(tiny, tmp_path, "--model", "plain-d4"))
    assert message == "--image: 3x5 pixels (height x width) is too small for scale 4"


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ("--models", "plain-d4,plain-d8", "--methods", "lam,ig"),
            "compare either several --models or several --methods, not both",
        ),
        (
            ("--models", f"{X2},{X3}"),
            "--models must share one scale to compare, got scales [2, 3]",
        ),
    ],
)
def test_compare_refuses_models_it_cannot_compare(tmp_path, png, capsys, argv, message):
    out = tmp_path / "c.png"
    assert refused(capsys, "compare", "--image", png, *argv, "--out", out) == message
    assert not out.exists()


def evaluate(tmp_path, *argv):
    return ("evaluate", *argv, "--out", tmp_path / "r.jsonl", "--quiet")


def test_evaluate_refuses_an_empty_image_folder_and_list(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "notes.txt").write_text("no images here")
    message = refused(
        capsys, *evaluate(tmp_path, "--models", "plain-d4", "--images", folder)
    )
    assert message == f"--images: no PNG/JPEG files in folder {folder}"
    message = refused(
        capsys, *evaluate(tmp_path, "--models", "plain-d4", "--images", " , ")
    )
    assert message == "--images: give at least one image"
    assert not (tmp_path / "r.jsonl").exists()


def test_evaluate_refuses_an_image_too_small_for_the_windows(tmp_path, capsys):
    tiny = tmp_path / "tiny.png"
    matplotlib.image.imsave(tiny, np.zeros((12, 12, 3)))
    message = refused(
        capsys,
        *evaluate(tmp_path, "--models", "plain-d4", "--images", tiny, "--size", 16),
    )
    assert message == (
        f"--images: image '{tiny}' (12x12, height x width) has no room for a 16x16 "
        "window 0 pixels from its borders"
    )


def test_evaluate_refuses_empty_cases_and_cases_without_a_model(tmp_path, png, capsys):
    cases = tmp_path / "cases.jsonl"
    cases.write_text("# nothing yet\n\n")
    message = refused(
        capsys, *evaluate(tmp_path, "--models", "plain-d4", "--cases", cases)
    )
    assert message == f"--cases: {cases} holds no case"
    cases.write_text(
        json.dumps({"image": str(png), "window": [0, 0, 8], "model": "plain-d4"})
        + "\n"
        + json.dumps({"image": str(png), "window": [8, 8, 8]})
        + "\n"
    )
    message = refused(capsys, *evaluate(tmp_path, "--cases", cases))
    assert message == "--models is required: some cases name no model"


def test_evaluate_refuses_a_case_beyond_its_image(tmp_path, png, capsys):
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"image": str(png), "window": [50, 0, 16]}) + "\n")
    message = refused(
        capsys, *evaluate(tmp_path, "--models", "plain-d4", "--cases", cases)
    )
    assert message == (
        f"--cases: window (50, 0, 16) of {png} leaves the 64x72 (height x width) image"
    )


def test_evaluate_refuses_a_model_that_is_not_installed(
    tmp_path, png, monkeypatch, capsys
):
    monkeypatch.setattr(zoo, "installed", lambda name: name != "span-x4-ch48")
    message = refused(
        capsys,
        *evaluate(tmp_path, "--models", "plain-d4,span-x4-ch48", "--images", png),
    )
    package = zoo.info("span-x4-ch48").package
    assert message == f"--models: span-x4-ch48 is not installed (pip install {package})"


def test_evaluate_seed_takes_an_integer_or_none(tmp_path, png, capsys):
    with pytest.raises(SystemExit) as exit_code:
        main(["evaluate", "--models", "plain-d4", "--seed", "first"])
    assert exit_code.value.code == 2
    err = capsys.readouterr().err
    assert "argument --seed: expected an integer or 'none', got 'first'" in err


def test_windows_refuses_a_size_larger_than_the_image(png, capsys):
    message = refused(capsys, "windows", png, "--size", 80)
    assert message == "--size 80 is larger than the 64x72 image"


def test_listed_windows_of_an_lr_image_are_ranked_on_its_upsampling(png, capsys):
    from captum_lam.images import bicubic_upsample, read_image

    argv = ["explain", "--image", str(png), "--lr", "--model", "plain-d4"]
    code = main([*argv, "--list-windows", "3"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(f"{png}: 256x288 pixels (height x width)")
    found = list_windows(bicubic_upsample(read_image(png), 4), count=3, size=16)
    rows = [line.split() for line in out.splitlines()]
    assert [r[-1] for r in rows if r and r[0].isdigit()] == [
        f"{c.top},{c.left},{c.size}" for c in found
    ]


def test_a_folder_given_as_weights_is_refused(tmp_path, png, capsys):
    message = refused(
        capsys, *explain(png, tmp_path, "--model", X2, "--weights", tmp_path)
    )
    assert message == f"--weights: not a file: {tmp_path}"


def test_windows_says_when_fewer_fit_than_asked(png, capsys):
    from captum_lam.images import read_image

    code = main(["windows", str(png), "--count", "40", "--size", "16"])
    out = capsys.readouterr().out
    assert code == 0
    found = list_windows(read_image(png), count=40, size=16)
    assert len(found) < 40
    assert f"only {len(found)} of the 40 windows asked for fit: 16x16 " in out
    rows = [line.split() for line in out.splitlines()]
    ranked = [(int(r[1]), int(r[2])) for r in rows if r and r[0].isdigit()]
    assert ranked == [(c.top, c.left) for c in found]


def test_explain_list_windows_prints_the_ranking_and_stops(tmp_path, png, capsys):
    from captum_lam.images import read_image

    code = main(
        [
            "explain",
            "--image",
            str(png),
            "--list-windows",
            "3",
            "--out",
            str(tmp_path / "f.png"),
            "--json",
            str(tmp_path / "s.json"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    found = list_windows(read_image(png), count=3, size=16)
    rows = [line.split() for line in out.splitlines()]
    options = [row[-1] for row in rows if row and row[0].isdigit()]
    assert options == [f"{c.top},{c.left},{c.size}" for c in found]
    assert not (tmp_path / "s.json").exists() and not (tmp_path / "f.png").exists()


@pytest.mark.parametrize(
    "seconds, gigabytes, text",
    [
        (12.4, 0.25, "about 12 s and 0.2 GB"),
        (59.9, 1.0, "about 60 s and 1.0 GB"),
        (965.0, 5.2, "about 16 min and 5.2 GB"),
        (3600.0, 9.0, "about 1.0 h and 9.0 GB"),
        (9000.0, 12.34, "about 2.5 h and 12.3 GB"),
    ],
)
def test_the_cost_reads_in_seconds_minutes_and_hours(seconds, gigabytes, text):
    assert Cost(seconds, gigabytes * 1e9).text() == text

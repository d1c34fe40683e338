"""The command line's guarantees: outputs checked first, nothing clobbered, no code
run that the user did not name, one line and exit 2 for every user error."""

import json
import sys
import textwrap

import pytest
import torch

from captum_lam import zoo
from captum_lam.cli import main
from captum_lam.studies._store import results_lock

MODEL = "edsr-small"
needs_zoo = pytest.mark.skipif(not zoo.installed(MODEL), reason="zoo weights missing")
FACTORY_MODULE = "lam_cli_user_net"
FACTORY_SOURCE = textwrap.dedent(
    '''
    """A user's network: x2, or one pixel short of it with short=True."""
    import pathlib
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self, short=False):
            super().__init__()
            self.conv = nn.Conv2d(3, 12, 3, padding=1)
            self.shuffle = nn.PixelShuffle(2)
            self.short = short

        def forward(self, x):
            y = self.shuffle(self.conv(x))
            return y[..., :-1, :-1] if self.short else y

    def build():
        torch.manual_seed(0)
        return Net()

    def build_short():
        torch.manual_seed(0)
        return Net(short=True)
    '''
)
EVALUATE_FAST = [
    "--images",
    "sample:coffee",
    "--centre-crop",
    "32",
    "--per-image",
    "1",
    "--size",
    "8",
    "--steps",
    "2",
]


@pytest.fixture
def factory(tmp_path, monkeypatch):
    """``lam_cli_user_net:build`` importable, and a weights file for it."""
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / f"{FACTORY_MODULE}.py").write_text(FACTORY_SOURCE)
    monkeypatch.syspath_prepend(str(folder))
    sys.modules.pop(FACTORY_MODULE, None)
    module = __import__(FACTORY_MODULE)
    weights = tmp_path / "net.pth"
    torch.save(module.build().state_dict(), weights)
    yield f"{FACTORY_MODULE}:build", weights
    sys.modules.pop(FACTORY_MODULE, None)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *argv, match):
    code, out, err = run(capsys, *argv)
    assert code == 2, out + err
    lines = [x for x in err.strip().splitlines() if "captum-lam: warning:" not in x]
    assert len(lines) == 1 and lines[0].startswith("captum-lam: error: "), err
    assert match in lines[0], lines[0]
    return lines[0]


def files(folder):
    return sorted(p.name for p in folder.iterdir())


# --- outputs are checked before any work -------------------------------------------


@pytest.mark.parametrize(
    "argv, match",
    [
        (["explain", "--out", "{d}/same.png", "--json", "{d}/same.png"], "both name"),
        (["explain", "--out", "{d}/a.png", "--json", ""], "--json: empty file name"),
        (["explain", "--out", "{d}/a.png", "--json", "{d}"], "is a folder"),
        (["explain", "--out", "{d}/a.jpg"], "--out must end in .png, .pdf or .svg"),
        (["compare", "--out", "{d}/c.jpg"], "--out must end in .png, .pdf or .svg"),
        (
            ["compare", "--out", "{d}/c.png", "--csv", "{d}/t", "--json", "{d}/t"],
            "--csv and --json both name",
        ),
        (["evaluate", "--models", MODEL, "--out", "{d}", "--csv", "{d}/r.csv"], "fold"),
        (
            ["evaluate", "--models", MODEL, "--out", "{d}/r", "--csv", "{d}/r"],
            "--out and --csv both name",
        ),
    ],
)
def test_bad_outputs_are_refused_before_any_model_is_loaded(
    tmp_path, capsys, argv, match
):
    # --model nope would fail at loading: the output check must come first
    argv = [a.format(d=tmp_path) for a in argv]
    if argv[0] != "evaluate":
        argv += ["--model" if argv[0] == "explain" else "--models", "nope"]
    refused(capsys, *argv, match=match)
    assert files(tmp_path) == []


@pytest.mark.parametrize("device, match", [("meta", "hold no values"), ("cuda:99", "")])
@pytest.mark.parametrize("command", ["explain", "evaluate"])
def test_unusable_devices_are_refused_and_leave_no_file(
    tmp_path, capsys, command, device, match
):
    if device.startswith("cuda") and torch.cuda.device_count() > 99:
        pytest.skip("a machine with 100 GPUs")
    out = tmp_path / ("r.jsonl" if command == "evaluate" else "lam.png")
    argv = [command, "--device", device, "--out", out]
    argv += ["--models", MODEL] if command == "evaluate" else ["--model", MODEL]
    refused(capsys, *argv, match=f"device: {device!r}" if not match else match)
    assert files(tmp_path) == []


# --- options that do nothing are refused; code runs only where named ---------------


@pytest.mark.parametrize(
    "argv, match",
    [
        (["explain", "--model", MODEL, "--weights", "w.pth"], "not to registry model"),
        (["explain", "--model", MODEL, "--input-range", "255"], "--input-range only"),
        (["explain", "--mean", "0.4,0.4,0.4"], "not to the default"),
        (["explain", "--model", MODEL, "--checkpoint", "x.pth"], "--model and --chec"),
        (["compare", "--model", MODEL, "--models", MODEL], "--model and --models"),
        (["compare", "--models", ",,"], "--models: give at least one model"),
        (["evaluate", "--models", ",,"], "--models: give at least one model"),
        (["evaluate", "--models", MODEL, "--pad-multiple", "8"], "not to registry"),
    ],
)
def test_options_that_would_do_nothing_are_refused(tmp_path, capsys, argv, match):
    refused(capsys, *argv, "--out", tmp_path / "o.png", match=match)


@needs_zoo
def test_evaluate_takes_the_model_options_of_explain(tmp_path, capsys, factory):
    spec, weights = factory
    psnr = {}
    for scale_range in ("1", "255"):
        out = tmp_path / f"r{scale_range}.jsonl"
        code, _, err = run(
            capsys,
            "evaluate",
            "--models",
            spec,
            "--weights",
            weights,
            "--input-range",
            scale_range,
            "--mean",
            "0.1,0.2,0.3",
            "--pad-multiple",
            "4",
            "--out",
            out,
            "--quiet",
            *EVALUATE_FAST,
        )
        assert code == 0, err
        (record,) = [json.loads(line) for line in out.read_text().splitlines()]
        assert record["model"] == spec and record["scale"] == 2
        psnr[scale_range] = record["psnr_y"]
    assert psnr["1"] != psnr["255"]  # the adapter option reached the network


def test_factory_without_weights_warns(tmp_path, capsys, factory):
    spec, _ = factory
    code, _, err = run(
        capsys,
        "explain",
        "--model",
        spec,
        "--steps",
        "2",
        "--out",
        tmp_path / "lam.png",
        "--json",
        tmp_path / "lam.json",
        "--quiet",
    )
    assert code == 0
    assert "own (possibly random) weights" in err


def test_cases_files_never_name_code(tmp_path, capsys):
    marker = tmp_path / "imported"
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "lam_cli_evil.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        "def build():\n    raise SystemExit('ran')\n"
    )
    sys.path.insert(0, str(code_dir))
    try:
        cases = tmp_path / "cases.jsonl"
        cases.write_text(
            '{"image": "sample:coffee", "window": [0, 0, 8], '
            '"model": "lam_cli_evil:build"}\n'
        )
        refused(
            capsys,
            "evaluate",
            "--cases",
            cases,
            "--out",
            tmp_path / "r.jsonl",
            match="registry",
        )
    finally:
        sys.path.remove(str(code_dir))
        sys.modules.pop("lam_cli_evil", None)
    assert not marker.exists()


def test_missing_image_of_a_cases_file_names_the_cases_file(tmp_path, capsys):
    cases = tmp_path / "cases.csv"
    cases.write_text(f"image,top,left,size\n{tmp_path}/gone.png,0,0,8\n")
    line = refused(
        capsys,
        "evaluate",
        "--models",
        MODEL,
        "--cases",
        cases,
        "--out",
        tmp_path / "r.jsonl",
        match="--cases",
    )
    assert "--images" not in line


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_no_torchscript_refuses_a_torchscript_checkpoint(tmp_path, capsys):
    path = tmp_path / "net.pth"
    torch.jit.script(torch.nn.Conv2d(3, 3, 3)).save(str(path))
    refused(
        capsys,
        "explain",
        "--checkpoint",
        path,
        "--no-torchscript",
        "--out",
        tmp_path / "lam.png",
        match="TorchScript",
    )


def test_one_pixel_short_output_is_refused_before_lam(tmp_path, capsys, factory):
    spec, _ = factory
    refused(
        capsys,
        "explain",
        "--model",
        spec.replace("build", "build_short"),
        "--out",
        tmp_path / "lam.png",
        "--json",
        tmp_path / "lam.json",
        match="maps 16x16 to 31x31",
    )
    assert files(tmp_path) == ["code", "net.pth"]


# --- the results file of evaluate ----------------------------------------------------


def _evaluate(capsys, out, *extra):
    return run(
        capsys, "evaluate", "--models", MODEL, "--out", out, "--quiet", *EVALUATE_FAST
    )


@needs_zoo
@pytest.mark.parametrize(
    "text, where",
    [
        ("notes about the study", ":1"),  # no newline: truncated before the fix
        ("image,top,left,size\nsample:coffee,0,0,8", ":1"),
        ('{"key": "a"}\n42\n', ":2"),
        ('{"key": "a"}\nnull\n', ":2"),
        ('{"model": "x"}\n', ":1"),
    ],
)
def test_unrecognised_out_file_is_left_unchanged(tmp_path, capsys, text, where):
    out = tmp_path / "notes.txt"
    out.write_text(text)
    line = refused(
        capsys,
        "evaluate",
        "--models",
        MODEL,
        "--out",
        out,
        *EVALUATE_FAST,
        match=f"{out}{where} is not a results file",
    )
    assert "Traceback" not in line
    assert out.read_text() == text


@needs_zoo
def test_record_missing_only_its_newline_is_kept(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    code, _, err = _evaluate(capsys, out)
    assert code == 0, err
    whole = out.read_text()
    out.write_text(whole.rstrip("\n"))  # the last newline is lost
    code, _, err = _evaluate(capsys, out)
    assert code == 0, err
    assert out.read_text() == whole  # nothing recomputed, nothing lost


@needs_zoo
def test_second_evaluate_on_one_out_is_refused_and_loses_nothing(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    code, _, err = _evaluate(capsys, out)
    assert code == 0, err
    before = out.read_bytes()
    with results_lock(out):  # another evaluate run holds the file
        refused(
            capsys,
            "evaluate",
            "--models",
            MODEL,
            "--out",
            out,
            *EVALUATE_FAST,
            match="being written by another captum-lam evaluate run",
        )
        assert out.read_bytes() == before
    assert out.read_bytes() == before


@needs_zoo
def test_per_image_larger_than_the_image_allows_says_so(tmp_path, capsys):
    code, _, err = run(
        capsys,
        "evaluate",
        "--models",
        MODEL,
        "--out",
        tmp_path / "r.jsonl",
        "--quiet",
        *EVALUATE_FAST[:4],
        "--per-image",
        "1000",
        "--size",
        "8",
        "--steps",
        "1",
        "--mode",
        "random",
    )
    assert code == 0, err
    assert "--per-image 1000" in err and "found only" in err

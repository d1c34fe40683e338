"""Outputs that cannot fail after the work: every name checked first, ``-`` as the
standard output, pipes behind /dev/stdout, short temporary names, no temporary
file left by SIGTERM, closed streams and undecodable file names survived, and a
word (or a refusal) before a run that would take minutes or gigabytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch

from captum_lam._frontend.cost import estimate_cost
from captum_lam._frontend.output_paths import Output, check_outputs
from captum_lam._io import write_atomic, write_text_atomic
from captum_lam.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXPLAIN = ["explain", "--model", "plain-d4", "--steps", "2", "--window", "8,8,16"]


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    from skimage.data import chelsea

    path = tmp_path_factory.mktemp("outputs") / "cat.png"
    matplotlib.image.imsave(path, chelsea()[100:148, 150:198])
    return path


def python(code: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd, env=env, capture_output=True, timeout=300, **kwargs,
    )  # fmt: skip


# --- names ---------------------------------------------------------------------


def test_a_name_of_250_bytes_is_written(tmp_path):
    target = tmp_path / ("x" * 246 + ".png")
    write_atomic(target, lambda handle: handle.write(b"data"))
    assert target.read_bytes() == b"data"
    assert os.listdir(tmp_path) == [target.name]


def test_dash_is_the_standard_output_where_an_output_streams(tmp_path, capfd):
    checked = check_outputs([Output("--json", "-", stream=True)])
    assert str(checked["--json"]) == "-"
    os.chdir(tmp_path)
    write_text_atomic("-", '{"a": 1}\n')
    assert capfd.readouterr().out == '{"a": 1}\n'
    assert not (tmp_path / "-").exists()
    with pytest.raises(ValueError, match="--out cannot be the standard output"):
        check_outputs([Output("--out", "-")])
    with pytest.raises(ValueError, match="--json and --csv both name the standard"):
        check_outputs(
            [Output("--json", "-", stream=True), Output("--csv", "-", stream=True)]
        )


def test_explain_json_to_dash_leaves_stdout_to_the_json(photo, tmp_path, capsys):
    os.chdir(tmp_path)
    argv = [*EXPLAIN, "--image", str(photo), "--out", "lam.png", "--json", "-"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)  # nothing else on stdout
    assert summary["window"]["top"] == 8 and "Diffusion Index" in err
    assert sorted(os.listdir(tmp_path)) == ["lam.png"]


def test_dev_stdout_that_is_a_pipe_is_written_directly(tmp_path):
    done = python(
        """
        from captum_lam._io import write_text_atomic
        write_text_atomic("/dev/stdout", "through the pipe\\n")
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"through the pipe\n"


# --- signals and streams ---------------------------------------------------------


def test_sigterm_while_a_figure_is_written_leaves_no_temporary_file(photo, tmp_path):
    done = python(
        f"""
        import os, signal, time
        import matplotlib.figure

        original = matplotlib.figure.Figure.savefig

        def savefig(self, *args, **kwargs):
            original(self, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGTERM)  # half way through the write
            time.sleep(30)

        matplotlib.figure.Figure.savefig = savefig
        from captum_lam.cli import main
        argv = {[*EXPLAIN, "--image", str(photo), "--out", "lam.png"]!r}
        raise SystemExit(main(argv))
        """,
        tmp_path,
    )
    assert done.returncode == 143, done.stderr.decode()
    assert done.stderr.decode().strip().endswith("captum-lam: terminated")
    assert os.listdir(tmp_path) == []  # neither the figure nor a .tmp


def test_explain_with_stderr_closed_writes_its_outputs(photo, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "captum_lam", *EXPLAIN, "--image", str(photo),
               "--out", "lam.png", "--json", "lam.json"]  # fmt: skip
    done = subprocess.run(
        ["bash", "-c", '"$@" 2>&-', "run", *command],
        cwd=tmp_path, env=env, capture_output=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0
    assert sorted(os.listdir(tmp_path)) == ["lam.json", "lam.png"]


def test_an_image_name_that_is_not_utf8(photo, tmp_path, capsys):
    name = os.fsdecode(b"caf\xe9 \xff.png")  # undecodable bytes: surrogates
    odd = tmp_path / name
    odd.write_bytes(photo.read_bytes())
    out, js = tmp_path / "lam.png", tmp_path / "lam.json"
    argv = [*EXPLAIN, "--image", str(odd), "--out", str(out), "--json", str(js)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "caf\ufffd \ufffd.png" in printed
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert json.loads(js.read_text())["image"] == str(odd)  # as given, exactly


# --- checked before any work ----------------------------------------------------------


def test_compare_save_map_under_a_file_is_refused_first(photo, tmp_path, monkeypatch):
    from captum_lam.cli import compare

    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded before the outputs were checked")

    monkeypatch.setattr(compare, "resolve_model", no_model)
    blocker = tmp_path / "FILE"
    blocker.write_text("")
    maps, figure = str(blocker / "maps"), str(tmp_path / "c.png")
    argv = ["compare", "--models", "plain-d4", "--image", str(photo),
            "--save-map", maps, "--out", figure]  # fmt: skip
    assert main(argv) == 2


# --- what a run will cost ----------------------------------------------------


def test_the_estimate_grows_with_the_pixels_and_the_steps():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Tanh(),
        torch.nn.Conv2d(8, 3, 3, padding=1),
    )  # fmt: skip
    small = estimate_cost(net, torch.rand(1, 3, 64, 64), 10)
    large = estimate_cost(net, torch.rand(1, 3, 2048, 2048), 10)
    assert large.bytes > 100 * small.bytes
    assert large.seconds > 100 * small.seconds
    assert estimate_cost(net, torch.rand(1, 3, 64, 64), 100).seconds > small.seconds


def test_a_run_past_the_limit_is_refused_unless_forced(
    photo, tmp_path, capsys, monkeypatch
):
    import captum_lam._frontend.cost as cost

    monkeypatch.setattr(cost, "MAX_SECONDS", 0.0)
    out = tmp_path / "lam.png"
    assert main([*EXPLAIN, "--image", str(photo), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and "would take about" in err
    assert not out.exists()
    monkeypatch.setattr(cost, "TELL_SECONDS", 0.0)
    assert main([*EXPLAIN, "--image", str(photo), "--out", str(out), "--force"]) == 0
    assert "note: this run will take about" in capsys.readouterr().err
    assert out.exists()


def test_an_estimate_leaves_the_model_and_the_input_alone():
    net = torch.nn.Conv2d(3, 3, 3, padding=1)
    before = [p.detach().clone() for p in net.parameters()]
    x = torch.rand(1, 3, 40, 40)
    kept = x.clone()
    estimate_cost(net, x, 5)
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert torch.equal(x, kept) and not x.requires_grad
    assert np.isfinite(estimate_cost(net, x, 5).seconds)

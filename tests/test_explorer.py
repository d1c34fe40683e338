"""The explorer's HTTP API (Flask test client), its job runner and ``serve``."""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import sys
import threading
import time

import matplotlib.image
import numpy as np
import pytest
import torch
from skimage.data import chelsea

from captum_lam import LAM, diffusion_index, zoo
from captum_lam.cli import build_parser, main
from captum_lam.cli._case import resolve_model as _resolve_model
from captum_lam.explorer._jobs import CANCELLED, DONE, ERROR, JobRunner, Request
from captum_lam.images import bicubic_downsample, read_image

flask = pytest.importorskip("flask", reason="the explorer needs Flask (serve extra)")

from captum_lam.explorer._app import create_app  # noqa: E402
from captum_lam.explorer._catalogue import (  # noqa: E402
    UPLOAD_MAX_SIDE,
    Images,
    Models,
    registry_entries,
)
from captum_lam.explorer._cli import build_app  # noqa: E402

WINDOW = {"top": 40, "left": 48, "size": 16}
SETTINGS = {"steps": 12, "method": "riemann_middle", "sigma": 1.5, "kernel_size": 7}


@pytest.fixture(scope="module")
def photo_png(tmp_path_factory):
    """A 96x128 crop of a real photo, as the PNG file a user would pass."""
    path = tmp_path_factory.mktemp("explorer") / "cat.png"
    matplotlib.image.imsave(path, chelsea()[120:216, 150:278])
    return path


@pytest.fixture(scope="module")
def app(photo_png):
    images = Images()
    image = images.add_file(str(photo_png), read_image(photo_png))
    app = create_app(
        Models(registry_entries()), images, image=image.id, selected=["plain-d4"]
    )
    yield app
    app.extensions["lam_runner"].close()


def page_client(app):
    """A client that sends what the page sends: the session's token on POST/DELETE."""
    client = app.test_client()
    client.environ_base["HTTP_X_LAM_TOKEN"] = app.config["LAM_TOKEN"]
    return client


@pytest.fixture(scope="module")
def client(app):
    return page_client(app)


def image_id(client):
    return client.get("/api/config").get_json()["image"]["id"]


def finished(client, response):
    """Poll a submitted job until it ends; its last JSON."""
    body = response.get_json()
    for _ in range(6000):
        if body["state"] not in ("queued", "running"):
            return body
        time.sleep(0.02)
        body = client.get(f"/api/lam/{body['key']}").get_json()
    raise AssertionError(f"job {body['key']} did not finish")


def ask(client, model="plain-d4", window=WINDOW, settings=SETTINGS, image=None):
    payload = {
        "model": model,
        "image": image or image_id(client),
        "window": window,
        "settings": settings,
    }
    return client.post("/api/lam", json=payload)


# --- the numbers ---------------------------------------------------------------


def test_map_equals_lam_attribute(client, photo_png):
    body = finished(client, ask(client))
    assert body["state"] == DONE, body
    data = np.load(io.BytesIO(client.get(body["urls"]["map"]).data))  # no pickle
    hr = read_image(photo_png)
    lr = bicubic_downsample(hr, 4)
    lam = LAM(zoo.load("plain-d4"), sigma=1.5, kernel_size=7)
    window = (WINDOW["top"], WINDOW["left"], WINDOW["size"])
    expected, delta = lam.attribute(
        lr,
        target=window,
        n_steps=12,
        method="riemann_middle",
        return_convergence_delta=True,
    )
    got = data["attribution"]
    assert got.shape == tuple(expected.shape[1:])
    np.testing.assert_allclose(
        got, expected[0].numpy(), rtol=1e-4, atol=1e-6 * float(expected.abs().max())
    )
    tolerance = 1e-6 * float(np.abs(got).max())
    np.testing.assert_allclose(data["map"], np.abs(got.sum(axis=0)), atol=tolerance)
    np.testing.assert_allclose(data["lr"], lr[0].numpy())
    assert data["window"].tolist() == list(window)
    assert json.loads(str(data["settings"]))["steps"] == 12
    assert body["result"]["diffusion_index"] == pytest.approx(
        float(diffusion_index(expected[0])), abs=1e-6
    )
    assert float(data["diffusion_index"]) == body["result"]["diffusion_index"]
    assert body["result"]["convergence_delta"] == pytest.approx(
        float(delta[0]), abs=1e-4
    )


def test_the_command_shown_gives_the_same_numbers(client, tmp_path, capsys):
    body = finished(client, ask(client, window={"top": 24, "left": 60, "size": 24}))
    words = shlex.split(body["command"])
    assert words[:2] == ["captum-lam", "explain"]
    summary_path = tmp_path / "lam.json"
    code = main(
        [*words[1:], "--out", str(tmp_path / "lam.png"), "--json", str(summary_path)]
    )
    capsys.readouterr()
    assert code == 0
    summary = json.loads(summary_path.read_text())
    assert summary["window_in_image"] == [24, 60, 24]
    assert body["result"]["diffusion_index"] == pytest.approx(
        summary["diffusion_index"], abs=1e-6
    )
    assert body["result"]["convergence_delta"] == pytest.approx(
        summary["convergence_delta"], abs=1e-4
    )


def test_a_repeated_request_is_answered_from_the_cache(client):
    first = finished(client, ask(client, window={"top": 8, "left": 8, "size": 8}))
    again = ask(client, window={"top": 8, "left": 8, "size": 8})
    assert again.status_code == 200
    assert again.get_json()["state"] == DONE
    assert again.get_json()["key"] == first["key"]
    assert again.get_json()["result"] == first["result"]


def test_downloads_and_panels(client):
    body = finished(client, ask(client))
    figure = client.get(body["urls"]["figure"])
    assert figure.status_code == 200 and figure.data.startswith(b"\x89PNG")
    assert "attachment" in figure.headers["Content-Disposition"]
    for name in ("zoom", "whole", "output", "hr"):
        panel = client.get(body["urls"][name])
        assert panel.status_code == 200 and panel.mimetype == "image/png"
    assert client.get(f"/api/lam/{body['key']}/nope.png").status_code == 404


# --- refused requests ------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"model": "no-such-net"}, 404, "unknown model 'no-such-net'"),
        ({"image": "sample:nothing"}, 404, "unknown image"),
        ({"window": {"top": 90, "left": 0, "size": 16}}, 400, "reaches outside"),
        ({"window": {"top": 0, "left": 0, "size": 4}}, 400, "window size must be in"),
        ({"window": {"top": 0, "left": 0, "size": 65}}, 400, "window size must be in"),
        ({"window": {"top": -1, "left": 0, "size": 16}}, 400, "window top"),
        ({"window": [0, 0, 16]}, 400, "window must be an object"),
        ({"settings": {"method": "simpson"}}, 400, "unknown method 'simpson'"),
        ({"settings": {"steps": 0}}, 400, "steps must be in"),
        ({"settings": {"kernel_size": 8}}, 400, "kernel_size must be odd"),
        ({"settings": {"sigma": "wide"}}, 400, "sigma must be a number"),
        ({"settings": {"detector": "canny"}}, 400, "unknown detector 'canny'"),
        ({"settings": {"colour": 1}}, 400, "unknown setting 'colour'"),
    ],
)
def test_bad_requests_are_refused_with_a_message(client, change, status, message):
    payload = {"model": "plain-d4", "image": image_id(client), "window": WINDOW}
    payload.update(change)
    response = client.post("/api/lam", json=payload)
    assert response.status_code == status
    assert message in response.get_json()["error"]


def test_the_server_keeps_serving_after_bad_requests(client):
    assert client.post("/api/lam", data="not json").status_code == 400
    assert client.post("/api/lam", json=[1, 2]).status_code == 400
    assert client.get("/api/lam/0123456789").status_code == 404
    assert client.get("/api/images/sample:x/windows").status_code == 404
    assert (
        client.get(f"/api/images/{image_id(client)}/windows?size=x").status_code == 400
    )
    assert ask(client).status_code in (200, 202)


def png_bytes(array):
    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, array, format="png")
    return buffer.getvalue()


def test_upload_a_png_then_explain_it(client):
    data = png_bytes(chelsea()[:64, :80])
    response = client.post("/api/images", data={"file": (io.BytesIO(data), "mine.png")})
    assert response.status_code == 201
    info = response.get_json()
    assert (info["width"], info["height"], info["name"]) == (80, 64, "mine.png")
    body = finished(client, ask(client, image=info["id"]))
    assert body["state"] == DONE
    assert "--image mine.png" in body["command"]


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"GIF89a not a photo", 415, "is not a PNG or JPEG"),
        (b"\x89PNG\r\n\x1a\n truncated", 415, "not a readable"),
        (b"\x00" * (9 * 1024 * 1024), 413, "the limit is 8 MB"),
    ],
)
def test_refused_uploads(client, data, status, message):
    response = client.post("/api/images", data={"file": (io.BytesIO(data), "x.png")})
    assert response.status_code == status
    assert message in response.get_json()["error"]


def test_oversized_image_is_refused(client):
    data = png_bytes(np.zeros((8, UPLOAD_MAX_SIDE + 8, 3), dtype=np.uint8))
    response = client.post("/api/images", data={"file": (io.BytesIO(data), "w.png")})
    assert response.status_code == 413 and "too large" in response.get_json()["error"]
    assert client.post("/api/images", data={}).status_code == 400


def test_config_lists_the_registry_and_the_page_works_offline(client):
    config = client.get("/api/config").get_json()
    assert [m["name"] for m in config["models"]] == zoo.names()
    assert config["selected"] == ["plain-d4"]
    page = client.get("/")
    assert page.status_code == 200 and b"explorer.js" in page.data
    for asset in ("index.html", "explorer.js", "explorer.css"):
        text = client.get(f"/static/{asset}").get_data(as_text=True)
        assert "http://" not in text and "https://" not in text  # no CDN


# --- the job runner ------------------------------------------------------------------


def blocking_compute(release: threading.Event, calls: list):
    def compute(request, progress):
        calls.append(request.window)
        for step in range(1, 1001):
            progress(step, 1000)
            if release.wait(0.005):
                break
        return request.window

    return compute


def wait_for(job, states):
    for _ in range(2000):
        if job.state in states:
            return job
        time.sleep(0.01)
    raise AssertionError(f"job stayed {job.state}")


def test_a_new_request_cancels_the_running_one_of_its_model_only():
    release, calls = threading.Event(), []
    runner = JobRunner(blocking_compute(release, calls))
    try:
        first = runner.submit(Request("a", "img", (0, 0, 8), ()))
        wait_for(first, ("running",))
        other = runner.submit(Request("b", "img", (0, 0, 8), ()))
        second = runner.submit(Request("a", "img", (8, 8, 8), ()))
        assert wait_for(first, (CANCELLED,)).state == CANCELLED
        release.set()
        assert wait_for(second, (DONE,)).result == (8, 8, 8)
        assert wait_for(other, (DONE,)).result == (0, 0, 8)  # model b went on
        again = runner.submit(Request("a", "img", (0, 0, 8), ()))
        assert wait_for(again, (DONE,)).result == (0, 0, 8)  # asked again: rerun
        cached = runner.submit(Request("a", "img", (8, 8, 8), ()))
        assert cached is second and len(calls) == 4
    finally:
        runner.close()


def test_a_failing_computation_reports_its_message():
    def compute(request, progress):
        raise ValueError("attributions are all zero\nmore detail")

    runner = JobRunner(compute)
    try:
        job = wait_for(runner.submit(Request("a", "i", (0, 0, 8), ())), (ERROR,))
        assert job.error == "attributions are all zero"
    finally:
        runner.close()


# --- the command --------------------------------------------------------------------


def test_serve_defaults_to_localhost():
    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and args.port == 8765


def test_help_does_not_import_flask():
    code = (
        "import sys; from captum_lam.cli import build_parser; "
        "build_parser().format_help(); print('flask' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--models", "no-such-net"], "--models: unknown model 'no-such-net'"),
        (["--image", "missing.png"], "--image: no such file"),
        (["--image", "sample:nothing"], "--image: unknown image"),
        (["--model", "plain-d4"], "--model takes package.module:factory"),
        (["--port", "70000"], "--port must be in"),
    ],
)
def test_serve_errors_are_one_line(capsys, argv, message):
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def make_net():
    """A factory for the ``serve --model package.module:factory`` test."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 12, 3, padding=1), torch.nn.Tanh(), torch.nn.PixelShuffle(2)
    )


def test_a_factory_model_from_the_command_line(tmp_path, photo_png, capsys):
    torch.manual_seed(0)
    weights = tmp_path / "net.pth"
    torch.save(make_net().state_dict(), weights)
    argv = [
        "serve",
        "--model",
        "tests.test_explorer:make_net",
        "--weights",
        str(weights),
    ]
    argv += ["--image", str(photo_png)]
    app = build_app(build_parser().parse_args(argv), _resolve_model)
    try:
        client = page_client(app)
        config = client.get("/api/config").get_json()
        assert config["selected"] == ["tests.test_explorer:make_net"]
        custom = config["models"][-1]
        assert custom["scale"] == 2 and custom["kind"] == "command line"
        body = finished(client, ask(client, model=custom["name"]))
        assert body["state"] == DONE, body
        words = shlex.split(body["command"])
        assert words[2:6] == ["--model", custom["name"], "--weights", str(weights)]
        js = tmp_path / "lam.json"
        assert (
            main([*words[1:], "--out", str(tmp_path / "x.png"), "--json", str(js)]) == 0
        )
        capsys.readouterr()
        expected = json.loads(js.read_text())["diffusion_index"]
        assert body["result"]["diffusion_index"] == pytest.approx(expected, abs=1e-6)
    finally:
        app.extensions["lam_runner"].close()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--weights", "w.pth"], "--weights only apply to a package.module:factory"),
        (["--model", "a.b:c", "--checkpoint", "x.pt"], "give only one of them"),
    ],
)
def test_serve_refuses_model_options_that_do_nothing(argv, message, capsys):
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_cem_card_equals_causal_effect_map_and_its_command(
    client, photo_png, tmp_path, capsys
):
    from captum_lam import CausalEffectMap

    payload = {"model": "plain-d4", "image": image_id(client), "window": WINDOW}
    body = finished(client, client.post("/api/lam", json={**payload, "method": "cem"}))
    assert body["state"] == DONE, body
    result = body["result"]
    assert result["method"] == "cem" and result["settings"]["n_fine"] == 10
    data = np.load(io.BytesIO(client.get(body["urls"]["map"]).data))
    hr = read_image(photo_png)
    window = (WINDOW["top"], WINDOW["left"], WINDOW["size"])
    expected = CausalEffectMap(zoo.load("plain-d4"), n_fine=10).attribute(
        bicubic_downsample(hr, 4), target=window, hr=hr, reach="auto"
    )
    np.testing.assert_allclose(data["attribution"], expected[0].numpy(), atol=1e-4)
    assert result["effect"]["negative_area"] == int((expected < 0).sum())
    for name in ("zoom", "whole", "figure"):
        assert client.get(body["urls"][name]).data.startswith(b"\x89PNG")
    # a LAM card of the same window is another job
    assert finished(client, ask(client))["key"] != body["key"]
    words = shlex.split(body["command"])
    assert words[words.index("--method") + 1] == "cem"
    summary_path = tmp_path / "cem.json"
    code = main(
        [*words[1:], "--out", str(tmp_path / "cem.png"), "--json", str(summary_path)]
    )
    capsys.readouterr()
    assert code == 0
    summary = json.loads(summary_path.read_text())
    assert summary["effect"]["positive_db"] == pytest.approx(
        result["effect"]["positive_db"], abs=1e-4
    )
    refused = client.post("/api/lam", json={**payload, "method": "shap"})
    assert refused.status_code == 400
    assert "unknown method 'shap'" in refused.get_json()["error"]


# --- one window, one number: the page, explain and windows agree ----------------


@pytest.fixture(scope="module")
def large_photo(tmp_path_factory):
    """The whole 300x451 cat: larger than the region explain keeps by default."""
    path = tmp_path_factory.mktemp("explorer-large") / "chelsea.png"
    matplotlib.image.imsave(path, chelsea())
    return path


@pytest.fixture(scope="module")
def large_client(large_photo):
    images = Images()
    image = images.add_file(str(large_photo), read_image(large_photo))
    app = create_app(
        Models(registry_entries()), images, image=image.id, selected=["plain-d4"]
    )
    yield page_client(app)
    app.extensions["lam_runner"].close()


def test_the_page_computes_what_explain_computes_and_its_command_reproduces_it(
    large_client, tmp_path, capsys
):
    window = {"top": 72, "left": 168, "size": 16}
    body = finished(large_client, ask(large_client, window=window, settings=None))
    assert body["state"] == DONE, body
    result = body["result"]
    words = shlex.split(body["command"])
    # the defaults are explain's own: no old option names, no settings repeated
    assert "--crop" not in words and "--steps" not in words and "--rule" not in words
    summary_path = tmp_path / "lam.json"
    code = main(
        [*words[1:], "--out", str(tmp_path / "lam.png"), "--json", str(summary_path)]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert "warning" not in err
    summary = json.loads(summary_path.read_text())
    assert summary["lr_size"] == result["lr_size"] == [64, 64]
    assert summary["region"] == result["region"]
    assert result["diffusion_index"] == pytest.approx(
        summary["diffusion_index"], abs=1e-6
    )
    di = summary["diffusion_index"]
    assert f"Diffusion Index: {di:.2f} on a 64x64 LR input" in out
    assert result["diffusion_index_text"] == f"DI {di:.2f} on a 64x64 LR input"


def test_the_page_ranks_windows_as_the_windows_command(
    large_client, large_photo, capsys
):
    page_id = image_id(large_client)
    for size in (16, 24):
        page = large_client.get(f"/api/images/{page_id}/windows?size={size}")
        ranked = [(w["top"], w["left"], w["size"]) for w in page.get_json()["windows"]]
        assert main(["windows", str(large_photo), "--size", str(size)]) == 0
        printed = [
            tuple(int(v) for v in line.split("--window ")[1].split(","))
            for line in capsys.readouterr().out.splitlines()
            if "--window " in line
        ]
        assert ranked == printed[: len(ranked)] and ranked

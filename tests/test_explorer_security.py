"""The explorer as a server on the user's machine: only its own page can drive it,
and no request can exhaust it (memory, threads, CPUs) or make it answer a 500."""

from __future__ import annotations

import io
import socket
import threading
import time

import numpy as np
import pytest
import torch
from torch import nn

from captum_lam.cli import main
from captum_lam.explorer._jobs import (
    CANCELLED,
    DONE,
    Cancelled,
    JobRunner,
    QueueFull,
    Request,
    cancellable_passes,
)

flask = pytest.importorskip("flask", reason="the explorer needs Flask (serve extra)")

from captum_lam.explorer._app import create_app, make_server, server_url  # noqa: E402
from captum_lam.explorer._catalogue import (  # noqa: E402
    Images,
    ModelEntry,
    Models,
)
from captum_lam.explorer._guard import host_allowed  # noqa: E402


def png(side: int, seed: int = 0) -> bytes:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (side, side, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def tiny_entry(name: str = "tiny") -> ModelEntry:
    def load() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(3, 12, 3, padding=1), nn.Tanh(), nn.PixelShuffle(2)
        ).eval()

    return ModelEntry(name, 2, None, "test", True, "a tiny x2 net", load, ["--model"])


@pytest.fixture(scope="module")
def app():
    app = create_app(Models([tiny_entry()]), Images(), selected=["tiny"])
    yield app
    app.extensions["lam_runner"].close()


@pytest.fixture
def client(app):
    return app.test_client()


def token(app) -> dict:
    return {"X-LAM-Token": app.config["LAM_TOKEN"]}


def lam_payload(**settings) -> dict:
    window = {"top": 8, "left": 8, "size": 16}
    return {"model": "tiny", "image": "sample:chelsea", "window": window,
            "settings": {"steps": 2, **settings}}  # fmt: skip


# --- who may drive it ---------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:8765", "evil.localhost.example"]
)
def test_a_rebound_dns_name_gets_nothing(client, host):
    for url in ("/api/config", "/api/images/sample:chelsea/picture.png", "/"):
        response = client.get(url, headers={"Host": host})
        assert response.status_code == 403, url
        assert b"chelsea" not in response.data
    config = client.get("/api/config", headers={"Host": host})
    assert "token" not in config.get_json() and "Host" in config.get_json()["error"]


@pytest.mark.parametrize("host", ["localhost:8765", "127.0.0.1:8765", "[::1]:8765"])
def test_this_machine_is_answered(client, host):
    assert client.get("/api/config", headers={"Host": host}).status_code == 200


def test_hosts_by_bound_address():
    assert host_allowed("192.168.1.5:80", "0.0.0.0")  # bound to every interface
    assert not host_allowed("192.168.1.5:80", "127.0.0.1")
    assert not host_allowed("attacker.example", "0.0.0.0")  # names: never
    assert host_allowed("mybox:8765", "mybox")  # the name given to --host
    assert not host_allowed(None, "127.0.0.1")


def test_another_origin_cannot_upload_or_compute(app, client):
    evil = {"Origin": "http://attacker.example", **token(app)}
    upload = client.post(
        "/api/images", data={"file": (io.BytesIO(png(32)), "a.png")}, headers=evil
    )
    assert (
        upload.status_code == 403 and "attacker.example" in upload.get_json()["error"]
    )
    assert client.post("/api/lam", json=lam_payload(), headers=evil).status_code == 403
    cross = {"Sec-Fetch-Site": "cross-site", **token(app)}
    assert client.post("/api/lam", json=lam_payload(), headers=cross).status_code == 403
    assert app.extensions["lam_runner"].get("x") is None


def test_a_post_without_the_token_is_refused(app, client):
    # what a cross-site form can send: no custom header
    form = client.post("/api/images", data={"file": (io.BytesIO(png(32)), "a.png")})
    assert form.status_code == 403 and "X-LAM-Token" in form.get_json()["error"]
    wrong = client.post("/api/lam", json=lam_payload(), headers={"X-LAM-Token": "x"})
    assert wrong.status_code == 403
    assert client.delete("/api/lam/abc").status_code == 403
    same_origin = {"Origin": "http://localhost", **token(app)}
    ok = client.post(
        "/api/images", data={"file": (io.BytesIO(png(32, 1)), "a.png")},
        headers=same_origin,
    )  # fmt: skip
    assert ok.status_code == 201


def test_the_page_sends_the_token():
    from importlib.resources import files

    script = (files("captum_lam.explorer") / "static" / "explorer.js").read_text()
    assert "token_header" in script and 'guarded({ method: "DELETE" })' in script


# --- bounded memory -------------------------------------------------------------


def test_the_upload_store_keeps_the_newest_within_count_and_bytes():
    images = Images(max_uploads=3)
    ids = [images.add_upload(f"{i}.png", png(16, i)).id for i in range(5)]
    assert images.uploads() == ids[2:]
    with pytest.raises(Exception, match="unknown image"):
        images.get(ids[0])
    one = 3 * 64 * 64 * 4  # float32 pixels of a 64x64 upload
    images = Images(max_upload_bytes=2 * one)
    ids = [images.add_upload(f"{i}.png", png(64, i)).id for i in range(4)]
    assert images.uploads() == ids[2:]
    assert images.get("sample:coffee").width > 0  # samples are not uploads


def test_models_are_unloaded_when_unused():
    models = Models([tiny_entry(f"m{i}") for i in range(4)], max_loaded=2)
    for i in range(4):
        models.model(f"m{i}")
    assert models.loaded() == ["m2", "m3"]


def test_the_result_cache_evicts_while_a_job_runs():
    release = threading.Event()

    def compute(request, progress):
        if request.model == "slow":
            while not release.wait(0.01):
                progress(0, 1)
        return request.window

    runner = JobRunner(compute, cache_size=3, workers=2)
    try:
        slow = runner.submit(Request("slow", "i", (0, 0, 8), ()))
        for i in range(12):
            job = runner.submit(Request("fast", "i", (i, 0, 8), ()))
            wait(lambda job=job: job.finished)
        assert slow.state == "running"
        assert len(runner._jobs) <= 3 + 1  # the running job is kept beside them
        assert runner.get(slow.key) is slow
    finally:
        release.set()
        runner.close()


# --- bounded computation ----------------------------------------------------------


def wait(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


def test_one_pool_bounds_the_computations_at_once_and_the_queue():
    release, running, most = threading.Event(), [0], [0]
    lock = threading.Lock()

    def compute(request, progress):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            while not release.wait(0.01):
                progress(0, 1)
        finally:
            with lock:
                running[0] -= 1
        return request.model

    runner = JobRunner(compute, workers=2, max_queued=3)
    try:
        jobs = [runner.submit(Request(f"m{i}", "i", (0, 0, 8), ())) for i in range(2)]
        wait(lambda: runner.running() == 2)
        jobs += [runner.submit(Request(f"m{i}", "i", (0, 0, 8), ())) for i in (2, 3, 4)]
        assert runner.running() == 2 and runner.queued() == 3
        with pytest.raises(QueueFull, match="limit is 3"):
            runner.submit(Request("m5", "i", (0, 0, 8), ()))
        # a newer request of a waiting model replaces it: no new place needed
        replaced = runner.submit(Request("m4", "i", (8, 8, 8), ()))
        release.set()
        wait(lambda: all(j.finished for j in [*jobs[:4], replaced]))
        assert most[0] == 2 and jobs[4].state == CANCELLED and replaced.state == DONE
    finally:
        release.set()
        runner.close()


def test_a_full_queue_is_a_429(monkeypatch):
    app = create_app(Models([tiny_entry()]), Images(), selected=["tiny"])
    runner = app.extensions["lam_runner"]
    try:

        def full(request):
            raise QueueFull("3 computations are waiting already")

        monkeypatch.setattr(runner, "submit", full)
        response = app.test_client().post(
            "/api/lam", json=lam_payload(), headers=token(app)
        )
        assert response.status_code == 429 and "waiting" in response.get_json()["error"]
    finally:
        runner.close()


def test_a_cancel_stops_within_a_forward_pass():
    layers_run, cancel = [], threading.Event()

    class Layer(nn.Module):
        def __init__(self, index):
            super().__init__()
            self.index = index

        def forward(self, x):
            layers_run.append(self.index)
            if self.index == 2:
                cancel.set()  # the user clicks elsewhere while layer 2 runs
            return x

    model = nn.Sequential(*[Layer(i) for i in range(10)])

    def check():
        if cancel.is_set():
            raise Cancelled

    with pytest.raises(Cancelled), cancellable_passes(model, check):
        model(torch.zeros(1))
    assert layers_run == [0, 1, 2]
    layers_run.clear()
    cancel.clear()
    model(torch.zeros(1))  # the hooks are gone afterwards
    assert layers_run == list(range(10))


def test_half_sent_requests_do_not_hold_the_server():
    app = create_app(Models([tiny_entry()]), Images(), selected=["tiny"])
    server = make_server(app, "127.0.0.1", 0, idle_timeout=0.3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        stalled = socket.create_connection(("127.0.0.1", server.server_port))
        stalled.sendall(b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        stalled.settimeout(10)
        started = time.monotonic()
        assert stalled.recv(100) == b""  # closed by the server, never answered
        assert time.monotonic() - started < 5
        stalled.close()
    finally:
        server.shutdown()
        server.server_close()
        app.extensions["lam_runner"].close()


# --- every parameter checked before a job: 4xx, never a 500 ----------------------


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"sigma": 0}, "sigma must be >= 0.25"),
        ({"sigma": 0.1}, "sigma must be >= 0.25"),
        ({"kernel_size": 1}, "kernel_size must be >= 3"),
    ],
)
def test_a_blur_that_changes_nothing_is_refused_up_front(
    app, client, settings, message
):
    response = client.post("/api/lam", json=lam_payload(**settings), headers=token(app))
    assert response.status_code == 400 and message in response.get_json()["error"]


def test_a_kernel_larger_than_a_small_upload_is_refused(app, client):
    small = client.post(
        "/api/images", data={"file": (io.BytesIO(png(8, 7)), "s.png")},
        headers=token(app),
    ).get_json()  # fmt: skip
    payload = lam_payload(kernel_size=31)
    payload.update(image=small["id"], window={"top": 0, "left": 0, "size": 8})
    response = client.post("/api/lam", json=payload, headers=token(app))
    assert response.status_code == 400 and "kernel_size" in response.get_json()["error"]


def test_windows_larger_than_a_tiny_upload_are_a_400(app, client):
    tiny = client.post(
        "/api/images", data={"file": (io.BytesIO(png(4, 3)), "t.png")},
        headers=token(app),
    ).get_json()  # fmt: skip
    for what in ("windows", "texture.png"):
        response = client.get(f"/api/images/{tiny['id']}/{what}?size=16")
        assert response.status_code == 400, what
        assert "does not fit" in response.get_json()["error"]


def test_deeply_nested_or_huge_json_is_a_4xx(app, client):
    nested = "[" * 100_000 + "]" * 100_000
    response = client.post(
        "/api/lam", data=nested, content_type="application/json", headers=token(app)
    )
    assert 400 <= response.status_code < 500
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    response = client.post(
        "/api/lam", data=deep, content_type="application/json", headers=token(app)
    )
    assert response.status_code == 400 and "JSON" in response.get_json()["error"]


# --- serve on the command line ----------------------------------------------------


def test_a_busy_port_is_one_line_and_exit_2(capsys):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        port = holder.getsockname()[1]
        assert main(["serve", "--port", str(port), "--models", "plain-d4"]) == 2
    finally:
        holder.close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"port {port}" in err and "in use" in err


def test_a_host_this_machine_does_not_have_is_one_line(capsys):
    assert main(["serve", "--host", "no-such-host.invalid", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("captum-lam: error: --host")


def test_ipv6_urls_are_bracketed():
    assert server_url("::1", 8765) == "http://[::1]:8765/"
    assert server_url("localhost", 80) == "http://localhost:80/"

"""``captum-lam serve`` options that no other test reached (found with coverage):
an image that is not an image, and a factory model whose page entry
gives back the ``explain`` options that load it the same way."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("flask")

from captum_lam.cli import main  # noqa: E402
from captum_lam.explorer import _app  # noqa: E402


def make_net():
    """A factory for ``serve --model tests.test_explorer_command_line:make_net``."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 12, 3, padding=1), torch.nn.PixelShuffle(2)
    )


class _Server:
    """Stands in for the HTTP server: ``serve`` returns at once, as after Ctrl-C."""

    server_port = 0

    def serve_forever(self):
        raise KeyboardInterrupt

    def server_close(self):
        pass


@pytest.fixture
def served(monkeypatch):
    """Runs ``captum-lam serve ...`` up to its loop; the page's model list."""
    apps = []

    def make_server(app, host, port, sock=None):
        apps.append(app)
        sock.close()
        return _Server()

    monkeypatch.setattr(_app, "make_server", make_server)

    def serve(*argv):
        assert main(["serve", "--port", "0", *map(str, argv)]) == 0
        (app,) = apps
        return app.test_client().get("/api/config").get_json()["models"]

    return serve


def test_an_image_that_is_not_an_image_is_refused(tmp_path, capsys):
    fake = tmp_path / "photo.png"
    fake.write_text("not a picture")
    assert main(["serve", "--port", "0", "--image", str(fake)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(
        f"captum-lam: error: --image: {fake} is not a readable PNG/JPEG image ("
    )


def test_a_factory_entry_carries_its_adapter_options(served, capsys):
    spec = "tests.test_explorer_command_line:make_net"
    models = served(
        "--model", spec, "--input-range", 255, "--mean", "0.4,0.5,0.6",
        "--pad-multiple", 8,
    )  # fmt: skip
    entry = models[-1]
    assert entry["name"] == spec and entry["scale"] == 2
    assert entry["description"] == (
        f"--model {spec} --input-range 255 --mean 0.4,0.5,0.6 --pad-multiple 8"
    )
    assert "LAM explorer on http://127.0.0.1:" in capsys.readouterr().out


def test_default_adapter_options_are_left_out_of_the_entry(served):
    spec = "tests.test_explorer_command_line:make_net"
    entry = served("--model", spec, "--input-range", 1, "--pad-multiple", 1)[-1]
    assert entry["description"] == f"--model {spec}"

"""Every region a command explains a window on starts on the scale's grid, and
``explain``, ``compare`` and ``evaluate`` report the window and region they
explained, with the DI that the library gives for that window and input
(`window_input` + `LAM`): at x2, x3 and x4, for windows off the grid, at the
borders, with ``--region`` auto, a size, and none."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest
import torch
from skimage.data import rocket
from torch import nn

from captum_lam import LAM, diffusion_index
from captum_lam import visualization as _visualization
from captum_lam.cli import main
from captum_lam.images import read_image
from captum_lam.windows import window_input, window_region

#: 264x270 HR: larger than the default 256 region in both directions; at x4 it is
#: cropped to 264x268.
HEIGHT, WIDTH = 264, 270
STEPS = ("--steps", "1", "--rule", "riemann_middle")


def _net(scale: int) -> nn.Module:
    torch.manual_seed(scale)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(8, 3 * scale * scale, 3, padding=1),
        nn.PixelShuffle(scale),
    )


def make_x2() -> nn.Module:
    """Factories for ``--model tests.test_region_alignment:make_xN``."""
    return _net(2)


def make_x3() -> nn.Module:
    return _net(3)


def make_x4() -> nn.Module:
    return _net(4)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("alignment") / "rocket.png"
    matplotlib.image.imsave(path, rocket()[60 : 60 + HEIGHT, 150 : 150 + WIDTH])
    return path


@pytest.fixture(autouse=True)
def no_figures(monkeypatch):
    """The figures are not what is tested here, and they cost a second each."""
    monkeypatch.setattr(_visualization, "lam_figure", lambda *a, **k: None)
    monkeypatch.setattr(_visualization, "comparison_figure", lambda *a, **k: None)
    monkeypatch.setattr(_visualization, "save_figure", lambda *a, **k: None)


def usable(scale: int) -> tuple[int, int]:
    return HEIGHT - HEIGHT % scale, WIDTH - WIDTH % scale


def windows(scale: int) -> list[tuple[int, int, int]]:
    h, w = usable(scale)
    return [
        (0, 0, 8),  # the top-left corner
        (h - 8, w - 8, 8),  # the bottom-right corner
        (101, 137, 9),  # off the grid of every scale, odd size
        (7, w - 13, 12),  # at the top and right borders
        (h // 2 + 1, 1, 16),
    ]


def expected_region(window, scale, region):
    """The documented rule, written out: a square of ``side`` HR pixels centred on
    the window, inside the image, its start moved down to the scale's grid."""
    h, w = usable(scale)
    top, left, size = window
    if region == "none":
        return 0, 0, h, w
    side = 256 - 256 % scale if region == "auto" else int(region)

    def start(at: int, extent: int) -> int:
        if side >= extent:
            return 0
        centred = min(max(at + size // 2 - side // 2, 0), extent - side)
        return centred - centred % scale

    return start(top, h), start(left, w), min(side, h), min(side, w)


def library_di(photo, scale, window, region) -> tuple[float, tuple]:
    image = read_image(photo)
    region = int(region) if region.isdigit() else region
    case = window_input(image, window, scale, region)
    model = _net(scale).eval()
    attr = LAM(model).attribute(
        case.lr, target=case.window, n_steps=1, method="riemann_middle"
    )
    return float(diffusion_index(attr[0])), case.region


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


#: the region clamped at both corners and centred off the grid (auto); at the
#: borders and off the grid (a size)
CASES = [
    (scale, window, region)
    for scale in (2, 3, 4)
    for region, chosen in (("auto", (0, 1, 2)), ("48", (2, 3, 4)))
    for window in [windows(scale)[k] for k in chosen]
] + [(3, (101, 137, 9), "none"), (4, (0, 0, 8), "none"), (4, (257, 1, 7), "none")]


@pytest.mark.parametrize("scale, window, region", CASES)
def test_explain_reports_the_window_it_explained(
    tmp_path, photo, capsys, scale, window, region
):
    js = tmp_path / "s.json"
    out = run(
        capsys,
        "explain",
        "--image",
        photo,
        "--model",
        f"tests.test_region_alignment:make_x{scale}",
        "--window",
        ",".join(map(str, window)),
        "--region",
        region,
        *STEPS,
        "--out",
        tmp_path / "f.png",
        "--json",
        js,
    )
    summary = json.loads(js.read_text())
    r0, c0, rh, rw = expected_region(window, scale, region)
    assert r0 % scale == 0 and c0 % scale == 0
    assert r0 <= window[0] and window[0] + window[2] <= r0 + rh
    assert c0 <= window[1] and window[1] + window[2] <= c0 + rw
    di, library_region = library_di(photo, scale, window, region)
    assert library_region == (r0, c0, rh, rw)
    given = int(region) if region.isdigit() else region
    assert window_region(window, *usable(scale), scale, given) == (r0, c0, rh, rw)
    assert summary["region"] == {"top": r0, "left": c0, "height": rh, "width": rw}
    assert summary["window_in_image"] == list(window)
    assert summary["lr_size"] == [rh // scale, rw // scale]
    assert summary["diffusion_index"] == pytest.approx(di, rel=1e-5, abs=1e-6)
    assert f"Diffusion Index: {di:.2f} on a {rh // scale}x{rw // scale}" in out


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_explain_on_an_lr_image_cuts_the_lr_pixels_of_the_region(
    tmp_path, photo, capsys, scale
):
    """``--lr``: the image is the input; the region is cut from it on its grid."""
    js = tmp_path / "s.json"
    lr_image = read_image(photo)[..., :90, :90]
    lr_path = tmp_path / "lr.png"
    matplotlib.image.imsave(lr_path, lr_image[0].permute(1, 2, 0).numpy())
    window = (3 * scale + 1, 90 * scale - 20, 11)
    run(
        capsys,
        "explain",
        "--image",
        lr_path,
        "--lr",
        "--model",
        f"tests.test_region_alignment:make_x{scale}",
        "--window",
        ",".join(map(str, window)),
        "--region",
        12 * scale,
        *STEPS,
        "--out",
        tmp_path / "f.png",
        "--json",
        js,
    )
    summary = json.loads(js.read_text())
    r0, c0 = summary["region"]["top"], summary["region"]["left"]
    assert (r0 % scale, c0 % scale) == (0, 0)
    assert r0 <= window[0] < window[0] + 11 <= r0 + 12 * scale
    lr = read_image(lr_path)[..., r0 // scale : r0 // scale + 12, c0 // scale :][
        ..., :12
    ]
    attr = LAM(_net(scale).eval()).attribute(
        lr,
        target=(window[0] - r0, window[1] - c0, 11),
        n_steps=1,
        method="riemann_middle",
    )
    assert summary["lr_size"] == [12, 12]
    assert summary["diffusion_index"] == pytest.approx(
        float(diffusion_index(attr[0])), rel=1e-5, abs=1e-6
    )


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_compare_reports_the_window_it_explained(tmp_path, photo, capsys, scale):
    for window, region in [(windows(scale)[2], "auto"), (windows(scale)[1], "48")]:
        js = tmp_path / f"c{region}.json"
        run(
            capsys,
            "compare",
            "--image",
            photo,
            "--model",
            f"tests.test_region_alignment:make_x{scale}",
            "--methods",
            "lam",
            "--window",
            ",".join(map(str, window)),
            "--region",
            region,
            *STEPS,
            "--out",
            tmp_path / "c.png",
            "--json",
            js,
            "--quiet",
        )
        payload = json.loads(js.read_text())
        r0, c0, rh, rw = expected_region(window, scale, region)
        di, _ = library_di(photo, scale, window, region)
        assert payload["window"] == list(window)
        assert payload["region"] == {"top": r0, "left": c0, "height": rh, "width": rw}
        (row,) = payload["rows"]
        assert row["lr_size"] == [rh // scale, rw // scale]
        assert row["diffusion_index"] == pytest.approx(di, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_evaluate_records_the_window_it_explained(tmp_path, photo, capsys, scale):
    chosen = windows(scale)[:3]
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        "".join(
            json.dumps({"image": str(photo), "window": list(w)}) + "\n" for w in chosen
        )
    )
    out = tmp_path / "r.jsonl"
    run(
        capsys,
        "evaluate",
        "--models",
        f"tests.test_region_alignment:make_x{scale}",
        "--cases",
        cases,
        *STEPS,
        "--out",
        out,
        "--quiet",
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    by_window = {(r["top"], r["left"], r["size"]): r for r in records}
    assert sorted(by_window) == sorted(chosen)
    for window in chosen:
        record = by_window[window]
        r0, c0, rh, rw = expected_region(window, scale, "auto")
        di, _ = library_di(photo, scale, window, "auto")
        assert (record["region_top"], record["region_left"]) == (r0, c0)
        assert (record["lr_height"], record["lr_width"]) == (rh // scale, rw // scale)
        assert record["di"] == pytest.approx(di, rel=1e-5, abs=1e-6), window
    assert np.isfinite([r["di"] for r in records]).all()

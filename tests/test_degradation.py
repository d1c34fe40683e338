"""Scale-1 restoration: the JPEG degradation, the baseline and the command line."""

import json

import matplotlib.image
import pytest
import torch
from skimage.data import rocket

from captum_lam import zoo
from captum_lam.cli import main
from captum_lam.images import bicubic_downsample, psnr_y, sample_image
from captum_lam.images._degradation import (
    baseline,
    degrade,
    jpeg,
    jpeg_quality,
    psnr_summary,
    task_summary,
)

DENOISER = "waifu2x-cunet-noise2-x1"


def test_jpeg_quality_follows_the_noise_level():
    qualities = [jpeg_quality(f"waifu2x-cunet-noise{k}-x1") for k in range(4)]
    assert qualities == sorted(qualities, reverse=True)
    hr = sample_image("coffee")[..., 100:164, 100:164]
    errors = [psnr_y(jpeg(hr, q), hr, shave=1) for q in qualities]
    assert errors == sorted(errors, reverse=True)  # stronger noise, lower PSNR


def test_degrade_and_baseline_by_scale():
    hr = sample_image("coffee")[..., 100:132, 100:132]
    torch.testing.assert_close(degrade(hr, 2), bicubic_downsample(hr, 2))
    noisy = degrade(hr, 1, DENOISER)
    torch.testing.assert_close(noisy, jpeg(hr, jpeg_quality(DENOISER)))
    assert baseline(noisy, 1) is noisy
    summary = psnr_summary(hr, noisy, hr, 1)
    assert set(summary) == {"psnr_y_db", "degraded_psnr_y_db"}
    assert task_summary(1, DENOISER, False) == {
        "task": "denoising",
        "degradation": "JPEG quality 50",
    }
    assert task_summary(4, None, False)["task"] == "super-resolution"


def test_jpeg_refuses_bad_arguments():
    with pytest.raises(ValueError, match="quality must be in 1..95, got 0"):
        jpeg(torch.rand(1, 3, 8, 8), 0)
    with pytest.raises(ValueError, match=r"image must be RGB \(N, 3, H, W\)"):
        jpeg(torch.rand(3, 8, 8), 50)


@pytest.mark.skipif(not zoo.installed(DENOISER), reason="needs the families extra")
def test_explain_a_denoiser_end_to_end(tmp_path, capsys):
    image = tmp_path / "photo.png"
    matplotlib.image.imsave(image, rocket()[150:190, 250:290])  # 40x40
    out, js = tmp_path / "lam.png", tmp_path / "lam.json"
    argv = ["explain", "--image", image, "--model", DENOISER, "--steps", 2]
    argv += ["--rule", "riemann_middle", "--out", out, "--json", js]
    assert main([str(a) for a in argv]) == 0
    stdout = capsys.readouterr().out
    summary = json.loads(js.read_text())
    assert summary["task"] == "denoising" and summary["scale"] == 1
    assert summary["degradation"] == "JPEG quality 50"
    assert summary["lr_size"] == [40, 40]
    assert "degraded_psnr_y_db" in summary and "bicubic_psnr_y_db" not in summary
    assert "denoised PSNR (Y)" in stdout
    assert out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.skipif(not zoo.installed(DENOISER), reason="needs the families extra")
def test_evaluate_a_denoiser_on_its_degradation():
    from captum_lam.studies import Case, evaluate

    images = {"sample:coffee": sample_image("coffee")[..., 100:140, 100:140]}
    cases = [Case(DENOISER, "sample:coffee", (12, 12, 8))]
    (record,) = evaluate([DENOISER], cases, images=images, n_steps=2)
    assert record["task"] == "denoising" and record["scale"] == 1
    assert "bicubic_psnr_y" not in record
    hr = images["sample:coffee"]
    expected = psnr_y(degrade(hr, 1, DENOISER), hr, shave=1)
    assert record["degraded_psnr_y"] == pytest.approx(expected)

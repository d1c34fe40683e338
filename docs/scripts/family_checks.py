"""Y-PSNR gain over the baseline and LAM completeness for registry models (docs/zoo.md).

    python docs/scripts/family_checks.py psnr srmd-x2 waifu2x-upconv7-photo-x2
    python docs/scripts/family_checks.py completeness srmd-x2 realcugan-se-x2

psnr: an astronaut and a coffee crop (96x96 HR at [100:196, 100:196]), degraded as the
model expects (bicubic, or JPEG for a denoiser), Y-PSNR of the output minus that of
the baseline (bicubic, or the degraded input). completeness: LAM with the midpoint
rule and 64 steps, a 16x16 window near the centre of a 48x48 input crop of chelsea;
relative delta = |delta| / |objective change|. Minutes per model on a CPU.
"""

from __future__ import annotations

import sys
import time

import torch

from captum_lam import LAM, diffusion_index, zoo
from captum_lam.images import psnr_y, sample_image
from captum_lam.images._degradation import baseline, degrade


def psnr_gain(name: str) -> None:
    model = zoo.load(name)
    s = zoo.info(name).scale
    for image in ("astronaut", "coffee"):
        hr = sample_image(image)[..., 100:196, 100:196]
        lr = degrade(hr, s, name)
        with torch.no_grad():
            out = model(lr)
        ours, base = psnr_y(out, hr, shave=s), psnr_y(baseline(lr, s), hr, shave=s)
        print(f"{name} {image}: {ours:.2f} dB vs {base:.2f} dB ({ours - base:+.2f})")


def completeness(name: str) -> None:
    model = zoo.load(name)
    s = zoo.info(name).scale
    hr = sample_image("chelsea")[..., 100 : 100 + 48 * s, 150 : 150 + 48 * s]
    lr = degrade(hr, s, name) if s > 1 else hr
    started = time.perf_counter()
    attr, delta = LAM(model).attribute(
        lr,
        target=(24 * s - 8, 24 * s - 8, 16),
        n_steps=64,
        method="riemann_middle",
        return_convergence_delta=True,
    )
    change = float(attr.double().sum()) - float(delta)
    print(
        f"{name}: relative delta {abs(float(delta)) / abs(change):.2e}, "
        f"DI {float(diffusion_index(attr[0])):.2f}, "
        f"{time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    what, names = sys.argv[1], sys.argv[2:]
    for model_name in names:
        {"psnr": psnr_gain, "completeness": completeness}[what](model_name)

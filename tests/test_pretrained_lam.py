"""LAM on the published networks: completeness holds, the model does not change."""

import pytest
import torch

from captum_lam import LAM, WindowObjective, zoo
from captum_lam.images import bicubic_downsample, sample_image

# one of each graph family: SPAN x4/x2, SRVGGNetCompact with PixelShuffle and with
# Interp (x3), RRDBNet (the 16.7 M Real-ESRGAN at a tiny input)
# (name, LR side, steps): piecewise-linear activations make the midpoint rule converge
# at first order on some networks (animevideov3-x3: 1.1% at 24 steps, 0.27% at 64)
CASES = [
    ("span-x4-ch48", 16, 24),
    ("span-x2-ch48", 16, 24),
    ("realesr-animevideov3-x4", 16, 64),
    ("realesr-animevideov3-x3", 16, 64),
    ("realesrgan-x4plus", 8, 24),
]


@pytest.mark.parametrize("name, side, n_steps", CASES)
def test_lam_is_complete_and_leaves_the_model_alone(name, side, n_steps):
    if name not in zoo.names() or not zoo.installed(name):
        pytest.skip(f"{name}: its package is not installed")
    model = zoo.load(name)
    scale = zoo.info(name).scale
    hr = sample_image("rocket")[..., 200 : 200 + side * scale, 300 : 300 + side * scale]
    lr = bicubic_downsample(hr, scale)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    window = (side * scale // 4, side * scale // 4, side * scale // 2)
    attr, delta = LAM(model).attribute(
        lr,
        target=window,
        n_steps=n_steps,
        method="riemann_middle",
        return_convergence_delta=True,
    )
    objective = WindowObjective(model, window=window)
    with torch.no_grad():
        change = objective(lr) - objective(LAM(model).path.baseline(lr))
    assert attr.shape == lr.shape
    assert abs(float(delta)) < 0.01 * abs(float(change))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert flags == [p.requires_grad for p in model.parameters()]
    assert not model.training

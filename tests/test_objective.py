import pytest
import torch
from captum.attr import InputXGradient, IntegratedGradients, NoiseTunnel, Saliency

from captum_lam import WindowObjective, gradient_magnitude
from captum_lam.objective import format_windows

from .reference_lam import _attr_grad


def test_difference_detector_matches_reference_inside_the_image(tiny_sr):
    torch.manual_seed(1)
    x = torch.rand(1, 3, 10, 12)
    out = tiny_sr(x)
    for top, left, size in [(0, 0, 4), (3, 5, 8), (11, 15, 8)]:
        expected = _attr_grad(out, top, left, size)
        got = WindowObjective(tiny_sr, window=(top, left, size))(x)
        torch.testing.assert_close(got[0], expected)


def test_sqrt_gives_finite_gradient_on_flat_output():
    x = torch.full((1, 1, 6, 6), 0.5, requires_grad=True)
    value = WindowObjective(torch.nn.Identity(), window=(0, 0, 6))(x)
    (grad,) = torch.autograd.grad(value.sum(), x)
    assert torch.isfinite(grad).all() and float(value) == 0.0


def test_sobel_detector_on_a_vertical_edge():
    img = torch.zeros(1, 1, 5, 6)
    img[..., 3:] = 1.0
    mag = gradient_magnitude(img, "sobel")
    # unnormalised Sobel: 1 + 2 + 1 = 4 on both columns next to the edge
    assert mag[0, 0, 2].tolist() == [0.0, 0.0, 4.0, 4.0, 0.0, 0.0]


def test_per_example_windows_equal_separate_calls(tiny_sr):
    x = torch.rand(2, 3, 8, 8)
    windows = torch.tensor([[0, 0, 4], [5, 7, 6]])
    obj = WindowObjective(tiny_sr)
    both = obj(x, windows)
    torch.testing.assert_close(both[0], obj(x[:1], (0, 0, 4))[0])
    torch.testing.assert_close(both[1], obj(x[1:], (5, 7, 6))[0])
    torch.testing.assert_close(obj(x, [(0, 0, 4), (5, 7, 6)]), both)


def test_works_as_forward_of_captum_methods(tiny_sr):
    x = torch.rand(2, 3, 8, 8)
    windows = torch.tensor([[2, 2, 6], [4, 4, 6]])
    obj = WindowObjective(tiny_sr)
    inputs = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(obj(inputs, windows).sum(), inputs)
    saliency = Saliency(obj).attribute(x, additional_forward_args=(windows,))
    torch.testing.assert_close(saliency, grad.abs())
    times = InputXGradient(obj).attribute(x, additional_forward_args=(windows,))
    torch.testing.assert_close(times, x * grad)
    assert float(grad.abs().max()) > 0
    ig = IntegratedGradients(WindowObjective(tiny_sr, window=(2, 2, 6)))
    attr, delta = ig.attribute(x, n_steps=64, return_convergence_delta=True)
    change = WindowObjective(tiny_sr, window=(2, 2, 6))(x) - WindowObjective(
        tiny_sr, window=(2, 2, 6)
    )(torch.zeros_like(x))
    assert (delta.abs() < 0.01 * change.abs()).all()
    nt = NoiseTunnel(Saliency(obj))
    smooth = nt.attribute(
        x,
        nt_type="smoothgrad",
        nt_samples=3,
        stdevs=0.01,
        additional_forward_args=(windows,),
    )
    assert smooth.shape == x.shape


def test_window_outside_output_names_size_and_limits(tiny_sr):
    obj = WindowObjective(tiny_sr)
    with pytest.raises(ValueError, match=r"16x16.*largest valid top is 12"):
        obj(torch.rand(1, 3, 8, 8), (13, 0, 4))


@pytest.mark.parametrize(
    "window, error, match",
    [
        ((1, 2), TypeError, "three integers"),
        ((1, 2, 3.0), TypeError, "three integers"),
        ((0, 0, 0), ValueError, "size must be >= 1"),
        ((-1, 0, 4), ValueError, "top and left must be >= 0"),
        ([(0, 0, 4)] * 3, ValueError, "3 entries but the batch has 2"),
        (torch.zeros(2, 3), TypeError, "integers"),
        (torch.zeros(2, 4, dtype=torch.long), ValueError, r"shape \(3,\) or \(N, 3\)"),
        ("0,0,4", TypeError, "window must be"),
        (None, ValueError, "required"),
    ],
)
def test_bad_windows(window, error, match):
    with pytest.raises(error, match=match):
        format_windows(window, 2)


def test_unknown_detector_lists_the_valid_ones(tiny_sr):
    with pytest.raises(
        ValueError, match=r"detector must be one of \('difference', 'sobel'\)"
    ):
        WindowObjective(tiny_sr, detector="canny")


def test_model_must_return_an_image():
    obj = WindowObjective(lambda x: x.sum(dim=(1, 2, 3)), window=(0, 0, 1))
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        obj(torch.rand(1, 1, 4, 4))


@pytest.mark.parametrize("detector", ["difference", "sobel"])
def test_window_objective_equals_the_whole_output_detector(detector):
    """The detector runs on the window (+ its margin) only: same values, borders too."""
    from captum_lam.objective import window_gradient_sum

    y = torch.rand(4, 3, 20, 24, dtype=torch.float64)
    full = gradient_magnitude(y, detector)
    cases = [
        [[0, 0, 5]] * 4,  # top-left corner, same window for all
        [[15, 19, 5]] * 4,  # bottom-right corner
        [[0, 0, 5], [15, 19, 5], [3, 7, 9], [0, 4, 20]],  # per example, sizes differ
    ]
    for rows in cases:
        windows = torch.tensor(rows)
        expected = torch.stack(
            [full[i, :, t : t + s, c : c + s].sum() for i, (t, c, s) in enumerate(rows)]
        )
        got = window_gradient_sum(y, windows, detector)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "expanded, n",
    [
        ([4, 4, 4, 8, 8, 8, 2, 2, 2], 6),
        (torch.tensor([4, 4, 8, 8, 2, 2]), 4),
        (torch.tensor([[4, 8, 2]] * 3), 6),
    ],
    ids=["list", "tensor3", "tensor13"],
)
def test_format_windows_reads_captums_element_wise_repeat_back(expanded, n):
    """NoiseTunnel and sensitivity_max repeat-interleave list and tensor targets."""
    assert format_windows(expanded, n).tolist() == [[4, 8, 2]] * n


@pytest.mark.parametrize(
    "window, n", [([4, 4, 8, 9, 2, 2], 2), ([4, 4, 8, 8, 2, 2], 3)], ids=["mixed", "n"]
)
def test_format_windows_refuses_lists_that_are_no_repeat(window, n):
    with pytest.raises(TypeError, match="three integers"):
        format_windows(window, n)

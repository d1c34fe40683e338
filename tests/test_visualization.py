import numpy as np
import pytest
import torch
from scipy import stats

from captum_lam.visualization import (
    comparison_figure,
    kde_map,
    lam_figure,
    lam_panels,
    save_figure,
)


def reference_kde(attribution_map):
    """The LAM reference's vis_saliency_kde density (before colouring)."""
    h, w = attribution_map.shape
    grad_flat = attribution_map.reshape(-1)
    datapoint_y, datapoint_x = np.mgrid[0:h:1, 0:w:1]
    positions = np.vstack([datapoint_x.ravel(), datapoint_y.ravel()])
    kernel = stats.gaussian_kde(positions, weights=grad_flat)
    z = np.reshape(kernel(positions).T, attribution_map.shape)
    return z / z.max()


def test_fast_kde_equals_the_reference_gaussian_kde():
    rng = np.random.default_rng(0)
    m = rng.random((14, 11)) ** 6
    np.testing.assert_allclose(kde_map(m), reference_kde(m), atol=1e-9)


def _rendered(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].astype(int)


def test_lam_figure_draws_the_window_box_and_a_map():
    torch.manual_seed(0)
    lr = torch.rand(1, 3, 16, 16) * 0.2 + 0.4  # grey-ish, so red stands out
    attr = torch.zeros(1, 3, 16, 16)
    attr[..., 5:8, 5:8] = 1.0
    hr = torch.full((1, 3, 32, 32), 0.5)
    window = (10, 12, 8)
    fig = lam_figure(attr, lr, window, hr=hr, sr=hr, scale=2, title="net", di=12.5)
    assert [ax.get_title() for ax in fig.axes] == [
        "HR",
        "LAM",
        "LAM on LR",
        "LAM (KDE) on LR",
        "LAM on LR (zoom)",
        "SR output",
    ]
    assert "net" in fig._suptitle.get_text() and "12.50" in fig._suptitle.get_text()
    pixels = _rendered(fig)
    height = pixels.shape[0]
    assert pixels.shape[:2] == (int((2.6 + 0.5) * 100), int(2.6 * 6 * 100))
    hr_ax = fig.axes[0]
    # the box's left edge, half way down, in display pixels (origin bottom-left)
    x, y = hr_ax.transData.transform((window[1] - 0.5, window[0] + window[2] / 2))
    r, g, b = pixels[int(round(height - y)), int(round(x))]
    assert r > 200 and g < 80 and b < 80
    # the map panel is not blank: the hot region is red
    map_ax = fig.axes[1]
    x, y = map_ax.transData.transform((13, 13))
    r, g, b = pixels[int(round(height - y)), int(round(x))]
    assert r > 100 and g < 60 and b < 60
    # the zoom panel shows the window (32x32 output, so the whole image) boxed too
    zoom_ax = fig.axes[4]
    x, y = zoom_ax.transData.transform((window[1] - 0.5, window[0] + window[2] / 2))
    r, g, b = pixels[int(round(height - y)), int(round(x))]
    assert r > 200 and g < 80 and b < 80


def test_panels_have_output_size():
    panels = lam_panels(torch.randn(1, 3, 8, 10), torch.rand(1, 3, 8, 10), scale=4)
    for image in panels.values():
        assert image.shape == (32, 40, 3)
        assert 0.0 <= image.min() and image.max() <= 1.0


@pytest.mark.parametrize(
    "suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF"), (".svg", b"<?xml")]
)
def test_save_figure_formats(tmp_path, suffix, magic):
    fig = lam_figure(
        torch.randn(1, 3, 8, 8), torch.rand(1, 3, 8, 8), (0, 0, 4), scale=1
    )
    path = save_figure(fig, tmp_path / f"lam{suffix}")
    assert path.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [f"lam{suffix}"]


def test_save_figure_rejects_other_formats(tmp_path):
    fig = lam_figure(
        torch.randn(1, 3, 8, 8), torch.rand(1, 3, 8, 8), (0, 0, 4), scale=1
    )
    with pytest.raises(ValueError, match=r"\.png, \.pdf or \.svg"):
        save_figure(fig, tmp_path / "lam.jpg")
    assert list(tmp_path.iterdir()) == []


def test_comparison_grid_one_row_per_method_with_di():
    lr = torch.rand(1, 3, 8, 8)
    maps = {"Saliency": torch.randn(1, 3, 8, 8), "LAM": torch.randn(1, 3, 8, 8)}
    fig = comparison_figure(maps, lr, (2, 2, 8), scale=2)
    assert len(fig.axes) == 6
    labels = [fig.axes[0].get_ylabel(), fig.axes[3].get_ylabel()]
    assert labels[0].startswith("Saliency\nDI ") and labels[1].startswith("LAM\nDI ")


def test_zoom_panel_crops_around_the_window_and_moves_the_box():
    from captum_lam.visualization import _zoom

    image = np.zeros((64, 64, 3))
    image[40:48, 8:16] = 1.0  # the window's pixels
    crop, (top, left, size) = _zoom(image, (40, 8, 8))
    assert crop.shape == (40, 40, 3) and size == 8
    assert crop[top : top + size, left : left + size].min() == 1.0
    assert crop.sum() == image.sum()  # the whole window is inside the crop

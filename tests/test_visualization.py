import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from scipy import stats

from captum_lam.visualization import (
    comparison_figure,
    kde_map,
    lam_figure,
    lam_panels,
    save_figure,
    zoom_side,
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


def _pixel(fig, pixels, ax, x, y):
    """The rendered colour at data point (x, y) of ``ax``."""
    dx, dy = ax.transData.transform((x, y))
    return pixels[int(round(pixels.shape[0] - dy)), int(round(dx))]


def _is_box_blue(rgb):
    r, g, b = rgb
    return b > 200 and r < 80 and g < 160


def test_whole_image_figure_boxes_every_panel_and_has_a_colorbar():
    torch.manual_seed(0)
    lr = torch.rand(1, 3, 16, 16) * 0.2 + 0.4  # grey-ish, so red stands out
    attr = torch.zeros(1, 3, 16, 16)
    attr[..., 5:8, 5:8] = 1.0
    hr = torch.full((1, 3, 32, 32), 0.5)
    window = (10, 12, 8)
    fig = lam_figure(attr, lr, window, hr=hr, sr=hr, scale=2, title="net", di=12.5)
    titles = [ax.get_title() for ax in fig.axes]
    # 32x32 output: the map is not local in so small an image, so no zoom
    assert titles[:4] == ["HR", "LAM on LR", "LAM (KDE) on LR", "SR output"]
    heading = fig._suptitle.get_text()
    assert "net" in heading and "DI 12.50 on a 16x16 LR input" in heading
    colorbar = fig.axes[4]
    assert "DI" in colorbar.get_ylabel() and colorbar.get_ylim() == (0.0, 1.0)
    pixels = _rendered(fig)
    for ax in fig.axes[:4]:  # the box's left edge, half way down
        rgb = _pixel(fig, pixels, ax, window[1] - 0.5, window[0] + window[2] / 2)
        assert _is_box_blue(rgb), (ax.get_title(), rgb)
    # the map is red where it is hot, and the LR input shows (grey) where it is 0
    r, g, b = _pixel(fig, pixels, fig.axes[1], 13, 13)
    assert r > 100 and g < 60 and b < 60
    r, g, b = _pixel(fig, pixels, fig.axes[1], 28, 3)
    assert abs(r - g) < 15 and 80 < r < 150  # not washed out to white


def test_title_names_image_model_window_in_image_pixels_steps_and_method():
    attr = torch.randn(1, 3, 8, 8)
    fig = lam_figure(
        attr,
        torch.rand(1, 3, 8, 8),
        (4, 4, 8),
        scale=2,
        title="span-x4",
        di=0.87,
        image="sample:chelsea",
        origin=(100, 40),
        n_steps=50,
        method="riemann_right",
    )
    heading = fig._suptitle.get_text()
    for part in (
        "span-x4",
        "DI 0.87 on a 8x8 LR input",
        "sample:chelsea",
        "top=104 left=44 size=8",
        "50 steps",
        "riemann_right",
    ):
        assert part in heading, (part, heading)


def test_local_map_makes_the_zoom_the_main_view_with_the_whole_image_small():
    lr = torch.rand(1, 3, 64, 64)
    attr = torch.zeros(1, 3, 64, 64)
    attr[..., 30:34, 30:34] = 1.0
    window = (124, 124, 8)
    fig = lam_figure(attr, lr, window, sr=torch.rand(1, 3, 256, 256), scale=4)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == [
        "LAM on LR (zoom)",
        "LAM (KDE) on LR (zoom)",
        "SR output (zoom)",
    ]
    assert "SR output, full view" in titles  # no HR given: the SR output, small
    main, whole = fig.axes[0], fig.axes[titles.index("LAM, full view")]
    side = zoom_side(attr, window, 4)
    assert main.get_images()[0].get_array().shape[:2] == (side, side)
    assert whole.get_images()[0].get_array().shape[:2] == (256, 256)
    assert main.get_position().width > 1.8 * whole.get_position().width
    pixels = _rendered(fig)
    for ax in fig.axes[:3]:  # the box moved with the zoom
        box = [p for p in ax.patches if p.get_edgecolor()[2] > 0.9][0]
        x, y = box.get_xy()
        assert _is_box_blue(_pixel(fig, pixels, ax, x, y + box.get_height() / 2))


def test_zoom_side_holds_the_map_and_is_none_for_a_global_map():
    attr = torch.zeros(1, 3, 64, 64)
    attr[..., 20:44, 30:34] = 1.0  # reaches 12 LR px = 48 HR px above and below
    side = zoom_side(attr, (124, 124, 8), 4)
    hr_map = attr[0, 0].repeat_interleave(4, 0).repeat_interleave(4, 1)

    def held(side):
        r0 = 128 - side // 2
        return hr_map[r0 : r0 + side, r0 : r0 + side].sum() / hr_map.sum()

    assert held(side) >= 0.95 and held(side - 16) < 0.95  # holds 95%, not much more
    assert side < 256 * 0.6
    assert zoom_side(torch.ones(1, 3, 64, 64), (124, 124, 8), 4) is None


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
    assert len(fig.axes) == 3  # 2 rows x 1 panel (no KDE panel), one colorbar
    labels = [fig.axes[0].get_ylabel(), fig.axes[1].get_ylabel()]
    assert labels[0].startswith("Saliency\nDI ") and labels[1].startswith("LAM\nDI ")
    assert labels[0].endswith("on a 8x8 LR input")


def test_comparison_titles_and_settings_are_each_rows_own():
    lr = torch.rand(1, 3, 8, 8)
    maps = {"Saliency": torch.randn(1, 3, 8, 8), "IG": torch.randn(1, 3, 8, 8)}
    notes = {"Saliency": "one gradient", "IG": "50 steps, gausslegendre"}
    fig = comparison_figure(
        maps,
        lr,
        (2, 2, 8),
        scale=2,
        methods={"Saliency": "Saliency", "IG": "IG"},
        notes=notes,
    )
    assert [ax.get_title() for ax in fig.axes[:2]] == ["Saliency on LR", "IG on LR"]
    assert [ax.get_xlabel() for ax in fig.axes[:2]] == list(notes.values())


def test_the_small_column_shows_the_whole_image_around_the_region():
    lr = torch.rand(1, 3, 64, 64)
    attr = torch.zeros(1, 3, 64, 64)
    attr[..., 30:34, 30:34] = 1.0
    image = torch.rand(1, 3, 300, 448)
    fig = lam_figure(
        attr,
        lr,
        (124, 124, 8),
        hr=torch.rand(1, 3, 256, 256),
        scale=4,
        origin=(20, 100),
        full_image=image,
    )
    titles = [ax.get_title() for ax in fig.axes]
    whole = fig.axes[titles.index("HR, the whole image")]
    assert whole.get_images()[0].get_array().shape[:2] == (300, 448)
    boxes = {(p.get_x() + 0.5, p.get_y() + 0.5, p.get_width()) for p in whole.patches}
    assert (224, 144, 8) in boxes  # the window, in the image's pixels
    assert (100, 20, 256) in boxes  # the region the LR input was made from
    assert "LAM, the whole LR input" in titles


def test_comparison_rows_share_one_zoom_and_each_names_its_model():
    lr = torch.rand(1, 3, 64, 64)
    narrow, wide = torch.zeros(1, 3, 64, 64), torch.zeros(1, 3, 64, 64)
    narrow[..., 31:33, 31:33] = 1.0
    wide[..., 24:40, 24:40] = 1.0
    names = [f"model-{i}" for i in range(6)]
    maps = {name: (narrow if i % 2 else wide) for i, name in enumerate(names)}
    srs = {name: torch.rand(1, 3, 256, 256) for name in names}
    window = (124, 124, 8)
    fig = comparison_figure(maps, lr, window, scale=4, sr=srs)
    main = [ax for ax in fig.axes if ax.get_images()][: 6 * 2]
    shapes = {ax.get_images()[0].get_array().shape[:2] for ax in main}
    side = zoom_side(wide, window, 4)
    assert shapes == {(side, side)}  # the widest row's zoom, on every row
    whole = [ax for ax in fig.axes if ax.get_images()][6 * 2 :]
    assert [ax.get_ylabel().splitlines()[0] for ax in whole] == names
    assert fig.get_size_inches()[1] < 20  # six rows stay on one screen-ish page


def _zoom(image, window, widths=5):
    """``image`` cut to the zoom region of ``widths`` window sizes, the box moved."""
    from captum_lam.visualization import _zoom_region

    top, left, size = window
    r0, c0, side = _zoom_region(image.shape[:2], window, size * widths)
    return image[r0 : r0 + side, c0 : c0 + side], (top - r0, left - c0, size)


def test_zoom_panel_crops_around_the_window_and_moves_the_box():
    image = np.zeros((64, 64, 3))
    image[40:48, 8:16] = 1.0  # the window's pixels
    crop, (top, left, size) = _zoom(image, (40, 8, 8))
    assert crop.shape == (40, 40, 3) and size == 8
    assert crop[top : top + size, left : left + size].min() == 1.0
    assert crop.sum() == image.sum()  # the whole window is inside the crop


def test_denoising_panels_are_named_for_the_task():
    attr, lr = torch.randn(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    fig = lam_figure(attr, lr, (4, 4, 8), hr=lr, sr=lr, scale=1, task="denoising")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:4] == [
        "clean",
        "LAM on input",
        "LAM (KDE) on input",
        "denoised output",
    ]
    with pytest.raises(ValueError, match="task must be 'super-resolution' or"):
        lam_figure(attr, lr, (4, 4, 8), scale=1, task="deblurring")


@pytest.mark.parametrize("figure", ["lam", "comparison"])
def test_a_long_heading_is_wrapped_inside_the_figure(figure):
    attr, lr = torch.randn(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    names = dict(
        image="/data/" + "a_long_dataset_folder_name/" * 8 + "photo.png",
        n_steps=162,
        method="n_steps auto, tolerance 0.001",
    )
    if figure == "lam":
        fig = lam_figure(attr, lr, (2, 2, 4), scale=1, title="m" * 150, **names)
    else:
        fig = comparison_figure({"LAM": attr}, lr, (2, 2, 4), scale=1, **names)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    box = fig._suptitle.get_window_extent(canvas.get_renderer())
    assert 0 <= box.x0 and box.x1 <= fig.bbox.width, (box, fig.bbox)
    heading = fig._suptitle.get_text()
    assert "162 steps" in heading and "tolerance 0.001" in heading
    assert heading.replace("\n", "").count("a_long_dataset_folder_name") == 8

"""The DI map figure: the image alone on the left, the image under the DI cells on
the right, each cell centred on its window, at the documented size."""

import numpy as np
import pytest
import torch

from captum_lam.multiwindow import di_map_figure, grid_windows


@pytest.mark.parametrize(
    "stride, extent",
    [
        # tiles: the cells are the windows themselves
        (None, (-0.5, 31.5, 31.5, -0.5)),
        # overlapping windows: stride-wide cells around the windows' centres
        (8, (3.5, 27.5, 27.5, 3.5)),
    ],
)
def test_cells_sit_on_their_windows(stride, extent):
    grid = grid_windows(32, 32, size=16, stride=stride)
    values = np.arange(float(grid.shape[0] * grid.shape[1])).reshape(grid.shape[:2])
    values[0, 0] = np.nan
    fig = di_map_figure(torch.rand(1, 3, 32, 32), grid, values)
    image, cells = fig.axes[1].get_images()
    assert image.get_array().shape == (32, 32, 3)
    assert cells.get_extent() == pytest.approx(extent)
    shown = cells.get_array()
    assert shown.mask[0, 0] and not shown.mask.ravel()[1:].any()
    np.testing.assert_array_equal(shown.data.ravel()[1:], values.ravel()[1:])
    assert cells.get_clim() == (0.0, values[np.isfinite(values)].max())


def test_the_left_panel_is_the_image_alone():
    grid = grid_windows(16, 16, size=8)
    picture = torch.rand(1, 3, 16, 16)
    fig = di_map_figure(picture, grid, np.ones((2, 2)))
    (image,) = fig.axes[0].get_images()
    np.testing.assert_allclose(
        image.get_array(), picture[0].permute(1, 2, 0).numpy(), atol=1e-6
    )
    assert fig.axes[0].get_title() == "image"
    assert len(fig.axes[1].get_images()) == 2


@pytest.mark.parametrize("panel_size, inches", [(4.0, (8.8, 4.4)), (2.5, (5.8, 2.9))])
def test_figure_size_follows_the_panel_size(panel_size, inches):
    fig = di_map_figure(
        torch.rand(1, 3, 16, 16),
        grid_windows(16, 16, size=8),
        np.ones((2, 2)),
        panel_size=panel_size,
    )
    assert tuple(fig.get_size_inches()) == pytest.approx(inches)

"""Drawing one panel: an image with its title, the window's box, the map's
colorbar."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .._io import printable
from .colours import map_colormap

#: The window's box: blue, which the white-to-red map never uses.
BOX_COLOR = "#1f77ff"


def draw_box(
    ax, window: tuple[int, int, int], color: str = BOX_COLOR, **kwargs
) -> None:
    """A square outline on the window (image pixels), through the pixels' edges."""
    top, left, size = window
    ax.add_patch(
        Rectangle(
            (left - 0.5, top - 0.5),
            size,
            size,
            fill=False,
            edgecolor=color,
            linewidth=kwargs.pop("linewidth", 1.5),
            **kwargs,
        )
    )


def show_image(ax, image: np.ndarray, label: str, fontsize: float = 9) -> None:
    """``image`` on ``ax``, pixels unsmoothed, titled, without ticks."""
    ax.imshow(image, interpolation="nearest")
    ax.set_title(printable(label), fontsize=fontsize)
    ax.set_xticks([])
    ax.set_yticks([])


def map_colorbar(fig: Figure, cax) -> None:
    """The map's colour scale, 0 to 1, on ``cax``."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    bar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), map_colormap()), cax=cax)
    bar.set_label("|attribution| / max  (the map the DI uses)", fontsize=8)
    bar.ax.tick_params(labelsize=7)

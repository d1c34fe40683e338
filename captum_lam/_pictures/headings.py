"""Figure headings: model, DI, image, window and settings, wrapped to the figure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional, Sequence

from .._io import printable

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def heading(
    title: str,
    di: Optional[str],
    *,
    image: Optional[str],
    window: tuple[int, int, int],
    origin: tuple[int, int],
    n_steps: Optional[int],
    method: Optional[str],
    fits: Callable[[str], bool] = lambda line: True,
) -> str:
    """Model and DI; image, window (image pixels), steps and method.

    Lines are broken between parts where ``fits`` says a line is too long for
    the figure, between words or inside a word where one part alone is, so a
    long model name, image path or setting never runs off the figure.
    """
    # undecodable bytes of a file name cannot be drawn: U+FFFD instead
    title, image = printable(title), None if image is None else printable(image)
    first = [title] if title else []
    if di is not None:
        first.append(di)
    top, left, size = window
    second = [f"image {image}"] if image else []
    second.append(
        f"window top={top + origin[0]} left={left + origin[1]} size={size}"
        + (" (image pixels)" if image else "")
    )
    if n_steps is not None:
        second.append(f"{n_steps} steps")
    if method:
        second.append(method)
    lines = wrap(["  —  ".join(first)], "", fits) if first else []
    return "\n".join([*lines, *wrap(second, ", ", fits)])


def wrap(parts: Sequence[str], sep: str, fits: Callable[[str], bool]) -> list[str]:
    """``parts`` joined by ``sep`` into as few lines as ``fits`` allows."""
    lines: list[str] = []
    for part in parts:
        pieces = [part]
        if not fits(part) and len(part) > 1:
            inner = " " if " " in part else ""
            pieces = wrap(part.split(" ") if inner else list(part), inner, fits)
        for k, piece in enumerate(pieces):
            if k == 0 and lines and fits(lines[-1] + sep + piece):
                lines[-1] += sep + piece
            else:
                if k == 0 and lines:
                    lines[-1] += sep.rstrip()
                lines.append(piece)
    return lines


def heading_fits(fig: Figure, fontsize: float) -> Callable[[str], bool]:
    """Whether a line of a ``fontsize`` heading fits across ``fig``."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    font = FontProperties(size=fontsize)
    room = 0.96 * fig.get_figwidth() * 72  # points

    def fits(line: str) -> bool:
        width, _, _ = text_to_path.get_text_width_height_descent(line, font, False)
        return width <= room

    return fits

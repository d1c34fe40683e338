"""LAM studies at scale: many models, images and windows, as in the LAM paper.

A study is a list of :class:`Case` objects (an image and a window, optionally a
model) evaluated for several models by :func:`evaluate`, which writes one plain
``dict`` record per (model, image, window) to a JSON Lines file, resumably, and
shards the work over processes started by PyTorch's launcher (``torchrun``).
:func:`aggregate` summarises the records per model (mean and median Diffusion
Index with bootstrap confidence intervals); :func:`di_vs_psnr`,
:func:`di_vs_receptive_field` and :func:`di_vs_content` are the paper's
analyses, each returning its numbers and a matplotlib figure.

The Diffusion Index alone misleads across image sizes: it is ``1 - Gini`` of
the map over *all* input pixels, so the same local map gets a different DI in a
larger image. :func:`mass_area` (how many LR pixels hold half or 90% of the
attribution) and :func:`mean_distance` (how far from the window the
attribution lies) do not depend on the image size.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from ._images import (
    bicubic_downsample,
    bicubic_upsample,
    crop_to_multiple,
    psnr_y,
    read_image,
    rgb_to_y,
    sample_image,
    ssim_y,
)
from ._io import write_text_atomic
from .metrics import abs_normalized_map, diffusion_index
from .models._loading import model_scale
from .multiwindow import attribute_windows
from .windows import texture_energy, textured_windows

__all__ = [
    "CONTENT_CLASSES",
    "Case",
    "aggregate",
    "classify_content",
    "di_vs_content",
    "di_vs_psnr",
    "di_vs_receptive_field",
    "evaluate",
    "format_table",
    "load_image",
    "mass_area",
    "mean_distance",
    "read_cases",
    "read_jsonl",
    "select_cases",
    "write_csv",
    "write_jsonl",
]

PathLike = Union[str, os.PathLike]

#: The content classes of :func:`classify_content`.
CONTENT_CLASSES = ("flat", "edge", "texture")
#: Mean luma gradient magnitude (per HR pixel, luma in [0, 1]) below which a
#: window is "flat".
FLAT_ENERGY = 0.015
#: Structure-tensor coherence at or above which a textured window is an "edge"
#: (one dominant orientation: an edge, a line, parallel stripes).
EDGE_COHERENCE = 0.5
#: Record fields that depend on the machine, not on the case.
TIMING_FIELDS = ("seconds", "group_seconds", "group_windows")
#: The settings every record of one output file must share.
SETTINGS = ("n_steps", "method", "sigma", "kernel_size", "detector", "tolerance")


# --- size-robust companions of the Diffusion Index ----------------------------


def _magnitude_maps(attributions: Any) -> np.ndarray:
    """``|sum over channels|`` as (N, h, w) float64; one map gives N = 1."""
    if isinstance(attributions, Tensor):
        attributions = attributions.detach().to("cpu", torch.float64).numpy()
    array = np.asarray(attributions, dtype=np.float64)
    if array.ndim == 2:
        array = array[None, None]
    elif array.ndim == 3:
        array = array[None]
    elif array.ndim != 4:
        raise ValueError(
            "attributions must have shape (h, w), (C, h, w) or (N, C, h, w), got "
            f"{array.shape}"
        )
    return np.stack([abs_normalized_map(one) for one in array])


def mass_area(attributions: Any, fraction: float = 0.5) -> Union[int, np.ndarray]:
    """How many LR pixels hold ``fraction`` of the attribution mass.

    The map is ``|sum over channels|`` of the attribution (the map the
    Diffusion Index is computed on); its pixels are taken largest first until
    their sum reaches ``fraction`` of the total. Unlike the DI, the count does
    not change when the image around the window grows.

    Parameters
    ----------
    attributions : Tensor or ndarray
        One map (h, w) or (C, h, w), or a batch (N, C, h, w). Not all zero.
    fraction : float
        In (0, 1], e.g. 0.5 or 0.9.

    Returns
    -------
    int or ndarray
        An int in [1, h * w] for one map; an (N,) int64 array for a batch.

    Examples
    --------
    >>> m = np.zeros((8, 8)); m[0, 0] = 3.0; m[5, 5] = 1.0
    >>> mass_area(m, 0.5), mass_area(m, 0.9)
    (1, 2)
    >>> mass_area(np.ones((3, 10, 10)), 0.5)
    50
    """
    if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    maps = _magnitude_maps(attributions)
    counts = []
    for m in maps:
        values = np.sort(m.ravel())[::-1]
        cumulative = np.cumsum(values)
        # a relative tolerance so that fraction=1 and exact ties do not overshoot
        target = fraction * cumulative[-1] * (1 - 1e-12)
        counts.append(int(np.searchsorted(cumulative, target) + 1))
    batch = len(getattr(attributions, "shape", np.shape(attributions))) == 4
    return np.array(counts, dtype=np.int64) if batch else counts[0]


def _window_centre(window: Sequence[int], scale: int) -> tuple[float, float]:
    """The window's centre in LR pixel coordinates (pixel centres at integers)."""
    top, left, size = (int(v) for v in window)
    return (top + size / 2) / scale - 0.5, (left + size / 2) / scale - 0.5


def mean_distance(attributions: Any, window: Sequence[int], scale: int) -> float:
    """Attribution-weighted mean distance, in LR pixels, from the window's centre.

    The weights are ``|sum over channels|`` of the map. The window
    ``(top, left, size)`` is in output pixels; its centre in LR pixel
    coordinates is ``((top + size / 2) / scale - 0.5, (left + size / 2) / scale
    - 0.5)`` (LR pixel ``i`` covers output pixels ``i * scale`` to ``(i + 1) *
    scale - 1``).

    Parameters
    ----------
    attributions : Tensor or ndarray
        One map, (h, w), (C, h, w) or (1, C, h, w). Not all zero.
    window : tuple
        ``(top, left, size)`` in output pixels.
    scale : int
        Upscaling factor of the network.

    Returns
    -------
    float
        >= 0; small when the network used the pixels under the window only.

    Examples
    --------
    >>> m = np.zeros((8, 8)); m[2, 2] = 1.0
    >>> mean_distance(m, (8, 8, 4), scale=4)  # window over LR pixel (2, 2)
    0.0
    >>> m[2, 6] = 1.0
    >>> mean_distance(m, (8, 8, 4), scale=4)
    2.0
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be an integer >= 1, got {scale!r}")
    maps = _magnitude_maps(attributions)
    if maps.shape[0] != 1:
        raise ValueError("mean_distance takes one map, not a batch")
    weights = maps[0]
    cy, cx = _window_centre(window, scale)
    ys, xs = np.mgrid[0 : weights.shape[0], 0 : weights.shape[1]]
    distances = np.hypot(ys - cy, xs - cx)
    return float((weights * distances).sum() / weights.sum())


# --- cases ---------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One window of one image, for one model or (``model=None``) for every model.

    Attributes
    ----------
    model : str or None
        Registry name of the model, or None: every model of the study.
    image : str
        ``sample:NAME`` (a bundled photo) or a file path; the HR image.
    window : tuple of int
        ``(top, left, size)`` in HR (= output) pixels.
    """

    model: Optional[str]
    image: str
    window: tuple[int, int, int]

    def __post_init__(self) -> None:
        window = tuple(int(v) for v in self.window)
        if len(window) != 3 or window[2] < 1 or min(window[:2]) < 0:
            raise ValueError(
                f"window must be (top, left, size) with top, left >= 0 and size >= "
                f"1, got {self.window!r}"
            )
        object.__setattr__(self, "window", window)

    def key(self, model: Optional[str] = None) -> str:
        """Stable identity of the case for ``model`` (default: its own model)."""
        name = self.model if model is None else model
        top, left, size = self.window
        return f"{name}|{self.image}|{top},{left},{size}"


def load_image(spec: str) -> Tensor:
    """``sample:NAME`` or a PNG/JPEG path -> (1, 3, H, W) float32 in [0, 1]."""
    if spec.startswith("sample:"):
        return sample_image(spec.split(":", 1)[1])
    return read_image(spec)


def classify_content(
    image: Tensor,
    window: Sequence[int],
    *,
    flat_energy: float = FLAT_ENERGY,
    edge_coherence: float = EDGE_COHERENCE,
) -> tuple[str, float, float]:
    """Is the window flat, an edge, or texture?

    On the luma of the window (BT.601, in [0, 1]): the gradient energy is the
    mean forward-difference gradient magnitude; the coherence of the summed
    structure tensor ``J = sum [gx^2, gx gy; gx gy, gy^2]`` is
    ``((l1 - l2) / (l1 + l2))^2`` with ``l1 >= l2`` its eigenvalues: 1 for one
    orientation (an edge, a line, parallel stripes), 0 for no dominant one.

    * ``"flat"``: energy below ``flat_energy`` (default 0.015);
    * ``"edge"``: otherwise, coherence at least ``edge_coherence`` (0.5);
    * ``"texture"``: the rest.

    Parameters
    ----------
    image : Tensor
        (1, 3, H, W) or (3, H, W) in [0, 1], the HR image.
    window : tuple
        ``(top, left, size)`` in the image's pixels.

    Returns
    -------
    (label, energy, coherence)

    Examples
    --------
    >>> img = torch.zeros(1, 3, 32, 32)
    >>> classify_content(img, (8, 8, 16))[0]
    'flat'
    >>> img[..., 16:] = 1.0  # a vertical edge
    >>> classify_content(img, (8, 8, 16))[0]
    'edge'
    >>> noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> classify_content(noise, (8, 8, 16))[0]
    'texture'
    """
    if image.ndim == 3:
        image = image[None]
    top, left, size = (int(v) for v in window)
    h, w = image.shape[-2:]
    if top + size > h or left + size > w:
        raise ValueError(f"window {tuple(window)} leaves the {h}x{w} image")
    luma = rgb_to_y(image.detach().double().cpu())[0, 0].numpy()
    patch = luma[top : min(top + size + 1, h), left : min(left + size + 1, w)]
    gx = np.diff(patch, axis=1)[:size, :size]
    gy = np.diff(patch, axis=0)[:size, :size]
    rows, cols = min(gx.shape[0], gy.shape[0]), min(gx.shape[1], gy.shape[1])
    gx, gy = gx[:rows, :cols], gy[:rows, :cols]
    energy = float(np.hypot(gx, gy).mean()) if gx.size else 0.0
    jxx, jyy, jxy = (
        float((gx * gx).sum()),
        float((gy * gy).sum()),
        float((gx * gy).sum()),
    )
    trace = jxx + jyy
    coherence = (
        (math.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / trace) ** 2 if trace > 0 else 0.0
    )
    if energy < flat_energy:
        label = "flat"
    elif coherence >= edge_coherence:
        label = "edge"
    else:
        label = "texture"
    return label, energy, coherence


def _image_seed(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _candidates(hr: Tensor, size: int, margin: int) -> list[tuple[int, int, float]]:
    """Every window position on a ``size // 4`` grid, with its gradient energy."""
    stride = max(1, size // 4)
    energy = texture_energy(hr, size, stride)
    h, w = hr.shape[-2:]
    found = []
    for i in range(energy.shape[0]):
        for j in range(energy.shape[1]):
            top, left = i * stride, j * stride
            if min(top, left) < margin:
                continue
            if top + size > h - margin or left + size > w - margin:
                continue
            found.append((top, left, float(energy[i, j])))
    return found


def _disjoint(chosen: list[tuple[int, int, int]], top: int, left: int, size: int):
    return all(abs(top - t) >= size or abs(left - lf) >= size for t, lf, _ in chosen)


def select_cases(
    images: Mapping[str, Tensor],
    per_image: int = 4,
    size: int = 16,
    seed: Optional[int] = 0,
    scale: int = 4,
    *,
    mode: str = "hardest",
    pool: int = 3,
    margin: Optional[int] = None,
) -> list[Case]:
    """Windows to explain, chosen like the LAM paper: the hard ones.

    ``mode="hardest"`` (default) takes the ``pool * per_image`` most textured
    non-overlapping windows of each image (:func:`~captum_lam.windows.
    textured_windows`, highest gradient energy first) and draws ``per_image`` of
    them with a generator seeded by ``seed`` and the image's name (so adding an
    image does not change the others' windows); ``seed=None`` takes the top
    ``per_image`` deterministically. ``mode="random"`` draws non-overlapping
    windows uniformly; ``mode="stratified"`` draws ``per_image`` windows of
    each content class of :func:`classify_content` (fewer where an image has
    fewer), for the DI-vs-content analysis.

    Windows never overlap within an image and keep ``margin`` HR pixels from the
    borders (default: ``scale``, the border PSNR leaves out).

    Parameters
    ----------
    images : mapping of name -> Tensor
        HR images (1, 3, H, W) in [0, 1]; the names become :attr:`Case.image`
        (``sample:NAME`` or a path, for :func:`evaluate` to load them).
    per_image : int
        Windows per image (per class with ``mode="stratified"``).
    size : int
        Window side in HR pixels (default 16, the paper's).
    seed : int or None
        Seed of the draw; None: deterministic (top ``per_image``; random modes
        then use seed 0).
    scale : int
        Upscaling factor: images are cropped to a multiple of it first.

    Returns
    -------
    list of Case
        With ``model=None``, image by image in the mapping's order, the windows
        of an image by decreasing gradient energy.

    Examples
    --------
    >>> img = torch.zeros(1, 3, 96, 96); img[..., 48:, 48:] = torch.rand(48, 48)
    >>> cases = select_cases({"sample:x": img}, per_image=2, seed=None)
    >>> [c.window for c in cases]  # doctest: +SKIP
    [(52, 52, 16), (52, 72, 16)]
    >>> all(c.window[0] >= 36 and c.window[1] >= 36 for c in cases)
    True
    """
    if isinstance(per_image, bool) or not isinstance(per_image, int) or per_image < 1:
        raise ValueError(f"per_image must be an integer >= 1, got {per_image!r}")
    if mode not in ("hardest", "random", "stratified"):
        raise ValueError(
            f"mode must be 'hardest', 'random' or 'stratified', got {mode!r}"
        )
    if not isinstance(pool, int) or pool < 1:
        raise ValueError(f"pool must be an integer >= 1, got {pool!r}")
    margin = scale if margin is None else margin
    cases: list[Case] = []
    for name, image in images.items():
        hr = crop_to_multiple(image, scale)
        h, w = hr.shape[-2:]
        if size > min(h, w) - 2 * margin:
            raise ValueError(
                f"image {name!r} ({w}x{h}) has no room for a {size}x{size} window "
                f"{margin} pixels from its borders"
            )
        rng = _image_seed(0 if seed is None else seed, name)
        if mode == "hardest":
            ranked = textured_windows(hr, size, count=pool * per_image, margin=margin)
            if seed is None:
                chosen = ranked[:per_image]
            else:
                take = min(per_image, len(ranked))
                picks = np.sort(rng.choice(len(ranked), size=take, replace=False))
                chosen = [ranked[i] for i in picks]
        else:
            candidates = _candidates(hr, size, margin)
            order = rng.permutation(len(candidates))
            chosen_with_energy: list[tuple[int, int, int, float]] = []
            counts = dict.fromkeys(CONTENT_CLASSES, 0)
            for i in order.tolist():
                top, left, energy = candidates[i]
                taken = [(t, lf, s) for t, lf, s, _ in chosen_with_energy]
                if not _disjoint(taken, top, left, size):
                    continue
                if mode == "stratified":
                    label = classify_content(hr, (top, left, size))[0]
                    if counts[label] >= per_image:
                        continue
                    counts[label] += 1
                chosen_with_energy.append((top, left, size, energy))
                limit = per_image * (3 if mode == "stratified" else 1)
                if len(chosen_with_energy) == limit:
                    break
            chosen_with_energy.sort(key=lambda c: (-c[3], c[0], c[1]))
            chosen = [(t, lf, s) for t, lf, s, _ in chosen_with_energy]
        cases.extend(Case(None, name, window) for window in chosen)
    return cases


def read_cases(path: PathLike) -> list[Case]:
    """An explicit list of cases from a JSON Lines or CSV file.

    JSON Lines (``.jsonl``/``.json``): one object per line with ``image`` and
    either ``window: [top, left, size]`` or ``top``, ``left``, ``size``;
    ``model`` is optional. CSV: a header with ``image,top,left,size`` and
    optionally ``model``. Blank lines and JSON lines starting with ``#`` are
    skipped.

    Raises
    ------
    ValueError
        Naming the file and line of the first bad entry.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "cases.csv"
    >>> _ = p.write_text("image,top,left,size\\nsample:coffee,40,80,16\\n")
    >>> read_cases(p)
    [Case(model=None, image='sample:coffee', window=(40, 80, 16))]
    """
    path = Path(path)
    text = path.read_text()
    cases: list[Case] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = {"image", "top", "left", "size"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(
                f"{path}: the CSV header must name image, top, left, size (and "
                f"optionally model); missing {', '.join(sorted(missing))}"
            )
        for line, row in enumerate(reader, start=2):
            cases.append(_case_from(row, path, line))
        return cases
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{line}: not JSON ({error.msg})") from None
        if not isinstance(entry, dict):
            raise ValueError(f"{path}:{line}: expected a JSON object")
        if "window" in entry:
            window = entry["window"]
            if not isinstance(window, list) or len(window) != 3:
                raise ValueError(f"{path}:{line}: window must be [top, left, size]")
            entry = {**entry, "top": window[0], "left": window[1], "size": window[2]}
        cases.append(_case_from(entry, path, line))
    return cases


def _case_from(entry: Mapping[str, Any], path: Path, line: int) -> Case:
    image = entry.get("image")
    if not image or not isinstance(image, str):
        raise ValueError(f"{path}:{line}: 'image' is missing")
    try:
        window = tuple(int(entry[k]) for k in ("top", "left", "size"))
        return Case(entry.get("model") or None, image, window)  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(
            f"{path}:{line}: needs integers top, left >= 0 and size >= 1 ({error})"
        ) from None


# --- records on disk -----------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN/Inf to None."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def write_jsonl(records: Iterable[Mapping[str, Any]], path: PathLike) -> Path:
    """Write records as JSON Lines, atomically (a temporary file, then rename)."""
    path = Path(path)
    lines = [
        json.dumps({k: _plain(v) for k, v in r.items()}, allow_nan=False)
        for r in records
    ]
    write_text_atomic(path, "".join(line + "\n" for line in lines))
    return path


def read_jsonl(path: PathLike) -> list[dict[str, Any]]:
    """Records of a JSON Lines file; a cut-off last line is skipped.

    Raises ``ValueError`` for a malformed line that is not the last.
    """
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    records = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            records.append(json.loads(raw))
        except json.JSONDecodeError:
            if number == len(lines):  # no newline after it: an interrupted write
                continue
            raise ValueError(f"{path}:{number}: not a JSON record") from None
    return records


def write_csv(records: Sequence[Mapping[str, Any]], path: PathLike) -> Path:
    """Write records as CSV (columns: every key, in order of first appearance).

    Missing and None values are empty cells; lists are written as JSON. Atomic.
    """
    columns: list[str] = []
    for r in records:
        columns.extend(k for k in r if k not in columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for r in records:
        row = []
        for column in columns:
            value = _plain(r.get(column))
            if value is None:
                row.append("")
            elif isinstance(value, (list, tuple, dict)):
                row.append(json.dumps(value))
            else:
                row.append(value)
        writer.writerow(row)
    path = Path(path)
    write_text_atomic(path, buffer.getvalue())
    return path


# --- evaluation ----------------------------------------------------------------


def _rank_path(out: Path, rank: int) -> Path:
    return out.with_name(f"{out.stem}.rank{rank}{out.suffix}")


def _rank_files(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f"{out.stem}.rank*{out.suffix}"))


def _distributed() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment variables; (0, 1) without."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    return 0, 1


def _cut_partial_line(path: Path) -> None:
    """Drop an interrupted, half-written last line so appending stays valid."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with open(path, "r+b") as fh:
            fh.truncate(keep)


def _check_settings(records: Sequence[Mapping[str, Any]], settings: dict) -> None:
    for r in records:
        theirs = {k: r.get(k) for k in SETTINGS}
        if theirs != settings:
            raise ValueError(
                f"the output file holds results computed with {theirs}, but this "
                f"run asks for {settings}; write to another file"
            )


def _merge(out: Path, order: Mapping[str, int], extra: Sequence[Path]) -> list[dict]:
    """Records of ``out`` and ``extra`` files, without duplicates, in job order."""
    merged: dict[str, dict] = {}
    for source in [out, *extra]:
        for r in read_jsonl(source):
            merged.setdefault(r["key"], r)
    known = sorted((k for k in merged if k in order), key=order.__getitem__)
    others = [k for k in merged if k not in order]
    records = [merged[k] for k in known + others]
    write_jsonl(records, out)
    for source in extra:
        source.unlink()
    return records


def evaluate(
    models: Union[Sequence[str], Mapping[str, Any], None],
    cases: Sequence[Case],
    *,
    images: Optional[Mapping[str, Tensor]] = None,
    n_steps: int = 50,
    method: str = "riemann_right",
    sigma: float = 1.2,
    kernel_size: int = 9,
    detector: str = "difference",
    internal_batch_size: Optional[int] = None,
    reach: Union[None, str, int] = "auto",
    device: Union[str, torch.device] = "cpu",
    out: Optional[PathLike] = None,
    progress: bool = False,
    tolerance: Optional[float] = None,
    load_model: Optional[Callable[[str], nn.Module]] = None,
    on_record: Optional[Callable[[dict], None]] = None,
) -> list[dict[str, Any]]:
    """LAM of every (model, image, window) case: DI, its companions, PSNR, timing.

    Cases with ``model=None`` are evaluated for every model; the others for their
    own model only. Cases of one (model, image) share one pass over the path
    (:func:`~captum_lam.multiwindow.attribute_windows`).

    Each record is a plain dict: ``key``, ``model``, ``image``, ``top``,
    ``left``, ``size``, ``scale``, ``hr_height``, ``hr_width``, ``lr_height``,
    ``lr_width``, ``content``, ``gradient_energy``, ``coherence``, ``di``,
    ``mass_area_50``, ``mass_area_90``, ``mean_distance`` (LR pixels),
    ``objective_change``, ``delta``, ``relative_delta``, ``psnr_y``,
    ``ssim_y``, ``bicubic_psnr_y`` (of the whole image, Y channel, ``scale``
    pixels shaved), ``receptive_field``, ``parameters``, the settings
    (``n_steps``, ``method``, ``sigma``, ``kernel_size``, ``detector``,
    ``tolerance``), ``n_steps_used`` and ``estimated_map_error`` (with
    ``n_steps="auto"``: the window's estimated relative map error) and the
    timing (``seconds``: the group's LAM time divided by its windows,
    ``group_seconds``, ``group_windows``). Undefined values (DI of an all-zero
    map) are None.

    Resumable: with ``out``, cases whose key is in the file already are
    skipped, and each finished case is appended and flushed at once; the file
    is rewritten at the end in case order, without duplicates. A cut-off last
    line (a killed process) is dropped and its case computed again.

    Sharded: started by ``torchrun`` (``RANK`` and ``WORLD_SIZE`` set), every
    process joins a gloo process group, takes the cases ``i % world_size ==
    rank``, appends to ``out.rankR.jsonl``, waits at a barrier; rank 0 merges
    everything into ``out``. Every rank returns all the records.

    Parameters
    ----------
    models : sequence of names, mapping of name -> model, or None
        Names are loaded with ``load_model`` (default :func:`captum_lam.zoo.
        load`); None: the models the cases name.
    cases : sequence of Case
        From :func:`select_cases` or :func:`read_cases`.
    images : mapping of name -> Tensor, optional
        HR images by :attr:`Case.image`; missing ones are loaded with
        :func:`load_image`. Cropped to a multiple of the scale.
    n_steps, method, sigma, kernel_size, detector, internal_batch_size
        LAM's settings (defaults: the reference's).
    reach : None, "auto" or int
        See :func:`~captum_lam.multiwindow.attribute_windows` (exact speed-up
        for models with a known finite receptive field).
    out : path, optional
        JSON Lines file of the records (resumable).
    progress : bool
        A tqdm bar over the cases (rank 0 only).
    on_record : callable, optional
        Called with every new record once it is written.

    Returns
    -------
    list of dict
        One record per case, in case order (models outer, cases inner).
    """
    if not cases:
        raise ValueError("cases must hold at least one Case")
    settings = {
        "n_steps": n_steps,
        "method": method,
        "sigma": float(sigma),
        "kernel_size": kernel_size,
        "detector": detector,
        "tolerance": tolerance,
    }
    if models is None:
        names = list(dict.fromkeys(c.model for c in cases if c.model is not None))
        if len(names) == 0 or any(c.model is None for c in cases):
            raise ValueError("models is required when a case names no model")
        given: dict[str, Any] = {}
    elif isinstance(models, Mapping):
        names, given = list(models), dict(models)
    else:
        names, given = list(models), {}
    if not names:
        raise ValueError("models must name at least one model")
    unknown = sorted({c.model for c in cases if c.model and c.model not in names})
    if unknown:
        raise ValueError(
            f"cases name models that are not in the study: {', '.join(unknown)}"
        )
    jobs = [(m, c) for m in names for c in cases if c.model in (None, m)]
    keys = [c.key(m) for m, c in jobs]
    if len(set(keys)) != len(keys):
        raise ValueError("cases repeat: each (model, image, window) must appear once")
    order = {k: i for i, k in enumerate(keys)}

    rank, world = _distributed()
    group_owner = False
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo")
            group_owner = True
    out_path = None if out is None else Path(out)
    own_file = None
    done: dict[str, dict] = {}
    if out_path is not None:
        own_file = out_path if world == 1 else _rank_path(out_path, rank)
        _cut_partial_line(own_file)
        for source in [out_path, *_rank_files(out_path)]:
            for r in read_jsonl(source):
                done.setdefault(r["key"], r)
        _check_settings([r for k, r in done.items() if k in order], settings)
    if world > 1:
        dist.barrier()  # nobody appends before everybody has read

    mine = [i for i in range(len(jobs)) if i % world == rank]
    pending = [i for i in mine if keys[i] not in done]
    computed = _run_jobs(
        jobs,
        keys,
        pending,
        given,
        load_model,
        images,
        settings,
        internal_batch_size,
        reach,
        torch.device(device),
        own_file,
        progress and rank == 0,
        on_record,
    )

    if world > 1:
        if out_path is not None:
            dist.barrier()
            if rank == 0:
                _merge(out_path, order, _rank_files(out_path))
            dist.barrier()
            everything = {r["key"]: r for r in read_jsonl(out_path)}
        else:
            gathered: list[Any] = [None] * world
            dist.all_gather_object(gathered, computed)
            everything = {r["key"]: r for part in gathered for r in part}
        if group_owner:
            dist.destroy_process_group()
    elif out_path is not None:
        merged = _merge(out_path, order, _rank_files(out_path))
        everything = {r["key"]: r for r in merged}
    else:
        everything = {r["key"]: r for r in computed}
    return [everything[k] for k in keys if k in everything]


def _run_jobs(
    jobs: Sequence[tuple[str, Case]],
    keys: Sequence[str],
    pending: Sequence[int],
    given: Mapping[str, Any],
    load_model: Optional[Callable[[str], nn.Module]],
    images: Optional[Mapping[str, Tensor]],
    settings: dict,
    internal_batch_size: Optional[int],
    reach: Union[None, str, int],
    device: torch.device,
    own_file: Optional[Path],
    progress: bool,
    on_record: Optional[Callable[[dict], None]],
) -> list[dict]:
    groups: dict[tuple[str, str], list[int]] = {}
    for i in pending:
        model_name, case = jobs[i]
        groups.setdefault((model_name, case.image), []).append(i)
    bar = None
    if progress and pending:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pending), desc="cases", unit="case", leave=False)
    loaded: dict[str, Any] = {}
    hr_cache: dict[str, Tensor] = {}
    records: list[dict] = []
    handle = open(own_file, "a") if own_file is not None else None  # noqa: SIM115
    try:
        for (model_name, image_name), members in groups.items():
            if model_name not in loaded:
                loaded.clear()  # one model in memory at a time
                model = given.get(model_name)
                if model is None:
                    if load_model is None:
                        from . import zoo

                        load_model = zoo.load
                    model = load_model(model_name)
                loaded[model_name] = model.to(device).eval()
            model = loaded[model_name]
            if image_name not in hr_cache:
                source = images.get(image_name) if images is not None else None
                hr_cache[image_name] = (
                    load_image(image_name) if source is None else source
                )
            for record in _evaluate_group(
                model,
                model_name,
                image_name,
                hr_cache[image_name],
                [(keys[i], jobs[i][1].window) for i in members],
                settings,
                internal_batch_size,
                reach,
                device,
            ):
                if handle is not None:
                    handle.write(json.dumps(record, allow_nan=False) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                records.append(record)
                if on_record is not None:
                    on_record(record)
                if bar is not None:
                    bar.update(1)
    finally:
        if handle is not None:
            handle.close()
        if bar is not None:
            bar.close()
    return records


def _evaluate_group(
    model: Any,
    model_name: str,
    image_name: str,
    image: Tensor,
    windows: Sequence[tuple[str, tuple[int, int, int]]],
    settings: dict,
    internal_batch_size: Optional[int],
    reach: Union[None, str, int],
    device: torch.device,
) -> list[dict]:
    """Records of the windows of one (model, image)."""
    scale = model_scale(model, image.shape[1], device)
    hr = crop_to_multiple(image.to(device=device, dtype=torch.float32), scale)
    lr = bicubic_downsample(hr, scale)
    with torch.no_grad():
        sr = model(lr)
    if tuple(sr.shape[-2:]) != tuple(hr.shape[-2:]):
        raise ValueError(
            f"{model_name} maps {tuple(lr.shape[-2:])} to {tuple(sr.shape[-2:])}, "
            f"not to the HR size {tuple(hr.shape[-2:])}"
        )
    image_stats = {
        "psnr_y": psnr_y(sr.cpu(), hr.cpu(), shave=scale),
        "ssim_y": ssim_y(sr.cpu(), hr.cpu(), shave=scale),
        "bicubic_psnr_y": psnr_y(
            bicubic_upsample(lr, scale).cpu(), hr.cpu(), shave=scale
        ),
    }
    info = getattr(model, "lam_info", None)
    started = time.perf_counter()
    attr, delta, integration = attribute_windows(
        model,
        lr,
        [w for _, w in windows],
        sigma=settings["sigma"],
        kernel_size=settings["kernel_size"],
        detector=settings["detector"],
        n_steps=settings["n_steps"],
        method=settings["method"],
        internal_batch_size=internal_batch_size,
        return_convergence_delta=True,
        reach=reach,
        tolerance=settings["tolerance"],
        return_integration=True,
    )
    estimates = integration.estimated_error
    seconds = time.perf_counter() - started
    attr, delta = attr.detach().cpu(), delta.detach().cpu()
    records = []
    for k, (key, window) in enumerate(windows):
        content, energy, coherence = classify_content(hr.cpu(), window)
        one = attr[k]
        nonzero = bool((one.sum(dim=0) != 0).any())
        change = float(one.double().sum()) - float(delta[k])
        record: dict[str, Any] = {
            "key": key,
            "model": model_name,
            "image": image_name,
            "top": window[0],
            "left": window[1],
            "size": window[2],
            "scale": scale,
            "hr_height": int(hr.shape[-2]),
            "hr_width": int(hr.shape[-1]),
            "lr_height": int(lr.shape[-2]),
            "lr_width": int(lr.shape[-1]),
            "content": content,
            "gradient_energy": energy,
            "coherence": coherence,
            "di": float(diffusion_index(one)) if nonzero else None,
            "mass_area_50": int(mass_area(one, 0.5)) if nonzero else None,
            "mass_area_90": int(mass_area(one, 0.9)) if nonzero else None,
            "mean_distance": mean_distance(one, window, scale) if nonzero else None,
            "objective_change": change,
            "delta": float(delta[k]),
            "relative_delta": abs(float(delta[k])) / abs(change) if change else None,
            **image_stats,
            "receptive_field": getattr(info, "receptive_field", None),
            "parameters": getattr(info, "parameters", None),
            **settings,
            "n_steps_used": integration.n_steps,
            "estimated_map_error": None if estimates is None else float(estimates[k]),
            "seconds": seconds / len(windows),
            "group_seconds": seconds,
            "group_windows": len(windows),
        }
        records.append({k: _plain(v) for k, v in record.items()})
    return records


# --- aggregation -----------------------------------------------------------------


def _bootstrap_ci(
    values: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    n_boot: int,
    confidence: float,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (applied along axis 1)."""
    if values.size == 0:
        return (float("nan"), float("nan"))
    resamples = values[rng.integers(0, values.size, size=(n_boot, values.size))]
    stats = statistic(resamples)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return float(low), float(high)


def _values(records: Sequence[Mapping[str, Any]], field: str) -> np.ndarray:
    return np.array(
        [r[field] for r in records if r.get(field) is not None], dtype=np.float64
    )


def _mean(values: np.ndarray) -> Optional[float]:
    return float(values.mean()) if values.size else None


def _by(records: Iterable[Mapping[str, Any]], field: str) -> dict[Any, list]:
    grouped: dict[Any, list] = {}
    for r in records:
        grouped.setdefault(r.get(field), []).append(r)
    return grouped


def _di_summary(
    records: Sequence[Mapping[str, Any]], seed: int, n_boot: int, confidence: float
) -> dict[str, Any]:
    di = _values(records, "di")
    rng = np.random.default_rng(seed)
    mean_ci = _bootstrap_ci(di, lambda a: a.mean(axis=1), rng, n_boot, confidence)
    median_ci = _bootstrap_ci(
        di, lambda a: np.median(a, axis=1), rng, n_boot, confidence
    )
    return {
        "n": len(records),
        "n_di": int(di.size),
        "di_mean": _mean(di),
        "di_mean_ci": [_plain(v) for v in mean_ci],
        "di_median": float(np.median(di)) if di.size else None,
        "di_median_ci": [_plain(v) for v in median_ci],
    }


def aggregate(
    records: Sequence[Mapping[str, Any]],
    *,
    seed: int = 0,
    n_boot: int = 2000,
    confidence: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Per-model summary of evaluation records.

    Parameters
    ----------
    records : sequence of dict
        From :func:`evaluate` or :func:`read_jsonl`.
    seed : int
        Seed of the bootstrap (the same for every model).
    n_boot : int
        Bootstrap resamples.
    confidence : float
        Of the intervals, default 0.95.

    Returns
    -------
    dict of model -> dict
        In order of first appearance: ``n`` (cases), ``n_di`` (with a defined
        DI), ``di_mean`` and ``di_mean_ci`` (percentile bootstrap interval),
        ``di_median`` and ``di_median_ci``, ``psnr_y_mean`` and ``ssim_y_mean``
        (over the model's distinct images), ``mass_area_50_mean``,
        ``mass_area_90_mean``, ``mean_distance_mean``, ``relative_delta_median``,
        ``relative_delta_max``, ``seconds_mean``, ``receptive_field``.

    Examples
    --------
    >>> rows = [{"model": "a", "image": "x", "di": d, "psnr_y": 30.0}
    ...         for d in (10.0, 12.0, 14.0)]
    >>> s = aggregate(rows)["a"]
    >>> s["n"], s["di_mean"], s["di_mean_ci"][0] <= 12.0 <= s["di_mean_ci"][1]
    (3, 12.0, True)
    """
    summary: dict[str, dict[str, Any]] = {}
    for model, rows in _by(records, "model").items():
        entry = _di_summary(rows, seed, n_boot, confidence)
        per_image = {r["image"]: r for r in rows if r.get("psnr_y") is not None}
        entry["psnr_y_mean"] = _mean(_values(list(per_image.values()), "psnr_y"))
        entry["ssim_y_mean"] = _mean(_values(list(per_image.values()), "ssim_y"))
        for field in ("mass_area_50", "mass_area_90", "mean_distance", "seconds"):
            entry[f"{field}_mean"] = _mean(_values(rows, field))
        rel = _values(rows, "relative_delta")
        entry["relative_delta_median"] = float(np.median(rel)) if rel.size else None
        entry["relative_delta_max"] = float(rel.max()) if rel.size else None
        entry["receptive_field"] = rows[0].get("receptive_field")
        summary[str(model)] = entry
    return summary


def format_table(summary: Mapping[str, Mapping[str, Any]]) -> str:
    """The :func:`aggregate` summary as a fixed-width text table."""

    def num(value: Any, digits: int = 2) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    header = (
        "model",
        "n",
        "DI mean [95% CI]",
        "DI median",
        "PSNR-Y",
        "area50",
        "area90",
        "dist",
        "rel.delta",
    )
    rows = []
    for model, s in summary.items():
        low, high = s["di_mean_ci"]
        rows.append(
            (
                model,
                str(s["n"]),
                f"{num(s['di_mean'])} [{num(low)}, {num(high)}]",
                num(s["di_median"]),
                num(s["psnr_y_mean"]),
                num(s["mass_area_50_mean"], 1),
                num(s["mass_area_90_mean"], 1),
                num(s["mean_distance_mean"]),
                "-"
                if s["relative_delta_median"] is None
                else f"{s['relative_delta_median']:.2g}",
            )
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(r, widths))
        )
        for r in [header, *rows]
    ]
    return "\n".join(lines)


# --- the paper's analyses ------------------------------------------------------


def _spearman(x: Sequence[float], y: Sequence[float]) -> dict[str, Optional[float]]:
    if len(x) < 3:
        return {"spearman_rho": None, "p_value": None}
    from scipy.stats import spearmanr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = spearmanr(x, y)
    return {
        "spearman_rho": _plain(
            result.statistic if hasattr(result, "statistic") else result[0]
        ),
        "p_value": _plain(result.pvalue if hasattr(result, "pvalue") else result[1]),
    }


def _errorbar(ax, x, mean, ci, **kwargs) -> None:
    low = [m - c[0] for m, c in zip(mean, ci)]
    high = [c[1] - m for m, c in zip(mean, ci)]
    ax.errorbar(x, mean, yerr=[low, high], fmt="o", capsize=3, **kwargs)


def di_vs_psnr(
    records: Sequence[Mapping[str, Any]], *, seed: int = 0
) -> tuple[dict[str, Any], Figure]:
    """Mean DI against mean PSNR, one point per model (the paper's Figure 6).

    The paper finds that networks using a wider range of input pixels (higher
    DI) reconstruct better (higher PSNR).

    Returns
    -------
    data : dict
        ``models``: per model ``model``, ``di_mean``, ``di_mean_ci``,
        ``psnr_y_mean``, ``n``; ``spearman_rho`` and ``p_value`` of the rank
        correlation over the models (None with fewer than 3).
    figure : Figure
    """
    summary = aggregate(records, seed=seed)
    rows = [
        {
            "model": m,
            "di_mean": s["di_mean"],
            "di_mean_ci": s["di_mean_ci"],
            "psnr_y_mean": s["psnr_y_mean"],
            "n": s["n"],
        }
        for m, s in summary.items()
        if s["di_mean"] is not None and s["psnr_y_mean"] is not None
    ]
    data: dict[str, Any] = {
        "models": rows,
        **_spearman([r["di_mean"] for r in rows], [r["psnr_y_mean"] for r in rows]),
    }
    fig = Figure(figsize=(5.5, 4.2), dpi=100)
    ax = fig.subplots()
    if rows:
        _errorbar(
            ax,
            [r["psnr_y_mean"] for r in rows],
            [r["di_mean"] for r in rows],
            [r["di_mean_ci"] for r in rows],
        )
        for r in rows:
            ax.annotate(
                r["model"],
                (r["psnr_y_mean"], r["di_mean"]),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
    ax.set_xlabel("PSNR-Y (dB), mean over images")
    ax.set_ylabel("DI, mean over windows (95% CI)")
    rho = data["spearman_rho"]
    ax.set_title(
        "DI vs PSNR" + (f"  (Spearman rho {rho:.2f})" if rho is not None else ""),
        fontsize=10,
    )
    fig.tight_layout()
    return data, fig


def di_vs_receptive_field(
    records: Sequence[Mapping[str, Any]],
    *,
    receptive_fields: Optional[Mapping[str, Optional[int]]] = None,
    seed: int = 0,
) -> tuple[dict[str, Any], Figure]:
    """DI, 90% mass area and mean distance against the receptive field.

    Meant for a family that varies the receptive field only (the zoo's
    ``plain-d4/d8/d12/d20``). The paper finds the receptive field of deep
    networks far larger than the range that actually contributes.

    Parameters
    ----------
    receptive_fields : mapping model -> int or None, optional
        Receptive field side in LR pixels (None: global); default: the
        records' ``receptive_field``.

    Returns
    -------
    data : dict
        ``models``: per model ``model``, ``receptive_field``, ``di_mean``,
        ``di_mean_ci``, ``mass_area_90_mean``, ``mean_distance_mean``, ``n``,
        sorted by receptive field (global last); ``spearman_rho``/``p_value``
        of DI against the finite receptive fields.
    figure : Figure
        Three panels; global fields are drawn at the right, labelled "global".
    """
    summary = aggregate(records, seed=seed)
    rows = []
    for m, s in summary.items():
        field = (
            receptive_fields.get(m)
            if receptive_fields is not None
            else s["receptive_field"]
        )
        rows.append(
            {
                "model": m,
                "receptive_field": field,
                "di_mean": s["di_mean"],
                "di_mean_ci": s["di_mean_ci"],
                "mass_area_90_mean": s["mass_area_90_mean"],
                "mean_distance_mean": s["mean_distance_mean"],
                "n": s["n"],
            }
        )
    rows = [r for r in rows if r["di_mean"] is not None]
    rows.sort(key=lambda r: (r["receptive_field"] is None, r["receptive_field"] or 0))
    finite = [r for r in rows if r["receptive_field"] is not None]
    data: dict[str, Any] = {
        "models": rows,
        **_spearman(
            [r["receptive_field"] for r in finite], [r["di_mean"] for r in finite]
        ),
    }
    largest = max((r["receptive_field"] for r in finite), default=10)
    where = {
        r["model"]: (
            r["receptive_field"]
            if r["receptive_field"] is not None
            else largest * 1.3 + 5
        )
        for r in rows
    }
    fig = Figure(figsize=(12, 3.8), dpi=100)
    axes = fig.subplots(1, 3)
    panels = (
        ("di_mean", "DI (mean, 95% CI)"),
        ("mass_area_90_mean", "LR pixels holding 90% of |attr|"),
        ("mean_distance_mean", "mean distance from window (LR px)"),
    )
    for ax, (field, label) in zip(axes, panels):
        shown = [r for r in rows if r[field] is not None]
        xs = [where[r["model"]] for r in shown]
        if field == "di_mean":
            _errorbar(
                ax, xs, [r[field] for r in shown], [r["di_mean_ci"] for r in shown]
            )
        else:
            ax.plot(xs, [r[field] for r in shown], "o")
        for r, x in zip(shown, xs):
            ax.annotate(
                r["model"],
                (x, r[field]),
                textcoords="offset points",
                xytext=(3, 3),
                fontsize=7,
            )
        ax.set_xlabel("receptive field (LR pixels)")
        ax.set_ylabel(label)
        if any(r["receptive_field"] is None for r in rows):
            ticks = [t for t in ax.get_xticks() if 0 <= t <= largest * 1.1]
            ax.set_xticks([*ticks, largest * 1.3 + 5])
            ax.set_xticklabels([f"{t:g}" for t in ticks] + ["global"])
    fig.suptitle("LAM vs receptive field", fontsize=11)
    fig.tight_layout()
    return data, fig


def di_vs_content(
    records: Sequence[Mapping[str, Any]], *, seed: int = 0
) -> tuple[dict[str, Any], Figure]:
    """DI per content class (flat, edge, texture) of the window, per model.

    The paper finds regular stripes and grids more likely to be used than
    complex semantics; here the windows are classed by :func:`classify_content`.

    Returns
    -------
    data : dict
        ``by_model``: model -> class -> ``n``, ``di_mean``, ``di_mean_ci``,
        ``di_median``; ``pooled``: the same over all models.
    figure : Figure
        Grouped bars with 95% bootstrap intervals.
    """
    by_model: dict[str, dict[str, Any]] = {}
    for model, rows in _by(records, "model").items():
        classes = _by(rows, "content")
        by_model[str(model)] = {
            label: _di_summary(classes[label], seed, 2000, 0.95)
            for label in CONTENT_CLASSES
            if label in classes
        }
    pooled_classes = _by(records, "content")
    pooled = {
        label: _di_summary(pooled_classes[label], seed, 2000, 0.95)
        for label in CONTENT_CLASSES
        if label in pooled_classes
    }
    data = {"by_model": by_model, "pooled": pooled}
    fig = Figure(figsize=(max(5.0, 1.2 * len(by_model) + 2.5), 4.0), dpi=100)
    ax = fig.subplots()
    width = 0.8 / len(CONTENT_CLASSES)
    for c, label in enumerate(CONTENT_CLASSES):
        xs, means, cis = [], [], []
        for m, (_, classes) in enumerate(by_model.items()):
            s = classes.get(label)
            if s is None or s["di_mean"] is None:
                continue
            xs.append(m + (c - 1) * width)
            means.append(s["di_mean"])
            cis.append(s["di_mean_ci"])
        if xs:
            low = [mu - ci[0] for mu, ci in zip(means, cis)]
            high = [ci[1] - mu for mu, ci in zip(means, cis)]
            ax.bar(xs, means, width, yerr=[low, high], capsize=2, label=label)
    ax.set_xticks(range(len(by_model)))
    ax.set_xticklabels(list(by_model), rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("DI (mean, 95% CI)")
    ax.set_title("DI vs window content", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return data, fig

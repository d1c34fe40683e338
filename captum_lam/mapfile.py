"""The raw map on disk: one ``.npz`` file that numpy alone can read.

[save_map][captum_lam.save_map] writes what a LAM run found, for analyses
outside captum-lam; [load_map][captum_lam.load_map] reads it back. The file
holds plain arrays only (no pickles), so ``numpy.load(path)`` opens it anywhere:

| key | content |
| --- | --- |
| `attribution` | (C, h, w) float: the attribution of every LR input value |
| `map` | (h, w) float: `abs(attribution.sum(0))`, the map the DI uses |
| `window` | (3,) int: `top, left, size` in the image's HR pixels |
| `origin` | (2,) int: where `lr`'s upscaled grid starts in the image (HR pixels) |
| `lr` | (C, h, w) float: the LR input that was explained |
| `scale` | () int: the upscaling factor |
| `diffusion_index` | () float: the DI of `map`, in [0, 100] |
| `convergence_delta` | () float: the completeness error (NaN if not computed) |
| `settings` | () str: JSON, LAM's settings, the model, the image... |
| `format` | () str: `"captum-lam map 1"` |
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any, Mapping, NoReturn, Optional, Union

import numpy as np
from torch import Tensor

from ._io import write_atomic
from ._method.checks import one_example_chw
from .metrics import diffusion_index

FORMAT = "captum-lam map 1"
_KEYS = (
    "attribution",
    "map",
    "window",
    "origin",
    "lr",
    "scale",
    "diffusion_index",
    "convergence_delta",
    "settings",
    "format",
)


def map_file_name(label: str) -> str:
    """A file name for a map from a label (a model, a method, a study's case key).

    The label's letters, digits, ``-`` and ``_`` (at most 60 characters), then
    a digest of the whole label, then ``.npz``: two labels never share a name
    (``a b.png`` and ``a-b.png`` do not), and the name fits every file system
    (under 100 bytes) whatever the label's length.

    Examples
    --------
    >>> map_file_name("plain-d4|sample:astronaut|52,52,16")
    'plain-d4-sample-astronaut-52-52-16-7597e2c33d16.npz'
    >>> map_file_name("m|a b.png|0,0,8") != map_file_name("m|a-b.png|0,0,8")
    True
    """
    cleaned = "".join(
        c if c.isascii() and c.isalnum() or c in "-_" else "-" for c in label
    )
    readable = "-".join(part for part in cleaned.split("-") if part)[:60].strip("-")
    digest = hashlib.sha256(label.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{readable or 'map'}-{digest}.npz"


def save_map(
    path: Union[str, os.PathLike],
    attributions: Union[Tensor, np.ndarray],
    lr: Union[Tensor, np.ndarray],
    window: tuple[int, int, int],
    *,
    scale: int,
    origin: tuple[int, int] = (0, 0),
    settings: Optional[Mapping[str, Any]] = None,
    convergence_delta: Optional[float] = None,
) -> Path:
    """Write one LAM result as an ``.npz`` file that numpy alone can read.

    Parameters
    ----------
    path : str or PathLike
        Ends in ``.npz``; written atomically (a temporary file, then a rename).
    attributions : Tensor or ndarray
        (1, C, h, w) or (C, h, w), e.g. from
        [LAM.attribute][captum_lam.LAM.attribute].
    lr : Tensor or ndarray
        The LR input, (1, C, h, w) or (C, h, w), same h, w as ``attributions``.
    window : (int, int, int)
        ``(top, left, size)`` in the image's HR pixels.
    scale : int
        Upscaling factor.
    origin : (int, int)
        Where ``lr``'s upscaled grid starts in the image, when ``lr`` is a region
        of it (HR pixels): the window relative to ``lr`` is
        ``(top - origin[0], left - origin[1], size)``.
    settings : mapping, optional
        JSON-serialisable description of the run (LAM's settings, the model...).
    convergence_delta : float, optional
        Completeness error of the run.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, torch
    >>> attr, lr = torch.randn(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = save_map(f"{folder}/map.npz", attr, lr, (4, 4, 8), scale=2)
    ...     sorted(np.load(path).keys())[:3]
    ['attribution', 'convergence_delta', 'diffusion_index']
    """
    target = Path(path)
    if target.suffix.lower() != ".npz":
        raise ValueError(f"path must end in .npz, got {target.name!r}")
    arrays = map_arrays(
        attributions,
        lr,
        window,
        scale=scale,
        origin=origin,
        settings=settings,
        convergence_delta=convergence_delta,
    )
    write_atomic(target, lambda handle: np.savez(handle, **arrays))
    return target


def map_arrays(
    attributions: Union[Tensor, np.ndarray],
    lr: Union[Tensor, np.ndarray],
    window: tuple[int, int, int],
    *,
    scale: int,
    origin: tuple[int, int] = (0, 0),
    settings: Optional[Mapping[str, Any]] = None,
    convergence_delta: Optional[float] = None,
) -> dict[str, np.ndarray]:
    """The arrays `save_map` writes, by key (same arguments, no path)."""
    attribution = one_example_chw(attributions, "attributions")
    lr_array = one_example_chw(lr, "lr")
    if lr_array.shape[-2:] != attribution.shape[-2:]:
        raise ValueError(
            f"lr is {lr_array.shape[-2]}x{lr_array.shape[-1]} but attributions are "
            f"{attribution.shape[-2]}x{attribution.shape[-1]}: they must match"
        )
    top, left, size = (int(v) for v in window)
    magnitude = np.abs(attribution.sum(axis=0, dtype=np.float64))
    arrays = {
        "attribution": attribution,
        "map": magnitude,
        "window": np.array([top, left, size], dtype=np.int64),
        "origin": np.array([int(v) for v in origin], dtype=np.int64),
        "lr": lr_array,
        "scale": np.array(int(scale), dtype=np.int64),
        "diffusion_index": np.array(float(diffusion_index(attribution))),
        "convergence_delta": np.array(
            float("nan") if convergence_delta is None else float(convergence_delta)
        ),
        "settings": np.array(json.dumps(dict(settings or {}), sort_keys=True)),
        "format": np.array(FORMAT),
    }
    return arrays


def map_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """The ``.npz`` file of ``arrays`` (e.g. from `map_arrays`) as bytes, for a
    download."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def load_map(path: Union[str, os.PathLike]) -> dict[str, Any]:
    """Read a file written by [save_map][captum_lam.save_map], checking all of it.

    Returns
    -------
    dict
        The arrays under their keys (see the module's table), with ``window``
        and ``origin`` as tuples of int, ``scale`` an int, ``diffusion_index``
        and ``convergence_delta`` floats and ``settings`` a dict.

    Raises
    ------
    ValueError
        One error naming the file and the field, for anything that is not a
        map file written by `save_map`: not an ``.npz`` (truncated, another
        format), a missing key, an array that claims more bytes than the file
        holds, a wrong dtype or shape, shapes that disagree (``attribution``,
        ``map`` and ``lr``), a window or scale out of range, non-finite
        attributions, ``settings`` that are not a JSON object.
    """
    arrays = _read_arrays(path)
    fail = functools.partial(_bad_field, path)
    if arrays["format"].dtype.kind != "U" or str(arrays["format"]) != FORMAT:
        fail("format", f"is {_show(arrays['format'])}, not {FORMAT!r}")
    out: dict[str, Any] = {"format": FORMAT}
    attribution = _float_array(arrays, "attribution", 3, fail)
    channels, height, width = attribution.shape
    if not np.isfinite(attribution).all():
        fail("attribution", "holds values that are not finite")
    magnitude = _float_array(arrays, "map", 2, fail)
    if magnitude.shape != (height, width):
        fail("map", f"is {_dims(magnitude)}, the attribution {height}x{width}")
    lr = _float_array(arrays, "lr", 3, fail)
    # one channel: a signed map (a Causal Effect Map) beside a colour input
    if lr.shape[1:] != attribution.shape[1:] or channels not in (1, lr.shape[0]):
        fail("lr", f"is {_dims(lr)} but the attribution is {_dims(attribution)}")
    out.update(attribution=attribution, map=magnitude, lr=lr)
    window = _int_values(arrays, "window", 3, fail)
    if min(window[:2]) < 0 or window[2] < 1:
        fail("window", f"is {window}: top, left >= 0 and size >= 1")
    out["window"] = window
    out["origin"] = _int_values(arrays, "origin", 2, fail)
    (scale,) = _int_values(arrays, "scale", 0, fail)
    if scale < 1:
        fail("scale", f"is {scale}, not an integer >= 1")
    out["scale"] = scale
    for name in ("diffusion_index", "convergence_delta"):
        value = arrays[name]
        if value.shape != () or value.dtype.kind not in "fiu":
            fail(name, f"is {_show(value)}, not one number")
        out[name] = float(value)
    di = out["diffusion_index"]
    if math.isinf(di) or not (math.isnan(di) or 0 <= di <= 100):
        fail("diffusion_index", f"is {di}, not in [0, 100]")
    if math.isinf(out["convergence_delta"]):
        fail("convergence_delta", "is infinite")
    text = arrays["settings"]
    if text.shape != () or text.dtype.kind != "U":
        fail("settings", f"is {_show(text)}, not a JSON text")
    try:
        settings = json.loads(str(text))
    except (ValueError, RecursionError):
        fail("settings", "is not valid JSON")
    if not isinstance(settings, dict):
        fail("settings", f"is a JSON {type(settings).__name__}, not an object")
    out["settings"] = settings
    return out


def _bad_field(path: Any, field: str, problem: str) -> NoReturn:
    raise ValueError(f"{path}: field {field!r} {problem}; not a valid map file")


def _show(value: np.ndarray) -> str:
    if value.size > 4:
        return f"a {value.dtype} array of shape {value.shape}"
    return repr(value.tolist())


def _dims(array: np.ndarray) -> str:
    return "x".join(str(n) for n in array.shape)


def _float_array(arrays: dict, name: str, ndim: int, fail: Any) -> np.ndarray:
    value = arrays[name]
    if value.dtype.kind != "f" or value.ndim != ndim or 0 in value.shape:
        wanted = {2: "(h, w)", 3: "(C, h, w)"}[ndim]
        fail(name, f"is {_show(value)}, not a non-empty {wanted} float array")
    return value


def _int_values(arrays: dict, name: str, count: int, fail: Any) -> tuple[int, ...]:
    value = arrays[name]
    shape = () if count == 0 else (count,)
    if value.dtype.kind not in "iu" or value.shape != shape:
        fail(name, f"is {_show(value)}, not {max(count, 1)} integer(s)")
    return tuple(int(v) for v in value.reshape(-1))


def _read_arrays(path: Union[str, os.PathLike]) -> dict[str, np.ndarray]:
    """The file's arrays by key, each header checked before its data is read (an
    array cannot claim more bytes than the file holds, nor hold objects)."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as error:
        raise ValueError(
            f"{path} is not a captum-lam map file (not a readable .npz: {error})"
        ) from None
    with archive:
        members = {n[:-4]: n for n in archive.namelist() if n.endswith(".npy")}
        missing = [k for k in _KEYS if k not in members]
        if missing:
            raise ValueError(
                f"{path}: field {missing[0]!r} is missing; not a captum-lam map "
                f"file (missing {', '.join(missing)})"
            )
        arrays = {}
        for key in _KEYS:
            info = archive.getinfo(members[key])
            try:
                with archive.open(info) as handle:
                    version = np.lib.format.read_magic(handle)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = read_header(handle)
                    claimed = math.prod(shape) * dtype.itemsize
                    if dtype.hasobject or claimed > info.file_size:
                        raise ValueError(
                            f"its header claims {claimed} bytes of {dtype}, the "
                            f"file holds {info.file_size}"
                        )
                with archive.open(info) as handle:
                    arrays[key] = np.lib.format.read_array(handle, allow_pickle=False)
            except Exception as error:  # truncated, corrupt: one message
                text = str(error).strip().splitlines()
                _bad_field(path, key, f"cannot be read ({text[0] if text else error})")
    return arrays

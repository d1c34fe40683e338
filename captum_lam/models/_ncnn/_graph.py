"""The graph: `load_ncnn` reads the files into an `NcnnNet` that replays them."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from torch import Tensor, nn

from captum_lam.models._ncnn._format import (
    NcnnLayerSpec,
    PathLike,
    _BinReader,
    parse_param,
)
from captum_lam.models._ncnn._layers import (
    _Convolution,
    _Deconvolution,
    _InnerProduct,
    _Layer,
    _MemoryData,
    _Pooling,
    _PReLU,
    _Scale,
)
from captum_lam.models._ncnn._ops import (
    _BinaryOp,
    _Concat,
    _Crop,
    _Elementwise,
    _Eltwise,
    _Interp,
    _PixelShuffle,
    _Split,
)

_BUILDERS: dict[str, Callable[[NcnnLayerSpec, _BinReader, str], _Layer]] = {
    "Convolution": _Convolution,
    "ConvolutionDepthWise": _Convolution,
    "PReLU": _PReLU,
    "MemoryData": _MemoryData,
    "BinaryOp": _BinaryOp,
    "Eltwise": _Eltwise,
    "Split": _Split,
    "Concat": _Concat,
    "Interp": _Interp,
    "PixelShuffle": _PixelShuffle,
    "Deconvolution": _Deconvolution,
    "DeconvolutionDepthWise": _Deconvolution,
    "InnerProduct": _InnerProduct,
    "Scale": _Scale,
    "Pooling": _Pooling,
    "Crop": _Crop,
}
for _name in (
    "ReLU",
    "Sigmoid",
    "Swish",
    "TanH",
    "Mish",
    "AbsVal",
    "Clip",
    "HardSwish",
    "HardSigmoid",
    "ELU",
    "GELU",
    "Dropout",
    "Noop",
):
    _BUILDERS[_name] = _Elementwise

#: ncnn layer types that `load_ncnn` can import.
SUPPORTED_LAYERS = tuple(sorted(["Input", *_BUILDERS]))


# --------------------------------------------------------------------------- network


class NcnnNet(nn.Module):
    """An ncnn graph replayed with torch operations.

    ``forward(*inputs)`` takes one ``(N, C, H, W)`` tensor per ``Input`` layer (in
    file order) and returns the output blob (a tuple when there are several outputs).

    Attributes
    ----------
    layers : nn.ModuleList
        One module per non-Input layer, in execution order; each has ``ncnn_type``
        and ``ncnn_name``.
    input_names, output_names : list of str
        Blob names of the graph inputs and of the returned outputs.
    param_path, bin_path : str
        The files the network was read from.
    """

    def __init__(
        self,
        layers: list[_Layer],
        specs: list[NcnnLayerSpec],
        input_names: list[str],
        output_names: list[str],
        param_path: str,
        bin_path: str,
    ):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self._bottoms = [list(spec.bottoms) for spec in specs]
        self._tops = [list(spec.tops) for spec in specs]
        self.input_names = list(input_names)
        self.output_names = list(output_names)
        self.param_path = param_path
        self.bin_path = bin_path
        # free each blob after its last use, keep the outputs
        last_use: dict[str, int] = {}
        for index, bottoms in enumerate(self._bottoms):
            for blob in bottoms:
                last_use[blob] = index
        self._release: list[list[str]] = [[] for _ in layers]
        for blob, index in last_use.items():
            if blob not in self.output_names:
                self._release[index].append(blob)

    def forward(self, *inputs: Tensor) -> Union[Tensor, tuple[Tensor, ...]]:
        if len(inputs) != len(self.input_names):
            raise ValueError(
                f"this ncnn net takes {len(self.input_names)} input(s) "
                f"{self.input_names}, got {len(inputs)}"
            )
        blobs: dict[str, Tensor] = {}
        for name, x in zip(self.input_names, inputs):
            if x.dim() != 4:
                raise ValueError(
                    f"input {name!r} must be (N, C, H, W), got shape {tuple(x.shape)}"
                )
            blobs[name] = x
        for layer, bottoms, tops, release in zip(
            self.layers, self._bottoms, self._tops, self._release
        ):
            outs = layer(*[blobs[b] for b in bottoms])
            for top, out in zip(tops, outs):
                blobs[top] = out
            for blob in release:
                blobs.pop(blob, None)
        outputs = tuple(blobs[name] for name in self.output_names)
        return outputs[0] if len(outputs) == 1 else outputs

    def extra_repr(self) -> str:
        return f"param_path={self.param_path!r}"


def load_ncnn(
    param_path: PathLike,
    bin_path: PathLike,
    outputs: Optional[Sequence[str]] = None,
) -> NcnnNet:
    """Read an ncnn model into a differentiable `NcnnNet`.

    Parameters
    ----------
    param_path, bin_path : str or Path
        The text graph (``.param``) and the weights (``.bin``).
    outputs : sequence of str, optional
        Blob names to return; by default every blob that no layer consumes.

    Raises
    ------
    ValueError
        Malformed files, a layer type this importer does not know (the message names
        the type, the layer and the file), or weights that do not match the graph.
    """
    param_path, bin_path = Path(param_path), Path(bin_path)
    specs = parse_param(param_path)
    reader = _BinReader(bin_path)
    layers: list[_Layer] = []
    kept: list[NcnnLayerSpec] = []
    input_names: list[str] = []
    produced: set[str] = set()
    consumed: set[str] = set()
    order: list[str] = []
    for spec in specs:
        where = f"{spec.where}: layer {spec.name!r} ({spec.type})"
        for blob in spec.bottoms:
            if blob not in produced:
                raise ValueError(
                    f"{where} reads blob {blob!r} before any layer produces it"
                )
            consumed.add(blob)
        produced.update(spec.tops)
        order.extend(spec.tops)
        if spec.type == "Input":
            input_names.extend(spec.tops)
            continue
        builder = _BUILDERS.get(spec.type)
        if builder is None:
            raise ValueError(
                f"unsupported ncnn layer type {spec.type!r} (layer {spec.name!r}) in "
                f"{param_path}; supported: {', '.join(SUPPORTED_LAYERS)}"
            )
        layers.append(builder(spec, reader, where))
        kept.append(spec)
    if reader.remaining:
        raise ValueError(
            f"{bin_path}: {reader.remaining} bytes left after reading the weights of "
            f"{param_path}; param and bin do not match"
        )
    if outputs is None:
        output_names = [blob for blob in order if blob not in consumed]
    else:
        output_names = list(outputs)
        missing = [blob for blob in output_names if blob not in produced]
        if missing:
            raise ValueError(f"{param_path}: no blob named {missing}")
    if not input_names:
        raise ValueError(f"{param_path}: the graph has no Input layer")
    return NcnnNet(
        layers, kept, input_names, output_names, str(param_path), str(bin_path)
    )

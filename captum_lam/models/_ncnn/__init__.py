"""Import ncnn models (``.param`` graph + ``.bin`` weights) as torch modules.

`load_ncnn` parses the text graph of an ncnn model and its weight file and returns an
`NcnnNet`: an ``nn.Module`` whose weights are float32 ``nn.Parameter`` objects and whose
forward pass replays the graph, layer by layer in the file's (topological) order, with
plain out-of-place torch operations. The result can be moved with ``.to(device, dtype)``
and differentiated with autograd, which is what attribution methods need; ncnn itself
has no gradients.

Only the layer types that image-restoration networks use are covered (see
`SUPPORTED_LAYERS`); an unknown type raises a ``ValueError`` naming the type, the layer
and the file.

Blob layout
-----------
An ncnn blob of shape ``[w, h, c]`` (ncnn lists the innermost axis first) is held as a
torch tensor ``(N, c, h, w)``: the batch axis is prepended, so one graph run processes
a whole batch. Lower-rank blobs (``MemoryData`` constants) are ``(1, h, w)`` or
``(1, w)``.

The subpackage separates the file format (`_format`: ``.param``/``.bin`` parsing), the
layers (`_layers`: with weights; `_ops`: without) and the graph (`_graph`).
"""

from captum_lam.models._ncnn._format import NcnnLayerSpec, parse_param
from captum_lam.models._ncnn._graph import SUPPORTED_LAYERS, NcnnNet, load_ncnn

__all__ = [
    "NcnnLayerSpec",
    "NcnnNet",
    "SUPPORTED_LAYERS",
    "load_ncnn",
    "parse_param",
]

"""Users' networks built by their own code: ``"package.module:factory"``.

`load_factory` imports the module (the current folder first, as ``python -m``
does), calls the factory, fills the network strictly from a checkpoint read by
`read_state_dict`, and wraps it in a
[`ModelAdapter`][captum_lam.models.ModelAdapter] where its value range, mean or
padding asks for one.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from torch import Tensor, nn

from captum_lam._registry import measure_scale
from captum_lam.models._adapter import ModelAdapter
from captum_lam.models._checkpoint import (
    PathLike,
    first_line,
    preview,
    read_state_dict,
    user_model_info,
)

__all__ = ["load_factory"]


def _import_from_here(spec: str, module_name: str) -> Any:
    """Import ``module_name`` with the current folder first on the path, as
    ``python -m`` and ``python script.py`` do, also from a console script."""
    here = os.getcwd()
    added = here not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        top = module_name.split(".")[0]
        if error.name is not None and error.name not in (module_name, top):
            raise ValueError(
                f"model spec {spec!r}: module {module_name!r} was found but imports "
                f"{error.name!r}, which is not installed: {error}"
            ) from error
        raise ValueError(
            f"model spec {spec!r}: cannot import module {module_name!r}: looked in "
            f"the current folder ({here}) and on Python's path; run the command "
            f"in the folder that holds {top.replace('.', '/')}.py, or add its "
            f"folder to PYTHONPATH"
        ) from error
    except ImportError as error:
        raise ValueError(
            f"model spec {spec!r}: cannot import module {module_name!r}: {error}"
        ) from error
    finally:
        if added:
            sys.path.remove(here)


def _resolve(spec: str) -> Any:
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise ValueError(
            f"model spec {spec!r} must be 'package.module:factory' (one colon)"
        )
    module_name, attr = spec.split(":")
    if not module_name or not attr:
        raise ValueError(
            f"model spec {spec!r} must be 'package.module:factory' with both parts"
        )
    module = _import_from_here(spec, module_name)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(
                f"model spec {spec!r}: module {module_name!r} has no attribute {attr!r}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(
            f"model spec {spec!r}: {attr!r} is a {type(obj).__name__}, not callable"
        )
    return obj


def _load_strict(model: nn.Module, state: dict[str, Tensor], weights: Path) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise ValueError(
            f"weights {weights} do not fit the network: {len(missing)} missing keys "
            f"({preview(missing)}), {len(unexpected)} unexpected keys "
            f"({preview(unexpected)})"
        )
    wrong = [
        f"{k}: checkpoint {tuple(v.shape)} vs network {tuple(expected[k].shape)}"
        for k, v in state.items()
        if tuple(v.shape) != tuple(expected[k].shape)
    ]
    if wrong:
        more = f" and {len(wrong) - 5} more" if len(wrong) > 5 else ""
        raise ValueError(
            f"weights {weights} do not fit the network, shapes differ: "
            f"{'; '.join(wrong[:5])}{more}"
        )
    model.load_state_dict(state, strict=True)


def load_factory(
    spec: str,
    weights: Optional[PathLike] = None,
    *,
    input_range: float = 1.0,
    mean: Optional[Sequence[float]] = None,
    pad_multiple: int = 1,
    **kwargs: Any,
) -> nn.Module:
    """Build a network with your own code and load your checkpoint into it.

    Parameters
    ----------
    spec : str
        ``"package.module:factory"``: ``factory(**kwargs)`` must return an
        ``nn.Module`` (a class works too). The module must be importable.
    weights : str or Path, optional
        Checkpoint read with `read_state_dict` and loaded strictly. Without
        it the network keeps the factory's initialisation.
    input_range, mean, pad_multiple
        Wrap the network in [`ModelAdapter`][captum_lam.models.ModelAdapter] with these
        where any differs from the default.
    **kwargs
        Passed to the factory.

    Returns
    -------
    nn.Module
        In eval mode; maps (N, 3, H, W) in [0, 1] to (N, C', s*H, s*W). Its
        attribute ``lam_info`` is a [`ModelInfo`][captum_lam.zoo.ModelInfo] with
        ``kind="factory"`` and the scale measured by one forward of a 16x16 image.

    Raises
    ------
    ValueError
        Bad spec (no colon, module not importable, attribute missing, not
        callable), a factory that returns no ``nn.Module``, or weights whose keys
        or shapes do not fit (the message lists up to 5 missing and unexpected
        keys).
    FileNotFoundError
        ``weights`` does not exist.
    """
    factory = _resolve(spec)
    network = factory(**kwargs)
    if not isinstance(network, nn.Module):
        raise ValueError(
            f"model spec {spec!r} returned a {type(network).__name__}, not an nn.Module"
        )
    if weights is not None:
        weights = Path(weights)
        _load_strict(network, read_state_dict(weights), weights)
    model: nn.Module = network
    if input_range != 1.0 or mean is not None or pad_multiple != 1:
        model = ModelAdapter(
            network, input_range=input_range, mean=mean, pad_multiple=pad_multiple
        )
    model.eval()
    probe = pad_multiple * -(-16 // pad_multiple)
    try:
        scale = measure_scale(model, probe)
    except Exception as error:
        raise ValueError(
            f"model spec {spec!r}: a test forward of a 1x3x{probe}x{probe} image "
            f"failed: {type(error).__name__}: {first_line(error)}"
        ) from error
    source = spec if weights is None else f"{spec} with weights {weights}"
    model.lam_info = user_model_info(  # type: ignore[assignment]
        spec,
        scale,
        network,
        source,
        "factory",
        f"{type(network).__name__} x{scale} built by {spec}",
    )
    return model

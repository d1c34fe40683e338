"""Users' checkpoint files: the weights they hold, and published architectures.

* `read_state_dict` -- the network weights in a ``.pth``/``.pt``/``.ckpt``/``.bin``
  or ``.safetensors`` file, unwrapped from the shapes SR trainers save, read
  without running code; a file that is not weights is named for what it is.
* `load_checkpoint` -- a checkpoint of a published architecture (SwinIR, HAT,
  ESRGAN/RRDBNet, Real-ESRGAN compact, RCAN, SPAN, ...): the optional package
  ``spandrel`` recognises the architecture from the weights and builds it, wrapped
  in a [`ModelAdapter`][captum_lam.models.ModelAdapter] (TorchScript refused on
  request, see `_torchscript`).

Both kinds of users' networks (these and `_factory`'s) carry a ``lam_info``
from `user_model_info`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence, Union

import torch
from torch import Tensor, nn

from captum_lam._registry import ModelInfo, measure_scale
from captum_lam.models._adapter import ModelAdapter
from captum_lam.models._load_errors import describe_load_error
from captum_lam.models._torchscript import refuse_torchscript

__all__ = ["load_checkpoint", "read_state_dict"]

PathLike = Union[str, Path]
#: Keys under which SR training frameworks store the network's weights, most
#: preferred first (BasicSR/KAIR: ``params_ema``, ``params``; Lightning and
#: others: ``state_dict``, ``model``; GAN trainers: ``net_g``, ``generator``).
_WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model", "net_g", "generator")
_USER_LICENSE = "unknown (user's checkpoint)"
_SPANDREL_HINT = (
    "--checkpoint needs spandrel: pip install 'captum-lam[checkpoints]' "
    "(spandrel needs torchvision, which must match your torch)"
)


def read_state_dict(path: PathLike) -> dict[str, Tensor]:
    """The network weights in a checkpoint file, as a flat state dict.

    Parameters
    ----------
    path : str or Path
        ``.safetensors`` (read with ``safetensors.torch.load_file``) or a torch
        pickle (``.pth``, ``.pt``, ``.ckpt``, ``.bin``; read with
        ``torch.load(map_location="cpu", weights_only=True)``, which runs no code).

    Returns
    -------
    dict of str to Tensor
        Unwrapped from the shapes SR trainers save: a bare state dict, or one under
        ``params_ema`` (preferred), ``params``, ``state_dict``, ``model``, ``net_g``
        or ``generator``; ``module.`` prefixes (DataParallel) removed.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file cannot be read or holds no state dict; the message names the path.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            data: Any = load_file(str(path), device="cpu")
        else:
            data = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any reader error means "unreadable"
        raise ValueError(_unreadable(path, error)) from error
    state = _unwrap(data, path)
    return {_strip_module(key): value for key, value in state.items()}


_NOT_WEIGHTS = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
}


def _unreadable(path: Path, error: BaseException) -> str:
    """Why ``path`` is not a weights file, in plain words (not the reader's
    advice, e.g. torch's ``weights_only=False``, which would run the file)."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    what = next((w for sig, w in _NOT_WEIGHTS.items() if head.startswith(sig)), None)
    wanted = (
        "weights are a state dict saved by torch.save (.pth, .pt) or a "
        ".safetensors file"
    )
    if what is not None:
        return f"cannot read {path} as weights: it is {what}; {wanted}"
    if path.suffix.lower() == ".safetensors":
        return (
            f"cannot read {path} as a safetensors file: {type(error).__name__}: "
            f"{first_line(error)}"
        )
    if "weights_only" in str(error):
        return (
            f"cannot read {path} as weights: it holds Python objects other than "
            f"tensors, which are not loaded because loading them could run code; "
            f"{wanted}"
        )
    return (
        f"cannot read {path} as weights ({type(error).__name__}: "
        f"{first_line(error)}); {wanted}"
    )


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def _unwrap(data: Any, path: Path) -> dict[str, Tensor]:
    for _ in range(4):  # e.g. {"state_dict": {"params_ema": {...}}}
        if not isinstance(data, dict):
            break
        if data and all(isinstance(v, Tensor) for v in data.values()):
            return data
        inner = next(
            (data[k] for k in _WRAPPER_KEYS if isinstance(data.get(k), dict)), None
        )
        if inner is None:
            break
        data = inner
    if isinstance(data, dict):
        keys = list(data)
        tensors = [k for k in keys if isinstance(data[k], Tensor)]
        if tensors:
            others = [k for k in keys if not isinstance(data[k], Tensor)]
            raise ValueError(
                f"checkpoint {path} mixes tensors with other entries "
                f"({preview(others)}); expected a state dict of tensors"
            )
        raise ValueError(
            f"checkpoint {path} holds no state dict: its top-level keys are "
            f"{preview(keys)}; expected tensors, or a dict under one of "
            f"{', '.join(_WRAPPER_KEYS)}"
        )
    raise ValueError(
        f"checkpoint {path} holds a {type(data).__name__}, not a state dict"
    )


def _strip_module(key: str) -> str:
    while key.startswith("module."):
        key = key[len("module.") :]
    return key


def preview(keys: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(k) for k in list(keys)[:limit])
    more = len(keys) - limit
    return shown + (f" and {more} more" if more > 0 else "") if keys else "none"


def user_model_info(
    name: str, scale: int, network: nn.Module, source: str, kind: str, description: str
) -> ModelInfo:
    """What is known about a user's network: its scale and size, nothing more."""
    return ModelInfo(
        name=name,
        scale=scale,
        parameters=sum(p.numel() for p in network.parameters()),
        receptive_field=None,
        degradation="unknown",
        source=source,
        license=_USER_LICENSE,
        package=None,
        kind=kind,
        description=description,
    )


def load_checkpoint(path: PathLike, *, allow_torchscript: bool = True) -> nn.Module:
    """Load a checkpoint of a published SR architecture, recognised by spandrel.

    spandrel (optional: ``pip install 'captum-lam[checkpoints]'``) detects the
    architecture and its hyperparameters from the weights (SwinIR, HAT, ESRGAN,
    Real-ESRGAN compact, RCAN, SPAN, DAT, OmniSR and many more) and reads
    ``.pth``, ``.pt``, ``.ckpt`` and ``.safetensors`` files, also wrapped in
    ``params_ema``/``params`` or with ``module.`` prefixes.

    Parameters
    ----------
    path : str or Path
        The checkpoint.
    allow_torchscript : bool
        spandrel opens ``.pt`` files with ``torch.jit.load``, which runs the
        TorchScript program stored in the file. False refuses TorchScript
        archives (any extension) and ``.pt`` files before anything is opened;
        ``.pth``, ``.ckpt`` and ``.safetensors`` state dicts load as before.
        Default True.

    Returns
    -------
    ModelAdapter
        In eval mode; maps (N, C, H, W) in [0, 1] to (N, C', s*H, s*W), padding the
        input to the architecture's size requirements (e.g. a multiple of SwinIR's
        window) and cropping the output, and giving the network a copy of its
        input (spandrel's RCAN scales its input in place). Its attribute
        ``lam_info`` is a [`ModelInfo`][captum_lam.zoo.ModelInfo] with
        ``kind="checkpoint"`` and the architecture's name.

    Notes
    -----
    The network runs once on a small image while loading. SPAN recomputes its
    ``eval_conv`` weights from its training branches in every eval-mode forward;
    a checkpoint saved during training holds stale ``eval_conv`` weights, so the
    first forward changes the state dict. Doing it here means attributions leave
    the weights (and every ``requires_grad`` flag) as they were.

    Raises
    ------
    ModuleNotFoundError
        spandrel is not installed (or cannot be imported beside this torch).
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        spandrel does not recognise the checkpoint, or it is not an image-to-image
        model (e.g. an inpainting model that needs a mask), or it is TorchScript
        and ``allow_torchscript`` is False.
    """
    if not allow_torchscript:
        refuse_torchscript(path)
    try:
        import spandrel
    except ModuleNotFoundError as error:
        if error.name != "spandrel":
            raise ModuleNotFoundError(
                f"{_SPANDREL_HINT}; importing it failed: {first_line(error)}"
            ) from error
        raise ModuleNotFoundError(_SPANDREL_HINT) from error
    except Exception as error:  # a torchvision that does not fit torch: RuntimeError
        raise ModuleNotFoundError(
            f"{_SPANDREL_HINT}; importing it failed: "
            f"{type(error).__name__}: {first_line(error)}"
        ) from error
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        descriptor = spandrel.ModelLoader().load_from_file(str(path))
    except Exception as error:
        raise ValueError(describe_load_error(error, path)) from error
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise ValueError(
            f"checkpoint {path} is a {type(descriptor).__name__} "
            f"({descriptor.architecture.name}); LAM needs an image-to-image model"
        )
    requirements = descriptor.size_requirements
    network = descriptor.model
    model = ModelAdapter(
        network,
        pad_multiple=max(1, int(requirements.multiple_of)),
        min_size=int(requirements.minimum),
        square=bool(requirements.square),
        in_channels=int(descriptor.input_channels),
    )
    model.eval()
    name = descriptor.architecture.name or descriptor.architecture.id
    scale = int(descriptor.scale)
    # One forward now, so that networks that rewrite parameters in eval forwards
    # (SPAN's Conv3XC recomputes ``eval_conv`` from its training branches) do it
    # here, once, and not during the first attribution.
    probe = max(16, int(requirements.minimum))
    try:
        measured = measure_scale(model, probe, channels=int(descriptor.input_channels))
    except Exception as error:
        raise ValueError(
            f"{name} from checkpoint {path}: a test forward of a "
            f"1x{descriptor.input_channels}x{probe}x{probe} image failed: "
            f"{type(error).__name__}: {first_line(error)}"
        ) from error
    if measured != scale:
        raise ValueError(
            f"{name} from checkpoint {path}: spandrel says scale {scale} but the "
            f"network upscales by {measured}"
        )
    model.lam_info = user_model_info(  # type: ignore[assignment]
        name,
        scale,
        network,
        str(path),
        "checkpoint",
        f"{name} x{scale} ({descriptor.purpose}) from {path.name}",
    )
    return model

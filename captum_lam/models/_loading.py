"""Run LAM on your own super-resolution checkpoint.

Two ways in:

* `load_factory` -- you have the network's code: ``"package.module:factory"``
  builds it, a checkpoint file fills it (strictly).
* `load_checkpoint` -- you have only a checkpoint of a published architecture
  (SwinIR, HAT, ESRGAN/RRDBNet, Real-ESRGAN compact, RCAN, SPAN, ...): the optional
  package ``spandrel`` recognises the architecture from the weights and builds it.

Both return an ``nn.Module`` in eval mode that maps RGB ``(N, C, H, W)`` in [0, 1] to
the network's output in [0, 1], with the attribute ``lam_info``
([`ModelInfo`][captum_lam.zoo.ModelInfo]).
[`ModelAdapter`][captum_lam.models.ModelAdapter] is the glue: value range, mean, padding
to a multiple of the window size, and a copy of the input for networks that modify it in
place.

>>> import torch
>>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 12, 3, padding=1),
...                           torch.nn.PixelShuffle(2))
>>> model = ModelAdapter(net, input_range=255.0, pad_multiple=8).eval()
>>> model(torch.rand(1, 3, 13, 10)).shape
torch.Size([1, 3, 26, 20])
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_lam._method.checks import as_int
from captum_lam._registry import ModelInfo, measure_scale
from captum_lam.models._load_errors import describe_load_error
from captum_lam.models._torchscript import refuse_torchscript

__all__ = ["ModelAdapter", "load_checkpoint", "load_factory", "read_state_dict"]

PathLike = Union[str, Path]

#: Keys under which SR training frameworks store the network's weights, most
#: preferred first (BasicSR/KAIR: ``params_ema``, ``params``; Lightning and
#: others: ``state_dict``, ``model``; GAN trainers: ``net_g``, ``generator``).
_WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model", "net_g", "generator")
_TORCH_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
_USER_LICENSE = "unknown (user's checkpoint)"
_SPANDREL_HINT = (
    "--checkpoint needs spandrel: pip install 'captum-lam[checkpoints]' "
    "(spandrel needs torchvision, which must match your torch)"
)


class ModelAdapter(nn.Module):
    r"""Wrap a network so that it maps [0, 1] images to [0, 1] images of any size.

    ``forward(x)`` computes, for ``x`` of shape (N, C, H, W) in [0, 1]::

        y = x * input_range - mean        # the network's value range
        y = pad(y)                        # bottom/right, to a multiple
        z = model(copy of y)
        out = (z + mean) / input_range    # back to [0, 1]
        out = out[..., : H * s, : W * s]  # s = z's size / y's padded size

    Every step is differentiable and the padding is a function of ``x``, so the
    gradient (and a LAM attribution) has the shape of the unpadded input.

    Parameters
    ----------
    model : nn.Module
        The network, e.g. SwinIR trained on images in [0, 255] with the DIV2K mean
        subtracted outside the network.
    input_range : float
        Value of white for the network (1.0 or 255.0). Default 1.0.
    mean : sequence of float, optional
        Per-channel mean subtracted before and added after the network, in the
        network's range (e.g. ``(0.4488, 0.4371, 0.4040)`` for ``input_range=1``).
        Its length must equal the input's and the output's channel count.
    pad_multiple : int
        Pad H and W up to a multiple of this (SwinIR/HAT: the window size).
        Reflect padding at the bottom and right as in SwinIR's and HAT's models
        (and spandrel), continued by replicate padding where the image is too small
        to reflect that far. Default 1 (no padding).
    copy_input : bool
        Hand the network a copy of its input. Some networks (e.g. spandrel's RCAN)
        modify their input in place, which would change the caller's tensor or
        break autograd. Default True.
    min_size : int
        Pad H and W up to at least this (a network's minimum input size). Default 0.
    square : bool
        Pad to a square (for networks that need one). Default False.
    in_channels : int, optional
        Input channels the network expects; a batch with another count raises a
        ``ValueError`` that says so. Default None (no check).

    Attributes
    ----------
    model : nn.Module
        The wrapped network.

    Examples
    --------
    >>> net = torch.nn.Upsample(scale_factor=2)
    >>> model = ModelAdapter(net, input_range=255.0, mean=(114.4, 111.5, 103.0))
    >>> x = torch.rand(1, 3, 4, 4)
    >>> torch.allclose(model(x), net(x), atol=1e-5)
    True
    """

    mean: Optional[Tensor]

    def __init__(
        self,
        model: nn.Module,
        *,
        input_range: float = 1.0,
        mean: Optional[Sequence[float]] = None,
        pad_multiple: int = 1,
        copy_input: bool = True,
        min_size: int = 0,
        square: bool = False,
        in_channels: Optional[int] = None,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        input_range = float(input_range)
        if not math.isfinite(input_range) or input_range <= 0:
            raise ValueError(f"input_range must be positive, got {input_range}")
        if as_int(pad_multiple) is None:
            raise TypeError(f"pad_multiple must be an int, got {pad_multiple!r}")
        pad_multiple = int(pad_multiple)
        if pad_multiple < 1:
            raise ValueError(f"pad_multiple must be >= 1, got {pad_multiple}")
        if min_size < 0:
            raise ValueError(f"min_size must be >= 0, got {min_size}")
        self.model = model
        self.input_range = input_range
        self.pad_multiple = pad_multiple
        self.copy_input = bool(copy_input)
        self.min_size = int(min_size)
        self.square = bool(square)
        self.in_channels = in_channels
        if mean is None:
            self.register_buffer("mean", None, persistent=False)
        else:
            values = torch.as_tensor(mean, dtype=torch.float32).flatten()
            if values.numel() == 0 or not torch.isfinite(values).all():
                raise ValueError(f"mean must be finite numbers, got {mean!r}")
            self.register_buffer("mean", values.view(1, -1, 1, 1), persistent=False)

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """Size (H', W') the network sees for an input of ``height x width``."""
        if self.square:
            height = width = max(height, width)
        height, width = max(height, self.min_size), max(width, self.min_size)
        m = self.pad_multiple
        return -(-height // m) * m, -(-width // m) * m

    def forward(self, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        """Run the network on ``x``.

        Parameters
        ----------
        x : Tensor
            Shape (N, C, H, W), values in [0, 1].
        *args, **kwargs
            Passed to the network after its input.

        Returns
        -------
        Tensor
            Shape (N, C', s*H, s*W) in [0, 1] (not clamped), s the network's scale.
        """
        if x.ndim != 4:
            raise ValueError(
                f"expected an image batch (N, C, H, W), got {tuple(x.shape)}"
            )
        if self.in_channels is not None and x.shape[1] != self.in_channels:
            raise ValueError(
                f"the network expects {self.in_channels} input channels, got a batch "
                f"of shape {tuple(x.shape)}"
            )
        height, width = x.shape[-2:]
        y = x
        if self.input_range != 1.0:
            y = y * self.input_range
        mean = None
        if self.mean is not None:
            mean = self.mean.to(dtype=x.dtype, device=x.device)
            if mean.shape[1] != x.shape[1]:
                raise ValueError(
                    f"mean has {mean.shape[1]} channels but the input has {x.shape[1]}"
                )
            y = y - mean
        pad_h, pad_w = self.padded_size(height, width)
        pad_h, pad_w = pad_h - height, pad_w - width
        if pad_h or pad_w:
            y = _pad(y, pad_h, pad_w)
        if self.copy_input and y is x:
            y = x.clone()
        out = self.model(y, *args, **kwargs)
        if not isinstance(out, Tensor) or out.ndim != 4:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"the network must return (N, C, H, W), got {shape}")
        if mean is not None:
            if out.shape[1] != mean.shape[1]:
                raise ValueError(
                    f"mean has {mean.shape[1]} channels but the network's output has "
                    f"{out.shape[1]}; adding the mean back needs them equal"
                )
            out = out + mean
        if self.input_range != 1.0:
            out = out / self.input_range
        if pad_h or pad_w:
            out_h = round(height * out.shape[-2] / y.shape[-2])
            out_w = round(width * out.shape[-1] / y.shape[-1])
            out = out[..., :out_h, :out_w]
        return out

    def extra_repr(self) -> str:
        parts = [f"input_range={self.input_range:g}"]
        if self.mean is not None:
            parts.append(f"mean={[round(v, 4) for v in self.mean.flatten().tolist()]}")
        if self.pad_multiple != 1:
            parts.append(f"pad_multiple={self.pad_multiple}")
        if self.min_size:
            parts.append(f"min_size={self.min_size}")
        if self.square:
            parts.append("square=True")
        return ", ".join(parts)


def _pad(x: Tensor, pad_h: int, pad_w: int) -> Tensor:
    """Pad bottom and right: reflect as far as the image allows, then replicate."""
    height, width = x.shape[-2:]
    reflect_h, reflect_w = min(pad_h, height - 1), min(pad_w, width - 1)
    if reflect_h or reflect_w:
        x = F.pad(x, (0, reflect_w, 0, reflect_h), mode="reflect")
    if pad_h > reflect_h or pad_w > reflect_w:
        x = F.pad(x, (0, pad_w - reflect_w, 0, pad_h - reflect_h), mode="replicate")
    return x


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
        kind = "safetensors" if path.suffix.lower() == ".safetensors" else "torch"
        raise ValueError(
            f"cannot read checkpoint {path} as a {kind} file: "
            f"{type(error).__name__}: {_first_line(error)}"
        ) from error
    state = _unwrap(data, path)
    return {_strip_module(key): value for key, value in state.items()}


def _first_line(error: BaseException) -> str:
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
                f"({_preview(others)}); expected a state dict of tensors"
            )
        raise ValueError(
            f"checkpoint {path} holds no state dict: its top-level keys are "
            f"{_preview(keys)}; expected tensors, or a dict under one of "
            f"{', '.join(_WRAPPER_KEYS)}"
        )
    raise ValueError(
        f"checkpoint {path} holds a {type(data).__name__}, not a state dict"
    )


def _strip_module(key: str) -> str:
    while key.startswith("module."):
        key = key[len("module.") :]
    return key


def _preview(keys: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(k) for k in list(keys)[:limit])
    more = len(keys) - limit
    return shown + (f" and {more} more" if more > 0 else "") if keys else "none"


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
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"model spec {spec!r}: cannot import module {module_name!r}: {error}"
        ) from error
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
            f"({_preview(missing)}), {len(unexpected)} unexpected keys "
            f"({_preview(unexpected)})"
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
            f"failed: {type(error).__name__}: {_first_line(error)}"
        ) from error
    source = spec if weights is None else f"{spec} with weights {weights}"
    model.lam_info = _user_model_info(  # type: ignore[assignment]
        spec,
        scale,
        network,
        source,
        "factory",
        f"{type(network).__name__} x{scale} built by {spec}",
    )
    return model


def _user_model_info(
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
                f"{_SPANDREL_HINT}; importing it failed: {_first_line(error)}"
            ) from error
        raise ModuleNotFoundError(_SPANDREL_HINT) from error
    except Exception as error:  # a torchvision that does not fit torch: RuntimeError
        raise ModuleNotFoundError(
            f"{_SPANDREL_HINT}; importing it failed: "
            f"{type(error).__name__}: {_first_line(error)}"
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
            f"{type(error).__name__}: {_first_line(error)}"
        ) from error
    if measured != scale:
        raise ValueError(
            f"{name} from checkpoint {path}: spandrel says scale {scale} but the "
            f"network upscales by {measured}"
        )
    model.lam_info = _user_model_info(  # type: ignore[assignment]
        name,
        scale,
        network,
        str(path),
        "checkpoint",
        f"{name} x{scale} ({descriptor.purpose}) from {path.name}",
    )
    return model

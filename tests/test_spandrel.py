"""``load_checkpoint`` on published architectures, built by spandrel's own classes.

Every network is randomly initialised in a small configuration (nothing is
downloaded), saved the ways SR trainers save weights, loaded back through
:func:`captum_lam.models._checkpoint.load_checkpoint` (spandrel detects the
architecture from the keys), and attributed with LAM.

spandrel needs torchvision; the main venv's torch has none that imports, so these
tests run in a second venv: ``bash .ci/spandrel.sh``.
"""

from __future__ import annotations

import pytest
import torch

try:
    import spandrel
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN
    from spandrel.architectures.HAT import HAT
    from spandrel.architectures.RCAN import RCAN
    from spandrel.architectures.SPAN import SPAN
    from spandrel.architectures.SwinIR import SwinIR
except Exception:  # torchvision's failure beside a mismatched torch is a RuntimeError
    pytest.skip(
        "spandrel needs torchvision, which does not import beside torch 2.13.0; "
        "run in the second venv (see .ci/run)",
        allow_module_level=True,
    )

from safetensors.torch import save_file

from captum_lam import LAM
from captum_lam.models import ModelAdapter
from captum_lam.models._checkpoint import load_checkpoint
from captum_lam.zoo import ModelInfo

pytestmark = pytest.mark.spandrel

#: name -> (constructor of a small random network, spandrel's architecture name).
#: All are x2. SwinIR and HAT pad to their window inside the network and need at
#: least 16x16 (spandrel's size requirements); RCAN scales its input in place;
#: SPAN rewrites its ``eval_conv`` weights in every eval-mode forward.
ARCHITECTURES = {
    "SwinIR": (
        lambda: SwinIR(
            img_size=16,
            embed_dim=12,
            depths=[1],
            num_heads=[2],
            window_size=4,
            mlp_ratio=2.0,
            upscale=2,
            upsampler="pixelshuffle",
        ),
        "SwinIR",
    ),
    "HAT": (
        lambda: HAT(
            img_size=16,
            embed_dim=12,
            depths=[1],
            num_heads=[2],
            window_size=4,
            compress_ratio=3,
            squeeze_factor=4,
            mlp_ratio=2.0,
            upscale=2,
            num_feat=16,
        ),
        "HAT",
    ),
    "ESRGAN": (lambda: ESRGAN(num_filters=8, num_blocks=1, scale=2), "ESRGAN"),
    "RCAN": (
        lambda: RCAN(scale=2, n_resgroups=1, n_resblocks=1, n_feats=16, reduction=4),
        "RCAN",
    ),
    "SPAN": (
        lambda: SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=2),
        "SPAN",
    ),
    "Compact": (
        lambda: Compact(num_feat=8, num_conv=2, upscale=2),
        "RealESRGAN Compact",
    ),
}

#: An LR size that is no multiple of the windows (4) and below the minimum (16),
#: so the adapter pads and crops; the output is 26x22.
LR_SHAPE = (1, 3, 13, 11)
WINDOW = (8, 6, 10)


def _state(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _prefixed(state, prefix="module."):
    return {prefix + k: v for k, v in state.items()}


#: The ways users' checkpoints are laid out.
FORMATS = {
    "bare.pth": lambda s, p: torch.save(s, p),
    "params_ema.pth": lambda s, p: torch.save({"params_ema": s}, p),
    "params.pth": lambda s, p: torch.save({"params": s}, p),
    "dataparallel.pth": lambda s, p: torch.save(_prefixed(s), p),
    "plain.safetensors": lambda s, p: save_file(
        {k: v.contiguous() for k, v in s.items()}, str(p)
    ),
}


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    """name -> (random network in eval mode, its bare state dict saved as .pth)."""
    folder = tmp_path_factory.mktemp("checkpoints")
    built = {}
    for i, (name, (make, _)) in enumerate(ARCHITECTURES.items()):
        torch.manual_seed(i)
        net = make()
        path = folder / f"{name}.pth"
        torch.save(_state(net), path)
        built[name] = (net.eval(), path)
    return built


def _snapshot(model):
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    flags = {k: p.requires_grad for k, p in model.named_parameters()}
    return state, flags


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_load_checkpoint_describes_and_reproduces_the_network(networks, name):
    net, path = networks[name]
    model = load_checkpoint(path)
    assert isinstance(model, ModelAdapter)
    assert not any(m.training for m in model.modules())
    info = model.lam_info
    assert isinstance(info, ModelInfo)
    assert info.name == ARCHITECTURES[name][1]
    assert info.kind == "checkpoint"
    assert info.scale == 2
    assert info.parameters == sum(p.numel() for p in model.model.parameters())
    assert info.receptive_field is None
    assert info.source == str(path)
    assert info.license == "unknown (user's checkpoint)"
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), net(x.clone()), atol=1e-4, rtol=1e-4)
        assert model(torch.rand(*LR_SHAPE)).shape == (1, 3, 26, 22)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_lam_on_a_loaded_checkpoint(networks, name):
    _, path = networks[name]
    model = load_checkpoint(path)
    state, flags = _snapshot(model)
    torch.manual_seed(0)
    x = torch.rand(*LR_SHAPE)
    before = x.clone()
    lam = LAM(model)
    attr, delta = lam.attribute(
        x,
        target=WINDOW,
        n_steps=32,
        method="riemann_middle",
        return_convergence_delta=True,
    )
    assert attr.shape == x.shape
    assert torch.isfinite(attr).all()
    assert torch.equal(x, before)
    change = float(attr.sum() - delta)
    assert abs(change) > 0
    # Measured |delta| / |change| at 32 steps: 1.1e-2 (SwinIR), 5e-3 (HAT), 3e-3
    # (ESRGAN), below 1e-3 for the convolutional rest.
    assert abs(float(delta)) < 3e-2 * abs(change)
    after_state, after_flags = _snapshot(model)
    assert after_flags == flags
    assert after_state.keys() == state.keys()
    for key in state:
        assert torch.equal(after_state[key], state[key]), key
    assert not any(m.training for m in model.modules())


@pytest.mark.parametrize("layout", list(FORMATS))
@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_checkpoint_layouts(networks, tmp_path, name, layout):
    net, bare = networks[name]
    path = tmp_path / f"{name}_{layout}"
    FORMATS[layout](torch.load(bare, weights_only=True), path)
    model = load_checkpoint(path)
    assert model.lam_info.name == ARCHITECTURES[name][1]
    x = torch.rand(*LR_SHAPE)
    with torch.no_grad():
        torch.testing.assert_close(model(x), load_checkpoint(bare)(x))


def test_rcan_scales_its_input_in_place_and_the_adapter_copies_it(networks):
    net, path = networks["RCAN"]
    x = torch.rand(1, 3, 8, 8)
    before = x.clone()
    with torch.no_grad():
        net(x)
    assert not torch.equal(x, before)  # spandrel's RCAN: ``x *= self.rgb_range``
    x = before.clone()
    with torch.no_grad():
        load_checkpoint(path)(x)
    assert torch.equal(x, before)


def test_span_rewrites_eval_conv_once_at_load(networks):
    _, path = networks["SPAN"]
    raw = spandrel.ModelLoader().load_from_file(str(path)).model.eval()
    state, _ = _snapshot(raw)
    with torch.no_grad():
        raw(torch.rand(1, 3, 8, 8))
    changed = [k for k, v in raw.state_dict().items() if not torch.equal(v, state[k])]
    # A random (or training-mode) checkpoint's eval_conv is stale: the first eval
    # forward replaces it with the fused training branches.
    assert changed and all("eval_conv" in k for k in changed)
    # load_checkpoint does that forward itself; afterwards the weights are fixed.
    model = load_checkpoint(path)
    for key, value in raw.state_dict().items():
        torch.testing.assert_close(model.model.state_dict()[key], value)


def test_unrecognised_checkpoint(tmp_path):
    path = tmp_path / "unknown.pth"
    torch.save({"foo.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(
        ValueError, match="spandrel does not recognise the architecture in .*unknown"
    ) as raised:
        load_checkpoint(path)
    assert "\x1b" not in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize("layout", ["bare.pth", "plain.safetensors"])
def test_truncated_checkpoint_says_so(networks, tmp_path, layout):
    whole = tmp_path / layout
    FORMATS[layout](_state(networks["Compact"][0]), whole)
    cut = tmp_path / f"cut-{layout}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ValueError, match="the file is truncated or not a checkpoint"):
        load_checkpoint(cut)


def test_state_dicts_load_when_torchscript_is_refused(networks):
    _, path = networks["Compact"]
    model = load_checkpoint(path, allow_torchscript=False)
    assert model.lam_info.name == "RealESRGAN Compact"


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        load_checkpoint(tmp_path / "absent.pth")

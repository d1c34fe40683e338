"""Loading users' own networks: ModelAdapter, read_state_dict, load_factory.

These run without spandrel; ``tests/test_spandrel.py`` covers ``load_checkpoint``
with spandrel's architectures.
"""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from captum_lam import LAM
from captum_lam.models import ModelAdapter
from captum_lam.models._checkpoint import load_checkpoint, read_state_dict
from captum_lam.models._factory import load_factory
from captum_lam.zoo import ModelInfo

from .conftest import make_tiny_sr

MEAN_255 = (114.4, 111.5, 103.0)


class Range255(nn.Module):
    """The [0, 1] network ``net`` rewritten for [0, 255] inputs with the mean removed.

    ``Range255(net)(255 * x - mean) == 255 * net(x) - mean``: what a network trained
    the EDSR/RCAN way (mean subtracted and added outside the body) looks like.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(MEAN_255).view(1, 3, 1, 1))

    def forward(self, z):
        return self.net((z + self.mean) / 255.0) * 255.0 - self.mean


class NeedsMultiple(nn.Module):
    """Wraps a network and refuses inputs whose sides are not multiples of ``m``."""

    def __init__(self, net: nn.Module, m: int) -> None:
        super().__init__()
        self.net, self.m = net, m

    def forward(self, x):
        h, w = x.shape[-2:]
        if h % self.m or w % self.m:
            raise RuntimeError(f"input {h}x{w} is not a multiple of {self.m}")
        return self.net(x)


class InPlace(nn.Module):
    """Modifies its input in place, like spandrel's RCAN (``x *= rgb_range``)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        x *= 2.0
        return self.net(x / 2.0)


# --- ModelAdapter ----------------------------------------------------------------


def test_range_and_mean_give_the_equivalent_unit_range_model():
    net = make_tiny_sr()
    adapted = ModelAdapter(Range255(net), input_range=255.0, mean=MEAN_255).eval()
    x = torch.rand(2, 3, 10, 9)
    torch.testing.assert_close(adapted(x), net(x), atol=1e-4, rtol=1e-4)
    a = LAM(adapted).attribute(x[:1], target=(4, 4, 8), n_steps=6)
    b = LAM(net).attribute(x[:1], target=(4, 4, 8), n_steps=6)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)


def test_padding_reaches_the_multiple_and_the_output_is_cropped():
    net = make_tiny_sr()
    adapted = ModelAdapter(NeedsMultiple(net, 8), pad_multiple=8).eval()
    x = torch.rand(1, 3, 13, 10)
    with pytest.raises(RuntimeError, match="multiple of 8"):
        NeedsMultiple(net, 8)(x)
    out = adapted(x)
    assert out.shape == (1, 3, 26, 20)
    # Padding is at the bottom and right only, and TinySR sees 3 pixels around each
    # pixel: away from those borders the output is the network's own.
    torch.testing.assert_close(out[..., :20, :14], net(x)[..., :20, :14])


def test_no_padding_when_already_a_multiple():
    net = make_tiny_sr()
    x = torch.rand(1, 3, 16, 8)
    torch.testing.assert_close(ModelAdapter(net, pad_multiple=8)(x), net(x))


def test_reflect_padding_like_swinir():
    seen = {}

    def spy(y):
        seen["y"] = y
        return y

    class Spy(nn.Module):
        def forward(self, y):
            return spy(y)

    x = torch.rand(1, 3, 5, 6)
    out = ModelAdapter(Spy(), pad_multiple=4).eval()(x)
    padded = seen["y"]
    assert padded.shape == (1, 3, 8, 8)
    expected = torch.nn.functional.pad(x, (0, 2, 0, 3), mode="reflect")
    torch.testing.assert_close(padded, expected)
    torch.testing.assert_close(out, x)


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (3, 9)])
def test_images_too_small_to_reflect_are_replicated(size):
    net = make_tiny_sr()
    adapted = ModelAdapter(NeedsMultiple(net, 8), pad_multiple=8).eval()
    x = torch.rand(1, 3, *size)
    out = adapted(x)
    assert out.shape == (1, 3, 2 * size[0], 2 * size[1])
    assert torch.isfinite(out).all()


def test_min_size_and_square():
    seen = {}

    class Spy(nn.Module):
        def forward(self, y):
            seen["shape"] = tuple(y.shape)
            return y

    adapter = ModelAdapter(Spy(), pad_multiple=4, min_size=12, square=True)
    assert adapter(torch.rand(1, 3, 5, 14)).shape == (1, 3, 5, 14)
    assert seen["shape"] == (1, 3, 16, 16)
    assert adapter.padded_size(5, 14) == (16, 16)
    assert ModelAdapter(Spy(), min_size=12).padded_size(20, 3) == (20, 12)


def test_lam_through_the_adapter_has_the_input_shape_and_is_complete():
    net = make_tiny_sr()
    adapted = ModelAdapter(
        Range255(NeedsMultiple(net, 8)),
        input_range=255.0,
        mean=MEAN_255,
        pad_multiple=8,
    ).eval()
    x = torch.rand(1, 3, 11, 13)
    before = x.clone()
    lam = LAM(adapted)
    attr, delta = lam.attribute(
        x,
        target=(6, 6, 10),
        n_steps=32,
        method="riemann_middle",
        return_convergence_delta=True,
    )
    assert attr.shape == x.shape
    assert torch.equal(x, before)
    objective = lam.forward_func
    windows = torch.tensor([[6, 6, 10]])
    with torch.no_grad():
        change = objective(x, windows) - objective(lam.path.baseline(x), windows)
    assert abs(float(delta)) < 1e-2 * abs(float(change))
    # The padded rows and columns are copies of real pixels: their influence is
    # folded back onto those pixels, so the map is not zero there.
    assert attr[..., -2:, :].abs().sum() > 0


def test_in_place_networks_get_a_copy():
    net = make_tiny_sr()
    adapted = ModelAdapter(InPlace(net)).eval()
    x = torch.rand(1, 3, 8, 8)
    before = x.clone()
    torch.testing.assert_close(adapted(x), net(before))
    assert torch.equal(x, before)
    attr = LAM(adapted).attribute(x, target=(2, 2, 8), n_steps=4)
    torch.testing.assert_close(attr, LAM(net).attribute(x, target=(2, 2, 8), n_steps=4))
    assert torch.equal(x, before)
    # Without the copy the network scales the caller's tensor.
    ModelAdapter(InPlace(net), copy_input=False)(x)
    torch.testing.assert_close(x, 2 * before)


def test_the_adapter_never_modifies_its_input():
    net = make_tiny_sr()
    x = torch.rand(1, 3, 7, 9, requires_grad=True)
    before = x.detach().clone()
    out = ModelAdapter(InPlace(net), input_range=255.0, mean=MEAN_255, pad_multiple=4)(
        x
    )
    out.sum().backward()
    assert torch.equal(x.detach(), before)
    assert x.grad.shape == x.shape


def test_train_and_eval_propagate_and_model_is_exposed():
    net = make_tiny_sr().train()
    adapter = ModelAdapter(net, pad_multiple=4)
    assert adapter.model is net
    adapter.eval()
    assert not net.training
    adapter.train()
    assert net.training
    # The adapter adds no weights of its own: its state dict is the network's.
    assert adapter.state_dict().keys() == {f"model.{k}" for k in net.state_dict()}


def test_adapter_follows_dtype():
    net = make_tiny_sr().double()
    adapted = ModelAdapter(net, input_range=255.0, mean=MEAN_255, pad_multiple=4)
    out = adapted(torch.rand(1, 3, 5, 5, dtype=torch.float64))
    assert out.dtype == torch.float64


def test_adapter_argument_errors():
    net = make_tiny_sr()
    with pytest.raises(ValueError, match="pad_multiple"):
        ModelAdapter(net, pad_multiple=0)
    with pytest.raises(ValueError, match="input_range"):
        ModelAdapter(net, input_range=0)
    with pytest.raises(TypeError, match="nn.Module"):
        ModelAdapter(lambda x: x)
    with pytest.raises(ValueError, match="mean has 2 channels but the input has 3"):
        ModelAdapter(net, mean=(0.5, 0.5))(torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="expects 1 input channels"):
        ModelAdapter(net, in_channels=1)(torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ModelAdapter(net)(torch.rand(3, 4, 4))


# --- read_state_dict ----------------------------------------------------------------


def _state():
    return {k: v.clone() for k, v in make_tiny_sr().state_dict().items()}


def _assert_same(got, expected):
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert torch.equal(got[key], expected[key])


def _prefixed(state, prefix="module."):
    return {prefix + k: v for k, v in state.items()}


WRAPPINGS = {
    "bare": lambda s: s,
    "params_ema": lambda s: {"params_ema": s},
    "params": lambda s: {"params": s},
    "state_dict": lambda s: {"state_dict": s, "epoch": 3},
    "model": lambda s: {"model": s, "optimizer": {"lr": 1e-3}},
    "net_g": lambda s: {"net_g": s, "net_d": {"w": torch.zeros(1)}},
    "generator": lambda s: {"generator": s},
    "module_prefix": lambda s: _prefixed(s),
    "params_module_prefix": lambda s: {"params": _prefixed(s)},
    "nested": lambda s: {"state_dict": {"params_ema": s}},
}


@pytest.mark.parametrize("wrapping", list(WRAPPINGS))
@pytest.mark.parametrize("suffix", [".pth", ".pt", ".ckpt", ".bin"])
def test_read_state_dict_unwraps_torch_files(tmp_path, wrapping, suffix):
    state = _state()
    path = tmp_path / f"net{suffix}"
    torch.save(WRAPPINGS[wrapping](state), path)
    _assert_same(read_state_dict(path), state)


def test_read_state_dict_prefers_params_ema(tmp_path):
    state = _state()
    other = {k: v + 1 for k, v in state.items()}
    path = tmp_path / "net_g_latest.pth"
    torch.save({"params": other, "params_ema": state}, path)
    _assert_same(read_state_dict(str(path)), state)


@pytest.mark.parametrize("prefix", ["", "module."])
def test_read_state_dict_safetensors(tmp_path, prefix):
    state = _state()
    path = tmp_path / "net.safetensors"
    save_file(_prefixed(state, prefix), str(path))
    _assert_same(read_state_dict(path), state)


def test_read_state_dict_missing_file(tmp_path):
    path = tmp_path / "nowhere.pth"
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        read_state_dict(path)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_read_state_dict_unreadable(tmp_path, suffix):
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match=f"garbage\\{suffix}"):
        read_state_dict(path)


def test_read_state_dict_refuses_pickled_code(tmp_path):
    path = tmp_path / "whole_model.pth"
    torch.save(make_tiny_sr(), path)  # a pickled module, not a state dict
    with pytest.raises(ValueError, match="whole_model.pth"):
        read_state_dict(path)


def test_read_state_dict_without_tensors(tmp_path):
    path = tmp_path / "meta.pth"
    torch.save({"epoch": 3, "iter": {"n": 1}}, path)
    with pytest.raises(ValueError, match="holds no state dict.*'epoch'"):
        read_state_dict(path)


# --- load_factory ----------------------------------------------------------------

USER_MODULE = "lam_test_user_net"

USER_SOURCE = textwrap.dedent(
    '''
    """A user's network module, as it would live in their own project."""
    import torch
    from torch import nn

    NOT_CALLABLE = 42


    class UserSR(nn.Module):
        def __init__(self, scale=2, width=8):
            super().__init__()
            self.head = nn.Conv2d(3, width, 3, padding=1)
            self.tail = nn.Conv2d(width, 3 * scale * scale, 3, padding=1)
            self.shuffle = nn.PixelShuffle(scale)

        def forward(self, x):
            return self.shuffle(self.tail(torch.tanh(self.head(x))))


    def build(scale=2, width=8):
        torch.manual_seed(0)
        return UserSR(scale=scale, width=width)


    def not_a_module():
        return "a string"
    '''
)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module ``lam_test_user_net`` on sys.path with a factory ``build``."""
    (tmp_path / f"{USER_MODULE}.py").write_text(USER_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(USER_MODULE, None)
    yield __import__(USER_MODULE)
    sys.modules.pop(USER_MODULE, None)


def test_load_factory_builds_evaluates_and_describes(user_module):
    model = load_factory(f"{USER_MODULE}:build", scale=3)
    assert isinstance(model, user_module.UserSR)
    assert not model.training
    info = model.lam_info
    assert isinstance(info, ModelInfo)
    assert info.name == f"{USER_MODULE}:build"
    assert info.kind == "factory"
    assert info.scale == 3
    assert info.parameters == sum(p.numel() for p in model.parameters())
    assert info.receptive_field is None
    assert info.license == "unknown (user's checkpoint)"
    assert model(torch.rand(1, 3, 5, 7)).shape == (1, 3, 15, 21)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_load_factory_loads_weights(user_module, tmp_path, suffix):
    trained = user_module.UserSR(width=6)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(torch.randn_like(p))
    path = tmp_path / f"trained{suffix}"
    if suffix == ".safetensors":
        save_file(trained.state_dict(), str(path))
    else:
        torch.save({"params_ema": _prefixed(trained.state_dict())}, path)
    model = load_factory(f"{USER_MODULE}:UserSR", path, width=6)
    x = torch.rand(1, 3, 6, 6)
    torch.testing.assert_close(model(x), trained(x))
    assert str(path) in model.lam_info.source
    attr = LAM(model).attribute(x, target=(2, 2, 8), n_steps=4)
    assert attr.shape == x.shape


def test_load_factory_wraps_in_the_adapter(user_module):
    model = load_factory(
        f"{USER_MODULE}:build", input_range=255.0, mean=MEAN_255, pad_multiple=8
    )
    assert isinstance(model, ModelAdapter)
    assert isinstance(model.model, user_module.UserSR)
    assert not model.model.training
    assert model.lam_info.scale == 2
    assert model(torch.rand(1, 3, 5, 9)).shape == (1, 3, 10, 18)


def test_load_factory_key_mismatch_lists_the_keys(user_module, tmp_path):
    state = user_module.build().state_dict()
    state.pop("tail.bias")
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "other.pth"
    torch.save(state, path)
    with pytest.raises(ValueError) as raised:
        load_factory(f"{USER_MODULE}:build", path)
    message = str(raised.value)
    assert "other.pth" in message
    assert "1 missing keys ('tail.bias')" in message
    assert "1 unexpected keys ('extra.weight')" in message


def test_load_factory_lists_at_most_five_keys(user_module, tmp_path):
    path = tmp_path / "unrelated.pth"
    torch.save({f"layer{i}.weight": torch.zeros(1) for i in range(8)}, path)
    with pytest.raises(ValueError) as raised:
        load_factory(f"{USER_MODULE}:build", path)
    message = str(raised.value)
    assert "8 unexpected keys" in message and "and 3 more" in message
    assert "'layer4.weight'" in message and "'layer5.weight'" not in message
    assert "4 missing keys" in message and "'head.weight'" in message


def test_load_factory_shape_mismatch(user_module, tmp_path):
    path = tmp_path / "wide.pth"
    torch.save(user_module.build(width=16).state_dict(), path)
    with pytest.raises(ValueError, match=r"shapes differ: head.weight: checkpoint"):
        load_factory(f"{USER_MODULE}:build", path, width=8)


def test_load_factory_missing_weights(user_module, tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        load_factory(f"{USER_MODULE}:build", tmp_path / "absent.pth")


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (f"{USER_MODULE}.build", "one colon"),
        (f"{USER_MODULE}:build:x", "one colon"),
        (":build", "both parts"),
        (f"{USER_MODULE}:", "both parts"),
        ("lam_no_such_module_here:build", "cannot import module"),
        (f"{USER_MODULE}:missing", "has no attribute 'missing'"),
        (f"{USER_MODULE}:NOT_CALLABLE", "is a int, not callable"),
        (f"{USER_MODULE}:not_a_module", "returned a str, not an nn.Module"),
    ],
)
def test_load_factory_bad_specs(user_module, spec, reason):
    with pytest.raises(ValueError) as raised:
        load_factory(spec)
    assert repr(spec) in str(raised.value)
    assert reason in str(raised.value)


def test_load_factory_from_an_installed_package():
    model = load_factory("torch.nn:Upsample", scale_factor=4)
    assert model.lam_info.scale == 4
    assert model.lam_info.parameters == 0


def test_load_factory_reports_a_failing_forward(user_module):
    with pytest.raises(ValueError, match="test forward of a 1x3x16x16 image failed"):
        load_factory("torch.nn:Conv2d", in_channels=1, out_channels=1, kernel_size=3)


def test_load_checkpoint_without_spandrel_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "spandrel", None)  # as if not installed
    with pytest.raises(ModuleNotFoundError) as raised:
        load_checkpoint(tmp_path / "net.pth")
    message = str(raised.value)
    assert message.startswith(
        "--checkpoint needs spandrel: pip install 'captum-lam[checkpoints]'"
    )
    assert "torchvision" in message
    assert "\n" not in message


def test_load_checkpoint_with_a_broken_torchvision(tmp_path, monkeypatch):
    # torchvision built for another torch fails with a RuntimeError on import.
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "spandrel.py").write_text(
        'raise RuntimeError("operator torchvision::nms does not exist")\n'
    )
    monkeypatch.delitem(sys.modules, "spandrel", raising=False)
    monkeypatch.syspath_prepend(str(fake))
    with pytest.raises(ModuleNotFoundError) as raised:
        load_checkpoint(tmp_path / "net.pth")
    message = str(raised.value)
    assert "pip install 'captum-lam[checkpoints]'" in message
    assert "RuntimeError: operator torchvision::nms does not exist" in message
    assert "\n" not in message


# --- a user's module from the current folder, plain messages for wrong files ---

CONSOLE_SCRIPT = "import sys\nfrom captum_lam.cli import main\nsys.exit(main())\n"


def _console_script(tmp_path):
    """A stand-in for the installed ``captum-lam``: a script in another folder,
    so that Python puts that folder, not the current one, on the path."""
    import pathlib

    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "captum-lam"
    script.write_text(CONSOLE_SCRIPT)
    return script, str(pathlib.Path(__file__).resolve().parents[1])


def test_the_console_script_imports_a_factory_from_the_current_folder(tmp_path):
    import os
    import subprocess

    import matplotlib.image
    from skimage.data import chelsea

    work = tmp_path / "project"
    work.mkdir()
    (work / "mysr_here.py").write_text(USER_SOURCE)
    matplotlib.image.imsave(work / "hr.png", chelsea()[100:132, 200:232])
    script, root = _console_script(tmp_path)
    env = {**os.environ, "PYTHONPATH": root, "OMP_NUM_THREADS": "1"}
    common = ["--image", "hr.png", "--steps", "2", "--out", "o.png", "--quiet"]

    def explain(spec):
        argv = [sys.executable, str(script), "explain", "--model", spec, *common]
        return subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True)

    done = explain("mysr_here:build")
    assert done.returncode == 0, done.stderr
    assert (work / "o.png").is_file()
    missing = explain("nothing_here_sr:build")
    assert missing.returncode == 2
    assert f"looked in the current folder ({work})" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_an_image_given_as_weights_gets_a_plain_message(user_module, tmp_path):
    import matplotlib.image

    picture = tmp_path / "w.png"
    matplotlib.image.imsave(picture, torch.rand(8, 8, 3).numpy())
    with pytest.raises(ValueError) as raised:
        load_factory(f"{USER_MODULE}:build", picture)
    message = str(raised.value)
    assert "it is a PNG image" in message and "torch.save" in message
    assert "weights_only" not in message

"""Property-based tests over random shapes, scales, windows, steps and batch splits."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from captum_lam import LAM, WindowObjective


def make_net(channels: int, scale: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    layers = [nn.Conv2d(channels, 6, 3, padding=1), nn.Tanh()]
    layers += [nn.Conv2d(6, channels * scale * scale, 3, padding=1)]
    if scale > 1:
        layers.append(nn.PixelShuffle(scale))
    return nn.Sequential(*layers).double().eval()


@st.composite
def cases(draw):
    channels = draw(st.sampled_from([1, 3]))
    scale = draw(st.integers(1, 4))
    h, w = draw(st.integers(3, 12)), draw(st.integers(3, 12))
    batch = draw(st.integers(1, 3))
    out_h, out_w = h * scale, w * scale
    size = draw(st.integers(min(2, out_h, out_w), min(out_h, out_w)))
    windows = [
        (draw(st.integers(0, out_h - size)), draw(st.integers(0, out_w - size)), size)
        for _ in range(batch)
    ]
    return channels, scale, (h, w), batch, windows, draw(st.integers(0, 10_000))


SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@SETTINGS
@given(case=cases(), ibs=st.integers(1, 40))
def test_shape_completeness_and_batch_split_invariance(case, ibs):
    channels, scale, (h, w), batch, windows, seed = case
    model = make_net(channels, scale, seed)
    x = torch.rand(
        batch,
        channels,
        h,
        w,
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(seed),
    )
    lam = LAM(model)
    attr, delta = lam.attribute(
        x,
        target=windows,
        n_steps=48,
        method="riemann_middle",
        return_convergence_delta=True,
    )
    assert attr.shape == x.shape
    objective = WindowObjective(model)
    rows = torch.tensor(windows)
    with torch.no_grad():
        change = objective(x, rows) - objective(lam.path.baseline(x), rows)
    # windows of a few pixels can make the detector's sqrt nearly singular on the
    # path; the tolerance leaves room for that, not for a wrong scheme
    assert (delta.abs() <= 0.02 * change.abs() + 1e-4).all()
    split = lam.attribute(
        x,
        target=windows,
        n_steps=48,
        method="riemann_middle",
        internal_batch_size=max(ibs, batch),
    )
    torch.testing.assert_close(split, attr, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(
    case=cases(),
    bad=st.sampled_from(
        ["top", "left", "size0", "steps", "method", "ibs", "count", "arity", "float"]
    ),
)
def test_invalid_combinations_name_the_argument(case, bad):
    channels, scale, (h, w), batch, windows, seed = case
    model = make_net(channels, scale, seed)
    x = torch.rand(batch, channels, h, w, dtype=torch.float64)
    kwargs = {"target": windows, "n_steps": 2}
    top, left, size = windows[0]
    expected = "window"
    if bad == "top":
        kwargs["target"] = [(h * scale - size + 1, left, size)] * batch
    elif bad == "left":
        kwargs["target"] = [(top, w * scale - size + 1, size)] * batch
    elif bad == "size0":
        kwargs["target"] = [(top, left, 0)] * batch
    elif bad == "steps":
        kwargs["n_steps"], expected = 0, "n_steps"
    elif bad == "method":
        kwargs["method"], expected = "midpoint", "method"
    elif bad == "ibs":
        kwargs["internal_batch_size"], expected = -1, "internal_batch_size"
    elif bad == "count":
        kwargs["target"] = windows + [windows[0]]
    elif bad == "arity":
        kwargs["target"] = (top, left)
    elif bad == "float":
        kwargs["target"] = (float(top), left, size)
    with pytest.raises((ValueError, TypeError), match=expected):
        LAM(model).attribute(x, **kwargs)

"""Property: PathIntegratedGradients(f, LinearPath(b)) is Captum's IntegratedGradients.

For every integration method, target form, baseline form, single or tuple
inputs of any rank, batch size, internal batch size and float32/float64, the
attributions agree within 2e-5 of their largest magnitude in float32 (1e-6 in
float64: Captum rounds its step weights to float32) and the deltas agree with
``compute_convergence_delta`` of the attributions.
"""

import torch
from captum.attr import IntegratedGradients, NoiseTunnel
from hypothesis import given, settings
from hypothesis import strategies as st

from captum_lam import LinearPath, PathIntegratedGradients

METHODS = [
    "riemann_right",
    "riemann_left",
    "riemann_middle",
    "riemann_trapezoid",
    "gausslegendre",
]
SHAPES = [(3,), (2, 2), (1, 2, 3)]


class TwoInputNet(torch.nn.Module):
    """(x1, [x2], [scale]) -> outputs (N, 6) or (N, 2, 3); smooth, nonlinear."""

    def __init__(self, sizes, grid=False):
        super().__init__()
        self.grid = grid
        g = torch.Generator().manual_seed(0)
        self.weights = [
            torch.randn(s, 6, generator=g, dtype=torch.float64) for s in sizes
        ]

    def forward(self, *args):
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        scale = args[-1] if not isinstance(args[-1], torch.Tensor) else 1.0
        z = sum(x.flatten(1) @ w.to(x.dtype) for x, w in zip(tensors, self.weights))
        out = torch.tanh(z) * scale + 0.1 * z**2
        return out.reshape(-1, 2, 3) if self.grid else out


@st.composite
def cases(draw):
    n = draw(st.integers(1, 3))
    count = draw(st.integers(1, 2))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    shapes = [draw(st.sampled_from(SHAPES)) for _ in range(count)]
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    inputs = tuple(torch.randn(n, *s, generator=g, dtype=dtype) for s in shapes)
    baselines = []
    for x in inputs:
        form = draw(st.sampled_from(["none", "scalar", "per_example", "one"]))
        if form == "scalar":
            baselines.append(draw(st.sampled_from([0.0, 0.5, -1])))
        elif form == "per_example":
            baselines.append(torch.randn(x.shape, generator=g, dtype=dtype))
        elif form == "one":
            baselines.append(torch.randn(1, *x.shape[1:], generator=g, dtype=dtype))
        else:
            baselines.append(None)
    target = draw(
        st.sampled_from(
            ["int", "tuple", "list", "list_of_tuples", "tensor0", "tensor_n"]
        )
    )
    targets = {
        "int": 1,
        "tuple": (1, 2),
        "list": [i % 2 for i in range(n)],
        "list_of_tuples": [(i % 2, (i + 1) % 3) for i in range(n)],
        "tensor0": torch.tensor(0),
        "tensor_n": torch.tensor([(i + 1) % 2 for i in range(n)]),
    }
    return dict(
        inputs=inputs if count > 1 or draw(st.booleans()) else inputs[0],
        shapes=shapes,
        baselines=baselines,
        target=targets[target],
        method=draw(st.sampled_from(METHODS)),
        n_steps=draw(st.integers(2, 12)),
        internal_batch_size=draw(st.sampled_from([None, n, 2 * n + 1])),
        scale=draw(st.sampled_from([None, 2.0])),
    )


def _tolerance(dtype):
    return 2e-5 if dtype == torch.float32 else 1e-6


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(cases())
def test_path_ig_with_linear_path_equals_captum_ig(case):
    inputs = case["inputs"]
    net = TwoInputNet(
        [torch.Size(s).numel() for s in case["shapes"]],
        grid=isinstance(case["target"], tuple)
        or isinstance(case["target"], list)
        and isinstance(case["target"][0], tuple),
    )
    if any(b is None for b in case["baselines"]):
        captum_baselines = (
            None
            if len(case["baselines"]) == 1
            else tuple(0.0 if b is None else b for b in case["baselines"])
        )
    else:
        captum_baselines = tuple(case["baselines"])
    if not isinstance(inputs, tuple) and captum_baselines is not None:
        captum_baselines = captum_baselines[0]
    kwargs = dict(
        target=case["target"],
        additional_forward_args=None if case["scale"] is None else (case["scale"],),
        n_steps=case["n_steps"],
        method=case["method"],
        internal_batch_size=case["internal_batch_size"],
        return_convergence_delta=True,
    )
    expected, expected_delta = IntegratedGradients(net).attribute(
        inputs, baselines=captum_baselines, **kwargs
    )
    pig = PathIntegratedGradients(net, LinearPath(captum_baselines))
    ours, delta = pig.attribute(inputs, **kwargs)

    assert type(ours) is type(expected)
    dtype = _as_tuple(inputs)[0].dtype
    for a, e in zip(_as_tuple(ours), _as_tuple(expected)):
        assert a.shape == e.shape and a.dtype == e.dtype
        scale = float(e.abs().max()) + 1e-12
        torch.testing.assert_close(a, e, rtol=0, atol=_tolerance(dtype) * scale)
    assert delta.shape == expected_delta.shape
    start = tuple(
        p.baseline(x)
        for p, x in zip(pig.path.for_inputs(len(_as_tuple(inputs))), _as_tuple(inputs))
    )
    recomputed = pig.compute_convergence_delta(
        ours,
        start if isinstance(inputs, tuple) else start[0],
        inputs,
        target=case["target"],
        additional_forward_args=kwargs["additional_forward_args"],
    )
    torch.testing.assert_close(delta, recomputed, rtol=0, atol=0)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    n=st.integers(2, 3),
    nt_type=st.sampled_from(["smoothgrad", "smoothgrad_sq", "vargrad"]),
    nt_samples=st.integers(1, 4),
    batch=st.sampled_from([None, 1, 2]),
)
def test_per_example_baselines_survive_noise_tunnel(n, nt_type, nt_samples, batch):
    """NoiseTunnel repeats the batch; LinearPath repeats its baselines with it."""
    net = TwoInputNet([3], grid=True)
    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    b = torch.randn(n, 3, generator=g, dtype=torch.float64)
    kwargs = dict(
        nt_type=nt_type,
        nt_samples=nt_samples,
        nt_samples_batch_size=batch,
        stdevs=0.0,
        target=(1, 1),
        n_steps=8,
    )
    expected = NoiseTunnel(IntegratedGradients(net)).attribute(x, baselines=b, **kwargs)
    ours = NoiseTunnel(PathIntegratedGradients(net, LinearPath(b))).attribute(
        x, **kwargs
    )
    torch.testing.assert_close(ours, expected, rtol=1e-6, atol=1e-9)

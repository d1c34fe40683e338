"""Per-example baselines survive Captum's repetition of the inputs
(``NoiseTunnel``, ``sensitivity_max``: each example k times in a row)."""

import torch

from captum_lam import LinearPath


def test_m_baselines_for_m_times_k_inputs_repeat_each_k_times():
    baselines = torch.arange(2.0).view(2, 1, 1).expand(2, 4, 1)  # C = 4: 6 % 4 != 0
    inputs = torch.ones(6, 4, 1)
    start = LinearPath(baselines).points(inputs, [0.0])[0]
    assert start[:, 0, 0].tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]


def test_one_baseline_serves_every_example():
    start = LinearPath(torch.full((1, 3), 0.5)).points(torch.ones(4, 3), [0.0])[0]
    assert torch.equal(start, torch.full((4, 3), 0.5))

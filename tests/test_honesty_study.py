"""The error estimate of n_steps="auto" on published networks (--run-study).

A few minutes on a CPU, so it runs with ``--run-study`` (``.ci/run`` does);
``python -m benchmarks.honesty`` is the docs' larger study.
"""

import pytest

from benchmarks.honesty import QUICK, bounded, judged, study
from captum_lam import zoo

pytestmark = pytest.mark.study

CASES = tuple(c for c in QUICK if zoo.installed(c.model))


@pytest.fixture(scope="module")
def records():
    if not CASES:
        pytest.skip("needs the pretrained extra")
    return study(CASES, progress=lambda line: None)


def test_the_estimate_bounds_the_true_error_in_95_percent_of_windows(records):
    # every distinct stop of n_steps="auto" over a range of tolerances, judged
    # against a converged map with at least 9 times its steps
    assert len(judged(records)) == len(records) >= 10
    assert bounded(records) >= 0.95, [r for r in records if r["true"] > r["estimate"]]


def test_each_network_is_bounded_and_converges(records):
    # no network is left with most of its windows unbounded, and every network
    # reached its tolerances (the estimate said so, below the step cap)
    for name in {r["model"] for r in records}:
        mine = [r for r in records if r["model"] == name]
        assert bounded(mine) >= 0.9, (name, mine)
        assert all(r["converged"] and r["estimate"] <= r["tolerance"] for r in mine)

"""Captum's Integrated Gradients cases, run through PathIntegratedGradients.

The cases come from Captum's own test suite (https://github.com/pytorch/captum,
BSD 3-Clause licence, Copyright (c) 2019-present, Facebook, Inc. and its
affiliates): ``tests/attr/test_integrated_gradients_basic.py`` (33 cases, with
``test_futures_not_implemented``), ``test_integrated_gradients_classification.py``
(12), ``test_targets.py`` (16), ``test_hook_removal.py`` (2), ``test_jit.py`` (32:
the 16 IG entries of the config, traced and scripted, on a CPU) and the IG cases
of ``tests/metrics/test_infidelity.py`` (7) and ``test_sensitivity.py`` (1): 103
in all. They are re-expressed here as pytest functions: the same models (from the
installed ``captum.testing``), inputs, baselines, arguments, tolerances and
expected values, with ``IntegratedGradients`` replaced by :mod:`.adapter`'s
class, which builds ``PathIntegratedGradients(f, LinearPath(baselines))`` for
every call. The config-driven files (targets, hook removal, JIT) iterate over
the installed Captum 0.9 ``captum.testing.attr.helpers.test_config``.

Every case is marked ``captum_case``; the terminal summary reports how many
ran and passed (``python -m pytest tests/captum_ig``).
"""

import pytest
from captum.testing.helpers.basic import set_all_random_seeds

_outcomes: dict[str, str] = {}


@pytest.fixture(autouse=True)
def captum_seed():
    """Captum's ``BaseTest.setUp``: every case starts from seed 1234."""
    set_all_random_seeds(1234)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/captum_ig/" in item.nodeid:
            item.add_marker(pytest.mark.captum_case)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if item.get_closest_marker("captum_case") is None:
        return
    if hasattr(report, "wasxfail"):
        _outcomes[item.nodeid] = "cannot run"
    elif report.when == "call" or report.outcome != "passed":
        _outcomes[item.nodeid] = report.outcome


def pytest_terminal_summary(terminalreporter):
    if not _outcomes:
        return
    counts = {
        o: sum(1 for v in _outcomes.values() if v == o) for o in set(_outcomes.values())
    }
    terminalreporter.write_line(
        f"Captum IG cases through PathIntegratedGradients: {counts.get('passed', 0)} "
        f"of {len(_outcomes)} passed, {counts.get('failed', 0)} failed, "
        f"{counts.get('cannot run', 0)} cannot run (torch.jit.trace refuses the "
        "case's arguments, with Captum's IntegratedGradients as well)"
    )

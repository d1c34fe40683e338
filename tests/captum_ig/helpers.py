"""Captum's comparison helpers (``captum.testing``) bound to a plain TestCase."""

import unittest

from captum.testing.helpers.basic import (
    assertTensorAlmostEqual,
    assertTensorTuplesAlmostEqual,
)

_CASE = unittest.TestCase()
METHODS = (
    "riemann_right",
    "riemann_left",
    "riemann_middle",
    "riemann_trapezoid",
    "gausslegendre",
)


def assert_close(actual, expected, delta=0.0001, mode="sum"):
    """Captum's ``assertTensorAlmostEqual`` (same tolerance semantics)."""
    assertTensorAlmostEqual(_CASE, actual, expected, delta=delta, mode=mode)


def assert_tuples_close(actual, expected, delta=0.0001, mode="sum"):
    assertTensorTuplesAlmostEqual(_CASE, actual, expected, delta=delta, mode=mode)


def assert_almost(actual, expected, delta):
    _CASE.assertAlmostEqual(actual, expected, delta=delta)

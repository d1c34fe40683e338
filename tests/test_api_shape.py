"""The 1.0 API shape: Captum's contracts kept, typed returns, one registry name each."""

import inspect
import typing

from captum.attr import GradientAttribution

from captum_lam import LAM, PathIntegratedGradients


def _returns(function):
    return [
        (o.__annotations__["return_convergence_delta"], o.__annotations__["return"])
        for o in typing.get_overloads(function)
    ]


def test_attribute_return_is_overloaded_on_return_convergence_delta():
    for cls, plain in ((LAM, "_Images"), (PathIntegratedGradients, "Tensor")):
        returns = _returns(cls.attribute)
        assert [flag for flag, _ in returns] == ["Literal[False]", "Literal[True]"]
        assert "Tensor]" in returns[1][1] and returns[0][1] != returns[1][1]
        assert plain in returns[0][1]


def test_lam_is_not_a_path_integrated_gradients_with_another_target():
    # LAM's target is a window, PathIntegratedGradients' an output index: no
    # subclass replaces its base's attribute contract.
    assert not issubclass(LAM, PathIntegratedGradients)
    assert issubclass(LAM, GradientAttribution)


def test_compute_convergence_delta_keeps_captums_parameters():
    base = inspect.signature(GradientAttribution.compute_convergence_delta)
    for cls in (LAM, PathIntegratedGradients):
        ours = inspect.signature(cls.compute_convergence_delta)
        assert list(ours.parameters) == list(base.parameters)

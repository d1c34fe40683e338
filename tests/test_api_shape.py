"""The 1.0 API shape: Captum's contracts kept, typed returns, one registry name each."""

import inspect
import typing

import pytest
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


def _catalogue(*names):
    from captum_lam._registry import ModelInfo

    infos = {
        n: ModelInfo(n, 2, None, None, "bicubic", "here", "MIT", None, "trained")
        for n in names
    }
    return lambda: infos


def test_registry_refuses_a_name_two_sources_register():
    from captum_lam._registry import Registry, Source

    def load(name):
        return name

    registry = Registry(
        [
            Source(_catalogue("net-a", "net-b"), load, bool),
            Source(_catalogue("net-c", "net-b"), load, bool),
        ]
    )
    for call in (registry.names, lambda: registry.load("net-a")):
        with pytest.raises(ValueError, match="'net-b' is registered twice"):
            call()
    unique = Registry([Source(_catalogue("net-a"), load, bool)])
    assert unique.names() == ["net-a"] and unique.load("net-a") == "net-a"


def test_a_catalogue_refuses_a_repeated_name():
    from captum_lam._registry import by_name

    assert by_name([("a", 1), ("b", 2)]) == {"a": 1, "b": 2}
    with pytest.raises(ValueError, match="'a' is registered twice"):
        by_name([("a", 1), ("b", 2), ("a", 3)])


def test_one_scale_check_for_every_caller():
    import torch

    from captum_lam._method.checks import integer_scale
    from captum_lam._method.reach import reach_region

    assert integer_scale((3, 16, 16), (3, 48, 48), expected=3) == 3
    with pytest.raises(ValueError, match=r"maps 16x16 to 32x32, not x3 \(48x48\)"):
        integer_scale((16, 16), (32, 32), expected=3)
    window = torch.tensor([[0, 0, 8]])
    with pytest.raises(ValueError, match=r"maps 16x16 to 24x24 \(x1\.5\)"):
        reach_region((1, 3, 16, 16), (1, 3, 24, 24), window, 2)
    with pytest.raises(ValueError, match="different per axis"):
        reach_region((1, 3, 16, 16), (1, 3, 32, 64), window, 2)

"""Give the caller's model back as it was.

A model left in training mode changes while LAM runs it: BatchNorm updates its
running statistics. The attribution methods are wrapped with
:func:`keeps_caller_state`, which restores the model's buffers afterwards,
whether the call succeeds or fails.

The global random generators are left alone: LAM itself draws nothing from
them, and saving and restoring them around a call would rewind every other
thread that draws while the call runs (it would get the same numbers again). A
model that draws (Dropout in training mode) advances them as any forward pass
does.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

import torch
from torch import nn

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def caller_state_kept(model: Any) -> Iterator[None]:
    """Restore a training model's buffers on leaving."""
    buffers: list[tuple[torch.Tensor, torch.Tensor]] = []
    if isinstance(model, nn.Module) and any(m.training for m in model.modules()):
        buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)


def keeps_caller_state(get_model: Callable[..., Any]) -> Callable[[F], F]:
    """Decorate a method so that ``get_model(*args, **kwargs)``'s state is kept."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with caller_state_kept(get_model(*args, **kwargs)):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate

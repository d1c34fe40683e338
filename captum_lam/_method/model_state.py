"""Give the caller's model and random state back as they were.

A model left in training mode changes while LAM runs it: BatchNorm updates its
running statistics and Dropout draws from the global random generators. The
attribution methods are wrapped with :func:`keeps_caller_state`, which restores
the model's buffers and the random generators afterwards, whether the call
succeeds or fails.
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
    """Restore the RNG states, and a training model's buffers, on leaving."""
    cpu_rng = torch.random.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    buffers: list[tuple[torch.Tensor, torch.Tensor]] = []
    if isinstance(model, nn.Module) and any(m.training for m in model.modules()):
        buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
        torch.random.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)


def keeps_caller_state(get_model: Callable[..., Any]) -> Callable[[F], F]:
    """Decorate a method so that ``get_model(*args, **kwargs)``'s state is kept."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with caller_state_kept(get_model(*args, **kwargs)):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate

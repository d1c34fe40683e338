"""The Causal Effect Map's fields of a study record, beside LAM's."""

from __future__ import annotations

import time
from typing import Any, Mapping, Optional, Union

from torch import Tensor

from ..causal_effect import CausalEffectMap
from ..metrics import signed_spread

#: ``CausalEffectMap`` arguments a study may set (the rest are its defaults).
CEM_OPTIONS = ("block_size", "n_coarse", "n_fine", "threshold_db", "batch_size", "seed")


def cem_options(cem: Union[bool, Mapping[str, Any], None]) -> Optional[dict]:
    """``evaluate``'s ``cem`` argument as CausalEffectMap keywords, or None (off)."""
    if cem is None or cem is False:
        return None
    if cem is True:
        return {}
    if not isinstance(cem, Mapping):
        raise TypeError(
            f"cem must be None, a bool or a mapping of CausalEffectMap options, got "
            f"{type(cem).__name__}"
        )
    unknown = sorted(set(cem) - set(CEM_OPTIONS))
    if unknown:
        raise ValueError(
            f"cem: unknown options {', '.join(unknown)}; allowed: "
            f"{', '.join(CEM_OPTIONS)}"
        )
    CausalEffectMap(lambda x: x, **cem)  # the constructor's checks, before any work
    return dict(cem)


def cem_fields(
    model: Any,
    lr: Tensor,
    hr: Tensor,
    window: tuple[int, int, int],
    scale: int,
    options: Mapping[str, Any],
    reach: Union[None, str, int],
) -> dict[str, Any]:
    """``cem_*`` fields of one window: the `signed_spread` measures, settings, cost."""
    cem = CausalEffectMap(model, **options)
    started = time.perf_counter()
    effect = cem.attribute(lr, target=window, hr=hr, reach=reach)
    seconds = time.perf_counter() - started
    report = cem.last_report
    assert report is not None
    fields = {
        f"cem_{k}": v for k, v in signed_spread(effect[0, 0], window, scale).items()
    }
    fields.update(
        cem_block_size=report.block_size,
        cem_n_coarse=cem.n_coarse,
        cem_n_fine=cem.n_fine,
        cem_threshold_db=cem.threshold_db,
        cem_seed=cem.seed,
        cem_forward_passes=report.forward_passes,
        cem_fine_blocks=report.fine_blocks,
        cem_seconds=seconds,
    )
    return fields

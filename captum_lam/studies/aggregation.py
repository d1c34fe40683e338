"""Aggregation of study records: per-model summaries with bootstrap CIs."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import numpy as np
from scipy import stats

from .._io import text_table
from .records import to_plain

# --- aggregation -----------------------------------------------------------------


def _bootstrap_ci(
    values: np.ndarray,
    statistic: Callable[..., np.ndarray],
    rng: np.random.Generator,
    n_boot: int,
    confidence: float,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(sample, axis=-1)`` (scipy)."""
    if values.size == 0:
        return (float("nan"), float("nan"))
    if values.size == 1 or bool(np.all(values == values[0])):
        return (float(values[0]), float(values[0]))  # no spread to resample
    result = stats.bootstrap(
        (values,),
        statistic,
        n_resamples=n_boot,
        confidence_level=confidence,
        method="percentile",
        rng=rng,
    )
    low, high = result.confidence_interval
    return float(low), float(high)


def _values(records: Sequence[Mapping[str, Any]], field: str) -> np.ndarray:
    return np.array(
        [r[field] for r in records if r.get(field) is not None], dtype=np.float64
    )


def _mean(values: np.ndarray) -> Optional[float]:
    return float(values.mean()) if values.size else None


def group_by(records: Iterable[Mapping[str, Any]], field: str) -> dict[Any, list]:
    grouped: dict[Any, list] = {}
    for r in records:
        grouped.setdefault(r.get(field), []).append(r)
    return grouped


def di_summary(
    records: Sequence[Mapping[str, Any]], seed: int, n_boot: int, confidence: float
) -> dict[str, Any]:
    di = _values(records, "di")
    rng = np.random.default_rng(seed)
    mean_ci = _bootstrap_ci(di, np.mean, rng, n_boot, confidence)
    median_ci = _bootstrap_ci(di, np.median, rng, n_boot, confidence)
    return {
        "n": len(records),
        "n_di": int(di.size),
        "di_mean": _mean(di),
        "di_mean_ci": [to_plain(v) for v in mean_ci],
        "di_median": float(np.median(di)) if di.size else None,
        "di_median_ci": [to_plain(v) for v in median_ci],
    }


def aggregate(
    records: Sequence[Mapping[str, Any]],
    *,
    seed: int = 0,
    n_boot: int = 2000,
    confidence: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Per-model summary of evaluation records.

    Parameters
    ----------
    records : sequence of dict
        From [`evaluate`][captum_lam.studies.evaluate] or `read_jsonl`.
    seed : int
        Seed of the bootstrap (the same for every model).
    n_boot : int
        Bootstrap resamples.
    confidence : float
        Of the intervals, default 0.95.

    Returns
    -------
    dict of model -> dict
        In order of first appearance: ``n`` (cases), ``n_di`` (with a defined
        DI), ``di_mean`` and ``di_mean_ci`` (percentile bootstrap interval),
        ``di_median`` and ``di_median_ci``, ``psnr_y_mean`` and ``ssim_y_mean``
        (over the model's distinct images), ``mass_area_50_mean``,
        ``mass_area_90_mean``, ``mean_distance_mean``, ``relative_delta_median``,
        ``relative_delta_max``, ``seconds_mean``, ``receptive_field``.

    Examples
    --------
    >>> rows = [{"model": "a", "image": "x", "di": d, "psnr_y": 30.0}
    ...         for d in (10.0, 12.0, 14.0)]
    >>> s = aggregate(rows)["a"]
    >>> s["n"], s["di_mean"], s["di_mean_ci"][0] <= 12.0 <= s["di_mean_ci"][1]
    (3, 12.0, True)
    """
    summary: dict[str, dict[str, Any]] = {}
    for model, rows in group_by(records, "model").items():
        entry = di_summary(rows, seed, n_boot, confidence)
        per_image = {r["image"]: r for r in rows if r.get("psnr_y") is not None}
        entry["psnr_y_mean"] = _mean(_values(list(per_image.values()), "psnr_y"))
        entry["ssim_y_mean"] = _mean(_values(list(per_image.values()), "ssim_y"))
        for field in ("mass_area_50", "mass_area_90", "mean_distance", "seconds"):
            entry[f"{field}_mean"] = _mean(_values(rows, field))
        rel = _values(rows, "relative_delta")
        entry["relative_delta_median"] = float(np.median(rel)) if rel.size else None
        entry["relative_delta_max"] = float(rel.max()) if rel.size else None
        entry["receptive_field"] = rows[0].get("receptive_field")
        summary[str(model)] = entry
    return summary


def format_table(summary: Mapping[str, Mapping[str, Any]]) -> str:
    """The [`aggregate`][captum_lam.studies.aggregate] summary as a text table."""

    def num(value: Any, digits: int = 2) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    header = (
        "model",
        "n",
        "DI mean [95% CI]",
        "DI median",
        "PSNR-Y",
        "area50",
        "area90",
        "dist",
        "rel.delta",
    )
    rows = []
    for model, s in summary.items():
        low, high = s["di_mean_ci"]
        rows.append(
            (
                model,
                str(s["n"]),
                f"{num(s['di_mean'])} [{num(low)}, {num(high)}]",
                num(s["di_median"]),
                num(s["psnr_y_mean"]),
                num(s["mass_area_50_mean"], 1),
                num(s["mass_area_90_mean"], 1),
                num(s["mean_distance_mean"]),
                "-"
                if s["relative_delta_median"] is None
                else f"{s['relative_delta_median']:.2g}",
            )
        )
    return text_table(header, rows)

"""The LAM paper's analyses: DI against PSNR, receptive field and content."""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Optional, Sequence

from matplotlib.figure import Figure

from .aggregation import aggregate, di_summary, group_by
from .cases import CONTENT_CLASSES
from .records import to_plain

# --- the paper's analyses ------------------------------------------------------


def _spearman(x: Sequence[float], y: Sequence[float]) -> dict[str, Optional[float]]:
    if len(x) < 3:
        return {"spearman_rho": None, "p_value": None}
    from scipy.stats import spearmanr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = spearmanr(x, y)
    return {
        "spearman_rho": to_plain(
            result.statistic if hasattr(result, "statistic") else result[0]
        ),
        "p_value": to_plain(result.pvalue if hasattr(result, "pvalue") else result[1]),
    }


def _errorbar(ax, x, mean, ci, **kwargs) -> None:
    low = [m - c[0] for m, c in zip(mean, ci)]
    high = [c[1] - m for m, c in zip(mean, ci)]
    ax.errorbar(x, mean, yerr=[low, high], fmt="o", capsize=3, **kwargs)


def di_vs_psnr(
    records: Sequence[Mapping[str, Any]], *, seed: int = 0
) -> tuple[dict[str, Any], Figure]:
    """Mean DI against mean PSNR, one point per model (the paper's Figure 6).

    The paper finds that networks using a wider range of input pixels (higher
    DI) reconstruct better (higher PSNR).

    Returns
    -------
    data : dict
        ``models``: per model ``model``, ``di_mean``, ``di_mean_ci``,
        ``psnr_y_mean``, ``n``; ``spearman_rho`` and ``p_value`` of the rank
        correlation over the models (None with fewer than 3).
    figure : Figure
    """
    summary = aggregate(records, seed=seed)
    rows = [
        {
            "model": m,
            "di_mean": s["di_mean"],
            "di_mean_ci": s["di_mean_ci"],
            "psnr_y_mean": s["psnr_y_mean"],
            "n": s["n"],
        }
        for m, s in summary.items()
        if s["di_mean"] is not None and s["psnr_y_mean"] is not None
    ]
    data: dict[str, Any] = {
        "models": rows,
        **_spearman([r["di_mean"] for r in rows], [r["psnr_y_mean"] for r in rows]),
    }
    fig = Figure(figsize=(5.5, 4.2), dpi=100)
    ax = fig.subplots()
    if rows:
        _errorbar(
            ax,
            [r["psnr_y_mean"] for r in rows],
            [r["di_mean"] for r in rows],
            [r["di_mean_ci"] for r in rows],
        )
        for r in rows:
            ax.annotate(
                r["model"],
                (r["psnr_y_mean"], r["di_mean"]),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
    ax.set_xlabel("PSNR-Y (dB), mean over images")
    ax.set_ylabel("DI, mean over windows (95% CI)")
    rho = data["spearman_rho"]
    ax.set_title(
        "DI vs PSNR" + (f"  (Spearman rho {rho:.2f})" if rho is not None else ""),
        fontsize=10,
    )
    fig.tight_layout()
    return data, fig


def di_vs_receptive_field(
    records: Sequence[Mapping[str, Any]],
    *,
    receptive_fields: Optional[Mapping[str, Optional[int]]] = None,
    seed: int = 0,
) -> tuple[dict[str, Any], Figure]:
    """DI, 90% mass area and mean distance against the receptive field.

    Meant for a family that varies the receptive field only (the zoo's
    ``plain-d4/d8/d12/d20``). The paper finds the receptive field of deep
    networks far larger than the range that actually contributes.

    Parameters
    ----------
    receptive_fields : mapping model -> int or None, optional
        Receptive field side in LR pixels (None: global); default: the
        records' ``receptive_field``.

    Returns
    -------
    data : dict
        ``models``: per model ``model``, ``receptive_field``, ``di_mean``,
        ``di_mean_ci``, ``mass_area_90_mean``, ``mean_distance_mean``, ``n``,
        sorted by receptive field (global last); ``spearman_rho``/``p_value``
        of DI against the finite receptive fields.
    figure : Figure
        Three panels; global fields are drawn at the right, labelled "global".
    """
    summary = aggregate(records, seed=seed)
    rows = []
    for m, s in summary.items():
        field = (
            receptive_fields.get(m)
            if receptive_fields is not None
            else s["receptive_field"]
        )
        rows.append(
            {
                "model": m,
                "receptive_field": field,
                "di_mean": s["di_mean"],
                "di_mean_ci": s["di_mean_ci"],
                "mass_area_90_mean": s["mass_area_90_mean"],
                "mean_distance_mean": s["mean_distance_mean"],
                "n": s["n"],
            }
        )
    rows = [r for r in rows if r["di_mean"] is not None]
    rows.sort(key=lambda r: (r["receptive_field"] is None, r["receptive_field"] or 0))
    finite = [r for r in rows if r["receptive_field"] is not None]
    data: dict[str, Any] = {
        "models": rows,
        **_spearman(
            [r["receptive_field"] for r in finite], [r["di_mean"] for r in finite]
        ),
    }
    largest = max((r["receptive_field"] for r in finite), default=10)
    where = {
        r["model"]: (
            r["receptive_field"]
            if r["receptive_field"] is not None
            else largest * 1.3 + 5
        )
        for r in rows
    }
    fig = Figure(figsize=(12, 3.8), dpi=100)
    axes = fig.subplots(1, 3)
    panels = (
        ("di_mean", "DI (mean, 95% CI)"),
        ("mass_area_90_mean", "LR pixels holding 90% of |attr|"),
        ("mean_distance_mean", "mean distance from window (LR px)"),
    )
    for ax, (field, label) in zip(axes, panels):
        shown = [r for r in rows if r[field] is not None]
        xs = [where[r["model"]] for r in shown]
        if field == "di_mean":
            _errorbar(
                ax, xs, [r[field] for r in shown], [r["di_mean_ci"] for r in shown]
            )
        else:
            ax.plot(xs, [r[field] for r in shown], "o")
        for r, x in zip(shown, xs):
            ax.annotate(
                r["model"],
                (x, r[field]),
                textcoords="offset points",
                xytext=(3, 3),
                fontsize=7,
            )
        ax.set_xlabel("receptive field (LR pixels)")
        ax.set_ylabel(label)
        if any(r["receptive_field"] is None for r in rows):
            ticks = [t for t in ax.get_xticks() if 0 <= t <= largest * 1.1]
            ax.set_xticks([*ticks, largest * 1.3 + 5])
            ax.set_xticklabels([f"{t:g}" for t in ticks] + ["global"])
    fig.suptitle("LAM vs receptive field", fontsize=11)
    fig.tight_layout()
    return data, fig


def di_vs_content(
    records: Sequence[Mapping[str, Any]], *, seed: int = 0
) -> tuple[dict[str, Any], Figure]:
    """DI per content class (flat, edge, texture) of the window, per model.

    The paper finds regular stripes and grids more likely to be used than
    complex semantics; here the windows are classed by
    [`classify_content`][captum_lam.windows.classify_content].

    Returns
    -------
    data : dict
        ``by_model``: model -> class -> ``n``, ``di_mean``, ``di_mean_ci``,
        ``di_median``; ``pooled``: the same over all models.
    figure : Figure
        Grouped bars with 95% bootstrap intervals.
    """
    by_model: dict[str, dict[str, Any]] = {}
    for model, rows in group_by(records, "model").items():
        classes = group_by(rows, "content")
        by_model[str(model)] = {
            label: di_summary(classes[label], seed, 2000, 0.95)
            for label in CONTENT_CLASSES
            if label in classes
        }
    pooled_classes = group_by(records, "content")
    pooled = {
        label: di_summary(pooled_classes[label], seed, 2000, 0.95)
        for label in CONTENT_CLASSES
        if label in pooled_classes
    }
    data = {"by_model": by_model, "pooled": pooled}
    fig = Figure(figsize=(max(5.0, 1.2 * len(by_model) + 2.5), 4.0), dpi=100)
    ax = fig.subplots()
    width = 0.8 / len(CONTENT_CLASSES)
    for c, label in enumerate(CONTENT_CLASSES):
        xs, means, cis = [], [], []
        for m, (_, classes) in enumerate(by_model.items()):
            s = classes.get(label)
            if s is None or s["di_mean"] is None:
                continue
            xs.append(m + (c - 1) * width)
            means.append(s["di_mean"])
            cis.append(s["di_mean_ci"])
        if xs:
            low = [mu - ci[0] for mu, ci in zip(means, cis)]
            high = [ci[1] - mu for mu, ci in zip(means, cis)]
            ax.bar(xs, means, width, yerr=[low, high], capsize=2, label=label)
    ax.set_xticks(range(len(by_model)))
    ax.set_xticklabels(list(by_model), rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("DI (mean, 95% CI)")
    ax.set_title("DI vs window content", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return data, fig

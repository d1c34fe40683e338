"""LAM studies at scale: many models, images and windows, as in the LAM paper.

A study is a list of :class:`Case` objects (an image and a window, optionally a
model) evaluated for several models by :func:`evaluate`, which writes one plain
``dict`` record per (model, image, window) to a JSON Lines file, resumably, and
shards the work over processes started by PyTorch's launcher (``torchrun``).
:func:`aggregate` summarises the records per model (mean and median Diffusion
Index with bootstrap confidence intervals); :func:`di_vs_psnr`,
:func:`di_vs_receptive_field` and :func:`di_vs_content` are the paper's
analyses, each returning its numbers and a matplotlib figure.

The modules, in the order data flows through them:

* :mod:`~captum_lam.studies.cases`: cases, window choice, content classes;
* :mod:`~captum_lam.studies.records`: JSON Lines / CSV and the resumable store;
* :mod:`~captum_lam.studies.runner`: :func:`evaluate` and the sharding;
* :mod:`~captum_lam.studies.aggregation`: :func:`aggregate`, :func:`format_table`;
* :mod:`~captum_lam.studies.analyses`: the paper's three analyses and figures.

The size-robust companions of the Diffusion Index, :func:`mass_area` and
:func:`mean_distance`, live in :mod:`captum_lam.metrics` (re-exported here).
"""

from ..metrics import mass_area, mean_distance
from .aggregation import aggregate, format_table
from .analyses import di_vs_content, di_vs_psnr, di_vs_receptive_field
from .cases import (
    CONTENT_CLASSES,
    EDGE_COHERENCE,
    FLAT_ENERGY,
    Case,
    classify_content,
    load_image,
    select_cases,
)
from .records import SETTINGS, read_cases, read_jsonl, write_csv, write_jsonl
from .runner import evaluate

__all__ = [
    "CONTENT_CLASSES",
    "EDGE_COHERENCE",
    "FLAT_ENERGY",
    "SETTINGS",
    "Case",
    "aggregate",
    "classify_content",
    "di_vs_content",
    "di_vs_psnr",
    "di_vs_receptive_field",
    "evaluate",
    "format_table",
    "load_image",
    "mass_area",
    "mean_distance",
    "read_cases",
    "read_jsonl",
    "select_cases",
    "write_csv",
    "write_jsonl",
]

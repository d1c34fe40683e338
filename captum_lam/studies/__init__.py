"""LAM studies at scale: many models, images and windows, as in the LAM paper.

A study is a list of [`Case`][captum_lam.Case] objects (an image and a window,
optionally a model) evaluated for several models by [`evaluate`][captum_lam.evaluate],
which writes one plain ``dict`` record per (model, image, window) to a JSON Lines file,
resumably, and shards the work over processes started by PyTorch's launcher
(``torchrun``). [`aggregate`][captum_lam.aggregate] summarises the records per model
(mean and median Diffusion Index with bootstrap confidence intervals); `di_vs_psnr`,
`di_vs_receptive_field` and `di_vs_content` are the paper's
analyses, each returning its numbers and a matplotlib figure.

The modules, in the order data flows through them:

* `captum_lam.studies.cases`: cases, window choice, content classes;
* `captum_lam.studies.records`: JSON Lines / CSV and the resumable store;
* `captum_lam.studies.runner`: [`evaluate`][captum_lam.evaluate] and the sharding;
* `captum_lam.studies.aggregation`: [`aggregate`][captum_lam.aggregate], `format_table`;
* `captum_lam.studies.analyses`: the paper's three analyses and figures.

The size-robust companions of the Diffusion Index, [`mass_area`][captum_lam.mass_area]
and [`mean_distance`][captum_lam.mean_distance], live in `captum_lam.metrics`
(re-exported here).
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
from .identity import SETTINGS
from .records import read_cases, read_jsonl, write_csv, write_jsonl
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

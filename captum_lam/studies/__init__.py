"""LAM studies at scale: many models, images and windows, as in the LAM paper.

A study is a list of [`Case`][captum_lam.studies.Case] objects (an image and
a window, optionally a model) evaluated for several models by
[`evaluate`][captum_lam.studies.evaluate], which writes one plain ``dict`` record
per (model, image, window) to a JSON Lines file, resumably, and shards the work
over processes started by PyTorch's launcher (``torchrun``).
[`aggregate`][captum_lam.studies.aggregate] summarises the records per model (mean
and median Diffusion Index with bootstrap confidence intervals); `di_vs_psnr`,
`di_vs_receptive_field` and `di_vs_content` are the paper's analyses, each
returning its numbers and a matplotlib figure.

The modules, in the order data flows through them:

* `captum_lam.studies.cases`: cases and the choice of windows by content;
* `captum_lam.studies.records`: JSON Lines / CSV and the resumable store;
* `captum_lam.studies.runner`: `evaluate` and the sharding;
* `captum_lam.studies.aggregation`: `aggregate`, `format_table`;
* `captum_lam.studies.analyses`: the paper's three analyses and figures;
* `captum_lam.studies._store`: the append-only results file (private).

The content classes ([`classify_content`][captum_lam.windows.classify_content]) live
beside the window search in `captum_lam.windows` and are re-exported here; the
size-robust companions of the Diffusion Index, `mass_area` and `mean_distance`, are
in `captum_lam.metrics`.
"""

from ..windows import CONTENT_CLASSES, EDGE_COHERENCE, FLAT_ENERGY, classify_content
from ._identity import SETTINGS
from .aggregation import aggregate, format_table
from .analyses import di_vs_content, di_vs_psnr, di_vs_receptive_field
from .cases import Case, load_image, select_cases
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
    "read_cases",
    "read_jsonl",
    "select_cases",
    "write_csv",
    "write_jsonl",
]

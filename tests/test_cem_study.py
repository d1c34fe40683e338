"""The "Causal effects beside LAM" page: its numbers are the committed records'."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGE = DOCS / "causal-effects.md"


@pytest.fixture(scope="module")
def study():
    sys.path.insert(0, str(DOCS / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location(
            "cem_study", DOCS / "scripts" / "cem_study.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["cem_study"] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(DOCS / "scripts"))
    return module


@pytest.fixture(scope="module")
def regenerated(study, tmp_path_factory):
    records = study.read_records(DOCS / "data" / "cem_vs_lam.jsonl")
    root = tmp_path_factory.mktemp("cem_docs")
    result = study.write_docs(records, root)
    return records, root, result


def test_the_page_shows_at_least_eight_real_networks(regenerated):
    records, _, result = regenerated
    assert len(result["summary"]) >= 8
    assert len({r["model"] for r in records}) >= 8
    for entry in result["summary"].values():
        assert entry["n"] >= 6  # windows per network


def test_every_table_and_sentence_on_the_page_is_the_records(regenerated):
    _, root, _ = regenerated
    included = re.findall(
        r'--8<-- "generated/(cem_vs_lam_[a-z_]+\.md)"', PAGE.read_text()
    )
    assert len(included) >= 6
    for name in included:
        committed = (DOCS / "generated" / name).read_text()
        assert committed == (root / "generated" / name).read_text(), name


def test_the_figures_on_the_page_exist(regenerated):
    _, root, _ = regenerated
    for name in re.findall(r"\]\(images/(cem_vs_lam_[a-z_]+\.png)\)", PAGE.read_text()):
        assert (DOCS / "images" / name).stat().st_size > 10_000
        assert (root / "images" / name).exists()


def test_records_hold_both_maps_consistently(regenerated):
    records, _, _ = regenerated
    import numpy as np

    for r in records:
        cem = np.asarray(r["cem_blocks"])
        lam = np.asarray(r["lam_blocks"])
        assert cem.shape == lam.shape and lam.max() == pytest.approx(1.0)
        # the record's negative area is the negative blocks' pixels (edge blocks full)
        block = r["block_size"]
        assert r["cem"]["negative_area"] <= (cem < 0).sum() * block * block
        assert ((cem < 0).sum() > 0) == (r["cem"]["negative_area"] > 0)

"""The faithfulness study in the docs says what its committed records say.

``docs/data/faithfulness.jsonl`` holds the records of
``python docs/scripts/faithfulness_study.py``; the page ``docs/faithfulness.md``
shows tables generated from them (``docs/generated/faithfulness_*.md``) and prose
that quotes their numbers. These tests recompute the tables from the records and
check every decimal number of the prose against them, without running a network.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
RECORDS = DOCS / "data" / "faithfulness.jsonl"
PAGE = DOCS / "faithfulness.md"
NUMBER = re.compile(r"(?<![\w.])[+-]?\d+\.\d+(?![\w.])")
PERCENT = re.compile(r"(?<![\w.])\d+%")


@pytest.fixture(scope="module")
def study():
    path = DOCS / "scripts" / "faithfulness_study.py"
    spec = importlib.util.spec_from_file_location("faithfulness_study", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def records(study):
    return study.read_records(RECORDS)


@pytest.fixture(scope="module")
def fragments(study, records):
    return study.markdown_fragments(records, study.NETWORKS)


def test_generated_tables_are_the_records(fragments):
    for name, text in fragments.items():
        committed = (DOCS / "generated" / name).read_text()
        assert committed == text, f"docs/generated/{name} differs from the records"


def test_the_page_includes_every_generated_table_and_figure(fragments):
    page = PAGE.read_text()
    for name in fragments:
        assert f'--8<-- "generated/{name}"' in page, name
    for figure in ("areas", "curves", "randomization"):
        assert f"images/faithfulness_{figure}.png" in page, figure
        assert (DOCS / "images" / f"faithfulness_{figure}.png").is_file(), figure


def test_numbers_in_the_prose_come_from_the_records(fragments):
    text = "\n".join(fragments.values())
    known = {n.lstrip("+") for n in NUMBER.findall(text)} | set(PERCENT.findall(text))
    prose = [
        line
        for line in PAGE.read_text().splitlines()
        if not line.startswith("--8<--") and not line.lstrip().startswith("python ")
    ]
    stray = sorted(
        {
            n
            for line in prose
            for n in NUMBER.findall(line) + PERCENT.findall(line)
            if n.lstrip("+") not in known
        }
    )
    assert not stray, f"numbers in {PAGE.name} that no generated table holds: {stray}"


def test_the_records_are_the_documented_study(study, records):
    """At least 8 networks of 4 families, every method on every window, one set
    of settings, curves that start and end where the areas say."""
    cases = study.complete_cases(records)
    names = {model for model, _, _ in cases}
    families = {n.family for n in study.NETWORKS if n.name in names}
    assert len(names) >= 8 and len(families) >= 4, (sorted(names), families)
    assert len({m for m, _ in study.METHODS}) >= 4
    config = study.CONFIGS["full"]
    assert {(r["n_steps"], r["steps"], r["lr_size"]) for r in records} == {
        (config.n_steps, config.steps, config.lr_size)
    }
    for photo in config.photos:
        assert all(any(k[0] == n and photo in k[1] for k in cases) for n in names)
    for record in records:
        fractions = np.asarray(record["fractions"])
        area = np.trapezoid(study.normalised(record["deletion"], "deletion"), fractions)
        within = np.all(np.diff(record["deletion"]) <= 0)  # the areas' definition
        if within:
            assert area == pytest.approx(record["deletion_area"], abs=1e-9)

"""The real-network study in the docs says what its committed records say.

``docs/data/real_networks.jsonl`` holds the records of
``python docs/scripts/real_network_study.py``; the page ``docs/real-networks.md``
shows tables generated from them (``docs/generated/real_networks_*.md``) and prose
that quotes their numbers. These tests recompute the tables from the records and
check every decimal number of the prose against them, without running LAM.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
RECORDS = DOCS / "data" / "real_networks.jsonl"
PAGE = DOCS / "real-networks.md"
NUMBER = re.compile(r"(?<![\w.])[+-]?\d+\.\d+(?![\w.])")


def _study():
    path = DOCS / "scripts" / "real_network_study.py"
    spec = importlib.util.spec_from_file_location("real_network_study", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def study():
    return _study()


@pytest.fixture(scope="module")
def records():
    with open(RECORDS) as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="module")
def fragments(study, records):
    probes = json.loads((DOCS / "data" / "real_networks_probe.json").read_text())
    return study.markdown_fragments(records, study.NETWORKS, probes)


def test_generated_tables_are_the_records(fragments):
    for name, text in fragments.items():
        committed = (DOCS / "generated" / name).read_text()
        assert committed == text, f"docs/generated/{name} differs from the records"


def test_the_page_includes_every_generated_table(fragments):
    page = PAGE.read_text()
    for name in fragments:
        assert f'--8<-- "generated/{name}"' in page, name


def test_numbers_in_the_prose_come_from_the_records(fragments):
    # signed as written: "-0.04" in the prose must be "-0.04" in a table, "0.90"
    # may be "0.90" or "+0.90"
    known = {n.lstrip("+") for text in fragments.values() for n in NUMBER.findall(text)}
    prose = [
        line
        for line in PAGE.read_text().splitlines()
        if not line.startswith("--8<--") and not line.lstrip().startswith("python ")
    ]
    stray = sorted(
        {
            n
            for line in prose
            for n in NUMBER.findall(line)
            if n.lstrip("+") not in known
        }
    )
    assert not stray, f"numbers in {PAGE.name} that no generated table holds: {stray}"


def test_the_records_are_the_documented_study(study, records):
    """At least 10 networks of 4 families, one set of settings, the rule's windows."""
    names = {r["model"] for r in records}
    families = {n.family for n in study.NETWORKS if n.name in names}
    assert len(names) >= 10 and len(families) >= 4, (sorted(names), families)
    config = study.CONFIGS["full"]
    settings = {(r["n_steps"], r["method"]) for r in records}
    assert settings == {(config.n_steps, config.method)}
    lr_sizes = {n.name: n.lr_size for n in study.NETWORKS}
    assert all(r["lr_height"] == lr_sizes[r["model"]] for r in records)
    # every network saw every photo, with the windows the documented rule draws on
    # its crop (the same windows for the networks of one scale and crop)
    seen: dict[tuple[str, str], set] = {}
    for r in records:
        seen.setdefault((r["model"], r["image"]), set()).add(
            (r["top"], r["left"], r["size"])
        )
    for name in names:
        assert len([m for m, _ in seen if m == name]) == len(config.photos), name
    for image in {image for _, image in seen}:
        photo, scale, lr_size = re.fullmatch(r"(\w+)-x(\d)-lr(\d+)", image).groups()
        hr, windows = study.case_windows(config, photo, int(scale), int(lr_size))
        for (_, other), got in seen.items():
            if other == image:
                assert got == set(windows), image

"""The documentation site as a reader gets it: built, offline, no raw markup."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Sphinx roles that mkdocstrings does not render (it shows them verbatim).
SPHINX_ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|attr|mod|math|data|obj|exc|ref|term|doc):"
)
#: ``[text][captum_lam.x]`` that autorefs left as text: a target the site lacks.
UNRESOLVED = re.compile(r"\]\[captum_lam[\w.]*\]")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**_env(), "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    yield out
    shutil.rmtree(out, ignore_errors=True)


def _env():
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _pages(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 10  # every page of the nav was built
    return pages


def test_built_pages_show_no_raw_sphinx_roles_or_broken_references(site):
    found = {}
    for page in _pages(site):
        text = page.read_text(encoding="utf-8")
        # roles, and cross-references autorefs could not resolve (left as text)
        raw = SPHINX_ROLE.findall(text) + UNRESOLVED.findall(text)
        if raw:
            found[str(page.relative_to(site))] = raw
    assert found == {}


def test_maths_renderer_is_served_with_the_site(site):
    page = (site / "method" / "index.html").read_text(encoding="utf-8")
    sources = re.findall(r'<script src="([^"]+)"', page)
    assert not [s for s in sources if "//" in s], sources  # nothing from a CDN
    maths = [s for s in sources if "mathjax" in s and s.endswith(".js")]
    assert maths, sources
    for source in maths:
        assert (site / "method" / source).resolve().is_file(), source
    assert "arithmatex" in page  # formulas are there for it to render
    assert "fonts.googleapis" not in page


def test_every_public_name_is_on_the_api_page():
    import captum_lam

    page = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text()
    missing = [n for n in captum_lam.__all__ if f"::: captum_lam.{n}\n" not in page]
    assert not missing, missing
    for package in ("images", "studies"):
        assert f"::: captum_lam.{package}\n" in page, package

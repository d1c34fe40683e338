"""The tutorial notebooks (docs/notebooks/) run top to bottom, as a reader runs them.

They are committed without outputs; the docs site executes them when it is built
(mkdocs-jupyter), so what it shows is never stale. A notebook that raises fails here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebooks need nbformat")
nbclient = pytest.importorskip("nbclient", reason="the notebooks need nbclient")

NOTEBOOKS = sorted((Path(__file__).parents[1] / "docs" / "notebooks").glob("*.ipynb"))


def test_the_four_tutorials_are_there():
    assert [p.stem for p in NOTEBOOKS] == [
        "a-small-study",
        "comparing-methods",
        "lam-in-five-minutes",
        "your-own-model",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if "outputs" in cell)
    # the kernel finds this checkout's package, not another installed copy
    root = str(Path(__file__).parents[1])
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])
    )
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "2"))
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback
    text = "\n".join(
        output.get("text", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )
    assert "Traceback" not in text

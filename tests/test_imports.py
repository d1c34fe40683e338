"""Importing the package is cheap: torch and friends load when first needed."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import captum_lam

HEAVY = ("torch", "matplotlib", "scipy", "captum")


def _loaded_after(code: str) -> list[str]:
    report = f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    probe = f"{code}\nimport sys\n{report}"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return [m for m in done.stdout.strip().split(",") if m]


def test_import_captum_lam_loads_no_heavy_package():
    assert _loaded_after("import captum_lam; captum_lam.__version__") == []


def test_public_names_still_load_on_use():
    loaded = _loaded_after(
        "import captum_lam\n"
        "from captum_lam import LAM, save_map\n"
        "assert LAM.__module__ == 'captum_lam.lam'\n"
        "assert set(captum_lam.__all__) <= set(dir(captum_lam))"
    )
    assert "torch" in loaded


def test_top_level_help_lists_every_command_without_importing_torch():
    loaded = _loaded_after(
        "import contextlib, io\n"
        "from captum_lam.cli import build_parser, main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit as done:\n"
        "        assert done.code == 0\n"
        "import sys\n"
        "assert 'torch' not in sys.modules, 'help imported torch'\n"
        "full = build_parser()._subparsers._group_actions[0].choices\n"
        "for name in full:\n"
        "    assert name in out.getvalue(), name"
    )
    assert "torch" in loaded  # the full parser (built last) does load the commands


def _type_checking_imports() -> dict[str, str]:
    """Name -> module of the imports under ``if TYPE_CHECKING:`` in __init__.py."""
    tree = ast.parse(Path(captum_lam.__file__).read_text())
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
    )
    return {
        alias.asname or alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_the_public_surface_is_one_table():
    table = captum_lam._EXPORTS
    assert captum_lam.__all__ == list(table)
    assert len(table) <= 25
    # what static readers see is the table: same names, same modules
    assert _type_checking_imports() == table
    for name, module in table.items():
        value = getattr(importlib.import_module(f"captum_lam.{module}"), name)
        assert getattr(captum_lam, name) is value, name


def test_images_and_studies_are_subpackages_not_root_names():
    from captum_lam import images, studies

    for name in ("read_image", "sample_image", "bicubic_downsample", "psnr_y"):
        assert callable(getattr(images, name)), name
        assert name not in captum_lam.__all__
    for name in ("Case", "evaluate", "aggregate", "read_cases", "select_cases"):
        assert name in studies.__all__, name
        assert name not in captum_lam.__all__
    with pytest.raises(AttributeError, match="read_image"):
        captum_lam.read_image  # noqa: B018

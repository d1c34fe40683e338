"""Importing the package is cheap: torch and friends load when first needed."""

import subprocess
import sys

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

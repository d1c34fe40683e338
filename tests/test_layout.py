"""The package's layout: no import cycle, no oversized module."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "captum_lam"
MAX_LINES = 700


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, name: str) -> set[str]:
    """Every captum_lam module that importing ``name`` may run, function-local too.

    Importing ``a.b.c`` runs ``a/b/__init__.py``, so each imported module brings
    its packages, except the importer's own (already being initialised).
    """
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                module = ".".join(anchor + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                found.add(".".join(parts[:i]))
    own = {".".join(name.split(".")[:i]) for i in range(1, len(name.split(".")) + 1)}
    return {m for m in found if m.startswith("captum_lam") and m not in own}


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in _imports(path, name) if m in paths}
        for name, path in paths.items()
    }


def test_no_import_cycle():
    graph = _graph()
    assert "captum_lam.cli" in graph["captum_lam.__main__"]  # the walk sees imports
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_no_module_over_700_lines():
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text().splitlines())
        for p in PACKAGE.rglob("*.py")
    }
    too_big = {k: v for k, v in sizes.items() if v > MAX_LINES}
    assert not too_big, too_big


#: Homes that 1.0 retired (see CHANGELOG.md): nothing may import them again.
RETIRED = {
    "captum_lam.window_list",
    "captum_lam.zoo._info",
    "captum_lam._checks",
    "captum_lam._validation",
    "captum_lam._engine",
    "captum_lam._adaptive",
    "captum_lam._quadrature",
    "captum_lam._reach",
    "captum_lam._packing",
    "captum_lam._model_state",
    "captum_lam._commands",
    "captum_lam._model_options",
    "captum_lam._output_paths",
    "captum_lam._startup",
    "captum_lam._images",
    "captum_lam._degradation",
    "captum_lam._results_store",
    "captum_lam.cli._common",
    "captum_lam.models._loading",
}
MAX_PRIVATE_AT_ROOT = 3


def test_the_root_holds_at_most_three_private_modules():
    private = sorted(
        p.name
        for p in PACKAGE.iterdir()
        if p.name.startswith("_") and not p.name.startswith("__") and p.suffix == ".py"
    )
    assert len(private) <= MAX_PRIVATE_AT_ROOT, private
    layers = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert {"_method", "_frontend", "images", "studies"} <= layers


def test_no_module_imports_a_retired_home():
    root = PACKAGE.parent
    files = [
        p
        for d in ("captum_lam", "tests", "benchmarks")
        for p in (root / d).rglob("*.py")
    ]
    files += list((root / "docs" / "scripts").glob("*.py"))
    found = {}
    for path in files:
        name = _module_name(path) if path.is_relative_to(PACKAGE) else path.stem
        hits = _imports(path, name) & RETIRED
        if hits:
            found[str(path.relative_to(root))] = sorted(hits)
    assert not found, found
    # the retired homes are gone, so an import of one could only fail
    for module in RETIRED:
        relative = Path(*module.split(".")[1:])
        assert not (PACKAGE / relative.with_suffix(".py")).exists(), module


ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"


def _mentioned(text: str, path: Path) -> bool:
    """``docs/architecture.md`` names ``path`` (relative to the package): a module
    by its path (``cli/_case.py``), a package's ``__init__.py`` by the package's
    folder (``cli/``) too; a longer path (``cli/_case.py.bak``, ``x/cli/``) does
    not count."""
    relative = path.relative_to(PACKAGE).as_posix()
    names = [relative]
    if path.name == "__init__.py" and path.parent != PACKAGE:
        names.append(relative[: -len("__init__.py")])
    return any(
        re.search(rf"(?<![\w./]){re.escape(name)}(?![\w.])", text) for name in names
    )


def test_the_architecture_page_names_every_module():
    text = ARCHITECTURE.read_text()
    missing = sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if not _mentioned(text, p)
    )
    assert not missing, f"docs/architecture.md does not name: {missing}"


def test_the_mention_rule_needs_the_whole_path():
    text = "`cli/_case.py` and `models/` and `_method/engine.py.bak`"
    assert _mentioned(text, PACKAGE / "cli" / "_case.py")
    assert _mentioned(text, PACKAGE / "models" / "__init__.py")
    assert not _mentioned(text, PACKAGE / "_method" / "engine.py")
    assert not _mentioned(text, PACKAGE / "_case.py")
    assert not _mentioned(text, PACKAGE / "cli" / "__init__.py")


@pytest.mark.parametrize(
    "module", ["captum_lam.cli._common", "captum_lam.models._loading"]
)
def test_the_split_modules_are_gone(module):
    with pytest.raises(ModuleNotFoundError, match=module.replace(".", r"\.")):
        importlib.import_module(module)

"""The layer contract of GUIDE §2, checked with import-linter (setup.cfg [importlinter])."""
from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_import_linter_layers_contract():
    lint = pytest.importorskip("importlinter")
    del lint
    proc = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 2 kept, 0 broken" in proc.stdout


def test_no_module_level_cupy_and_no_eval():
    paths = _sources()
    assert len(paths) > 100
    for path in paths:
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] == "cupy" for n in names), f"{path}: module-level cupy import"
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("eval", "exec", "sympify"), f"{path}: {node.func.id}() call"


def _sources(*folders: str) -> list[pathlib.Path]:
    """The project's Python files in the repository's own folders (not through workbench/'s symlinks)."""
    folders = folders or ("derivations", "solvers", "validation", "workbench")
    out = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if not any((ROOT / q).is_symlink() for q in path.relative_to(ROOT).parents):
                out.append(path)
    return out


def test_derivations_import_no_numpy():
    paths = _sources("derivations")
    assert len(paths) > 10
    allowed = ("workbench.derivations",)
    for path in paths:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for n in names:
                    top = n.split(".")[0]
                    assert top not in ("numpy", "scipy", "cupy") and (top != "workbench" or n.startswith(allowed)), \
                        f"{path}: derivations must stay SymPy-only (imports {n})"


def test_setup_cfg_lists_every_package_under_one_name():
    """``pip install .`` installs one top-level name, ``workbench``, with every subpackage of the
    repository's folders (setup.cfg lists them; a new folder must be added there)."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    assert {p.split(".")[0] for p in listed} == {"workbench"}
    found = set()
    for folder, name in (("workbench", "workbench"), ("derivations", "workbench.derivations"),
                         ("solvers", "workbench.solvers"), ("validation", "workbench.validation")):
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            if any((ROOT / folder / q).is_symlink() for q in [*rel.parents, rel] if str(q) != "."):
                continue
            found.add(".".join([name, *rel.parts]))
    assert found == listed

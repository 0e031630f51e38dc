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
    assert "Contracts: 1 kept, 0 broken" in proc.stdout


def test_no_module_level_cupy_and_no_eval():
    for pkg in ("derivations", "solvers", "validation", "workbench"):
        for path in (ROOT / pkg).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in tree.body:  # module level only
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                    assert not any(n.split(".")[0] == "cupy" for n in names), f"{path}: module-level cupy import"
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                    assert node.func.id not in ("eval", "exec", "sympify"), f"{path}: {node.func.id}() call"


def test_derivations_import_no_numpy():
    for path in (ROOT / "derivations").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] in ("numpy", "scipy", "solvers", "validation", "workbench")
                               for n in names if n), f"{path}: derivations must stay SymPy-only"

"""Detect an unrelated package shadowing one of this distribution's top-level packages.

The stability workbench installs the top-level packages ``derivations``, ``solvers``,
``validation`` and ``workbench``; PyPI has unrelated packages named ``workbench``,
``solvers`` and ``validation``. If one of those is found first on ``sys.path``, the
layer that imports it would fail later with a confusing error. Each of our packages
runs :func:`check` at import on the packages it depends on, and stops with one line
saying which package, where it lives and what to do. Standard library only: this
file is also loaded by path, so it works even when ``derivations`` itself is shadowed.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

__all__ = ["MARKER", "DEPENDS", "ShadowedPackageError", "check"]

#: Assignment present in each of our packages' ``__init__.py`` (read as text, never executed).
MARKER = "__stability_workbench__ = True"
DEPENDS = {"derivations": (), "solvers": ("derivations",), "validation": ("solvers", "derivations"),
           "workbench": ("validation", "solvers", "derivations")}


class ShadowedPackageError(ImportError):
    """A top-level package of this distribution resolves to an unrelated package."""


def _origin(name: str) -> str | None:
    mod = sys.modules.get(name)
    if mod is not None:
        return getattr(mod, "__file__", None)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return None if spec is None else spec.origin


def _is_ours(init: str) -> bool:
    try:
        with open(init, encoding="utf-8", errors="replace") as fh:
            return MARKER in fh.read(20000)
    except OSError:
        return False


def check(importer: str, root: str | Path) -> None:
    """Raise :class:`ShadowedPackageError` when a package ``importer`` needs is not ours.

    ``root`` is the folder holding ``importer`` (our packages are installed side by
    side). A package that is missing, or that has no file (a namespace package), is
    left to the normal import error.
    """
    for name in DEPENDS.get(importer, ()):
        origin = _origin(name)
        if origin in (None, "namespace") or not origin.endswith("__init__.py"):
            continue
        if _is_ours(origin):
            continue
        where = str(Path(origin).parent)
        message = (f"{importer}: the package {name!r} imported from {where} is not the stability workbench's "
                   f"(expected beside {importer} in {root}); an unrelated package named {name!r} shadows it: "
                   f"uninstall it (pip uninstall {name}) or put {root} first on sys.path")
        if _is_cli():  # the `workbench` command: its one-line error, no traceback
            print(f"workbench: error: {message}", file=sys.stderr)
            raise SystemExit(2)
        raise ShadowedPackageError(message)


def _is_cli() -> bool:
    """True while the ``workbench`` console script or ``python -m workbench`` is starting."""
    arg0 = sys.argv[0] if sys.argv else ""
    return Path(arg0).name == "workbench" or arg0 == "-m" and "workbench" in getattr(sys, "orig_argv", [])

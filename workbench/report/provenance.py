"""Provenance of a run: what produced the numbers of a report (GUIDE section 7).

:func:`provenance` returns the ``meta`` entries ``results.json`` and the report header
carry: workbench version, git commit (when run from a checkout), Python, NumPy, SciPy and
SymPy versions, machine, threads, and whether the quick (reduced) sizes ran.
"""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

__all__ = ["provenance", "git_commit"]

_ROOT = Path(__file__).resolve().parents[2]


def git_commit(root: str | os.PathLike = _ROOT) -> str | None:
    """``HEAD``'s commit hash of the checkout at ``root`` (``+dirty`` when files differ), or None
    when ``root`` is not a git checkout or git is not available."""
    if not (Path(root) / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "") if head else None


def _version(module: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return None


def provenance(quick: bool) -> dict:
    """The provenance entries of a run's ``meta``.

    Parameters
    ----------
    quick : bool
        Whether the reduced sizes ran.

    Returns
    -------
    dict
        ``quick``, ``version``, ``commit``, ``python``, ``numpy``, ``scipy``, ``sympy``,
        ``machine`` and ``threads``, in that order.
    """
    import workbench
    from workbench.solvers.core.threads import available_cores, fft_workers

    machine = f"{platform.platform()}, {platform.machine()}, {available_cores()} cores available"
    return {"quick": bool(quick), "version": workbench.__version__, "commit": git_commit(),
            "python": platform.python_version(), "numpy": _version("numpy"), "scipy": _version("scipy"),
            "sympy": _version("sympy"), "machine": machine, "threads": fft_workers()}

"""Stability workbench: the face of the project (``import workbench as wb``).

REPL entry points, each a thin wrapper that imports the heavy layers only when
called, so ``import workbench`` stays fast:

>>> import workbench as wb
>>> img = wb.load_image("checkerboard:32")          # doctest: +SKIP
>>> wb.bounds(img, 3, dt=0.1)["exact"]              # doctest: +SKIP
>>> print(wb.derive("cnn"))                         # doctest: +SKIP
>>> wb.validate(quick=True, out="report")           # doctest: +SKIP

The command line ``workbench`` (``python -m workbench``) is in :mod:`workbench.cli`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from .io import load_image

__all__ = ["__version__", "load_image", "derive", "bounds", "validate", "bench"]


def _package_version() -> str:
    """The installed distribution's version (``stability-workbench``); a source checkout
    that is not installed reports ``0+unknown``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stability-workbench")
    except PackageNotFoundError:
        return "0+unknown"


__version__ = _package_version()


def derive(name: str) -> Any:
    """The symbolic derivation ``name`` (``derivations.registry.get``).

    Printable with ``str``, ``.latex()``, and rendered in notebooks.
    """
    import derivations.registry as registry

    return registry.get(name)


def bounds(image: Any, kernel: int | Sequence[int], dt: float, **kw: Any) -> dict | list[dict]:
    """Bounds on the weight decay alpha (``solvers.bounds.compute_bounds``).

    Parameters
    ----------
    image : array or str
        A 2-D array, or an image spec for :func:`load_image` (e.g. ``"checkerboard:64"``).
    kernel : int or sequence of int
        Kernel size w; a sequence gives a list of results, one per size.
    dt : float
        Time step Delta_t.
    **kw
        Passed on: ``a``, ``beta``, ``mode``, ``backend``, ``rtol``, ``steps``,
        ``methods``, ``dtype`` (the last also picks the dtype a spec is loaded in),
        ``scheme`` (a registered optimizer, ``workbench schemes``; default ``"gd"``), ``lr``,
        ``params`` (its hyperparameters), ``momentum`` or ``damping``.

    Returns
    -------
    dict or list of dict
        ``{"kernel", "scheme", "dt", "a", "beta", "mode", "theory", "exact", "simulated"}``
        (Nesterov adds ``momentum``, ``d``, ``eta`` and ``theory_exact``), each bound
        dict holding ``alpha_lower`` and ``alpha_upper``.

    Examples
    --------
    >>> wb.bounds("checkerboard:64", 8, 1e-3, scheme="nesterov", momentum=0.9,
    ...           methods=("theory_exact", "exact"))["exact"]["alpha_upper"]   # doctest: +SKIP
    1428571.4285714286
    """
    from solvers.bounds import compute_bounds

    if isinstance(image, (str, Path)):
        image = load_image(image, dtype=kw.get("dtype", "float64"))
    if isinstance(kernel, (list, tuple)):
        return [compute_bounds(image, w, dt, **kw) for w in kernel]
    return compute_bounds(image, kernel, dt, **kw)


def validate(cases: str | Sequence[str] | None = None, out: str | Path | None = None,
             quick: bool = False) -> dict:
    """Run validation cases and write the report folder.

    Parameters
    ----------
    cases : str or sequence of str, optional
        Case ids (default: all).
    out : str or Path, optional
        Report folder; default a new temporary directory.
    quick : bool
        Reduced versions of the cases.

    Returns
    -------
    dict
        ``{"out": Path, "cases": [case dicts], "files": {"json", "md", "html"}, "passed": bool}``.
    """
    import tempfile

    from .cli import run_validation

    if isinstance(cases, str):
        cases = [cases]
    out_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="workbench-report-"))
    results, files = run_validation(cases, out_dir, quick=quick)
    return {"out": out_dir, "cases": results, "files": files,
            "passed": all(bool(c["passed"]) for c in results)}


def bench(quick: bool = True) -> list[dict]:
    """Benchmark rows ``{"name", "ours", "baseline", "ours_s", "baseline_s", "ratio", "note"}``."""
    return list(_bench_module().run_bench(quick=quick))


def _bench_module() -> Any:
    """The benchmark module (named ``benchmarks`` so it never shadows ``wb.bench``)."""
    import importlib

    return importlib.import_module("workbench.benchmarks")

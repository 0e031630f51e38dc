"""Stability workbench: the face of the project (``import workbench as wb``).

REPL entry points, each a thin wrapper that imports the heavy layers only when
called, so ``import workbench`` stays fast:

>>> import workbench as wb
>>> img = wb.load_image("checkerboard:256")
>>> wb.bounds(img, 32, dt=1e-8)
Bounds(gd, w=32, η=1e-08: α in theory [1.074e+09, 2e+08] empty; exact [1.296e+07, 2e+08])
>>> print(wb.derive("cnn"))                         # doctest: +SKIP
>>> wb.validate(quick=True, out="report-quick")     # doctest: +SKIP

On your own model (PyTorch or JAX; see the README, "Use it on your own model"):

>>> obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)   # doctest: +SKIP
>>> wb.sharpness(obj, k=3).values                                  # doctest: +SKIP
>>> wb.max_stable_lr(obj, scheme="heavy-ball", momentum=0.9)        # doctest: +SKIP
>>> wb.stability(obj, optimizer=opt)       # your torch.optim optimizer, as configured   # doctest: +SKIP
>>> mon = wb.Monitor(model, loss_fn, opt, data=(X, Y), every=100)   # doctest: +SKIP
>>> mon.step()                             # after each opt.step() in your own loop       # doctest: +SKIP
>>> run = wb.train(obj, lr=0.1, steps=500, every=10)                # doctest: +SKIP
>>> fig = wb.plot.sharpness(run)                                    # doctest: +SKIP
>>> wb.principal_flow(obj, h=0.1, times=[0, 0.1, 0.2])              # doctest: +SKIP

The command line ``workbench`` (``python -m workbench``) is in :mod:`workbench.cli.app`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

_LAZY = {  # name -> module holding it, imported on first use (PEP 562) so ``import workbench`` stays fast
    "dal": "workbench.api.models", "from_jax": "workbench.api.models", "from_torch": "workbench.api.models",
    "max_stable_lr": "workbench.api.models", "modified_flow": "workbench.api.models",
    "principal_flow": "workbench.api.models", "sharpness": "workbench.api.models", "train": "workbench.api.models",
    "load_image": "workbench.api.images", "stability": "workbench.api.models", "scheme_of": "workbench.api.models",
    "Monitor": "workbench.api.monitor",
}

__all__ = ["__version__", "load_image", "derive", "bounds", "validate", "bench",
           "from_torch", "from_jax", "sharpness", "max_stable_lr", "stability", "scheme_of", "Monitor", "train", "principal_flow", "modified_flow",
           "dal", "plot"]


def _package_version() -> str:
    """The installed distribution's version (``stability-workbench``); a source checkout
    that is not installed reports ``0+unknown``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stability-workbench")
    except PackageNotFoundError:
        return "0+unknown"


def __getattr__(name: str) -> Any:
    """The API functions, ``wb.plot`` (matplotlib figures) and ``__version__`` (importlib.metadata,
    0.1 s) are imported on first use."""
    import importlib

    if name == "__version__":
        globals()["__version__"] = _package_version()
        return globals()["__version__"]
    if name == "plot":
        return importlib.import_module("workbench.api.plot")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def derive(name: str) -> Any:
    """The symbolic derivation ``name`` (``workbench.derivations.registry.get``).

    Printable with ``str``, ``.latex()``, and rendered in notebooks.
    """
    import workbench.derivations.registry as registry

    return registry.get(name)


def bounds(image: Any, kernel: int | Sequence[int], dt: float | None = None, **kw: Any) -> Any:
    """Bounds on the weight decay α of the linearized one-layer CNN (first paper, appendix D.3, eqs. (26)-(27)).

    Parameters
    ----------
    image : array or str
        A 2-D array, or an image spec for :func:`load_image` (e.g. ``"checkerboard:64"``).
    kernel : int or sequence of int
        Kernel size w; a sequence gives a list of results, one per size.
    dt : float
        Time step Δt (for ``gd`` the learning rate η).
    **kw
        ``methods`` (sequence of str): default the fast ones, ``("theory", "exact")`` (plus
        ``"theory_exact"`` where the source states its own region, e.g. ``nesterov``); add
        ``"simulated"`` for the bisection on time stepping (seconds to minutes; an
        elapsed-time line on a terminal). Passed on: ``a``, ``beta`` (the Swish activation's β), ``mode``, ``backend``,
        ``rtol``, ``steps``, ``dtype`` (also the dtype a spec is loaded in), ``scheme`` (a
        registered optimizer, ``workbench schemes``; default ``"gd"``), ``lr``, ``params``
        (its hyperparameters, e.g. QHM's ``{"beta": 0.9}``), ``momentum`` or ``damping``;
        ``progress`` (True/False; default: on a terminal).

    Returns
    -------
    Bounds or list of Bounds
        A dict (``{"kernel", "scheme", "lr", "a", "beta", "mode", "theory", "exact", ...}``,
        each method's entry holding ``alpha_lower``, ``alpha_upper`` and ``empty``) with a
        one-line repr and an HTML table in notebooks.

    Examples
    --------
    >>> import workbench as wb
    >>> res = wb.bounds("checkerboard:64", 8, 1e-3, scheme="nesterov", momentum=0.9)
    >>> round(res["exact"]["alpha_upper"], 3)
    1428571.429
    """
    from workbench.api.bounds import bounds as _bounds

    return _bounds(image, kernel, dt, **kw)


def validate(cases: str | Sequence[str] | None = None, out: str | Path | None = None,
             quick: bool = False, *, fresh: bool = False, verbose: bool = True) -> Any:
    """Run validation cases and write the report folder.

    Parameters
    ----------
    cases : str or sequence of str, optional
        Case ids (default: all).
    out : str or Path, optional
        Report folder; default a new temporary directory. As with ``workbench validate
        --out``, a folder that holds a report is resumed: the cases already finished
        there (same ``quick``) are kept, the rest run, and the report is re-rendered
        with every finished case of the folder (it never shrinks).
    quick : bool
        Reduced versions of the cases.
    fresh : bool
        Recompute the cases asked for (``validate --fresh``).
    verbose : bool
        Print the plan, one line per finished case (time, verdict) and the verdict tally on stderr.

    Returns
    -------
    workbench.jobs.validate.ValidationRun
        ``.passed``, ``.failed``, ``.verdicts``, ``.cases`` (the case dicts),
        ``.files`` (``json``, ``md``, ``html``), ``.out``; its repr is one line.
    """
    import sys
    import tempfile

    from workbench.jobs.validate import run_validation

    if isinstance(cases, str):
        cases = [cases]
    out_dir = out if out is not None else Path(tempfile.mkdtemp(prefix="workbench-report-"))  # "" stays an error
    mode = "fresh" if fresh else "resume"
    echo = (lambda line: print(line, file=sys.stderr, flush=True)) if verbose else None
    run = run_validation(cases, out_dir, quick=quick, mode=mode, echo=echo)
    if echo is not None:
        from workbench.report.render import tally

        echo(f"verdicts: {tally(run.cases)}; report: {run.files['html']}")
    return run


def bench(quick: bool = True) -> list[dict]:
    """Benchmark rows ``{"name", "ours", "baseline", "ours_s", "baseline_s", "ratio", "note"}``."""
    return list(_bench_module().run_bench(quick=quick))


def _bench_module() -> Any:
    """The benchmark suite (``workbench.benchmarks.suite``)."""
    import importlib

    return importlib.import_module("workbench.benchmarks.suite")

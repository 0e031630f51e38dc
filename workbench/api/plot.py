"""Plotting helpers (``wb.plot``): each returns a :class:`matplotlib.figure.Figure`.

The figures are built on ``matplotlib.figure.Figure`` directly, never through
``pyplot``, so calling them leaves the caller's matplotlib backend and pyplot state as
they were (no window opens; save with ``fig.savefig(path)``, or let a notebook display
the returned figure). Pass ``ax=`` to draw into an axes of your own figure instead.

>>> run = wb.train(obj, lr=0.05, steps=400, every=5)          # doctest: +SKIP
>>> wb.plot.sharpness(run).savefig("sharpness.png")           # doctest: +SKIP
>>> wb.plot.region("heavy-ball", momentum=0.9).savefig("hb.png")   # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any

from workbench.solvers.core.checks import ParameterError

__all__ = ["sharpness", "loss", "region"]


def _axes(ax: Any, figsize: tuple[float, float] = (6.0, 3.6)) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _threshold_label(run: Any) -> str:
    return "2/η" if run.scheme == "gd" else f"{run.threshold * run.lr:.4g}/η (h_upper of {run.scheme})"


def sharpness(run: Any, ax: Any = None, *, smoothness: bool = True) -> Any:
    """Sharpness λ_max(∇²E(θₜ)) against the step, with the stability limit 2/η (h_upper/η).

    Parameters
    ----------
    run : workbench.api.models.TrainRun or workbench.api.monitor.Monitor
        From ``wb.train(..., track=(…, "sharpness"))``, or a ``wb.Monitor`` of your own loop
        (its sharpness is the one the optimizer sees, against its threshold at each record).
    ax : matplotlib Axes, optional
    smoothness : bool
        Also draw the directional smoothness L(θₜ; η∇E) where it was tracked.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if "sharpness" not in getattr(run, "track", ()):
        raise ParameterError("run: sharpness was not tracked; pass track=(..., 'sharpness') to wb.train or wb.Monitor")
    fig, ax = _axes(ax)
    steps = run.column("step")
    ax.plot(steps, run.column("sharpness"), lw=1.5, label="sharpness λ_max")
    if smoothness and "directional_smoothness" in run.track:
        ax.plot(steps, run.column("directional_smoothness"), lw=0.8, alpha=0.7,
                label="directional smoothness L(θ; η∇E)")
    records = getattr(run, "records", None)
    if records and "threshold" in records[0]:              # a Monitor: the limit moves with the optimizer's lr
        ax.step(steps, run.column("threshold"), where="post", color="k", ls="--", lw=1.0,
                label=f"{_threshold_label(run)} (at each record's lr)")
    else:
        ax.axhline(run.threshold, color="k", ls="--", lw=1.0, label=f"{_threshold_label(run)} = {run.threshold:.4g}")
    ax.set_xlabel("step")
    ax.set_ylabel("curvature")
    title = f"{run.scheme}, η = {run.lr:g}"
    if run.diverged:
        title += f" (diverged: {run.reason})"
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    return fig


def loss(run: Any, ax: Any = None) -> Any:
    """The training loss against the step (log scale where it stays positive)."""
    if "loss" not in getattr(run, "track", ()):
        raise ParameterError("run: the loss was not tracked; pass track=(..., 'loss') to wb.train")
    import numpy as np

    fig, ax = _axes(ax)
    y = run.column("loss")
    ax.plot(run.column("step"), y, lw=1.2)
    if y.size and np.all(y[np.isfinite(y)] > 0):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"{run.scheme}, η = {run.lr:g}")
    return fig


def region(scheme: str, ax: Any = None, *, h_max: float | None = None, points: int = 400, **hyper: float) -> Any:
    """The spectral radius ρ(A − hBC) of a registered scheme against h = ηλ, stable interval shaded.

    A mode of Hessian eigenvalue λ is stable at learning rate η iff ρ < 1 at h = ηλ
    (the scheme's state-space record, :mod:`workbench.derivations.schemes.registry`); the shaded interval
    is the exact region (:func:`workbench.solvers.stepping.optimizers.h_interval`).

    Parameters
    ----------
    scheme : str
        A registered scheme name.
    h_max : float, optional
        Right end of the h axis (default 1.25 × the upper end of the stable interval).
    **hyper
        The scheme's hyperparameters (e.g. ``momentum=0.9``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import numpy as np

    from workbench.solvers.stepping import optimizers

    res = optimizers.resolve(scheme, 1.0, hyper)  # ParameterError for an unknown scheme or hyperparameter
    reg = optimizers.h_interval(res)
    h_lo, h_hi = float(reg.lower), float(reg.upper)
    A, BC = res.A, np.outer(res.B, res.C)
    values = res.hyper
    name = res.name
    right = h_max if h_max is not None else (1.25 * h_hi if np.isfinite(h_hi) else 10.0)
    left = min(0.0, h_lo * 1.25) if np.isfinite(h_lo) else -0.25 * right
    hs = np.linspace(left, right, int(points))
    rho = np.array([np.max(np.abs(np.linalg.eigvals(A - hv * BC))) for hv in hs])
    fig, ax = _axes(ax)
    ax.plot(hs, rho, lw=1.5, label="spectral radius ρ(A − hBC)")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.axvspan(max(h_lo, left), min(h_hi, right), color="tab:green", alpha=0.15,
               label=f"stable: {h_lo:.4g} < h < {h_hi:.4g}")
    ax.set_xlabel("h = η λ")
    ax.set_ylabel("ρ")
    shown = ", ".join(f"{k}={v:g}" for k, v in values.items())
    ax.set_title(f"{name}" + (f" ({shown})" if shown else ""))
    ax.set_ylim(0.0, min(float(np.nanmax(rho)) * 1.05, 3.0) if rho.size else 2.0)
    ax.legend(loc="best", fontsize="small")
    return fig

"""Figures of a scheme's exact stability region in h = ηλ, with root-sampling points overlaid.

Used by ``workbench region --plot`` and by the ``scheme-atlas`` case; they build a
``matplotlib.figure.Figure`` directly (no pyplot), so the caller's backend is never
touched.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from matplotlib.figure import Figure

from workbench.derivations.schemes import registry as reg
from workbench.solvers.stepping.optimizers import h_interval
from workbench.solvers.stepping.root_sampling import Samples, hyper_grid, sample_region

__all__ = ["region_axes", "region_figure", "atlas_figure", "PLOT_OVER", "LABELS"]

#: the hyperparameter on the x axis where a scheme has several (the others at their defaults)
PLOT_OVER = {"qhm": "beta", "aggmo": "base"}
#: axis labels of the hyperparameters
LABELS = {"mu": "momentum μ", "nu": "discount ν", "beta": "EMA factor β", "base": "damping base a (β_i = 1 − a^(i−1))",
          "K": "buffers K"}


def region_axes(ax: Any, name: str, params: dict[str, Any] | None = None, *, over: str | None = None,
                samples: Samples | None = None, n: int = 600, seed: int = 0) -> Samples:
    """Draw scheme ``name``'s region on ``ax``: h_upper against one hyperparameter, sampled points beside it.

    The other hyperparameters are fixed at ``params`` (or their defaults).  Stable
    samples (max |ξ| < 1 by ``numpy.roots``) are drawn as small blue dots, unstable
    ones as small red crosses; the exact edge is the black line.
    """
    opt = reg.get(name)
    pname, grid = hyper_grid(name, over or PLOT_OVER.get(name))
    # the other hyperparameters at the given values or their defaults, so points and edge match
    params = {**{p.name: p.default for p in opt.hypers if p.name != pname}, **dict(params or {})}
    if samples is None:
        fixed = {k: v for k, v in params.items() if k != pname}
        samples = sample_region(name, n, seed=seed, fixed=fixed)
    stable = samples.radius < 1.0
    if pname is None:                                  # no continuous hyperparameter: h on the x axis
        ax.scatter(samples.h[stable], samples.radius[stable], s=4, c="tab:blue", label="sampled, |ξ| < 1")
        ax.scatter(samples.h[~stable], samples.radius[~stable], s=6, c="tab:red", marker="x", lw=0.6,
                   label="sampled, |ξ| ≥ 1")
        r = h_interval(name, **params)
        ax.axvspan(r.lower, r.upper, color="0.85", zorder=0, label="exact region")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xlabel("h = ηλ")
        ax.set_ylabel("max |ξ|")
    else:
        fixed = {k: v for k, v in params.items() if k != pname}
        upper = np.array([h_interval(name, **{**fixed, pname: float(v)}).upper for v in grid])
        lower = np.array([h_interval(name, **{**fixed, pname: float(v)}).lower for v in grid])
        x = samples.hyper[pname]
        ax.fill_between(grid, lower, upper, color="0.85", zorder=0, label="exact region")
        ax.plot(grid, upper, "k-", lw=1.2, label="exact edge h_upper")
        ax.scatter(x[stable], samples.h[stable], s=3, c="tab:blue", label="sampled, |ξ| < 1")
        ax.scatter(x[~stable], samples.h[~stable], s=5, c="tab:red", marker="x", lw=0.5, label="sampled, |ξ| ≥ 1")
        ax.set_xlabel(LABELS.get(pname, pname))
        ax.set_ylabel("h = ηλ")
        top = float(np.nanmax(upper[np.isfinite(upper)])) if np.isfinite(upper).any() else 1.0
        ax.set_ylim(-0.3 * top, 1.6 * top)
    fixed_txt = ", ".join(f"{k}={v:g}" for k, v in params.items() if k != pname)
    ax.set_title(f"{name}" + (f" ({fixed_txt})" if fixed_txt else ""), fontsize=10)
    ax.grid(alpha=0.3)
    return samples


def region_figure(name: str, params: dict[str, Any] | None = None, *, over: str | None = None, n: int = 2000,
                  seed: int = 0) -> Figure:
    """One scheme's region (see :func:`region_axes`) as a 6.4 × 4.2 in figure."""
    fig = Figure(figsize=(6.4, 4.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    region_axes(ax, name, params, over=over, n=n, seed=seed)
    ax.legend(fontsize=8, loc="upper right")
    return fig


def atlas_figure(names: Sequence[str], samples: dict[str, Samples] | None = None, *, n: int = 600) -> Figure:
    """Every scheme's region side by side (two columns), sampled points overlaid.

    ``samples`` must have been drawn with the non-plotted hyperparameters fixed at their
    defaults (else leave it out: ``n`` points are drawn per panel).
    """
    names = list(names)
    rows = (len(names) + 1) // 2
    fig = Figure(figsize=(7.0, 2.6 * rows), dpi=100, layout="constrained")
    axes = fig.subplots(rows, 2, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        region_axes(ax, name, samples=(samples or {}).get(name), n=n)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=8)
    return fig

"""Shared by the cases of one topic (one module per case in :mod:`workbench.validation.cases`).

Cases ``linearization-d4-onset`` and ``activated-d5-onset``: the other linearizations against nonlinear GD.

First paper (Sun et al. 2022), appendix D.4 (eqs. (28)-(33)) and D.5 ((34)-(35) and the
bounds after them); derivations in :mod:`workbench.derivations.linearizations`.

Both cases run the *nonlinear* windowed gradient descent (13) (valid mode) in the regime
the linearization assumes and locate the α where it turns unstable, by bisection
(:func:`workbench.solvers.cnn.onset.nonlinear_onset`).  Because the gradient has a forcing term, the
scheme does not sit at the linearization point: what loses stability is its equilibrium
``K*(α)`` (``∇L(K*) = 0``).  Each classification runs the scheme from ``K*(α)`` plus a
1e-10 relative perturbation and asks whether the perturbation grows.  A slow reference
(:func:`workbench.solvers.cnn.onset.hessian_onset`: ``α + λ_max(Hessian at K*) = 2/Δt``, dense
Hessian) must agree with the simulation to the bisection tolerance; that is each
case's own check (``passed``).  The verdict compares the paper's bound, and the
corrected one derived here, with the simulated onset.

Image: ``1 + 0.2·smooth(n)`` (positive, mean 1), so that the input sum Ī (the window
sums ``c(z) = Σ_x I(x+z)`` in valid mode) is far from 0 -- on the paper's checkerboard
Ī = 0 and both linearizations reduce to D.3.
"""
from __future__ import annotations

import numpy as np

from workbench.solvers.cnn.images import smooth

from workbench.validation.plots import pyplot


#: relative tolerance for "the linearization predicts the nonlinear onset"
TOL_LIN = 1e-2


def offset_image(n: int, seed: int = 0) -> np.ndarray:
    """The D.4/D.5 input image ``1 + 0.2·smooth(n)`` (positive, mean 1: the window sums Ī are far from 0)."""
    return 1.0 + 0.2 * smooth(n, seed=seed)


def onset_sizes(quick: bool) -> tuple[list[tuple[int, int]], float]:
    """(image size, kernel width) pairs and the bisection tolerance: one small pair in quick mode."""
    if quick:
        return [(16, 4)], 1e-4
    return [(16, 4), (32, 6), (48, 8)], 1e-5


def rel_error(pred: float, meas: float) -> float:
    """Signed relative difference ``(pred − meas)/|meas|`` of a predicted bound from the simulated one."""
    return (pred - meas) / abs(meas)


def bounds_figure(name: str, title: str, rows: list[dict], keys: list[tuple[str, str]]) -> tuple:
    """Each predicted bound's relative difference from the simulated onset per (n, w), with the tolerance band.

    Returns ``(name, Figure, caption)``; ``rows`` are the case's ``numbers["results"]``.
    """
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7.0, 3.8), layout="constrained")
    xs = np.arange(len(rows))
    for j, (key, label) in enumerate(keys):
        vals = [100.0 * r["relative_to_simulated"][key] for r in rows]
        ax.plot(xs + 0.08 * (j - (len(keys) - 1) / 2), vals, "o", label=label)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.axhspan(-100 * TOL_LIN, 100 * TOL_LIN, color="0.9", zorder=0, label=f"±{100 * TOL_LIN:g}% tolerance")
    ax.set_xticks(xs, [f"n={r['n']}, w={r['kernel']}" for r in rows])
    ax.set_xlim(-0.5, len(rows) - 0.5)
    ax.set_ylabel("(predicted - simulated) / simulated  [%]")
    ax.set_title(title)
    fig.legend(loc="outside lower center", ncol=2, frameon=False)
    return (name, fig, (
        f"{title}: relative error of each prediction of the upper α bound against the simulated onset of "
        f"instability, in percent, per image size n and kernel w; grey band: the ±{100 * TOL_LIN:g}% tolerance "
        "of the verdict."))

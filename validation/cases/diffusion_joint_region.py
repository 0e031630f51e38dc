"""A case of the second paper (Sun, Lao, Sundaramoorthi, Yezzi, "Accelerated PDEs ... SGD Extension").

* ``diffusion-joint-region``: beyond the paper, the gradient kept -- a quadratic loss
  ``J = ½λ|θ|²`` (h = ηλ): simulated β_max(h) vs :func:`workbench.derivations.diffusion.joint_beta_max`.

Setting, and what the cases of this topic share: :mod:`workbench.validation.shared.diffusion`.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from workbench.derivations import diffusion as D
from workbench.solvers.stepping.bisect import bracket_gap
from workbench.solvers.dynamics.diffusion import beta_max

from workbench.validation.plots import pyplot
from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict
from workbench.validation.shared.diffusion import CRITERION, bisect_beta


def predicted_beta_max(gamma: float, hv: float, n: int) -> float:
    """β_max(h) of the joint region (:func:`workbench.derivations.diffusion.joint_beta_max`), as a float."""
    lo, hi, _ = D.joint_beta_max()
    expr = lo if hv < 1 else hi
    return float(expr.subs({D.gamma: sp.Float(gamma), D.h: sp.Float(hv), D.N: n}))


RULE = ("confirmed if the simulated bracket of the largest stable beta lies within 2 rtol (relative) of the joint "
        "region's beta_max(h) at every (gamma, h); refuted otherwise")


def judge(numbers: dict) -> Verdict:
    """Verdict of the joint region beta_max(h) (second paper, footnote 2 of appendix B, beyond the paper).

    Parameters
    ----------
    numbers : dict
        ``rtol`` and ``rows``: per (gamma, h) ``rel_diff``, the bracket's distance to the prediction.
    """
    worst = max(r["rel_diff"] for r in numbers["rows"])
    why = f"largest |simulated - predicted|/predicted = {worst:.3g} (tolerance {2 * numbers['rtol']:g})"
    return Verdict("confirmed" if worst <= 2 * numbers["rtol"] else "refuted", RULE, why)


@case("diffusion-joint-region",
      claim="(beyond the paper; its footnote 2) with the gradient of a quadratic loss kept, h = eta*lambda, the "
            "largest stable diffusion is beta_max(h) = (gamma + (2-h)/(2(1-h)))/(4N) for 0<h<1 and "
            "(gamma + 1/(h-1))/(4N) for 1<h<2(1+gamma)/(1+2gamma): (11) is its h -> 0+ limit",
      source="Sun, Lao, Sundaramoorthi, Yezzi, 'Accelerated PDEs ... SGD Extension', (4), (11), appendix B "
             "footnote 2; workbench.derivations.diffusion.joint_beta_max", paper=0,
      where='second paper (4), (11), appendix B footnote 2 (beyond the paper)')
def diffusion_joint_region(ctx: Context) -> dict:
    quick = ctx.quick
    rtol = 1e-2 if quick else 2e-3
    steps = 1500 if quick else 4000
    shape, n, eta = (16,), 1, 0.1
    grid = {0.5: [0.05, 0.5, 1.2]} if quick else {0.5: [0.05, 0.2, 0.5, 0.8, 1.2, 1.4], 0.9: [0.05, 0.2, 0.5, 0.8, 1.03]}
    rows, table = [], []
    for gamma, hs in grid.items():
        b0 = beta_max(gamma, n)
        for hv in hs:
            pred = predicted_beta_max(gamma, hv, n)
            sim, br = bisect_beta(pred, rtol, gamma=gamma, eta=eta, shape=shape, boundary="periodic", steps=steps,
                                  lam=hv / eta)
            rel = bracket_gap(br, pred)                              # the measured bracket vs the prediction
            rows.append({"gamma": gamma, "h": hv, "eta": eta, "lambda": hv / eta, "beta_max_paper": b0,
                         "beta_max_joint": pred, "beta_max_simulated": sim, "bracket": br, "rel_diff": rel,
                         "shift_vs_paper": pred / b0 - 1})
            table.append([gamma, hv, b0, pred, sim, rel, pred / b0 - 1])
    ctx.save_figures(figures({"rows": rows}))
    return {
        "prediction": "beta_max(h) from the strict Schur-Cohn conditions of xi^2 - (1-h)(1+m) xi + (1-h) m, "
                      "m = gamma - beta kappa, kappa_max = 4N",
        "measurement": "largest stable beta of Algorithm 1 on J = lambda/2 |theta|^2, periodic 1-D grid of 16, bisection",
        "tolerance": f"|simulated - predicted| <= {2 * rtol:g} predicted",
        **judge({"rtol": rtol, "rows": rows}).fields(),
        "numbers": {"rtol": rtol, "steps": steps, "criterion": CRITERION, "rows": rows,
                    "relative_slope_at_h0": "1/(2(1+gamma))"},
        "tables": [{"title": "joint region: beta_max with the gradient term (N = 1, dx = 1)",
                    "columns": ["gamma", "h = eta lambda", "beta_max (11)", "beta_max(h) predicted", "simulated",
                                "|sim - pred|/pred", "beta_max(h)/(11) - 1"],
                    "rows": table}],
        "notes": ("The Hessian is lambda*I, so it shares the Laplacian's Fourier modes. beta_max grows with h "
                  "(relative slope 1/(2(1+gamma)) at h = 0, unbounded as h -> 1, where the polynomial is xi^2): "
                  "the paper's (11) is the h -> 0+ limit and remains sufficient for every stable h > 0; for h <= 0 "
                  "(a non-convex direction) the mode is unstable whatever beta. "
                  f"Divergence criterion: {CRITERION}."),
    }
def figures(numbers: dict) -> list[tuple]:
    """The case's figure, from its ``numbers`` alone: (file name, Figure, caption)."""
    return [_joint_figure(numbers["rows"])]




def _joint_figure(rows: list[dict]) -> tuple:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7.0, 4.2), layout="constrained")
    for gamma in sorted({r["gamma"] for r in rows}):
        rr = [r for r in rows if r["gamma"] == gamma]
        hs = np.linspace(0.0, max(r["h"] for r in rr), 200)
        curve = [predicted_beta_max(gamma, float(x), 1) if abs(x - 1) > 0.02 else np.nan for x in hs]
        line, = ax.plot(hs, curve, label=f"predicted, γ = {gamma:g}")
        ax.scatter([r["h"] for r in rr], [r["beta_max_simulated"] for r in rr], color=line.get_color(), zorder=3)
        ax.axhline(rr[0]["beta_max_paper"], color=line.get_color(), ls=":", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("h = η·λ (step size times the Hessian eigenvalue)")
    ax.set_ylabel("largest stable β (N = 1)")
    ax.set_title("Joint region: diffusion bound with the gradient kept (dotted: (11))")
    ax.legend()
    return ("diffusion_joint_region.png", fig, (
        "Largest stable diffusion β with the gradient of a quadratic loss kept, against h = ηλ: the curve is "
        "the Schur–Cohn prediction β_max(h), dots the bisection of Algorithm 1, dotted lines the paper's (11), "
        "which is the h → 0 limit; log scale in β."))

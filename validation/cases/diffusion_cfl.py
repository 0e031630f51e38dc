"""A case of the second paper (Sun, Lao, Sundaramoorthi, Yezzi, "Accelerated PDEs ... SGD Extension").

* ``diffusion-cfl``: Theorem 2, (10)-(11).  For N = 1, 2, 3 and several (η, γ) the largest
  stable diffusion of Algorithm 1 (:class:`workbench.solvers.dynamics.diffusion.DiffusionNesterov`, ∇J = 0: the
  homogeneous part the theorem analyses) is found by bisection and compared with
  ``b_max = 1/(2NΔt)`` (Δx = 1), i.e. ``β_max = (1 + γ)/(4N)``.  Periodic grids of even size
  contain the frequency ω_k = π on every axis, where the prediction is exact; Neumann grids
  (the paper's appendix C) lack it, and their exact bound ``(1 + γ)/κ_max`` lies above (11).

Setting, and what the cases of this topic share: :mod:`workbench.validation.shared.diffusion`.
"""
from __future__ import annotations

import math

import numpy as np

from workbench.solvers.stepping.bisect import bracket_gap
from workbench.solvers.dynamics.diffusion import beta_max, kappa_max, laplacian, pde_params

from workbench.validation.plots import pyplot
from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict
from workbench.validation.shared.diffusion import CRITERION, bisect_beta


def written_out_kappa(shape: tuple[int, ...], boundary: str) -> float:
    """kappa_max of the Laplacian (5) written out per axis: periodic 2 - 2cos(2 pi floor(n/2)/n), Neumann 2 + 2cos(pi/n)."""
    f = (lambda n: 2 - 2 * math.cos(2 * math.pi * (n // 2) / n)) if boundary == "periodic" else \
        (lambda n: 2 + 2 * math.cos(math.pi / n))
    return float(sum(f(n) for n in shape if n > 1))


def operator_kappa(shape: tuple[int, ...], boundary: str) -> float:
    """Largest |eigenvalue| of the solvers' :func:`laplacian` as a dense matrix (applied to the unit vectors)."""
    m = int(np.prod(shape))
    eye = np.eye(m).reshape((m,) + tuple(shape))
    mat = np.asarray(laplacian(eye, axes=tuple(range(1, len(shape) + 1)), boundary=boundary)).reshape(m, m)
    return float(np.max(np.abs(np.linalg.eigvals(mat))))


RULE = ("inconclusive if the solvers' Laplacian, as a dense matrix, has a largest |eigenvalue| off the written-out "
        "kappa_max by more than 1e-12 (relative), or a Neumann grid's simulated beta misses its exact (1+gamma)/kappa_max "
        "by more than 2 rtol; confirmed if on every periodic grid (which holds omega = pi, so (11) is exact there) the "
        "simulated largest stable beta (its bisection bracket) is within 2 rtol of (11), beta_max = (1+gamma)/(4N); refuted otherwise. "
        "2 rtol = 0.4 %, so a 1 % error in the Laplacian or in (11) flips the verdict")


def judge(numbers: dict) -> Verdict:
    """Verdict of Theorem 2, (10)-(11), of the second paper from the bisected beta_max.

    Parameters
    ----------
    numbers : dict
        ``rtol``, ``kappas`` (per grid ``operator`` and ``written_out``) and ``rows`` (per grid and
        (eta, gamma): ``boundary``, ``rel_diff_exact``, ``rel_diff_paper``).
    """
    tol = 2 * numbers["rtol"]
    off = max(abs(k["operator"] - k["written_out"]) / k["written_out"] for k in numbers["kappas"])
    if off > 1e-12:
        return Verdict("inconclusive", RULE, f"Laplacian's kappa_max off its formula by {off:.2g}")
    neu = [r["rel_diff_exact"] for r in numbers["rows"] if r["boundary"] == "neumann"]
    if neu and max(neu) > tol:
        return Verdict("inconclusive", RULE, f"Neumann grid off its exact beta by {max(neu):.3g}")
    per = max(max(r["rel_diff_exact"], abs(r["rel_diff_paper"])) for r in numbers["rows"] if r["boundary"] == "periodic")
    why = f"periodic grids: largest |simulated - (11)|/(11) = {per:.3g} (tolerance {tol:g})"
    return Verdict("confirmed" if per <= tol else "refuted", RULE, why)


@case("diffusion-cfl",
      claim="Theorem 2: Algorithm 1 (semi-implicit scheme (4) with diffusion) is stable iff b dt <= dx^2/(2N), "
            "i.e. beta <= beta_max = (1+gamma)/(4N), for N = 1, 2, 3",
      source="Sun, Lao, Sundaramoorthi, Yezzi, 'Accelerated PDEs ... SGD Extension', Theorem 2, eqs. (10)-(11), "
             "(17)-(20)", paper=2,
      where='Theorem 2, eqs. (10)-(11)')
def diffusion_cfl(ctx: Context) -> dict:
    quick = ctx.quick
    rtol = 2e-3  # tolerance 2 rtol = 0.4 %: a 1 % error in the Laplacian moves beta_max by 1 % and must show
    steps = 1500 if quick else 4000
    sizes = {1: 16, 2: 8 if quick else 16, 3: 6 if quick else 12}
    params = [(0.1, 0.9)] if quick else [(0.1, 0.9), (0.01, 0.5), (1.0, 0.0)]
    rows, table, kappas = [], [], []
    for n in (1, 2, 3):
        for boundary in ("periodic", "neumann"):
            if quick and boundary == "neumann" and n > 1:
                continue
            shape = (sizes[n],) * n
            for eta, gamma in params:
                pred = beta_max(gamma, n)
                exact = beta_max(gamma, n, kappa_max(shape, None, boundary))
                sim, br = bisect_beta(exact, rtol, gamma=gamma, eta=eta, shape=shape, boundary=boundary, steps=steps)
                p = pde_params(eta, gamma)
                b_pred = 1 / (2 * n * p["dt"])
                b_sim = pde_params(eta, gamma, sim)["b"]
                rel_exact = bracket_gap(br, exact)                 # the measured bracket vs the prediction
                rel_paper = (sim - pred) / pred
                agrees = rel_exact <= 2 * rtol
                row = {"N": n, "boundary": boundary, "shape": list(shape), "eta": eta, "gamma": gamma,
                       "dt": p["dt"], "a": p["a"], "b_max_paper": b_pred, "b_max_simulated": b_sim,
                       "beta_max_paper": pred, "beta_max_exact": exact, "beta_max_simulated": sim,
                       "bracket": br, "rel_diff_paper": rel_paper, "rel_diff_exact": rel_exact, "agrees": bool(agrees)}
                rows.append(row)
                table.append([n, boundary, "x".join(map(str, shape)), eta, gamma, b_pred, b_sim, pred, exact, sim,
                              rel_paper, rel_exact, bool(agrees)])
            kappas.append({"shape": list(shape), "boundary": boundary, "operator": operator_kappa(shape, boundary),
                           "written_out": written_out_kappa(shape, boundary)})
    ctx.save_figures(figures({"rows": rows}))
    judged = judge({"rtol": rtol, "rows": rows, "kappas": kappas})
    return {
        "prediction": "b_max = dx^2/(2 N dt) (10), beta_max = (1+gamma)/(4N) (11); exact on a grid: (1+gamma)/kappa_max",
        "measurement": "largest stable beta of Algorithm 1 with zero gradient, bisection on beta, random (theta0, v0)",
        "tolerance": f"|simulated - exact| <= {2 * rtol:g} exact (bisection rtol {rtol:g}, {steps} steps)",
        **judged.fields(),
        "numbers": {"kappas": kappas, "rtol": rtol, "steps": steps, "criterion": CRITERION, "rows": rows},
        "tables": [{"title": "CFL of Theorem 2 (dx = 1): predicted vs simulated largest stable diffusion",
                    "columns": ["N", "boundary", "grid", "eta", "gamma", "b_max (10)", "b simulated", "beta_max (11)",
                                "beta exact (grid)", "beta simulated", "(sim - (11))/(11)", "|sim - exact|/exact",
                                "within 2 rtol"],
                    "rows": table}],
        "notes": ("Periodic grids of even size contain omega_k = pi on every axis, so (11) is exact there; the "
                  "Neumann Laplacian (zero flux) has kappa_max = sum 2 + 2cos(pi/n) < 4N, so its largest stable "
                  "beta is above (11) by 4N/kappa_max - 1 (the paper's bound is then sufficient, not sharp). The "
                  "homogeneous polynomial is (xi - 1)(xi - (gamma - beta kappa)): the velocity root decides. "
                  f"Divergence criterion: {CRITERION}."),
    }
def figures(numbers: dict) -> list[tuple]:
    """The case's figure, from its ``numbers`` alone: (file name, Figure, caption)."""
    return [_cfl_figure(numbers["rows"])]




def _cfl_figure(rows: list[dict]) -> tuple:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7.0, 4.2), layout="constrained")
    for bnd, mk in (("periodic", "o"), ("neumann", "s")):
        rr = [r for r in rows if r["boundary"] == bnd]
        ax.scatter([r["beta_max_paper"] for r in rr], [r["beta_max_simulated"] for r in rr], marker=mk, label=bnd)
    xs = [r["beta_max_paper"] for r in rows]
    ax.plot([min(xs), max(xs)], [min(xs), max(xs)], "k--", lw=0.8, label="(11)")
    ax.set_xlabel("β_max of (11) = (1+γ)/(4N)")
    ax.set_ylabel("simulated largest stable β")
    ax.legend(title="boundary")
    ax.set_title("Theorem 2: CFL of Algorithm 1")
    return ("diffusion_cfl.png", fig, (
        "Largest stable diffusion β of Algorithm 1 (zero gradient) found by bisection, against the paper's "
        "β_max (11), for periodic and Neumann grids in N = 1, 2, 3 dimensions; dashed: equality. Neumann grids "
        "lie above the line because their largest Laplacian eigenvalue is below 4N."))

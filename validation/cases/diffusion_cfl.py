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

from workbench.solvers.stepping.bisect import bracket_gap
from workbench.solvers.dynamics.diffusion import beta_max, kappa_max, pde_params

from workbench.validation.plots import pyplot
from workbench.validation.registry import Context, case
from workbench.validation.shared.diffusion import CRITERION, bisect_beta


@case("diffusion-cfl",
      claim="Theorem 2: Algorithm 1 (semi-implicit scheme (4) with diffusion) is stable iff b dt <= dx^2/(2N), "
            "i.e. beta <= beta_max = (1+gamma)/(4N), for N = 1, 2, 3",
      source="Sun, Lao, Sundaramoorthi, Yezzi, 'Accelerated PDEs ... SGD Extension', Theorem 2, eqs. (10)-(11), "
             "(17)-(20)")
def diffusion_cfl(ctx: Context) -> dict:
    quick = ctx.quick
    rtol = 1e-2 if quick else 2e-3
    steps = 1500 if quick else 4000
    sizes = {1: 16, 2: 8 if quick else 16, 3: 6 if quick else 12}
    params = [(0.1, 0.9)] if quick else [(0.1, 0.9), (0.01, 0.5), (1.0, 0.0)]
    rows, table, ok = [], [], True
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
                good = rel_exact <= 2 * rtol
                ok &= good
                verdict = ("confirmed" if abs(rel_paper) <= 2 * rtol else "refined") if good else "refuted"
                row = {"N": n, "boundary": boundary, "shape": list(shape), "eta": eta, "gamma": gamma,
                       "dt": p["dt"], "a": p["a"], "b_max_paper": b_pred, "b_max_simulated": b_sim,
                       "beta_max_paper": pred, "beta_max_exact": exact, "beta_max_simulated": sim,
                       "bracket": br, "rel_diff_paper": rel_paper, "rel_diff_exact": rel_exact, "verdict": verdict}
                rows.append(row)
                table.append([n, boundary, "x".join(map(str, shape)), eta, gamma, b_pred, b_sim, pred, exact, sim,
                              rel_paper, rel_exact, verdict])
    _cfl_figure(ctx, rows)
    per = [r["verdict"] for r in rows if r["boundary"] == "periodic"]
    verdict = "confirmed" if all(v == "confirmed" for v in per) else ("refuted" if "refuted" in per else "refined")
    return {
        "prediction": "b_max = dx^2/(2 N dt) (10), beta_max = (1+gamma)/(4N) (11); exact on a grid: (1+gamma)/kappa_max",
        "measurement": "largest stable beta of Algorithm 1 with zero gradient, bisection on beta, random (theta0, v0)",
        "tolerance": f"|simulated - exact| <= {2 * rtol:g} exact (bisection rtol {rtol:g}, {steps} steps)",
        "verdict": verdict,
        "passed": bool(ok),
        "numbers": {"rtol": rtol, "steps": steps, "criterion": CRITERION, "rows": rows},
        "tables": [{"title": "CFL of Theorem 2 (dx = 1): predicted vs simulated largest stable diffusion",
                    "columns": ["N", "boundary", "grid", "eta", "gamma", "b_max (10)", "b simulated", "beta_max (11)",
                                "beta exact (grid)", "beta simulated", "(sim - (11))/(11)", "|sim - exact|/exact",
                                "verdict"],
                    "rows": table}],
        "notes": ("Periodic grids of even size contain omega_k = pi on every axis, so (11) is exact there; the "
                  "Neumann Laplacian (zero flux) has kappa_max = sum 2 + 2cos(pi/n) < 4N, so its largest stable "
                  "beta is above (11) by 4N/kappa_max - 1 (the paper's bound is then sufficient, not sharp). The "
                  "homogeneous polynomial is (xi - 1)(xi - (gamma - beta kappa)): the velocity root decides. "
                  f"Divergence criterion: {CRITERION}."),
    }


def _cfl_figure(ctx: Context, rows: list[dict]) -> None:
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
    ctx.save_figure(fig, "diffusion_cfl.png", caption=(
        "Largest stable diffusion β of Algorithm 1 (zero gradient) found by bisection, against the paper's "
        "β_max (11), for periodic and Neumann grids in N = 1, 2, 3 dimensions; dashed: equality. Neumann grids "
        "lie above the line because their largest Laplacian eigenvalue is below 4N."))
    plt.close(fig)

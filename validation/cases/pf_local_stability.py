"""A case of the third paper (Rosca et al. 2023): the principal flow on quadratics and Rosenbrock.

* ``pf-local-stability`` — §3.2, (16): near the Rosenbrock minimum the PF Jacobian's
  eigenvalues log(1 − hλ*)/h predict GD's per-step factor |1 − hλ*| = e^{h Re J} and
  attraction iff hλ₀* < 2; NGF and IGR always predict attraction.
"""
from __future__ import annotations

import numpy as np

from workbench.derivations import objectives as symobj
from workbench.solvers.dynamics.flows import FlowProblem, gradient_descent, pf_jacobian_eigenvalues

from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict


FACTOR_RTOL = 1e-4
RULE = (f"confirmed if at every h the PF Jacobian (16) predicts attraction exactly when GD is attracted and the "
        f"per-step factor exp(h Re J_0) matches GD's within {FACTOR_RTOL:g} (relative); refuted otherwise")


def judge(numbers: dict) -> Verdict:
    """Verdict of §3.2 / eq. (16) of the third paper (Rosca et al. 2023) from the runs near the minimum.

    Parameters
    ----------
    numbers : dict
        ``results``: per h ``pf_predicts_attraction``, ``gd_attracted``, ``rel_error``.
    """
    bad = [f"h lambda0 = {r['h_lambda0']:.3g}" for r in numbers["results"]
           if r["pf_predicts_attraction"] != r["gd_attracted"] or not r["rel_error"] < FACTOR_RTOL]
    if bad:
        return Verdict("refuted", RULE, "PF prediction misses GD at " + ", ".join(bad))
    return Verdict("confirmed", RULE, f"{len(numbers['results'])} step sizes agree")


def figures(numbers: dict) -> list[tuple]:
    """This case draws no figure (its numbers are in its tables)."""
    return []


@case("pf-local-stability",
      claim="At a local minimum the PF Jacobian eigenvalues log(1 - h lambda*)/h predict attraction iff "
            "h lambda_0* < 2, as for gradient descent; NGF and IGR always predict attraction",
      source="Rosca et al. 2023, §3.2, eq. (16), Remark 3.4", paper=3,
      where='§3.2, eq. (16), Remark 3.4')
def pf_local_stability(ctx: Context) -> dict:
    sym = symobj.rosenbrock()
    P = FlowProblem.from_symbolic(sym)
    ts = np.array([1.0, 1.0])
    lam, U = np.linalg.eigh(P.hess(ts))
    lam0, u0 = float(lam[-1]), U[:, -1]
    steps, eps = 3, 1e-7
    factors = (0.45, 0.75, 0.95, 1.05, 1.5) if not ctx.quick else (0.75, 1.05, 1.5)
    rows, res = [], []
    for c in factors:
        h = c * 2.0 / lam0
        J = pf_jacobian_eigenvalues(lam, h)
        predicted_attr = bool(np.all(J.real < 0))
        pred_factor = float(np.exp(h * J[-1].real))  # = |1 - h lambda_0|
        gd = gradient_descent(P, h, ts + eps * u0, steps, blowup=1e6)
        comp = (gd - ts) @ u0
        meas_factor = float(abs(comp[-1] / comp[0]) ** (1.0 / steps))
        measured_attr = bool(np.linalg.norm(gd[-1] - ts) < np.linalg.norm(gd[0] - ts))
        rel = abs(meas_factor - pred_factor) / pred_factor
        igr = -lam - h / 2 * lam ** 2
        res.append({"factor_of_2_over_lambda0": c, "h": h, "h_lambda0": h * lam0,
                    "pf_jacobian": [[float(v.real), float(v.imag)] for v in J],
                    "pf_predicts_attraction": predicted_attr, "gd_attracted": measured_attr,
                    "predicted_factor": pred_factor, "measured_factor": meas_factor, "rel_error": rel,
                    "ngf_jacobian": [float(v) for v in -lam], "igr_jacobian": [float(v) for v in igr]})
        rows.append([c, h * lam0, f"{J[-1].real:.4g}{J[-1].imag:+.4g}i", predicted_attr, measured_attr,
                     pred_factor, meas_factor, rel])
    return {
        "prediction": "Re log(1 - h lambda_i*)/h < 0 for all i <=> GD attracted; per-step factor along u_0 = "
                      "exp(h Re J_0) = |1 - h lambda_0|",
        "measurement": f"GD from the Rosenbrock minimum (1, 1) + {eps:g} u_0 for {steps} steps, lambda_0* = "
                       f"{lam0:.6g}; geometric-mean growth of the u_0 component",
        "tolerance": "attraction verdicts agree; factor within 1e-4 relative",
        **judge({"results": res}).fields(),
        "numbers": {"lambda": [float(v) for v in lam], "steps": steps, "perturbation": eps, "results": res},
        "tables": [{"title": "Rosenbrock minimum: PF Jacobian (16) vs GD",
                    "columns": ["h*lambda0/2", "h*lambda0", "J_0 = log(1-h lambda0)/h", "PF: attractive",
                                "GD: attracted", "predicted factor", "measured factor", "rel. error"],
                    "rows": rows}],
        "notes": "NGF (-lambda) and IGR (-lambda - (h/2) lambda^2; the paper prints h^2/2) Jacobian eigenvalues are "
                 "negative for every h here, so they predict attraction also for h > 2/lambda0, where GD is repelled.",
    }

"""A case of the fourth paper (Ahn, Zhang, Sra, "Understanding the unstable convergence of GD").

* ``uc-example4-smoothness`` — Example 4: GD on a quadratic at η = 2/λ_max; L(θₜ; η∇f)
  → 2/η, with the closed form of the Rayleigh quotient beside it.

Setting, and what the cases of this topic share: :mod:`workbench.validation.shared.unstable_convergence`.
"""
from __future__ import annotations

import numpy as np

from workbench.derivations.objectives import quadratic
from workbench.solvers.dynamics.diagnostics import RPRecorder, SmoothnessRecorder, run_gd
from workbench.solvers.core.objectives import SympyObjective

from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict
from workbench.validation.shared.unstable_convergence import SOURCE


RULE = ("inconclusive if L_t misses its closed form (40^3 + 8 (0.9)^(2t))/(40^2 + 4 (0.9)^(2t)) by >= 1e-12 "
        "(relative) or RP misses -1 + (eta/2) L_t by >= 1e-12 (exact identities: the recorders would be off); "
        "confirmed if |L_T - 2/eta| < 1e-8; refuted otherwise")


def judge(numbers: dict) -> Verdict:
    """Verdict of Example 4 of the fourth paper (Ahn, Zhang, Sra) from the smoothness numbers.

    Parameters
    ----------
    numbers : dict
        ``closed_form_max_rel_error``, ``rp_vs_rhs5_max_error``, ``gap_last`` (|L_T - 2/eta|).
    """
    if not (numbers["closed_form_max_rel_error"] < 1e-12 and numbers["rp_vs_rhs5_max_error"] < 1e-12):
        return Verdict("inconclusive", RULE, f"closed form off by {numbers['closed_form_max_rel_error']:.2g}, RP "
                                             f"identity by {numbers['rp_vs_rhs5_max_error']:.2g}")
    if numbers["gap_last"] < 1e-8:
        return Verdict("confirmed", RULE, f"|L_T - 2/eta| = {numbers['gap_last']:.2g}")
    return Verdict("refuted", RULE, f"|L_T - 2/eta| = {numbers['gap_last']:.2g}")


def figures(numbers: dict) -> list[tuple]:
    """This case draws no figure (its numbers are in its tables)."""
    return []


@case("uc-example4-smoothness",
      claim="On a quadratic with eta = 2/lambda_max, GD oscillates and L(theta_t; eta grad f) -> 2/eta",
      source=f"{SOURCE}, Example 4, (3)", paper=4,
      where='Example 4, eq. (3)')
def example4(ctx: Context) -> dict:
    obj = SympyObjective(quadratic())
    eta = 2.0 / 40.0
    steps = 200 if ctx.quick else 600
    r = run_gd(obj, [1.0, 1.0], eta, steps, [SmoothnessRecorder(), RPRecorder()])
    L, rp = r.record("smoothness")["L"], r.record("rp")["rp"]
    t = np.arange(len(L))
    c2 = (1 - 2 * eta) ** (2 * t)  # theta_2^2 / theta_2(0)^2, theta_1^2 = 1
    pred = (40 ** 3 + 2 ** 3 * c2) / (40 ** 2 + 2 ** 2 * c2)  # Rayleigh quotient of P at grad f
    err = float(np.max(np.abs(L - pred) / pred))
    gap = float(abs(L[-1] - 2 / eta))
    rp_err = float(np.max(np.abs(rp - (-1 + eta / 2 * L))))
    return {"prediction": "L_t = (40^3 + 8 (0.9)^(2t)) / (40^2 + 4 (0.9)^(2t)) -> 40 = 2/eta; RP = -1 + (eta/2) L_t exactly",
            "measurement": f"{steps} GD steps from (1, 1) at eta = 2/40",
            "tolerance": "relative error of L_t vs the closed form < 1e-12; |L_T - 2/eta| < 1e-8",
            **judge({"closed_form_max_rel_error": err, "gap_last": gap, "rp_vs_rhs5_max_error": rp_err}).fields(),
            "numbers": {"eta": eta, "L_first": float(L[0]), "L_last": float(L[-1]), "closed_form_max_rel_error": err,
                        "gap_last": gap, "rp_last": float(rp[-1]), "rp_vs_rhs5_max_error": rp_err},
            "notes": "theta_1 flips sign each step (1 - 40 eta = -1) while theta_2 decays by 0.9, so the gradient turns "
                     "into the top eigenvector and the Rayleigh quotient tends to lambda_max = 2/eta; RP tends to 0."}

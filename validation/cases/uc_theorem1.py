"""A case of the fourth paper (Ahn, Zhang, Sra, "Understanding the unstable convergence of GD").

* ``uc-theorem1`` — Theorem 1 / Proposition 1 / Corollary 1 on Example 2 at η = 2/39,
  whose only stationary point (0) has sharpness 40 > 2/η: from many seeded starts GD
  never converges to it.

Setting, and what the cases of this topic share: :mod:`workbench.validation.shared.unstable_convergence`.
"""
from __future__ import annotations

import math

import numpy as np

from workbench.derivations.objectives import tanh_quadratic
from workbench.solvers.dynamics.diagnostics import RPRecorder, run_gd
from workbench.solvers.core.objectives import SympyObjective

from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict
from workbench.validation.shared.unstable_convergence import ETA2, SOURCE, ellipse_samples


def _segment_sharpness(obj: SympyObjective, a: np.ndarray, b: np.ndarray, points: int = 17) -> float:
    """max λ_max(∇²f) over ``points`` equispaced points of the segment [a, b] (a lower bound on the sup)."""
    best = -math.inf
    for s in np.linspace(0.0, 1.0, points):
        H = np.asarray(obj.hessian(a + s * (b - a)))
        best = max(best, float(np.linalg.eigvalsh(H)[-1]))
    return best


RULE = ("inconclusive if the Hessian's top eigenvalue at 0 misses the closed form 40 (Hessian of tanh(20 t1^2 + "
        "t2^2) at 0 is diag(40, 2)) by >= 1e-9; confirmed if no start converges to 0 (Theorem 1), Proposition 1's "
        "inequality holds for every start and Corollary 1 holds at every tail step; refuted otherwise")


def judge(numbers: dict) -> Verdict:
    """Verdict of Theorem 1, Proposition 1 and Corollary 1 of the fourth paper (Ahn, Zhang, Sra).

    Parameters
    ----------
    numbers : dict
        ``sharpness_at_0``, ``converged_to_stationary`` (count), ``prop1_holds_all``, ``corollary1_violations``.
    """
    if not abs(numbers["sharpness_at_0"] - 40.0) < 1e-9:
        return Verdict("inconclusive", RULE, f"sharpness at 0 = {numbers['sharpness_at_0']:.12g}, not 40")
    why = (f"{numbers['converged_to_stationary']} starts converged to 0; Prop. 1 holds for all: "
           f"{numbers['prop1_holds_all']}; Corollary 1 violations: {numbers['corollary1_violations']}")
    if numbers["converged_to_stationary"] == 0 and numbers["prop1_holds_all"] and numbers["corollary1_violations"] == 0:
        return Verdict("confirmed", RULE, why)
    return Verdict("refuted", RULE, why)


def figures(numbers: dict) -> list[tuple]:
    """This case draws no figure (its numbers are in its tables)."""
    return []


@case("uc-theorem1",
      claim="GD does not converge to stationary points sharper than 2/eta (Theorem 1); a persistent gradient forces "
            "the gradient-weighted sharpness above (2/eta)(1 - eps) (Proposition 1); (2/eta)(RP + 1) <= L_t "
            "(Corollary 1)",
      source=f"{SOURCE}, Theorem 1, Proposition 1, Corollary 1", paper=4,
      where='Theorem 1, Proposition 1, Corollary 1')
def theorem1(ctx: Context) -> dict:
    obj = SympyObjective(tanh_quadratic())
    eta = ETA2
    n_starts, steps, K = (16, 1500, 200) if ctx.quick else (64, 4000, 400)
    lam0 = float(np.linalg.eigvalsh(np.asarray(obj.hessian(np.zeros(2))))[-1])
    starts = ellipse_samples(n_starts, 3.0, 7)
    rows, conv, prop_ok, cor_viol = [], 0, True, 0
    for th0 in starts:
        r = run_gd(obj, th0, eta, steps, [RPRecorder()], keep_path=True)
        p, gn2 = r.path, r.grad_norms ** 2
        dist = float(np.min(np.linalg.norm(p[-K:], axis=1)))
        converged = float(np.max(r.grad_norms[-K:])) < 1e-6
        conv += converged
        T = steps - K
        Lt = np.array([_segment_sharpness(obj, p[t], p[t + 1]) for t in range(T, T + K)])
        delta = float(np.mean(gn2[T:T + K]))
        eps = 1.01 * r.losses[0] / (eta * K * delta) if delta > 0 else math.inf
        lhs = float(np.sum(gn2[T:T + K] * Lt) / np.sum(gn2[T:T + K]))
        ok = eps >= 1 or lhs >= 2 / eta * (1 - eps)
        prop_ok &= ok
        rp = r.record("rp")["rp"][T:T + K]
        cor_viol += int(np.sum(2 / eta * (rp + 1) > Lt * (1 + 1e-9)))
        rows.append({"start": th0.tolist(), "min_dist_to_0_tail": dist, "converged": bool(converged),
                     "delta": delta, "eps": eps, "weighted_sharpness": lhs, "bound": 2 / eta * (1 - eps)})
    return {"prediction": f"the only stationary point 0 has sharpness {lam0:g} > 2/eta = 39: no start converges to it",
            "measurement": f"{n_starts} seeded starts with q <= 3, {steps} GD steps; tail of K = {K} steps; L_t = "
                           "max sharpness at 17 points of each segment",
            "tolerance": "max |grad f| over the tail > 1e-6 for every start; Prop. 1's inequality with eps = "
                         "1.01 f(theta_0)/(eta K delta); Corollary 1 checked at every tail step",
            **judge({"sharpness_at_0": lam0, "converged_to_stationary": conv, "prop1_holds_all": bool(prop_ok),
                     "corollary1_violations": cor_viol}).fields(),
            "numbers": {"eta": eta, "sharpness_at_0": lam0, "starts": n_starts, "steps": steps, "K": K,
                        "converged_to_stationary": conv, "prop1_holds_all": bool(prop_ok),
                        "corollary1_violations": cor_viol,
                        "min_tail_distance_to_0": min(r["min_dist_to_0_tail"] for r in rows),
                        "min_weighted_sharpness": min(r["weighted_sharpness"] for r in rows), "rows": rows},
            "notes": "Example 2 at eta = 2/39 is the toy: its only stationary point in reach is theta = 0 (the far "
                     "plateau where sech^2 underflows is excluded by starting at q <= 3; S of uc-example2-invariant "
                     "is forward-invariant). The iterates settle on the 2-cycle |theta_1| = sqrt(q*/20). The sampled "
                     "L_t is a lower bound on the segment sup, so Corollary 1 is checked conservatively."}

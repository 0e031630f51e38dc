"""A case of the fourth paper (Ahn, Zhang, Sra, "Understanding the unstable convergence of GD").

* ``uc-example2-invariant`` — Example 2: tanh(20θ₁² + θ₂²) at η = 2/39 does not diverge.
  The forward-invariant set is S = {q ≤ c*}, q = 20θ₁² + θ₂², c* = (41/39)²·q*,
  q* = arccosh(√(40/39)) (where sech²q = 39/40·…, i.e. |1 − 40η·sech²q| = 1): for q ≤ q* the
  θ₁ multiplier is at most 41/39 in modulus, above q* both multipliers are below 1.
  Checked by sampling S and by trajectories; the iterates end on the 2-cycle
  θ₁ = ±√(q*/20), θ₂ = 0.

Setting, and what the cases of this topic share: :mod:`workbench.validation.shared.unstable_convergence`.
"""
from __future__ import annotations

import math

import numpy as np

from workbench.derivations.objectives import tanh_quadratic
from workbench.solvers.dynamics.diagnostics import run_gd
from workbench.solvers.core.objectives import SympyObjective

from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict
from workbench.validation.shared.unstable_convergence import C_STAR, ETA2, Q_STAR, SOURCE, ellipse_samples, q_of, tanh_gd_map


RULE = ("inconclusive if the sampled map and the trajectories disagree (max q(F)/c* <= 1 on the samples but a "
        "trajectory leaves S after entering it, or the reverse), or GD does not end on the derived 2-cycle "
        "(error >= 1e-6); confirmed if S is forward-invariant on the samples (max q(F)/c* <= 1 + 1e-12), no start "
        "diverges and no trajectory leaves S; refuted otherwise")


def judge(numbers: dict) -> Verdict:
    """Verdict of Example 2 of the fourth paper (Ahn, Zhang, Sra) from the invariance numbers.

    Parameters
    ----------
    numbers : dict
        ``max_qF_over_cstar``, ``all_bounded``, ``max_q_after_entry_over_cstar``, ``max_cycle_error``.
    """
    invariant = numbers["max_qF_over_cstar"] <= 1.0 + 1e-12
    stays = numbers["max_q_after_entry_over_cstar"] <= 1.0 + 1e-12
    if invariant != stays:
        return Verdict("inconclusive", RULE, f"samples say {'in' if invariant else 'not in'}variant, trajectories "
                                             f"{'stay' if stays else 'leave'}")
    if not numbers["max_cycle_error"] < 1e-6:
        return Verdict("inconclusive", RULE, f"GD ends {numbers['max_cycle_error']:.2g} off the derived 2-cycle")
    if invariant and numbers["all_bounded"]:
        return Verdict("confirmed", RULE, f"max q(F)/c* = {numbers['max_qF_over_cstar']:.6f}; all starts bounded")
    return Verdict("refuted", RULE, f"max q(F)/c* = {numbers['max_qF_over_cstar']:.6f}, all bounded: "
                                    f"{numbers['all_bounded']}")


def figures(numbers: dict) -> list[tuple]:
    """This case draws no figure (its numbers are in its tables)."""
    return []


@case("uc-example2-invariant",
      claim="GD on tanh(20 theta_1^2 + theta_2^2) with eta = 2/39 > 2/40 does not diverge: a compact "
            "forward-invariant set exists near the minimum",
      source=f"{SOURCE}, Example 2, Section 3.2", paper=4,
      where='Example 2, §3.2')
def example2(ctx: Context) -> dict:
    obj = SympyObjective(tanh_quadratic())
    n_pts, n_starts, steps = (20000, 16, 1500) if ctx.quick else (200000, 64, 4000)
    pts = np.concatenate([ellipse_samples(n_pts, C_STAR, 0), ellipse_samples(n_pts // 10, Q_STAR, 1)])
    ratio = float(np.max(q_of(tanh_gd_map(pts))) / C_STAR)
    starts = ellipse_samples(n_starts, 3.0, 2)
    max_q_after_entry, bounded, cycle_err = [], True, []
    amp = math.sqrt(Q_STAR / 20.0)
    for th0 in starts:
        r = run_gd(obj, th0, ETA2, steps, keep_path=True)
        bounded &= not r.diverged
        q = q_of(r.path)
        entered = np.nonzero(q <= C_STAR)[0]
        max_q_after_entry.append(float(np.max(q[entered[0]:])) if len(entered) else math.inf)
        cycle_err.append(float(max(abs(abs(r.path[-1, 0]) - amp), abs(r.path[-1, 1]))))
    return {"prediction": f"S = {{20 theta_1^2 + theta_2^2 <= c*}}, c* = (41/39)^2 arccosh(sqrt(40/39)) = {C_STAR:.6f}, "
                          f"is forward-invariant; GD ends on the 2-cycle theta_1 = +-sqrt(q*/20) = +-{amp:.6f}, "
                          "theta_2 = 0",
            "measurement": f"F applied to {len(pts)} points sampled in S; GD ({steps} steps) from {n_starts} seeded "
                           "starts with q <= 3",
            "tolerance": "max q(F(theta))/c* <= 1 on the samples; no start diverges; q <= c* after entering S",
            **judge({"max_qF_over_cstar": ratio, "all_bounded": bool(bounded),
                     "max_q_after_entry_over_cstar": max(max_q_after_entry) / C_STAR,
                     "max_cycle_error": max(cycle_err)}).fields(),
            "numbers": {"q_star": Q_STAR, "c_star": C_STAR, "cycle_amplitude": amp, "max_qF_over_cstar": ratio,
                        "samples": len(pts), "starts": n_starts, "steps": steps, "all_bounded": bool(bounded),
                        "max_q_after_entry": max(max_q_after_entry), "max_cycle_error": max(cycle_err)},
            "notes": "Forward invariance of S is also a two-line proof: for q <= q* the theta_1 multiplier "
                     "1 - 40 eta sech^2 q lies in [-41/39, 1) and the theta_2 one in (0, 1), so q(F) <= (41/39)^2 q* "
                     "= c*; for q* < q both multipliers have modulus < 1, so q(F) < q. The quadratic at the same "
                     "eta diverges (uc-example1-fact1)."}

"""A case of the fourth paper (Ahn, Zhang, Sra, "Understanding the unstable convergence of GD").

* ``uc-example1-fact1`` — Example 1 / Fact 1: f = 20θ₁² + θ₂² with η = 2/39, 2/40, 2/41
  diverges, oscillates neutrally, converges; the θ₁ factor per step is |1 − 40η|.

Setting, and what the cases of this topic share: :mod:`workbench.validation.shared.unstable_convergence`.
"""
from __future__ import annotations

from workbench.derivations.objectives import quadratic
from workbench.solvers.dynamics.diagnostics import run_gd
from workbench.solvers.core.objectives import SympyObjective

from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict
from workbench.validation.shared.unstable_convergence import SOURCE


#: the per-step factor of GD on a quadratic is exact up to rounding
FACTOR_TOL = 1e-9
#: Fact 1 as printed: 2/39 diverges, 2/40 oscillates (neutral), 2/41 converges
CLAIMED = {39: "diverges", 40: "neutral", 41: "converges"}
RULE = (f"inconclusive if a measured per-step factor of |theta_1| misses |1 - 40 eta| by >= {FACTOR_TOL:g} (GD itself "
        "is off); confirmed if the runs at eta = 2/39, 2/40, 2/41 diverge, oscillate and converge as Fact 1 says; "
        "refuted otherwise")


def judge(numbers: dict) -> Verdict:
    """Verdict of Fact 1 / Example 1 of the fourth paper (Ahn, Zhang, Sra) from the three runs.

    Parameters
    ----------
    numbers : dict
        ``rows``: per run ``two_over_eta``, ``predicted_factor``, ``measured_factor``, ``measured``.
    """
    rows = numbers["rows"]
    off = max(abs(r["measured_factor"] - r["predicted_factor"]) for r in rows)
    if not off < FACTOR_TOL:
        return Verdict("inconclusive", RULE, f"per-step factor off by {off:.2g}")
    seen = {int(r["two_over_eta"]): r["measured"] for r in rows}
    wrong = [f"2/{d}: {seen.get(d)} (claimed {k})" for d, k in CLAIMED.items() if seen.get(d) != k]
    if wrong:
        return Verdict("refuted", RULE, "; ".join(wrong))
    return Verdict("confirmed", RULE, "diverges, oscillates and converges at 2/39, 2/40, 2/41")


def figures(numbers: dict) -> list[tuple]:
    """This case draws no figure (its numbers are in its tables)."""
    return []


@case("uc-example1-fact1",
      claim="GD on f = 20 theta_1^2 + theta_2^2 (L = 40) converges for eta = 2/41, oscillates for eta = 2/40 and "
            "diverges for eta = 2/39 (Fact 1)",
      source=f"{SOURCE}, Fact 1, Example 1", paper=4,
      where='Fact 1, Example 1')
def example1(ctx: Context) -> dict:
    obj = SympyObjective(quadratic())
    steps = 200 if ctx.quick else 1000
    rows = []
    for d in (39, 40, 41):
        eta = 2.0 / d
        r = run_gd(obj, [1.0, 1.0], eta, steps, keep_path=True)
        p = r.path
        factor = abs(p[-1, 0] / p[-2, 0])
        pred = abs(1 - 40 * eta)
        kind = "diverges" if pred > 1 + 1e-12 else ("neutral" if abs(pred - 1) < 1e-12 else "converges")
        measured = "diverges" if abs(p[-1, 0]) > 10 * abs(p[0, 0]) else (
            "converges" if abs(p[-1, 0]) < 1e-3 else "neutral")
        agree = kind == measured and abs(factor - pred) < FACTOR_TOL
        rows.append({"eta": eta, "two_over_eta": d, "predicted_factor": pred, "measured_factor": factor,
                     "predicted": kind, "measured": measured, "theta1_final": float(p[-1, 0]),
                     "theta2_final": float(p[-1, 1]), "agrees": bool(agree)})
    return {"prediction": "|theta_1| is multiplied by |1 - 40 eta| each step: 41/39 (diverges), 1 (neutral), 39/41 "
                          "(converges)",
            "measurement": f"{steps} GD steps from (1, 1); per-step factor of |theta_1| at the end",
            "tolerance": "classification identical and factor within 1e-9",
            **judge({"rows": rows}).fields(),
            "numbers": {"steps": steps, "rows": rows},
            "tables": [{"title": "Example 1: f = 20 theta_1^2 + theta_2^2 from (1, 1)",
                        "columns": ["eta", "predicted |1-40 eta|", "measured factor", "predicted", "measured"],
                        "rows": [[r["eta"], r["predicted_factor"], r["measured_factor"], r["predicted"],
                                  r["measured"]] for r in rows]}],
            "notes": "theta_2 converges in all three runs (factor |1 - 2 eta| < 1)."}

"""A case of the fourth paper (Ahn, Zhang, Sra, "Understanding the unstable convergence of GD").

* ``uc-example3-single-neuron`` — Example 3: from (13, 0.01) at η = 2/150 the linear
  network diverges, the tanh one converges to a minimum of sharpness ≈ 2/η.

Setting, and what the cases of this topic share: :mod:`workbench.validation.shared.unstable_convergence`.
"""
from __future__ import annotations

import math
from typing import Any


from workbench.derivations.objectives import single_neuron
from workbench.solvers.dynamics.diagnostics import SharpnessRecorder, run_gd
from workbench.solvers.linalg.hessian import sharpness
from workbench.solvers.core.objectives import SympyObjective

from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict
from workbench.validation.shared.unstable_convergence import SOURCE


#: "approximately 2/eta"
APPROX = 0.05
RULE = ("inconclusive if the tanh limit is sharper than 2/eta (1 + 1e-9), which Theorem 1 forbids for a limit "
        f"point (the workbench's GD or Hessian would be off); confirmed if the linear run diverges, the tanh run "
        f"converges (loss < 1e-12) and its sharpness is within {APPROX:.0%} of 2/eta; refined if it converges "
        "farther from 2/eta; refuted otherwise")


def judge(numbers: dict) -> Verdict:
    """Verdict of Example 3 of the fourth paper (Ahn, Zhang, Sra) from the two runs.

    Parameters
    ----------
    numbers : dict
        ``two_over_eta``, ``sharpness_rel_gap`` and per activation (``linear``, ``tanh``) ``diverged``,
        ``loss_final``, ``sharpness_final``.
    """
    lin, th = numbers["linear"], numbers["tanh"]
    if not th["diverged"] and th["sharpness_final"] > numbers["two_over_eta"] * (1 + 1e-9):
        return Verdict("inconclusive", RULE, f"tanh limit sharpness {th['sharpness_final']:.6g} > 2/eta")
    ok = lin["diverged"] and not th["diverged"] and th["loss_final"] < 1e-12
    gap = numbers["sharpness_rel_gap"]
    if ok and gap < APPROX:
        return Verdict("confirmed", RULE, f"sharpness at the limit {1 - gap:.4f} x 2/eta")
    if ok:
        return Verdict("refined", RULE, f"converges, but sharpness {gap:.1%} off 2/eta")
    return Verdict("refuted", RULE, f"linear diverged: {lin['diverged']}, tanh diverged: {th['diverged']}, "
                                    f"tanh final loss {th['loss_final']:.2g}")


def figures(numbers: dict) -> list[tuple]:
    """This case draws no figure (its numbers are in its tables)."""
    return []


@case("uc-example3-single-neuron",
      claim="From (13, 0.01) with eta = 2/150, GD diverges on the linear single-neuron network and converges on the "
            "tanh one, to a minimum whose sharpness is approximately 2/eta",
      source=f"{SOURCE}, Example 3", paper=4,
      where='Example 3')
def example3(ctx: Context) -> dict:
    eta = 2.0 / 150.0
    steps = 2000 if ctx.quick else 10000
    out: dict[str, Any] = {}
    for act in ("linear", "tanh"):
        obj = SympyObjective(single_neuron(act))
        r = run_gd(obj, [13.0, 0.01], eta, steps, [SharpnessRecorder(every=max(1, steps // 50))], keep_path=True)
        s = r.record("sharpness")
        out[act] = {"diverged": bool(r.diverged), "reason": r.reason, "steps": r.steps_done,
                    "theta_final": r.path[-1].tolist(), "loss_final": float(r.losses[-1]),
                    "grad_norm_final": float(r.grad_norms[-1]),
                    "sharpness_final": float(sharpness(obj, r.theta).value) if not r.diverged else math.nan,
                    "sharpness_trace": s["sharpness"].tolist(), "sharpness_steps": s["step"].tolist()}
    lam = out["tanh"]["sharpness_final"]
    rel = abs(lam - 2 / eta) / (2 / eta)
    return {"prediction": "linear: diverges; tanh: converges, sharpness at the limit ~ 2/eta = 150",
            "measurement": f"GD for up to {steps} steps; exact Hessian at the limit",
            "tolerance": "|sharpness - 2/eta| / (2/eta) < 5% for 'approximately'",
            **judge({"two_over_eta": 2 / eta, "sharpness_rel_gap": rel, **out}).fields(),
            "numbers": {"eta": eta, "two_over_eta": 2 / eta, "sharpness_rel_gap": rel, **out},
            "notes": f"The tanh network stops at theta = {out['tanh']['theta_final'][0]:.4f}, "
                     f"{out['tanh']['theta_final'][1]:.2e} with sharpness {lam:.3f} = {1 - rel:.4f} x 2/eta: just below "
                     f"the stability threshold, as Theorem 1 requires of a limit point. The linear network leaves "
                     f"({out['linear']['reason']})."}

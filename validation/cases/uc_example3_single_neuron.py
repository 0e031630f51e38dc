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
from workbench.validation.shared.unstable_convergence import SOURCE


@case("uc-example3-single-neuron",
      claim="From (13, 0.01) with eta = 2/150, GD diverges on the linear single-neuron network and converges on the "
            "tanh one, to a minimum whose sharpness is approximately 2/eta",
      source=f"{SOURCE}, Example 3")
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
    ok = out["linear"]["diverged"] and not out["tanh"]["diverged"] and out["tanh"]["loss_final"] < 1e-12
    verdict = "confirmed" if ok and rel < 0.05 else ("refined" if ok else "refuted")
    return {"prediction": "linear: diverges; tanh: converges, sharpness at the limit ~ 2/eta = 150",
            "measurement": f"GD for up to {steps} steps; exact Hessian at the limit",
            "tolerance": "|sharpness - 2/eta| / (2/eta) < 5% for 'approximately'",
            "verdict": verdict, "passed": bool(ok and lam <= 2 / eta * (1 + 1e-9)),
            "numbers": {"eta": eta, "two_over_eta": 2 / eta, "sharpness_rel_gap": rel, **out},
            "notes": f"The tanh network stops at theta = {out['tanh']['theta_final'][0]:.4f}, "
                     f"{out['tanh']['theta_final'][1]:.2e} with sharpness {lam:.3f} = {1 - rel:.4f} x 2/eta: just below "
                     f"the stability threshold, as Theorem 1 requires of a limit point. The linear network leaves "
                     f"({out['linear']['reason']})."}

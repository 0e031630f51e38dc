"""A case of the third paper (Rosca et al. 2023): the principal flow on quadratics and Rosenbrock.

* ``pf-rosenbrock-tracking`` — §3, Fig. 6: ‖θ_n − θ(nh)‖ of NGF, IGR, the third-order
  flow, PF and PF+ (14) on Rosenbrock below and above 2/λ₀.
"""
from __future__ import annotations

import numpy as np

from workbench.derivations import objectives as symobj
from workbench.solvers.dynamics.flows import FLOWS, FlowProblem, gradient_descent, integrate

from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict

#: RK4 at two sub-step counts must differ by less than this fraction of the error it reports at n = 1
INTEG_FRAC = 0.05
RULE = (f"inconclusive if RK4 at two sub-step counts differs by >= {INTEG_FRAC:.0%} of some flow's error at n = 1; "
        "refuted if in some regime (below or above 2/lambda0) the PF's error at n = 1 is not below NGF's, IGR's and "
        "the third-order flow's; confirmed if the PF (or PF+) has the smallest error at every n in both regimes; "
        "refined if only at n = 1 (the claim then holds for the first iteration only)")
OTHERS = ("ngf", "igr", "third")


def judge(numbers: dict) -> Verdict:
    """Verdict of §3 / Fig. 6 of the third paper (Rosca et al. 2023) from the per-flow errors to GD.

    Parameters
    ----------
    numbers : dict
        ``integrator_resolved`` (bool) and ``results``: per regime ``errors`` (flow -> error to GD
        per n, n = 0..N).
    """
    if not numbers["integrator_resolved"]:
        return Verdict("inconclusive", RULE, "RK4 does not resolve the flows' errors at n = 1")
    first, every = True, True
    for key, r in numbers["results"].items():
        e = r["errors"]
        first &= e["pf"][1] < min(e[f][1] for f in OTHERS)
        n_max = min(len(v) for v in e.values())
        every &= all(min(e["pf"][n], e.get("pf+", e["pf"])[n]) <= min(e[f][n] for f in OTHERS)
                     for n in range(1, n_max))
    if not first:
        return Verdict("refuted", RULE, "at n = 1 another flow tracks GD better than the PF in some regime")
    if every:
        return Verdict("confirmed", RULE, "the PF has the smallest error at every n in both regimes")
    return Verdict("refined", RULE, "the PF has the smallest error at n = 1 in both regimes, not at every later n")


def figures(numbers: dict) -> list[tuple]:
    """This case draws no figure (its numbers are in its tables)."""
    return []


@case("pf-rosenbrock-tracking",
      claim="Outside quadratics the PF tracks gradient descent better than NGF, IGR and the third-order flow over "
            "the first iterations, below and above 2/lambda_0",
      source="Rosca et al. 2023, §3, Fig. 6, eqs. (3), (8), (12), (14)", paper=3, where="§3, Fig. 6")
def pf_rosenbrock_tracking(ctx: Context) -> dict:
    P = FlowProblem.from_symbolic(symobj.rosenbrock())
    th0 = np.array([-0.5, 0.5])
    lam0 = float(np.linalg.eigvalsh(P.hess(th0)).max())
    N = 3 if ctx.quick else 6
    subs = (100, 200) if ctx.quick else (200, 400)
    rows, res, ok = [], {}, True
    for c in (0.8, 1.5):
        h = c * 2.0 / lam0
        t = np.arange(N + 1) * h
        gd = gradient_descent(P, h, th0, N, blowup=1e12)
        errs, integ = {}, {}
        for fl in FLOWS:
            r1 = integrate(P, fl, h, th0, t[: len(gd)], method="rk4", substeps=subs[0], blowup=1e12)
            r2 = integrate(P, fl, h, th0, t[: len(gd)], method="rk4", substeps=subs[1], blowup=1e12)
            m = min(len(r1.t), len(r2.t))
            e = np.linalg.norm(r2.theta[:m] - gd[:m], axis=1)
            errs[fl] = [float(v) for v in e]
            integ[fl] = [float(v) for v in np.linalg.norm(r2.theta[:m] - r1.theta[:m], axis=1)]
            ok &= bool(m >= 2 and integ[fl][1] < INTEG_FRAC * e[1])
        at1 = {fl: errs[fl][1] for fl in FLOWS}
        best = min(at1, key=at1.get)
        res[f"{c}x(2/lambda0)"] = {"h": h, "h_lambda0": h * lam0, "errors": errs, "integrator_diff": integ,
                                   "best_at_n1": best}
        for fl in FLOWS:
            rows.append([f"{c} x 2/lambda0", fl] + [errs[fl][n] if n < len(errs[fl]) else None
                                                   for n in range(1, N + 1)])
    later = {k: {fl: v["errors"][fl][-1] for fl in FLOWS} for k, v in res.items()}
    v = judge({"integrator_resolved": bool(ok), "results": res})
    return {
        "prediction": "error ||theta_n - theta(nh)|| smallest for the PF (or PF+) over the first iterations",
        "measurement": f"Rosenbrock (a=1, b=100) from theta0 = (-0.5, 0.5), lambda0 = {lam0:.6g}; flows integrated "
                       f"with RK4 ({subs[1]} steps per h, compared with {subs[0]}; DOP853 stalls where an eigenvalue "
                       "crosses h lambda = 1)",
        "tolerance": "RK4 at two step counts differ by < 5% of the error at n = 1 (the verdict uses n = 1; later n are "
                     "reported with their integrator differences in the numbers)",
        **v.fields(),
        "numbers": {"integrator_resolved": bool(ok), "lambda0": lam0, "steps": N, "results": res, "errors_at_last_n": later},
        "tables": [{"title": "Rosenbrock: ||theta_n - theta(nh)|| per flow",
                    "columns": ["h", "flow"] + [f"n={n}" for n in range(1, N + 1)], "rows": rows}],
        "notes": "At n = 1 the PF (and PF+ below 2/lambda0) has the smallest error in both regimes, as the paper says. "
                 "Over several iterations the PF's advantage is lost here (its complex trajectory leaves "
                 "the real GD path; the paper's Remark 4.1), so 'tracks better' holds for the first iteration only "
                 "on this start.",
    }

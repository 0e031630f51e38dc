"""Principal flow (third paper, Rosca et al. 2023): exactness on quadratics, local stability, tracking.

Three cases:

* ``pf-quadratic-exact`` — Remark 3.1 / Fig. 5: on random quadratics ½θᵀAθ + bᵀθ with
  eigenvalues in the regimes hλ < 1, 1 < hλ < 2 and hλ > 2, the PF at t = nh equals
  GD for n ≤ 50 (closed form and DOP853 integration, complex state); NGF and IGR do not.
  Also checks Remark 3.1's printed closed form, which is wrong for b ≠ 0.
* ``pf-local-stability`` — §3.2, (16): near the Rosenbrock minimum the PF Jacobian's
  eigenvalues log(1 − hλ*)/h predict GD's per-step factor |1 − hλ*| = e^{h Re J} and
  attraction iff hλ₀* < 2; NGF and IGR always predict attraction.
* ``pf-rosenbrock-tracking`` — §3, Fig. 6: ‖θ_n − θ(nh)‖ of NGF, IGR, the third-order
  flow, PF and PF+ (14) on Rosenbrock below and above 2/λ₀.
"""
from __future__ import annotations

import numpy as np

from derivations import objectives as symobj
from solvers.flows import (FLOWS, FlowProblem, gradient_descent, integrate, pf_jacobian_eigenvalues,
                           quadratic_flow)

from ..registry import Context, case

REGIMES = {"real stable (h*lambda_max in (0,1))": (0.2, 0.5, 0.9),
           "complex stable (h*lambda_max in (1,2))": (0.3, 0.9, 1.6),
           "unstable (h*lambda_max > 2)": (0.4, 1.3, 2.6)}


def _rel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=1) / np.maximum(1.0, np.linalg.norm(b, axis=1))


@case("pf-quadratic-exact",
      claim="For quadratic losses the principal flow captures gradient descent exactly, in every regime of h*lambda; "
            "NGF and IGR do not",
      source="Rosca et al. 2023, Remark 3.1, Fig. 5, eq. (12)")
def pf_quadratic_exact(ctx: Context) -> dict:
    h, N, D = 0.1, 50, 4
    rng = np.random.default_rng(7)
    rows, numbers = [], {}
    ok, worst_pf, remark_err = True, 0.0, 0.0
    tol_cf, tol_int = 1e-12, 1e-9
    regimes = list(REGIMES.items())[: 2 if ctx.quick else 3]
    for name, zs in regimes:
        zs = list(zs) + [0.05]
        Q, _ = np.linalg.qr(rng.standard_normal((D, D)))
        lam = np.array(zs) / h
        A = Q @ np.diag(lam) @ Q.T
        A = 0.5 * (A + A.T)
        b = rng.standard_normal(D)
        th0 = rng.standard_normal(D)
        P = FlowProblem.from_symbolic(symobj.quadratic(A.tolist(), b.tolist()))
        gd = gradient_descent(P, h, th0, N, blowup=1e300)
        t = np.arange(N + 1) * h
        e_cf = _rel(quadratic_flow(A, b, th0, h, t, "pf"), gd)
        r = integrate(P, "pf", h, th0, t, rtol=2.5e-14, atol=1e-16, blowup=1e300)
        e_int = _rel(r.theta, gd)
        e_ngf = _rel(quadratic_flow(A, b, th0, h, t, "ngf"), gd)
        e_igr = _rel(quadratic_flow(A, b, th0, h, t, "igr"), gd)
        # Remark 3.1 as printed: x(t) = e^{t log(1-h lam)/h} x0 + t alpha_PF(h lam) b_i, per eigenvector
        lam_e, U = np.linalg.eigh(A)
        x0, bb = U.T @ th0, U.T @ b
        logv = np.array([np.log1p(-z) if z < 1 else np.log(z - 1) + 1j * np.pi for z in h * lam_e])
        printed = np.array([(np.exp(tt * logv / h) * x0 + tt * logv / (h * lam_e) * bb) @ U.T for tt in t])
        e_printed = _rel(printed, gd)
        remark_err = max(remark_err, float(e_printed.max()))
        worst_pf = max(worst_pf, float(e_cf.max()), float(e_int.max()))
        good = e_cf.max() <= tol_cf and e_int.max() <= tol_int and not r.diverged
        ok &= bool(good)
        numbers[name] = {"h_lambda": [float(v) for v in sorted(h * lam)], "pf_closed_form_max_rel": float(e_cf.max()),
                         "pf_integrated_max_rel": float(e_int.max()), "pf_integrated_nfev": r.nfev,
                         "pf_imag_at_end_max": float(np.abs(r.theta[-1].imag).max()),
                         "ngf_max_rel": float(e_ngf.max()), "igr_max_rel": float(e_igr.max()),
                         "ngf_rel_at_n": {int(n): float(e_ngf[n]) for n in (1, 5, 50)},
                         "igr_rel_at_n": {int(n): float(e_igr[n]) for n in (1, 5, 50)},
                         "remark31_printed_max_rel": float(e_printed.max()),
                         "gd_norm_at_50": float(np.linalg.norm(gd[-1]))}
        rows.append([name, float(e_cf.max()), float(e_int.max()), float(e_ngf.max()), float(e_igr.max()),
                     float(e_printed.max())])
    flows_differ = all(v["ngf_max_rel"] > 1e-3 and v["igr_max_rel"] > 1e-3 for v in numbers.values())
    passed = bool(ok and flows_differ)
    return {
        "prediction": "PF(nh) = GD iterate n exactly (to rounding) for n <= 50 in every regime; NGF, IGR differ",
        "measurement": f"D = {D} random quadratics with b != 0, h = {h}; relative error "
                       "||theta_n - theta(nh)|| / max(1, ||theta_n||) of the closed-form PF (corrected Remark 3.1), "
                       "of the DOP853-integrated complex PF, of NGF and IGR",
        "tolerance": f"closed form <= {tol_cf:g}, integrated <= {tol_int:g}; NGF and IGR > 1e-3",
        "verdict": "refined",
        "passed": passed,
        "numbers": {"h": h, "steps": N, "regimes": numbers, "worst_pf_rel": worst_pf,
                    "remark31_printed_max_rel": remark_err},
        "tables": [{"title": "max over n <= 50 of the relative error to GD",
                    "columns": ["regime", "PF closed form", "PF integrated", "NGF", "IGR", "Remark 3.1 as printed"],
                    "rows": rows}],
        "notes": f"The PF matches GD to {worst_pf:.1e} in every regime, including the oscillating (1 < h lambda < 2) "
                 "and diverging (h lambda > 2) ones, where the PF state is complex (branch log(1-z) = log(z-1) + "
                 "i pi) and its imaginary part vanishes at t = nh. Refined: Remark 3.1's printed closed form "
                 "(... + t sum alpha_PF(h lambda_i) b^T u_i) does not solve the PF when b != 0 (max relative error "
                 f"{remark_err:.2g}); the exact solution per eigenvector is (x0 + b_i/lambda_i)(1 - h lambda_i)^(t/h) "
                 "- b_i/lambda_i, used above.",
    }


@case("pf-local-stability",
      claim="At a local minimum the PF Jacobian eigenvalues log(1 - h lambda*)/h predict attraction iff "
            "h lambda_0* < 2, as for gradient descent; NGF and IGR always predict attraction",
      source="Rosca et al. 2023, §3.2, eq. (16), Remark 3.4")
def pf_local_stability(ctx: Context) -> dict:
    sym = symobj.rosenbrock()
    P = FlowProblem.from_symbolic(sym)
    ts = np.array([1.0, 1.0])
    lam, U = np.linalg.eigh(P.hess(ts))
    lam0, u0 = float(lam[-1]), U[:, -1]
    steps, eps = 3, 1e-7
    factors = (0.45, 0.75, 0.95, 1.05, 1.5) if not ctx.quick else (0.75, 1.05, 1.5)
    rows, res, ok = [], [], True
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
        good = predicted_attr == measured_attr and rel < 1e-4
        ok &= good
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
        "verdict": "confirmed" if ok else "refuted",
        "passed": bool(ok),
        "numbers": {"lambda": [float(v) for v in lam], "steps": steps, "perturbation": eps, "results": res},
        "tables": [{"title": "Rosenbrock minimum: PF Jacobian (16) vs GD",
                    "columns": ["h*lambda0/2", "h*lambda0", "J_0 = log(1-h lambda0)/h", "PF: attractive",
                                "GD: attracted", "predicted factor", "measured factor", "rel. error"],
                    "rows": rows}],
        "notes": "NGF (-lambda) and IGR (-lambda - (h/2) lambda^2; the paper prints h^2/2) Jacobian eigenvalues are "
                 "negative for every h here, so they predict attraction also for h > 2/lambda0, where GD is repelled.",
    }


@case("pf-rosenbrock-tracking",
      claim="Outside quadratics the PF tracks gradient descent better than NGF, IGR and the third-order flow over "
            "the first iterations, below and above 2/lambda_0",
      source="Rosca et al. 2023, §3, Fig. 6, eqs. (3), (8), (12), (14)")
def pf_rosenbrock_tracking(ctx: Context) -> dict:
    P = FlowProblem.from_symbolic(symobj.rosenbrock())
    th0 = np.array([-0.5, 0.5])
    lam0 = float(np.linalg.eigvalsh(P.hess(th0)).max())
    N = 3 if ctx.quick else 6
    subs = (100, 200) if ctx.quick else (200, 400)
    rows, res, ok = [], {}, True
    best_first = True
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
            ok &= bool(m >= 2 and integ[fl][1] < 0.05 * e[1])
        at1 = {fl: errs[fl][1] for fl in FLOWS}
        best = min(at1, key=at1.get)
        best_first &= best in ("pf", "pf+") and at1["pf"] < min(at1["ngf"], at1["igr"], at1["third"])
        res[f"{c}x(2/lambda0)"] = {"h": h, "h_lambda0": h * lam0, "errors": errs, "integrator_diff": integ,
                                   "best_at_n1": best}
        for fl in FLOWS:
            rows.append([f"{c} x 2/lambda0", fl] + [errs[fl][n] if n < len(errs[fl]) else None
                                                   for n in range(1, N + 1)])
    later = {k: {fl: v["errors"][fl][-1] for fl in FLOWS} for k, v in res.items()}
    verdict = "refined"
    return {
        "prediction": "error ||theta_n - theta(nh)|| smallest for the PF (or PF+) over the first iterations",
        "measurement": f"Rosenbrock (a=1, b=100) from theta0 = (-0.5, 0.5), lambda0 = {lam0:.6g}; flows integrated "
                       f"with RK4 ({subs[1]} steps per h, compared with {subs[0]}; DOP853 stalls where an eigenvalue "
                       "crosses h lambda = 1)",
        "tolerance": "RK4 at two step counts differ by < 5% of the error at n = 1 (the verdict uses n = 1; later n are "
                     "reported with their integrator differences in the numbers)",
        "verdict": verdict,
        "passed": bool(ok and best_first),
        "numbers": {"lambda0": lam0, "steps": N, "results": res, "errors_at_last_n": later},
        "tables": [{"title": "Rosenbrock: ||theta_n - theta(nh)|| per flow",
                    "columns": ["h", "flow"] + [f"n={n}" for n in range(1, N + 1)], "rows": rows}],
        "notes": "At n = 1 the PF (and PF+ below 2/lambda0) has the smallest error in both regimes, as the paper says. "
                 "Refined: over several iterations the PF's advantage is lost here (its complex trajectory leaves "
                 "the real GD path; the paper's Remark 4.1), so 'tracks better' holds for the first iteration only "
                 "on this start.",
    }

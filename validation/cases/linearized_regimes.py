"""Cases ``linearization-d4-onset`` and ``activated-d5-onset``: the other linearizations against nonlinear GD.

First paper (Sun et al. 2022), appendix D.4 (eqs. (28)-(33)) and D.5 ((34)-(35) and the
bounds after them); derivations in :mod:`derivations.linearizations`.

Both cases run the *nonlinear* windowed gradient descent (13) (valid mode) in the regime
the linearization assumes and locate the α where it turns unstable, by bisection
(:func:`solvers.onset.nonlinear_onset`).  Because the gradient has a forcing term, the
scheme does not sit at the linearization point: what loses stability is its equilibrium
``K*(α)`` (``∇L(K*) = 0``).  Each classification runs the scheme from ``K*(α)`` plus a
1e-10 relative perturbation and asks whether the perturbation grows.  A slow reference
(:func:`solvers.onset.hessian_onset`: ``α + λ_max(Hessian at K*) = 2/Δt``, dense
Hessian) must agree with the simulation to the bisection tolerance; that is each
case's own check (``passed``).  The verdict compares the paper's bound, and the
corrected one derived here, with the simulated onset.

Image: ``1 + 0.2·smooth(n)`` (positive, mean 1), so that the input sum Ī (the window
sums ``c(z) = Σ_x I(x+z)`` in valid mode) is far from 0 -- on the paper's checkerboard
Ī = 0 and both linearizations reduce to D.3.
"""
from __future__ import annotations

import math
import numpy as np
import sympy as sp

from derivations import linearizations as LZ
from derivations import symbols as S
from solvers.backend import get_namespace, to_numpy
from solvers.bounds import alpha_bounds_from_spectrum
from solvers.correlation import CnnOperator
from solvers.images import smooth
from solvers.lambdify import lambdify
from solvers.onset import activation_stats, data_hessian, equilibrium, hessian_onset, nonlinear_onset, rank_one_operator
from solvers.optimizers import resolve
from solvers.schemes import run_cnn

from ..plots import pyplot
from ..registry import Context, case

#: relative tolerance for "the linearization predicts the nonlinear onset"
TOL_LIN = 1e-2


def _image(n: int, seed: int = 0) -> np.ndarray:
    return 1.0 + 0.2 * smooth(n, seed=seed)


def _sizes(quick: bool) -> tuple[list[tuple[int, int]], float]:
    if quick:
        return [(16, 4)], 1e-4
    return [(16, 4), (32, 6), (48, 8)], 1e-5


def _rel(pred: float, meas: float) -> float:
    return (pred - meas) / abs(meas)


def _figure(ctx: Context, name: str, title: str, rows: list[dict], keys: list[tuple[str, str]]) -> None:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7.0, 3.8), layout="constrained")
    xs = np.arange(len(rows))
    for j, (key, label) in enumerate(keys):
        vals = [100.0 * r["relative_to_simulated"][key] for r in rows]
        ax.plot(xs + 0.08 * (j - (len(keys) - 1) / 2), vals, "o", label=label)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.axhspan(-100 * TOL_LIN, 100 * TOL_LIN, color="0.9", zorder=0, label=f"±{100 * TOL_LIN:g}% tolerance")
    ax.set_xticks(xs, [f"n={r['n']}, w={r['kernel']}" for r in rows])
    ax.set_xlim(-0.5, len(rows) - 0.5)
    ax.set_ylabel("(predicted - simulated) / simulated  [%]")
    ax.set_title(title)
    fig.legend(loc="outside lower center", ncol=2, frameon=False)
    ctx.save_figure(fig, name, caption=(
        f"{title}: relative error of each prediction of the upper α bound against the simulated onset of "
        f"instability, in percent, per image size n and kernel w; grey band: the ±{100 * TOL_LIN:g}% tolerance "
        "of the verdict."))


# -- D.4 ---------------------------------------------------------------------------------
def _d4_row(n: int, w: int, rtol: float, shift: float = 0.2) -> dict:
    xp = get_namespace("numpy")
    beta, b, y = 1.0, 0.0, 1.0
    op = CnnOperator(xp.asarray(_image(n)), w)
    args = (S.b, S.y, S.beta)
    cg_e, cc_e = LZ.d4_operator_coefficients()
    cg, cc = float(lambdify(cg_e, args)(b, y, beta)), float(lambdify(cc_e, args)(b, y, beta))
    a0 = float(lambdify((LZ.s0 - S.y).subs(LZ.sigmoid_at_zero()), args)(b, y, beta))   # s(0) - y, D.3's a
    ev = np.linalg.eigvalsh(rank_one_operator(op, cg, cc))
    lam_min, lam_max = float(ev[0]), float(ev[-1])
    dt = shift / lam_max                       # the c cᵀ term moves the upper bound by `shift`/2 of 2/dt
    f_lo, f_hi = (lambdify(e, (S.dt, LZ.lam)) for e in LZ.mode_alpha_bounds())
    d4_upper, d4_lower = float(f_hi(dt, lam_max)), float(f_lo(dt, lam_min))
    # D.3 with a held constant at s(0) - y (no δ term), windowed spectrum of G
    mu = np.linalg.eigvalsh(op.gram_dense())
    d3_lower, d3_upper = alpha_bounds_from_spectrum(resolve("gd", dt), a0, beta, max(float(mu[0]), 0.0), float(mu[-1]))
    # the paper's Fourier forms over the whole image's DFT, δ(0) = w² (window), Ī = Î(0)
    power = np.asarray(to_numpy(op.power_spectrum()), dtype=np.float64)
    p0 = float(power[0, 0])
    delta = np.zeros_like(power)
    delta[0, 0] = float(w * w)
    l33 = (LZ.d4_symbol() - S.alpha).subs(LZ.sigmoid_at_zero())
    lam33 = np.asarray(lambdify(l33, (S.P, LZ.P0, LZ.D, S.b, S.y, S.beta), xp=xp)(
        xp.asarray(power), p0, xp.asarray(delta), b, y, beta))
    printed = LZ.derivation_d4()["amplifier_zero_freq"].stated.rhs          # (31) as printed, ω = 0
    l31 = sp.expand((1 - printed) / S.dt - S.alpha).subs(LZ.sigmoid_at_zero())
    lam31_0 = float(lambdify(l31, (LZ.P0, LZ.D0, S.b, S.y, S.beta))(p0, float(w * w), b, y, beta))
    lam31 = lam33.copy()
    lam31[0, 0] = lam31_0
    paper33_upper, paper33_lower = float(f_hi(dt, lam33.max())), float(f_lo(dt, lam33.min()))
    paper31_upper = float(f_hi(dt, lam31.max()))
    # measurement
    sim = nonlinear_onset(op, dt, 0.8 * d4_upper, 1.2 * d4_upper, beta, b, y, rtol=rtol)
    ref = hessian_onset(op, dt, d4_upper, beta, b, y)
    eq = equilibrium(op, [sim["alpha"]], beta, b, y)
    st = activation_stats(op, eq.kernel[0], beta, b)
    lam_star = float(np.linalg.eigvalsh(data_hessian(op, eq.kernel[0], beta, b, y))[-1])
    s1_0 = float(lambdify(LZ.sigmoid_at_zero()[LZ.s1], (S.b,))(b))
    meas = sim["alpha"]
    preds = {"d4_windowed": d4_upper, "paper_33_fourier": paper33_upper, "paper_31_printed": paper31_upper,
             "d3_constant_a": d3_upper}
    return {
        "n": n, "kernel": w, "image": f"1 + 0.2*smooth:{n}:0", "mode": "valid", "beta": beta, "b": b, "y": y,
        "a0": a0, "coef_G": cg, "coef_cc": cc, "dt": dt, "two_over_dt": 2.0 / dt,
        "H0_lambda_min": lam_min, "H0_lambda_max": lam_max, "c_norm_sq": float(np.sum(to_numpy(op.patch_sum()) ** 2)),
        "image_sum_sq": p0,
        "upper": {**preds, "simulated": meas, "hessian_reference": ref["alpha"]},
        "lower": {"d4_windowed": d4_lower, "paper_33_fourier": paper33_lower, "d3_constant_a": d3_lower},
        "relative_to_simulated": {k: _rel(v, meas) for k, v in preds.items()},
        "simulated_vs_reference": _rel(meas, ref["alpha"]),
        "bisection": sim,
        "regime": {**st, "sprime_at_0": s1_0, "lambda_max_at_equilibrium": lam_star,
                   "lambda_max_change": (lam_star - lam_max) / lam_max},
    }


@case(
    "linearization-d4-onset",
    claim="Linearizing a = yhat - y around K = 0 gives the amplifier (33), "
          "A = 1 - dt(1/2(s(0)-y)beta|I^|^2 + alpha + 1/4 s'(0)|I^(0)|^2 delta): the same kind of CFL bounds "
          "as D.3, with an extra term in the omega = 0 mode",
    source="Sun et al. 2022, appendix D.4 eqs. (28)-(33)",
)
def linearization_d4_onset(ctx: Context) -> dict:
    sizes, rtol = _sizes(ctx.quick)
    rows = [_d4_row(n, w, rtol) for n, w in sizes]
    consistent = all(abs(r["simulated_vs_reference"]) <= 2 * rtol for r in rows)
    clean = all(r["bisection"]["monotone"] and r["bisection"]["converged"] for r in rows)
    d4_ok = all(abs(r["relative_to_simulated"]["d4_windowed"]) <= TOL_LIN for r in rows)
    paper_ok = all(abs(r["relative_to_simulated"]["paper_33_fourier"]) <= TOL_LIN for r in rows)
    d3_off = min(abs(r["relative_to_simulated"]["d3_constant_a"]) for r in rows)
    verdict = "confirmed" if (d4_ok and paper_ok) else "refined" if d4_ok else "refuted"
    keys = [("d4_windowed", "D.4 windowed (H at K=0)"), ("paper_33_fourier", "paper (33), Fourier, δ(0)=w²"),
            ("paper_31_printed", "paper (31) as printed"), ("d3_constant_a", "D.3, a held constant")]
    _figure(ctx, "linearization_d4_onset.png", "D.4: upper α bound vs nonlinear GD onset", rows, keys)
    table = [[r["n"], r["kernel"], r["dt"], r["upper"]["simulated"], r["upper"]["hessian_reference"],
              r["upper"]["d4_windowed"], r["upper"]["paper_33_fourier"], r["upper"]["paper_31_printed"],
              r["upper"]["d3_constant_a"], r["relative_to_simulated"]["d4_windowed"],
              r["relative_to_simulated"]["paper_33_fourier"], r["relative_to_simulated"]["d3_constant_a"],
              r["regime"]["g"]] for r in rows]
    r0 = rows[0]
    notes = (
        "Setting: image 1 + 0.2*smooth(n) (mean 1, so the window sums c(z) are far from 0), valid mode, beta = 1, "
        f"b = 0, y = 1 (a0 = s(0) - y = {r0['a0']:g}); dt = 0.2/lambda_max(H0), so the c c^T term lowers the upper "
        "bound by 10% of 2/dt. The windowed D.4 operator is H0 = 1/2(s(0)-y)beta G + 1/4 s'(0) c c^T, the Hessian "
        "of the loss at K = 0 (checked against the dense data Hessian in the tests). "
        "Measured: GD (13) from the equilibrium K*(alpha) + 1e-10 perturbation, bisection on alpha; the equilibrium "
        f"sits at g = {r0['regime']['g']:.3g}, max|K*I| = {max(abs(r0['regime']['u_min']), abs(r0['regime']['u_max'])):.3g}, "
        f"s'(g) = {r0['regime']['sprime']:.4g} against s'(0) = {r0['regime']['sprime_at_0']:g}; its largest Hessian "
        f"eigenvalue differs from H0's by {100 * r0['regime']['lambda_max_change']:.2g}%, which is the whole error "
        "of the linearization. "
        "The paper's (33) in Fourier form (whole-image DFT, I^(0) = sum of the image, delta(0) = w^2) is off by "
        + ", ".join(f"{100 * r['relative_to_simulated']['paper_33_fourier']:.3g}%" for r in rows)
        + ": in valid mode the rank-one term is c c^T with the window sums c(z), not |I^(0)|^2 delta; "
        "(31) as printed has 1/8 s'(0) instead of 1/4 s'(0) in the delta term ("
        + ", ".join(f"{100 * r['relative_to_simulated']['paper_31_printed']:.3g}%" for r in rows)
        + "); D.3 with a held constant misses the c c^T term ("
        + ", ".join(f"{100 * r['relative_to_simulated']['d3_constant_a']:.3g}%" for r in rows)
        + "). In the w -> infinity limit delta(0) -> infinity and (33) leaves no stable alpha unless Ibar = 0. "
        "Lower bound (alpha > -lambda_min(H0) = "
        + ", ".join(f"{r['lower']['d4_windowed']:.3g}" for r in rows)
        + ") not measured: near it the growth rate per step is dt*|alpha - alpha_lower| ~ 1e-5 or less, and with the "
        "forcing c the equilibrium branch moves away from K = 0 continuously (an imperfect bifurcation): the "
        "nonlinear loss is coercive for alpha > 0, so GD does not diverge there, it leaves the K ~ 0 regime."
    )
    return {
        "prediction": "upper bound alpha < 2/dt - lambda_max(H0), H0 = 1/2(s(0)-y)beta G + 1/4 s'(0) c c^T "
                      "(windowed (29)/(33)); paper's Fourier form max over omega of (33) with delta(0) = w^2",
        "measurement": "alpha where the equilibrium of nonlinear GD (13) turns unstable: bisection with batched runs "
                       f"from K*(alpha) + 1e-10 perturbation (rtol {rtol:g}), and the dense-Hessian reference",
        "tolerance": f"|simulated - reference| <= {2 * rtol:g} relative (check); linearization within {TOL_LIN:g} "
                     "relative for the verdict",
        "verdict": verdict,
        "passed": bool(consistent and clean),
        "numbers": {"rtol": rtol, "tol_linearization": TOL_LIN, "simulated_matches_reference": bool(consistent),
                    "d4_windowed_within_tol": bool(d4_ok), "paper_33_within_tol": bool(paper_ok),
                    "d3_min_abs_relative_error": d3_off, "results": rows},
        "tables": [{"title": "upper alpha bound of GD near K = 0: predictions vs nonlinear onset",
                    "columns": ["n", "kernel", "dt", "simulated", "Hessian reference", "D.4 windowed",
                                "paper (33) Fourier", "paper (31) printed", "D.3 constant a",
                                "rel. D.4 windowed", "rel. paper (33)", "rel. D.3", "g at K*"],
                    "rows": table}],
        "notes": notes,
    }


# -- D.5 ---------------------------------------------------------------------------------
def _d5_row(n: int, w: int, rtol: float, probe_steps: int, shift: float = 0.25) -> dict:
    xp = get_namespace("numpy")
    y = 1.0
    op = CnnOperator(xp.asarray(_image(n)), w)
    c = np.asarray(to_numpy(op.patch_sum()), dtype=np.float64)
    Q, cbar = float(np.sum(c * c)), float(np.mean(c))
    dt = 2.0 * shift / (0.25 * Q)          # s'·Q·dt/2 = shift at the sigmoid's centre
    up_c = lambdify(LZ.d5_alpha_upper(True), (S.dt, LZ.s1, LZ.Q))
    up_p = lambdify(LZ.d5_alpha_upper(False), (S.dt, LZ.s1, LZ.Q))
    up_printed = lambdify(LZ.d5_alpha_upper_paper(), (S.dt, LZ.Ibar))
    corrected = float(up_c(dt, 0.25, Q))
    # regime: equilibrium K* = (1 - yhat) c / alpha (r' = 1); put the sigmoid's centre there (yhat = 1/2,
    # s' = 1/4, the paper's constant) and choose beta so that min beta*(K* ⋆ I) = 20 (|r' - 1| < 1e-7)
    b = 0.5 * Q / corrected
    K_guess = (0.5 / corrected) * c
    u_min = float(np.min(to_numpy(op.response(xp.asarray(K_guess)))))
    beta = 20.0 / u_min
    sim = nonlinear_onset(op, dt, 0.8 * corrected, 1.2 * corrected, beta, b, y, rtol=rtol, K0=K_guess)
    ref = hessian_onset(op, dt, corrected, beta, b, y, K0=K_guess)
    eq = equilibrium(op, [sim["alpha"]], beta, b, y, K_guess)
    st = activation_stats(op, eq.kernel[0], beta, b)
    meas = sim["alpha"]
    preds = {"corrected_r1": corrected, "corrected_sprime_at_equilibrium": float(up_c(dt, st["sprime"], Q)),
             "paper_coefficient_delta_kept": float(up_p(dt, 0.25, Q)), "paper_printed": float(up_printed(dt, cbar))}
    # lower bound: the paper's -Ibar^2/8 < alpha vs the derived alpha > 0, probed at -+Ibar^2/16
    amp = lambdify(LZ.derivation_d5()["amplifier_nonzero_freq"].expr.rhs, (S.dt, S.alpha))
    probes = [-cbar ** 2 / 16.0, cbar ** 2 / 16.0]
    noise = 1.0 + 1e-3 * np.random.default_rng(1).standard_normal((w, w))
    pr = run_cnn(op, probes, dt, force="nonlinear", beta=beta, b=b, y=y, steps=probe_steps, K0=to_numpy(eq.kernel[0]) * noise)
    probe_rows = []
    for i, al in enumerate(probes):
        m = max(1, int(math.ceil(0.1 * probe_steps)))
        inc = pr.increments[:, i]
        rho = float((inc[-1] / inc[-1 - m]) ** (1.0 / m)) if inc[-1] > 0 and inc[-1 - m] > 0 else math.nan
        pst = activation_stats(op, to_numpy(pr.kernel)[i], beta, b)
        probe_rows.append({"alpha": al, "paper_says_stable": bool(al > -cbar ** 2 / 8), "derived_says_stable": al > 0,
                           "diverged": bool(pr.diverged[i]), "reason": pr.reason[i], "rho_measured": rho,
                           "rho_predicted": float(amp(dt, al)), "beta_u_min_end": pst["beta_u_min"],
                           "max_abs_rprime_minus_1_end": pst["max_abs_rprime_minus_1"]})
    return {
        "n": n, "kernel": w, "image": f"1 + 0.2*smooth:{n}:0", "mode": "valid", "beta": beta, "b": b, "y": y,
        "dt": dt, "two_over_dt": 2.0 / dt, "c_norm_sq": Q, "c_mean": cbar,
        "upper": {**preds, "simulated": meas, "hessian_reference": ref["alpha"]},
        "relative_to_simulated": {k: _rel(v, meas) for k, v in preds.items()},
        "simulated_vs_reference": _rel(meas, ref["alpha"]),
        "bisection": sim, "regime": st, "lower_probes": probe_rows, "probe_steps": probe_steps,
    }


@case(
    "activated-d5-onset",
    claim="In the activated regime (K*I > 0, r' = 1) gradient descent is stable iff "
          "-Ibar^2/8 < alpha < 2/dt - Ibar^2/8",
    source="Sun et al. 2022, appendix D.5 eqs. (34)-(35) and the bounds after them",
)
def activated_d5_onset(ctx: Context) -> dict:
    sizes, rtol = _sizes(ctx.quick)
    probe_steps = 1000 if ctx.quick else 2000
    rows = [_d5_row(n, w, rtol, probe_steps) for n, w in sizes]
    consistent = all(abs(r["simulated_vs_reference"]) <= 2 * rtol for r in rows)
    clean = all(r["bisection"]["monotone"] and r["bisection"]["converged"] for r in rows)
    regime_ok = all(r["regime"]["max_abs_rprime_minus_1"] <= 1e-3 for r in rows)
    probes_ok = all(p["diverged"] == (not p["derived_says_stable"])
                    and math.isfinite(p["rho_measured"]) and abs(p["rho_measured"] - p["rho_predicted"]) <= 1e-6
                    for r in rows for p in r["lower_probes"])
    corrected_ok = all(abs(r["relative_to_simulated"]["corrected_r1"]) <= TOL_LIN for r in rows)
    printed_ok = all(abs(r["relative_to_simulated"]["paper_printed"]) <= TOL_LIN for r in rows)
    lower_refuted = any(p["paper_says_stable"] and p["diverged"] for r in rows for p in r["lower_probes"])
    verdict = "confirmed" if (printed_ok and not lower_refuted) else "refuted"
    keys = [("corrected_r1", "corrected: 2/dt - s'‖c‖² (s'=1/4)"),
            ("paper_coefficient_delta_kept", "paper's 1/8, δ(0) kept: 2/dt - s'‖c‖²/2"),
            ("paper_printed", "paper printed: 2/dt - Ī²/8")]
    _figure(ctx, "activated_d5_onset.png", "D.5: upper α bound vs nonlinear GD onset (activated regime)", rows, keys)
    table = [[r["n"], r["kernel"], r["dt"], r["beta"], r["b"], r["upper"]["simulated"],
              r["upper"]["hessian_reference"], r["upper"]["corrected_r1"], r["upper"]["paper_coefficient_delta_kept"],
              r["upper"]["paper_printed"], r["relative_to_simulated"]["corrected_r1"],
              r["relative_to_simulated"]["paper_printed"], r["regime"]["max_abs_rprime_minus_1"]] for r in rows]
    ptable = [[r["n"], r["kernel"], p["alpha"], p["paper_says_stable"], p["derived_says_stable"], p["diverged"],
               p["rho_measured"], p["rho_predicted"]] for r in rows for p in r["lower_probes"]]
    r0 = rows[0]
    notes = (
        "Setting: image 1 + 0.2*smooth(n) (positive), valid mode, y = 1, dt = 2/‖c‖² (so the corrected bound is "
        "0.75*2/dt); the bias b puts the sigmoid's centre at the equilibrium of the predicted onset (yhat = 1/2, "
        "s' = 1/4, the constant the paper uses), and beta makes min beta*(K*I) = 20 at the equilibrium: max|r'-1| = "
        f"{r0['regime']['max_abs_rprime_minus_1']:.2g} there, s'(g) = {r0['regime']['sprime']:.4g}. "
        "Measured: GD (13) from K*(alpha) + 1e-10 perturbation, bisection. "
        "The printed bound 2/dt - Ibar^2/8 (Ibar = mean window sum) is off by "
        + ", ".join(f"{100 * r['relative_to_simulated']['paper_printed']:.3g}%" for r in rows)
        + ": its omega = 0 amplifier drops delta(0) (= w^2 on the window; exactly, the rank-one term is c c^T with "
        "eigenvalue ‖c‖^2), and its a-linearization uses r'(0) = 1/2 where the regime has r' = 1 (factor 2: keeping "
        "delta(0) but the paper's 1/8 is off by "
        + ", ".join(f"{100 * r['relative_to_simulated']['paper_coefficient_delta_kept']:.3g}%" for r in rows)
        + "). Corrected 2/dt - s'(g)‖c‖^2 is within "
        + ", ".join(f"{abs(r['relative_to_simulated']['corrected_r1']):.2g}" for r in rows)
        + " (relative) of the simulation. Lower bound: at alpha = -Ibar^2/16, inside the paper's stable range, GD "
        f"diverges (measured growth per step {r0['lower_probes'][0]['rho_measured']:.8f}, derived 1 - alpha*dt = "
        f"{r0['lower_probes'][0]['rho_predicted']:.8f}; the omega != 0 modes need alpha > 0); at +Ibar^2/16 it is "
        f"stable (rate {r0['lower_probes'][1]['rho_measured']:.8f} vs {r0['lower_probes'][1]['rho_predicted']:.8f}). "
        "Corrected bounds: 0 < alpha < 2/dt - s'(g)‖c‖^2."
    )
    return {
        "prediction": "paper: -Ibar^2/8 < alpha < 2/dt - Ibar^2/8; derived here: 0 < alpha < 2/dt - s'(g)‖c‖^2",
        "measurement": "upper: alpha where the equilibrium of nonlinear GD (13) turns unstable (bisection, "
                       f"rtol {rtol:g}) and the dense-Hessian reference; lower: GD runs at alpha = -+Ibar^2/16",
        "tolerance": f"|simulated - reference| <= {2 * rtol:g} relative, growth rates within 1e-6, max|r'-1| <= 1e-3 "
                     f"(check); predictions within {TOL_LIN:g} relative for the verdict",
        "verdict": verdict,
        "passed": bool(consistent and clean and regime_ok and probes_ok and corrected_ok),
        "numbers": {"rtol": rtol, "tol_linearization": TOL_LIN, "simulated_matches_reference": bool(consistent),
                    "regime_ok": bool(regime_ok), "probes_ok": bool(probes_ok), "corrected_within_tol": bool(corrected_ok),
                    "printed_within_tol": bool(printed_ok), "paper_lower_bound_refuted": bool(lower_refuted),
                    "results": rows},
        "tables": [{"title": "upper alpha bound in the activated regime: predictions vs nonlinear onset",
                    "columns": ["n", "kernel", "dt", "beta", "b", "simulated", "Hessian reference", "corrected",
                                "paper 1/8 with delta(0)", "paper printed", "rel. corrected", "rel. printed",
                                "max|r'-1| at K*"],
                    "rows": table},
                   {"title": "lower bound probes (alpha = -+Ibar^2/16)",
                    "columns": ["n", "kernel", "alpha", "paper: stable", "derived: stable", "diverged",
                                "growth measured", "growth 1 - alpha*dt"],
                    "rows": ptable}],
        "notes": notes,
    }


"""Cases of the fourth paper (Ahn, Zhang, Sra, "Understanding the unstable convergence of GD").

* ``uc-example1-fact1`` — Example 1 / Fact 1: f = 20θ₁² + θ₂² with η = 2/39, 2/40, 2/41
  diverges, oscillates neutrally, converges; the θ₁ factor per step is |1 − 40η|.
* ``uc-example2-invariant`` — Example 2: tanh(20θ₁² + θ₂²) at η = 2/39 does not diverge.
  The forward-invariant set is S = {q ≤ c*}, q = 20θ₁² + θ₂², c* = (41/39)²·q*,
  q* = arccosh(√(40/39)) (where sech²q = 39/40·…, i.e. |1 − 40η·sech²q| = 1): for q ≤ q* the
  θ₁ multiplier is at most 41/39 in modulus, above q* both multipliers are below 1.
  Checked by sampling S and by trajectories; the iterates end on the 2-cycle
  θ₁ = ±√(q*/20), θ₂ = 0.
* ``uc-example3-single-neuron`` — Example 3: from (13, 0.01) at η = 2/150 the linear
  network diverges, the tanh one converges to a minimum of sharpness ≈ 2/η.
* ``uc-example4-smoothness`` — Example 4: GD on a quadratic at η = 2/λ_max; L(θₜ; η∇f)
  → 2/η, with the closed form of the Rayleigh quotient beside it.
* ``uc-edge-of-stability`` — full-batch GD on small tanh and ReLU MLPs (spirals, MSE):
  sharpness rises to and hovers at 2/η; RP ≈ 0 and L(θ; η∇f) ≈ 2/η in the unstable
  regime, RP ≈ −1 in the stable one; (4), (5) and (6) compared along the run.
* ``uc-theorem1`` — Theorem 1 / Proposition 1 / Corollary 1 on Example 2 at η = 2/39,
  whose only stationary point (0) has sharpness 40 > 2/η: from many seeded starts GD
  never converges to it.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from derivations.objectives import quadratic, single_neuron, tanh_quadratic
from solvers.backend import get_namespace
from solvers.datasets import spirals
from solvers.diagnostics import (RPRecorder, SharpnessRecorder, SmoothnessRecorder, Theorem2Recorder, minibatches,
                                 network_batch_gradient, run_gd, sgd_relative_progress)
from solvers.hessian import sharpness
from solvers.networks import NetworkObjective, mlp
from solvers.objectives import SympyObjective

from ..plots import pyplot as _plt
from ..registry import Context, case

SOURCE = "Ahn, Zhang, Sra (4th paper)"


# -- Example 1 ------------------------------------------------------------------------------
@case("uc-example1-fact1",
      claim="GD on f = 20 theta_1^2 + theta_2^2 (L = 40) converges for eta = 2/41, oscillates for eta = 2/40 and "
            "diverges for eta = 2/39 (Fact 1)",
      source=f"{SOURCE}, Fact 1, Example 1")
def example1(ctx: Context) -> dict:
    obj = SympyObjective(quadratic())
    steps = 200 if ctx.quick else 1000
    rows, ok = [], True
    for d in (39, 40, 41):
        eta = 2.0 / d
        r = run_gd(obj, [1.0, 1.0], eta, steps, keep_path=True)
        p = r.path
        factor = abs(p[-1, 0] / p[-2, 0])
        pred = abs(1 - 40 * eta)
        kind = "diverges" if pred > 1 + 1e-12 else ("neutral" if abs(pred - 1) < 1e-12 else "converges")
        measured = "diverges" if abs(p[-1, 0]) > 10 * abs(p[0, 0]) else (
            "converges" if abs(p[-1, 0]) < 1e-3 else "neutral")
        agree = kind == measured and abs(factor - pred) < 1e-9
        ok &= agree
        rows.append({"eta": eta, "two_over_eta": d, "predicted_factor": pred, "measured_factor": factor,
                     "predicted": kind, "measured": measured, "theta1_final": float(p[-1, 0]),
                     "theta2_final": float(p[-1, 1]), "agrees": bool(agree)})
    return {"prediction": "|theta_1| is multiplied by |1 - 40 eta| each step: 41/39 (diverges), 1 (neutral), 39/41 "
                          "(converges)",
            "measurement": f"{steps} GD steps from (1, 1); per-step factor of |theta_1| at the end",
            "tolerance": "classification identical and factor within 1e-9",
            "verdict": "confirmed" if ok else "refuted", "passed": bool(ok),
            "numbers": {"steps": steps, "rows": rows},
            "tables": [{"title": "Example 1: f = 20 theta_1^2 + theta_2^2 from (1, 1)",
                        "columns": ["eta", "predicted |1-40 eta|", "measured factor", "predicted", "measured"],
                        "rows": [[r["eta"], r["predicted_factor"], r["measured_factor"], r["predicted"],
                                  r["measured"]] for r in rows]}],
            "notes": "theta_2 converges in all three runs (factor |1 - 2 eta| < 1)."}


# -- Example 2 ------------------------------------------------------------------------------
ETA2 = 2.0 / 39.0
Q_STAR = math.acosh(math.sqrt(40.0 / 39.0))  # sech^2(q*) = 39/40: |1 - 40 eta sech^2| = 1 at eta = 2/39
C_STAR = (41.0 / 39.0) ** 2 * Q_STAR


def _q(th: np.ndarray) -> np.ndarray:
    return 20.0 * th[..., 0] ** 2 + th[..., 1] ** 2


def _tanh_map(th: np.ndarray, eta: float = ETA2) -> np.ndarray:
    s = 1.0 / np.cosh(_q(th)) ** 2
    return np.stack([th[..., 0] * (1 - 40 * eta * s), th[..., 1] * (1 - 2 * eta * s)], axis=-1)


def _ellipse_samples(n: int, c: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r = np.sqrt(rng.random(n) * c)
    a = rng.random(n) * 2 * np.pi
    return np.stack([r * np.cos(a) / math.sqrt(20.0), r * np.sin(a)], axis=1)


@case("uc-example2-invariant",
      claim="GD on tanh(20 theta_1^2 + theta_2^2) with eta = 2/39 > 2/40 does not diverge: a compact "
            "forward-invariant set exists near the minimum",
      source=f"{SOURCE}, Example 2, Section 3.2")
def example2(ctx: Context) -> dict:
    obj = SympyObjective(tanh_quadratic())
    n_pts, n_starts, steps = (20000, 16, 1500) if ctx.quick else (200000, 64, 4000)
    pts = np.concatenate([_ellipse_samples(n_pts, C_STAR, 0), _ellipse_samples(n_pts // 10, Q_STAR, 1)])
    ratio = float(np.max(_q(_tanh_map(pts))) / C_STAR)
    invariant = ratio <= 1.0 + 1e-12
    starts = _ellipse_samples(n_starts, 3.0, 2)
    max_q_after_entry, bounded, cycle_err = [], True, []
    amp = math.sqrt(Q_STAR / 20.0)
    for th0 in starts:
        r = run_gd(obj, th0, ETA2, steps, keep_path=True)
        bounded &= not r.diverged
        q = _q(r.path)
        entered = np.nonzero(q <= C_STAR)[0]
        max_q_after_entry.append(float(np.max(q[entered[0]:])) if len(entered) else math.inf)
        cycle_err.append(float(max(abs(abs(r.path[-1, 0]) - amp), abs(r.path[-1, 1]))))
    stays = all(m <= C_STAR * (1 + 1e-12) for m in max_q_after_entry)
    on_cycle = max(cycle_err) < 1e-6
    ok = invariant and bounded and stays
    return {"prediction": f"S = {{20 theta_1^2 + theta_2^2 <= c*}}, c* = (41/39)^2 arccosh(sqrt(40/39)) = {C_STAR:.6f}, "
                          f"is forward-invariant; GD ends on the 2-cycle theta_1 = +-sqrt(q*/20) = +-{amp:.6f}, "
                          "theta_2 = 0",
            "measurement": f"F applied to {len(pts)} points sampled in S; GD ({steps} steps) from {n_starts} seeded "
                           "starts with q <= 3",
            "tolerance": "max q(F(theta))/c* <= 1 on the samples; no start diverges; q <= c* after entering S",
            "verdict": "confirmed" if ok else "refuted", "passed": bool(ok and on_cycle),
            "numbers": {"q_star": Q_STAR, "c_star": C_STAR, "cycle_amplitude": amp, "max_qF_over_cstar": ratio,
                        "samples": len(pts), "starts": n_starts, "steps": steps, "all_bounded": bool(bounded),
                        "max_q_after_entry": max(max_q_after_entry), "max_cycle_error": max(cycle_err)},
            "notes": "Forward invariance of S is also a two-line proof: for q <= q* the theta_1 multiplier "
                     "1 - 40 eta sech^2 q lies in [-41/39, 1) and the theta_2 one in (0, 1), so q(F) <= (41/39)^2 q* "
                     "= c*; for q* < q both multipliers have modulus < 1, so q(F) < q. The quadratic at the same "
                     "eta diverges (uc-example1-fact1)."}


# -- Example 3 ------------------------------------------------------------------------------
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


# -- Example 4 ------------------------------------------------------------------------------
@case("uc-example4-smoothness",
      claim="On a quadratic with eta = 2/lambda_max, GD oscillates and L(theta_t; eta grad f) -> 2/eta",
      source=f"{SOURCE}, Example 4, (3)")
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
    ok = err < 1e-12 and gap < 1e-8 and rp_err < 1e-12
    return {"prediction": "L_t = (40^3 + 8 (0.9)^(2t)) / (40^2 + 4 (0.9)^(2t)) -> 40 = 2/eta; RP = -1 + (eta/2) L_t exactly",
            "measurement": f"{steps} GD steps from (1, 1) at eta = 2/40",
            "tolerance": "relative error of L_t vs the closed form < 1e-12; |L_T - 2/eta| < 1e-8",
            "verdict": "confirmed" if ok else "refuted", "passed": bool(ok),
            "numbers": {"eta": eta, "L_first": float(L[0]), "L_last": float(L[-1]), "closed_form_max_rel_error": err,
                        "gap_last": gap, "rp_last": float(rp[-1]), "rp_vs_rhs5_max_error": rp_err},
            "notes": "theta_1 flips sign each step (1 - 40 eta = -1) while theta_2 decays by 0.9, so the gradient turns "
                     "into the top eigenvector and the Rayleigh quotient tends to lambda_max = 2/eta; RP tends to 0."}


# -- edge of stability ----------------------------------------------------------------------
def _eos_settings(quick: bool) -> dict:
    if quick:
        return {"steps": 1500, "runs": [("tanh", 0.3), ("tanh", 0.05), ("relu", 0.3), ("relu", 0.02)],
                "every": 50, "sgd_epochs": 4}
    return {"steps": 3000, "runs": [("tanh", 0.3), ("tanh", 0.2), ("tanh", 0.05), ("relu", 0.3), ("relu", 0.2),
                                    ("relu", 0.02)], "every": 25, "sgd_epochs": 8}


QUAD_TOL = {"tanh": 1e-6, "relu": 2e-2}


def eos_problem(activation: str, n: int = 64, width: int = 32) -> NetworkObjective:
    """MLP 2-width-width-2 on 2-class spirals (n points), MSE on one-hot targets, float64."""
    xp = get_namespace("numpy")
    d = spirals(n, classes=2, seed=0, xp=xp)
    return NetworkObjective(mlp([2, width, width, 2], activation), d.X, d.Y, "mse")


def eos_run(activation: str, eta: float, steps: int, every: int, sgd_epochs: int = 4) -> dict:
    """One full-batch GD run with every diagnostic; statistics over the second half of the run."""
    obj = eos_problem(activation)
    th0 = obj.initial(0)
    s0 = sharpness(obj, th0).value
    order = 4 if activation == "tanh" else 16  # ReLU: kinks along the segment, slower quadrature convergence
    recs = [RPRecorder(), SmoothnessRecorder(), SharpnessRecorder(every=every),
            Theorem2Recorder(every=every, order=order)]
    r = run_gd(obj, th0, eta, steps, recs)
    rp = r.record("rp")["rp"]
    L = r.record("smoothness")
    sh = r.record("sharpness")
    t2 = r.record("theorem2")
    h = len(rp) // 2
    tail = slice(h, None)
    sh_tail = sh["sharpness"][sh["step"] >= h]
    rp_at = rp[t2["step"]]
    e4 = np.abs(rp_at - t2["rhs4"])
    e5 = np.abs(rp - L["rhs5"])
    bg = network_batch_gradient(obj)
    sgd = sgd_relative_progress(obj, bg, r.theta, eta, minibatches(obj.n_samples, 16, seed=1, epochs=sgd_epochs),
                                order=order)
    two = 2.0 / eta
    return {
        "activation": activation, "eta": eta, "quadrature_order": order, "two_over_eta": two, "parameters": obj.size, "steps": r.steps_done,
        "diverged": bool(r.diverged), "loss_first": float(r.losses[0]), "loss_last": float(r.losses[-1]),
        "sharpness_initial": s0, "sharpness_max": float(np.max(sh["sharpness"])),
        "sharpness_tail_median_ratio": float(np.median(sh_tail) / two),
        "sharpness_tail_range_ratio": [float(np.min(sh_tail) / two), float(np.max(sh_tail) / two)],
        "rp_tail_median": float(np.nanmedian(rp[tail])), "rp_tail_mean": float(np.nanmean(rp[tail])),
        "rp_tail_q10_q90": [float(np.nanquantile(rp[tail], 0.1)), float(np.nanquantile(rp[tail], 0.9))],
        "L_tail_median_ratio": float(np.nanmedian(L["L"][tail]) / two),
        "eq4_max_abs_error": float(np.nanmax(e4)), "eq5_tail_median_abs_error": float(np.nanmedian(e5[tail])),
        "eq5_tail_max_abs_error": float(np.nanmax(e5[tail])),
        "loss_monotone_tail": bool(np.all(np.diff(r.losses[h:]) <= 0)),
        "sgd": sgd.to_dict(), "sgd_eq6_abs_error": abs(sgd.expected_rp.value - sgd.rhs6.value),
        "sgd_exact_abs_error": abs(sgd.expected_rp.value - sgd.rhs6_exact.value),
        "trace": {"sharpness_step": sh["step"].tolist(), "sharpness": sh["sharpness"].tolist(),
                  "rp": rp[::every].tolist(), "L": L["L"][::every].tolist(), "step": list(range(0, len(rp), every)),
                  "loss": r.losses[::every].tolist()},
    }


def eos_figure(runs: list[dict]) -> Any:
    """Full-batch GD at the edge of stability, one row per (activation, η): sharpness beside 2/η,
    the relative progress RP (Def. 1) and the directional smoothness L over 2/η.

    ``runs`` are the ``numbers["runs"]`` of ``uc-edge-of-stability``. Points outside an axis are
    marked with ▲/▼ at its edge. Returns the ``Figure``.
    """
    from ..plots import WIDTH, mark_clipped

    plt = _plt()
    fig, axes = plt.subplots(len(runs), 3, figsize=(WIDTH, 0.9 + 1.75 * len(runs)), squeeze=False,
                             sharex=True, layout="constrained")
    for ax, r in zip(axes, runs):
        tr = r["trace"]
        ax[0].plot(tr["sharpness_step"], tr["sharpness"], label="sharpness λ_max")
        ax[0].axhline(r["two_over_eta"], color="k", ls="--", lw=0.8, label="2/η")
        ax[0].set_ylabel(f"{r['activation']}, η = {r['eta']:g}")
        ax[1].plot(tr["step"], tr["rp"], ".", ms=2, color="tab:green")
        ax[1].set_ylim(-1.5, 1.0)
        mark_clipped(ax[1], tr["step"], tr["rp"], label="RP off the axis", color="tab:green")
        ratio = np.asarray(tr["L"]) / r["two_over_eta"]
        ax[2].plot(tr["step"], ratio, ".", ms=2, color="tab:purple")
        ax[2].axhline(1.0, color="k", ls="--", lw=0.8)
        ax[2].set_ylim(-0.5, 1.5)
        mark_clipped(ax[2], tr["step"], ratio, label="L/(2/η) off the axis", color="tab:purple")
    axes[0][0].set_title("sharpness and 2/η")
    axes[0][1].set_title("RP(θₜ) (Def. 1)")
    axes[0][2].set_title("L(θₜ; η∇f) / (2/η)")
    for a in axes[-1]:
        a.set_xlabel("GD step")
    handles, labels = [], []
    for row in axes:
        for ax in row:
            for h_, l_ in zip(*ax.get_legend_handles_labels()):
                key = l_.split(" (")[0]
                if key not in [x.split(" (")[0] for x in labels]:
                    handles.append(h_)
                    labels.append(l_.split(" (")[0])
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False)
    return fig


def _eos_figure(ctx: Context, runs: list[dict]) -> None:
    ctx.save_figure(eos_figure(runs), "uc_edge_of_stability.png", caption=(
        "Full-batch gradient descent on the MLP, one row per activation and step size η. Left: sharpness "
        "(largest Hessian eigenvalue) and the threshold 2/η (dashed). Middle: relative progress RP (Def. 1; "
        "0 means no progress, -1 the stable limit). Right: directional smoothness L(θ; η∇f) over 2/η. ▲/▼ "
        "mark values outside an axis."))


@case("uc-edge-of-stability",
      claim="Full-batch GD on neural networks: sharpness rises to and hovers near 2/eta; RP oscillates near 0 in the "
            "unstable regime and stays near -1 in the stable one; L(theta; eta grad f) saturates near 2/eta; (5) and "
            "(6) hold",
      source=f"{SOURCE}, Sections 4-5, Theorem 2 (4), (5), (6), Remark 6, Experiments 3-8")
def edge_of_stability(ctx: Context) -> dict:
    st = _eos_settings(ctx.quick)
    runs = [eos_run(a, e, st["steps"], st["every"], st["sgd_epochs"]) for a, e in st["runs"]]
    claims, checks, approx = [], [], []
    for r in runs:
        unstable = r["sharpness_max"] >= 0.9 * r["two_over_eta"]
        r["regime"] = "unstable" if unstable else "stable"
        if unstable:
            c = {"sharpness_hovers": 0.9 <= r["sharpness_tail_median_ratio"] <= 1.1,
                 "rp_near_0": abs(r["rp_tail_median"]) <= 0.1,
                 "L_near_2_over_eta": 0.9 <= r["L_tail_median_ratio"] <= 1.1}
        else:
            c = {"sharpness_below": r["sharpness_max"] < r["two_over_eta"],
                 "rp_near_minus_1": r["rp_tail_median"] <= -0.9}
        a = {"eq5": r["eq5_tail_median_abs_error"] <= 0.05,
             "eq6": r["sgd_eq6_abs_error"] <= 0.1 * max(1.0, abs(r["sgd"]["expected_rp"]))}
        qtol = QUAD_TOL[r["activation"]]
        k = {"eq4_quadrature": r["eq4_max_abs_error"] <= qtol,
             "eq6_exact_quadrature": r["sgd_exact_abs_error"] <= qtol * max(1.0, abs(r["sgd"]["expected_rp"])),
             "epoch_mean_gradient": r["sgd"]["mean_g_error"] <= 1e-12}
        r["claims"] = {key: bool(v) for key, v in {**c, **a}.items()}
        r["checks"] = {key: bool(v) for key, v in k.items()}
        claims.append(all(v for key, v in c.items() if key.startswith("sharpness")))
        approx.append(all(a.values()) and all(c.values()))
        checks.append(all(k.values()))
    has_both = {r["regime"] for r in runs} == {"stable", "unstable"}
    missed = [f"{r['activation']} eta={r['eta']:g}: " + ", ".join(k for k, v in r["claims"].items() if not v)
              for r, a in zip(runs, approx) if not a]
    _eos_figure(ctx, runs)
    ok = all(claims) and has_both
    verdict = ("confirmed" if all(approx) else "refined") if ok else "refuted"
    numbers = {"settings": {k: v for k, v in st.items()}, "problem": "MLP 2-32-32-2 on spirals(64, 2 classes, seed 0), "
               "MSE, LeCun-normal init seed 0", "runs": runs}
    table = {"title": "Edge of stability: statistics over the second half of each run",
             "columns": ["act", "eta", "2/eta", "regime", "sharp0", "sharp tail med/(2/eta)", "RP tail median",
                         "L tail med/(2/eta)", "max|RP-(4)|", "med|RP-(5)|", "E[RP]", "RHS (6)", "frac decrease",
                         "loss first->last"],
             "rows": [[r["activation"], r["eta"], r["two_over_eta"], r["regime"], r["sharpness_initial"],
                       r["sharpness_tail_median_ratio"], r["rp_tail_median"], r["L_tail_median_ratio"],
                       r["eq4_max_abs_error"], r["eq5_tail_median_abs_error"], r["sgd"]["expected_rp"],
                       r["sgd"]["rhs6"], r["sgd"]["fraction_decrease"], f"{r['loss_first']:.3g}->{r['loss_last']:.3g}"]
                      for r in runs]}
    return {"prediction": "unstable eta: sharpness/(2/eta) ~ 1, RP ~ 0, L/(2/eta) ~ 1; stable eta: RP ~ -1; "
                          "(4) exact, (5) and (6) approximate",
            "measurement": "full-batch GD, RP and L every step, sharpness and (4) by 4-node Gauss-Legendre every "
                           f"{st['every']} steps; SGD E[RP] at the last iterate over {st['sgd_epochs']} seeded epochs "
                           "of batch 16",
            "tolerance": "sharpness and L medians within 10% of 2/eta; |RP median| <= 0.1 (unstable), <= -0.9 "
                         "(stable); |RP-(4)| <= 1e-6; median |RP-(5)| <= 0.05; |E[RP]-(6)| <= 0.1 max(1,|E[RP]|)",
            "verdict": verdict, "passed": bool(all(checks) and has_both),
            "numbers": {**numbers, "approximations_missed": missed}, "tables": [table],
            "notes": "Statistics are over the second half of each run. The (6) comparison is at the last iterate; "
                     "its exact form (appendix C) is computed by quadrature beside it (rhs6_exact) and must agree "
                     "to quadrature accuracy (the case's own check, with (4)); tanh is smooth (4 nodes, 1e-6), "
                     "ReLU has kinks along the segment (16 nodes, 2e-2). Verdict: refuted if the sharpness claims fail (rise to and hover "
                     "at 2/eta when unstable, stay below when stable); refined if they hold but RP/L/(5)/(6) miss "
                     "their tolerance on some run: " + ("; ".join(missed) if missed else "none missed") + "."}


# -- Theorem 1 / Proposition 1 / Corollary 1 --------------------------------------------------
def _segment_sharpness(obj: SympyObjective, a: np.ndarray, b: np.ndarray, points: int = 17) -> float:
    """max λ_max(∇²f) over ``points`` equispaced points of the segment [a, b] (a lower bound on the sup)."""
    best = -math.inf
    for s in np.linspace(0.0, 1.0, points):
        H = np.asarray(obj.hessian(a + s * (b - a)))
        best = max(best, float(np.linalg.eigvalsh(H)[-1]))
    return best


@case("uc-theorem1",
      claim="GD does not converge to stationary points sharper than 2/eta (Theorem 1); a persistent gradient forces "
            "the gradient-weighted sharpness above (2/eta)(1 - eps) (Proposition 1); (2/eta)(RP + 1) <= L_t "
            "(Corollary 1)",
      source=f"{SOURCE}, Theorem 1, Proposition 1, Corollary 1")
def theorem1(ctx: Context) -> dict:
    obj = SympyObjective(tanh_quadratic())
    eta = ETA2
    n_starts, steps, K = (16, 1500, 200) if ctx.quick else (64, 4000, 400)
    lam0 = float(np.linalg.eigvalsh(np.asarray(obj.hessian(np.zeros(2))))[-1])
    starts = _ellipse_samples(n_starts, 3.0, 7)
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
    ok = conv == 0 and prop_ok
    return {"prediction": f"the only stationary point 0 has sharpness {lam0:g} > 2/eta = 39: no start converges to it",
            "measurement": f"{n_starts} seeded starts with q <= 3, {steps} GD steps; tail of K = {K} steps; L_t = "
                           "max sharpness at 17 points of each segment",
            "tolerance": "max |grad f| over the tail > 1e-6 for every start; Prop. 1's inequality with eps = "
                         "1.01 f(theta_0)/(eta K delta); Corollary 1 checked at every tail step",
            "verdict": "confirmed" if ok and cor_viol == 0 else "refuted", "passed": bool(ok and cor_viol == 0),
            "numbers": {"eta": eta, "sharpness_at_0": lam0, "starts": n_starts, "steps": steps, "K": K,
                        "converged_to_stationary": conv, "prop1_holds_all": bool(prop_ok),
                        "corollary1_violations": cor_viol,
                        "min_tail_distance_to_0": min(r["min_dist_to_0_tail"] for r in rows),
                        "min_weighted_sharpness": min(r["weighted_sharpness"] for r in rows), "rows": rows},
            "notes": "Example 2 at eta = 2/39 is the toy: its only stationary point in reach is theta = 0 (the far "
                     "plateau where sech^2 underflows is excluded by starting at q <= 3; S of uc-example2-invariant "
                     "is forward-invariant). The iterates settle on the 2-cycle |theta_1| = sqrt(q*/20). The sampled "
                     "L_t is a lower bound on the segment sup, so Corollary 1 is checked conservatively."}

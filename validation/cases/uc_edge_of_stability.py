"""A case of the fourth paper (Ahn, Zhang, Sra, "Understanding the unstable convergence of GD").

* ``uc-edge-of-stability`` — full-batch GD on small tanh and ReLU MLPs (spirals, MSE):
  sharpness rises to and hovers at 2/η; RP ≈ 0 and L(θ; η∇f) ≈ 2/η in the unstable
  regime, RP ≈ −1 in the stable one; (4), (5) and (6) compared along the run.

Setting, and what the cases of this topic share: :mod:`workbench.validation.shared.unstable_convergence`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from workbench.solvers.dynamics.diagnostics import (RPRecorder, SharpnessRecorder, SmoothnessRecorder, Theorem2Recorder, minibatches,
                                 network_batch_gradient, run_gd, sgd_relative_progress)
from workbench.solvers.linalg.hessian import sharpness

from workbench.validation.plots import pyplot as _plt
from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict
from workbench.validation.shared.unstable_convergence import SOURCE, eos_problem


def _eos_settings(quick: bool) -> dict:
    if quick:
        return {"steps": 1500, "runs": [("tanh", 0.3), ("tanh", 0.05), ("relu", 0.3), ("relu", 0.02)],
                "every": 50, "sgd_epochs": 4}
    return {"steps": 3000, "runs": [("tanh", 0.3), ("tanh", 0.2), ("tanh", 0.05), ("relu", 0.3), ("relu", 0.2),
                                    ("relu", 0.02)], "every": 25, "sgd_epochs": 8}


QUAD_TOL = {"tanh": 1e-6, "relu": 2e-2}


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
    from workbench.validation.plots import WIDTH, mark_clipped

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
def figures(numbers: dict) -> list[tuple]:
    """The case's figure, from its ``numbers`` alone: (file name, Figure, caption)."""
    return [_eos_figure(numbers["runs"])]




def _eos_figure(runs: list[dict]) -> tuple:
    return ("uc_edge_of_stability.png", eos_figure(runs), (
        "Full-batch gradient descent on the MLP, one row per activation and step size η. Left: sharpness "
        "(largest Hessian eigenvalue) and the threshold 2/η (dashed). Middle: relative progress RP (Def. 1; "
        "0 means no progress, -1 the stable limit). Right: directional smoothness L(θ; η∇f) over 2/η. ▲/▼ "
        "mark values outside an axis."))


RULE = ("inconclusive if a self-check fails on some run ((4) and the exact form of (6) to quadrature accuracy, the "
        "epoch mean gradient = grad f) or the step sizes do not cover both regimes; refuted if a sharpness claim "
        "fails (unstable: tail median within 10 % of 2/eta; stable: below 2/eta); confirmed if also RP (|median| <= "
        "0.1 unstable, <= -0.9 stable), L (within 10 % of 2/eta), (5) (median error <= 0.05) and (6) (<= 0.1 "
        "max(1, |E[RP]|)) hold on every run; refined otherwise")


def judge(numbers: dict) -> Verdict:
    """Verdict of §4-5, Theorem 2 and Remark 6 of the fourth paper (Ahn, Zhang, Sra) from the GD runs.

    Parameters
    ----------
    numbers : dict
        ``runs``: per run ``regime`` (``stable``/``unstable``), ``checks`` and ``claims`` (name -> bool; the
        sharpness claims are named ``sharpness_*``).
    """
    runs = numbers["runs"]
    if not all(all(r["checks"].values()) for r in runs):
        return Verdict("inconclusive", RULE, "a quadrature or mean-gradient self-check failed")
    if {r["regime"] for r in runs} != {"stable", "unstable"}:
        return Verdict("inconclusive", RULE, "the step sizes do not cover both regimes")
    missed = [f"{r.get('activation', '?')} eta={r.get('eta', float('nan')):g}: " +
              ", ".join(k for k, v in r["claims"].items() if not v) for r in runs if not all(r["claims"].values())]
    if not all(v for r in runs for k, v in r["claims"].items() if k.startswith("sharpness")):
        return Verdict("refuted", RULE, "sharpness claims fail: " + "; ".join(missed))
    if not missed:
        return Verdict("confirmed", RULE, "every claim holds on every run")
    return Verdict("refined", RULE, "sharpness claims hold; missed: " + "; ".join(missed))


@case("uc-edge-of-stability",
      claim="Full-batch GD on neural networks: sharpness rises to and hovers near 2/eta; RP oscillates near 0 in the "
            "unstable regime and stays near -1 in the stable one; L(theta; eta grad f) saturates near 2/eta; (5) and "
            "(6) hold",
      source=f"{SOURCE}, Sections 4-5, Theorem 2 (4), (5), (6), Remark 6, Experiments 3-8", paper=4,
      where='§4-5, Theorem 2, eqs. (4)-(6), Remark 6, Experiments 3-8')
def edge_of_stability(ctx: Context) -> dict:
    st = _eos_settings(ctx.quick)
    runs = [eos_run(a, e, st["steps"], st["every"], st["sgd_epochs"]) for a, e in st["runs"]]
    approx = []
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
        approx.append(all(a.values()) and all(c.values()))
    missed = [f"{r['activation']} eta={r['eta']:g}: " + ", ".join(k for k, v in r["claims"].items() if not v)
              for r, a in zip(runs, approx) if not a]
    ctx.save_figures(figures({"runs": runs}))
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
            **judge({"runs": runs}).fields(),
            "numbers": {**numbers, "approximations_missed": missed}, "tables": [table],
            "notes": "Statistics are over the second half of each run. The (6) comparison is at the last iterate; "
                     "its exact form (appendix C) is computed by quadrature beside it (rhs6_exact) and must agree "
                     "to quadrature accuracy (the case's own check, with (4)); tanh is smooth (4 nodes, 1e-6), "
                     "ReLU has kinks along the segment (16 nodes, 2e-2). Verdict: refuted if the sharpness claims fail (rise to and hover "
                     "at 2/eta when unstable, stay below when stable); refined if they hold but RP/L/(5)/(6) miss "
                     "their tolerance on some run: " + ("; ".join(missed) if missed else "none missed") + "."}

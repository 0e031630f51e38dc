"""Expected relative progress along SGD training (4th paper, §5: Definition 3, (6), Remark 6).

* ``uc-sgd-expected-rp`` — a tanh MLP 2-32-32-2 on spirals(64) (the problem of
  ``uc-edge-of-stability``) trained by seeded mini-batch SGD (batch 16, random
  reshuffling) at small, edge-of-stability and divergent step sizes. Every k steps, at the
  SGD iterate θₜ: E[RP(θₜ)] (Def. 3) over fresh seeded reshuffles, the RHS of (6), its
  exact form (appendix C, Gauss–Legendre), the fraction of mini-batches whose step
  decreases the full loss (Remark 6), the gradient noise ratio E‖g − ∇f‖²/‖∇f‖², and the
  full-batch RP(θₜ) (Def. 1) and sharpness for comparison.

Claims checked: the exact form of (6) is an identity (the case's own check: it must agree
with E[RP] to quadrature/rounding accuracy at every record); (6) is a good approximation
("the LHS and RHS of (6) are very similar", Experiment 8); in the unstable regime E[RP]
does not stay below 0 and is positive for a majority of iterations (Experiment 7,
Remark 6); about 60% of mini-batches decrease the loss even when E[RP] > 0 (Remark 6).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from workbench.solvers.dynamics.diagnostics import SharpnessRecorder
from workbench.solvers.linalg.hessian import sharpness
from workbench.solvers.dynamics.sgd_diagnostics import ExpectedRPRecorder, FullBatchRPRecorder, run_sgd

from workbench.validation.plots import pyplot
from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict, mean_interval
from workbench.validation.shared.unstable_convergence import eos_problem

SOURCE = "Ahn, Zhang, Sra (4th paper)"

#: Quadrature nodes for the exact form of (6) and its tolerance (tanh is analytic along the segment).
ORDER = 6
EXACT_TOL = 1e-6
#: (6) as an approximation: median |E[RP] - RHS(6)| over the run, relative to max(1, |E[RP]|).
EQ6_TOL = 0.05
#: Remark 6's "about 60%" of mini-batches that decrease the loss.
REMARK6_FRACTION = 0.6


def _settings(quick: bool) -> dict:
    if quick:
        return {"epochs": 60, "etas": [0.02, 0.3, 1.0], "every": 12, "expectation_epochs": 2, "batch_size": 16}
    return {"epochs": 300, "etas": [0.02, 0.05, 0.2, 0.3, 0.5, 1.0], "every": 20, "expectation_epochs": 4,
            "batch_size": 16}


def _med(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else math.nan


def sgd_run(eta: float, st: dict) -> dict:
    """One seeded SGD run with the expected-RP, full-batch RP and sharpness recorders; JSON-ready summary."""
    obj = eos_problem("tanh")
    th0 = obj.initial(0)
    k = st["every"]
    recs = [ExpectedRPRecorder(k, epochs=st["expectation_epochs"], order=ORDER, seed=1), FullBatchRPRecorder(k),
            SharpnessRecorder(k)]
    r = run_sgd(obj, th0, eta, st["batch_size"], st["epochs"], recs, seed=0)
    e, fr, sh = r.record("expected_rp"), r.record("full_rp"), r.record("sharpness")
    two = 2.0 / eta
    n = len(e["step"])
    tail = slice(n // 2, None)
    erp = e["expected_rp"]
    pos = np.isfinite(erp) & (erp > 0)
    scale = np.maximum(1.0, np.abs(erp))
    exact_rel = np.abs(e["exact_error"]) / scale
    eq6_rel = np.abs(e["eq6_error"]) / scale
    sharp_max = float(np.nanmax(sh["sharpness"])) if n else math.nan
    regime = "divergent" if r.diverged else ("unstable" if sharp_max >= 0.9 * two else "stable")
    return {
        "eta": eta, "two_over_eta": two, "regime": regime, "steps": r.steps_done, "diverged": bool(r.diverged),
        "divergence": r.divergence, "reason": r.reason, "records": n,
        "loss_first": float(r.losses[0]), "loss_last": float(r.losses[-1]),
        "sharpness_initial": float(sharpness(obj, th0).value), "sharpness_max_ratio": sharp_max / two,
        "sharpness_tail_median_ratio": _med(sh["sharpness"][tail]) / two,
        "expected_rp_tail_median": _med(erp[tail]),
        "expected_rp_tail_fraction_positive": float(np.mean(erp[tail] > 0)) if n else math.nan,
        "rhs6_tail_median": _med(e["rhs6"][tail]),
        "rhs6_exact_tail_median": _med(e["rhs6_exact"][tail]),
        "exact_max_rel_error": float(np.nanmax(exact_rel)) if n else math.nan,
        "eq6_median_rel_error": _med(eq6_rel), "eq6_max_rel_error": float(np.nanmax(eq6_rel)) if n else math.nan,
        "mean_g_max_error": float(np.nanmax(e["mean_g_error"])) if n else math.nan,
        "fraction_decrease_tail_mean": float(np.nanmean(e["fraction_decrease"][tail])) if n else math.nan,
        "fraction_decrease_when_erp_positive": float(np.mean(e["fraction_decrease"][pos])) if pos.any() else math.nan,
        "fraction_decrease_when_erp_positive_interval":
            list(mean_interval(e["fraction_decrease"][pos])) if pos.sum() >= 2 else [None, None],
        "noise_ratio_tail_median": _med(e["noise_ratio"][tail]),
        "full_rp_tail_median": _med(fr["rp"][tail]),
        "full_L_tail_median_ratio": _med(fr["L"][tail]) / two,
        "trace": {"step": e["step"].tolist(), "expected_rp": erp.tolist(), "rhs6": e["rhs6"].tolist(),
                  "rhs6_exact": e["rhs6_exact"].tolist(), "fraction_decrease": e["fraction_decrease"].tolist(),
                  "noise_ratio": e["noise_ratio"].tolist(), "full_rp": fr["rp"].tolist(),
                  "sharpness": sh["sharpness"].tolist(), "loss_step": r.loss_steps[::k].tolist(),
                  "loss": r.losses[::k].tolist()},
    }


def expected_rp_figure(runs: list[dict]) -> Any:
    """E[RP] beside RHS (6) and the full-batch RP, the fraction of decreasing mini-batches and the
    sharpness over 2/η, one column per step size η; None when no run has two records.

    ``runs`` are the ``numbers["runs"]`` entries of ``uc-sgd-expected-rp``. Values outside the
    E[RP] axis are marked with ▲/▼ at its edge.
    """
    from workbench.validation.plots import WIDTH, mark_clipped

    plt = pyplot()
    shown = [r for r in runs if r["records"] > 1]
    if not shown:
        return None
    fig, axes = plt.subplots(3, len(shown), figsize=(WIDTH, 6.6), squeeze=False, sharex="col",
                             layout="constrained")
    for j, r in enumerate(shown):
        tr = r["trace"]
        a0, a1, a2 = axes[0][j], axes[1][j], axes[2][j]
        a0.plot(tr["step"], tr["expected_rp"], "o", ms=3, label="E[RP] (Def. 3)")
        a0.plot(tr["step"], tr["rhs6"], "-", lw=1, label="RHS of (6)")
        a0.plot(tr["step"], tr["full_rp"], ".", ms=2, label="full-batch RP")
        a0.axhline(0.0, color="k", lw=0.6)
        a0.set_ylim(-1.5, 3.0)
        mark_clipped(a0, tr["step"], tr["expected_rp"], label="E[RP] off the axis", color="tab:blue")
        a0.set_title(f"η = {r['eta']:g} ({r['regime']})")
        a1.plot(tr["step"], tr["fraction_decrease"], ".", ms=3, color="tab:purple")
        a1.axhline(REMARK6_FRACTION, color="k", ls="--", lw=0.8)
        a1.set_ylim(-0.02, 1.02)
        a2.plot(tr["step"], np.asarray(tr["sharpness"]) / r["two_over_eta"], ".", ms=3, color="tab:red")
        a2.axhline(1.0, color="k", ls="--", lw=0.8)
        a2.set_xlabel("SGD step")
    axes[0][0].set_ylabel("relative progress")
    axes[1][0].set_ylabel("fraction of batches\ndecreasing f")
    axes[2][0].set_ylabel("sharpness / (2/η)")
    handles, labels = [], []
    for ax in axes[0]:
        for h_, l_ in zip(*ax.get_legend_handles_labels()):
            if l_ not in labels:
                handles.append(h_)
                labels.append(l_)
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False)
    return fig


def figures(numbers: dict) -> list[tuple]:
    """The case's figure (none when no run has two records), from its ``numbers`` alone."""
    fig = expected_rp_figure(numbers["runs"])
    if fig is None:
        return []
    return [("uc_sgd_expected_rp.png", fig, (
            "SGD (batch 16) on the tanh MLP, one column per step size η. Top: expected relative progress "
            "E[RP] (Def. 3) beside the right-hand side of (6) and the full-batch RP; ▲/▼ mark values outside "
            "the axis. Middle: fraction of mini-batches that decrease f (dashed: Remark 6's 60%). Bottom: "
            "sharpness along the path over the stability threshold 2/η (dashed: 1)."))]


RULE = ("inconclusive if a self-check fails (exact form of (6) to quadrature accuracy at every record and the epoch "
        "mean gradient = grad f; divergent runs classified; >= 2 finite runs); not reproduced if no step size reaches "
        "the unstable regime; refuted if (6) misses E[RP] (median relative error), E[RP] stays below 0 in the "
        "unstable regime, or the 95 % interval of the fraction of decreasing mini-batches when E[RP] > 0 lies below "
        f"0.2; confirmed if every such interval reaches {REMARK6_FRACTION} +- 0.1 (Remark 6) and E[RP] < 0 at the "
        "stable step sizes; refined otherwise")


def judge(numbers: dict) -> Verdict:
    """Verdict of §5, Def. 3, (6) and Remark 6 of the fourth paper (Ahn, Zhang, Sra) from the SGD runs.

    Parameters
    ----------
    numbers : dict
        ``self_checks`` (name -> bool), ``unstable_runs`` (count), ``claims`` (``eq6_approximation``,
        ``unstable_erp_not_below_0``, ``stable_erp_below_0``: bool) and ``remark6``: per unstable run ``eta``,
        ``mean``, ``half_width`` of the fraction of decreasing mini-batches when E[RP] > 0.
    """
    bad = [k for k, ok in numbers["self_checks"].items() if not ok]
    if bad:
        return Verdict("inconclusive", RULE, "self-check failed: " + ", ".join(bad))
    if not numbers["unstable_runs"]:
        return Verdict("not reproduced", RULE, "no step size reached the unstable regime")
    c, r6 = numbers["claims"], numbers["remark6"]
    txt = "; ".join(f"eta={x['eta']:g}: " + ("no interval" if x["mean"] is None else
                                              f"{x['mean']:.2f} +- {x['half_width']:.2f}") for x in r6)
    r6 = [x for x in r6 if x["mean"] is not None]
    few = [x for x in numbers["remark6"] if x["mean"] is None or x["mean"] + x["half_width"] < 0.2]  # no interval: few
    if not c["eq6_approximation"] or not c["unstable_erp_not_below_0"] or few:
        return Verdict("refuted", RULE, f"(6) approximates: {c['eq6_approximation']}; E[RP] not below 0 when "
                                        f"unstable: {c['unstable_erp_not_below_0']}; decreasing fractions {txt}")
    about = all(abs(x["mean"] - REMARK6_FRACTION) - x["half_width"] <= 0.1 for x in r6)
    if about and c["stable_erp_below_0"]:
        return Verdict("confirmed", RULE, "decreasing fractions " + txt)
    return Verdict("refined", RULE, f"decreasing fractions {txt}; E[RP] < 0 at stable step sizes: "
                                    f"{c['stable_erp_below_0']}")


@case("uc-sgd-expected-rp",
      claim="SGD: the exact form of (6) is an identity and (6) approximates E[RP] well; in the unstable regime E[RP] "
            "does not stay below 0 (positive for most iterations), while about 60% of mini-batches still decrease "
            "the loss (Remark 6)",
      source=f"{SOURCE}, Section 5, Definition 3, (6), Remark 6, Experiments 7-8, appendix C", paper=4,
      where='§5, Def. 3, eq. (6), Remark 6, appendix C')
def sgd_expected_rp(ctx: Context) -> dict:
    st = _settings(ctx.quick)
    runs = [sgd_run(eta, st) for eta in st["etas"]]
    live = [r for r in runs if not r["diverged"]]
    unstable = [r for r in live if r["regime"] == "unstable"]
    stable = [r for r in live if r["regime"] == "stable"]
    # the case's own check: identity (6) exact form to quadrature accuracy, epoch mean gradient = grad f
    exact_ok = bool(live) and all(r["exact_max_rel_error"] <= EXACT_TOL and r["mean_g_max_error"] <= 1e-12
                                  for r in live)
    div_ok = all(r["divergence"] in ("nonfinite-iterate", "nonfinite-loss", "blowup") for r in runs if r["diverged"])
    remark6 = [{"eta": r["eta"], "mean": r["fraction_decrease_when_erp_positive_interval"][0],
                "half_width": r["fraction_decrease_when_erp_positive_interval"][1]} for r in unstable]
    claims = {
        "eq6_approximation": bool(live) and all(r["eq6_median_rel_error"] <= EQ6_TOL for r in live),
        "unstable_erp_not_below_0": bool(unstable) and all(
            r["expected_rp_tail_fraction_positive"] >= 0.5 and abs(r["expected_rp_tail_median"]) <= 0.2
            for r in unstable),
        "remark6_some_batches_decrease": bool(unstable) and all(
            r["fraction_decrease_when_erp_positive"] > 0.2 for r in unstable),
        "remark6_about_60_percent": bool(unstable) and all(
            abs(r["fraction_decrease_when_erp_positive"] - REMARK6_FRACTION) <= 0.1 for r in unstable),
        "stable_erp_below_0": bool(stable) and all(r["expected_rp_tail_median"] < 0 for r in stable),
    }
    judged = judge({"self_checks": {"exact form of (6) to quadrature accuracy, epoch mean gradient = grad f": exact_ok,
                                    "divergent runs stop with a classified reason": bool(div_ok),
                                    "at least two runs stay finite": len(live) >= 2},
                    "unstable_runs": len(unstable), "claims": claims, "remark6": remark6})
    ctx.save_figures(figures({"runs": runs}))
    corrections = []
    if not claims["stable_erp_below_0"] and stable:
        corrections.append(
            "E[RP] > 0 is not specific to the unstable regime: at the stable step sizes (sharpness far below 2/eta, "
            "full-batch RP ~ -1) E[RP] is positive too (tail medians " +
            ", ".join(f"eta={r['eta']:g}: {r['expected_rp_tail_median']:.3f}" for r in stable) +
            "), because the gradient noise E|g - grad f|^2/|grad f|^2 (tail medians " +
            ", ".join(f"{r['noise_ratio_tail_median']:.3g}" for r in stable) +
            ") weights the SGD term of (6); the full-batch RP, not E[RP], separates the regimes")
    if not claims["remark6_about_60_percent"] and unstable:
        corrections.append(
            "the fraction of decreasing mini-batches when E[RP] > 0 is " +
            ", ".join(f"{r['fraction_decrease_when_erp_positive']:.2f} (eta={r['eta']:g})" for r in unstable) +
            " here rather than about 0.6 (the paper's CIFAR-10 number); a sizeable minority, not a majority")
    table = {"title": "SGD (batch 16) on the tanh MLP: statistics over the second half of each run",
             "columns": ["eta", "regime", "steps", "sharp max/(2/eta)", "E[RP] tail med", "frac E[RP]>0",
                         "RHS(6) tail med", "med|E[RP]-(6)|", "max|E[RP]-exact|", "frac decrease (E[RP]>0)",
                         "noise ratio", "full RP tail med", "loss first->last"],
             "rows": [[r["eta"], r["regime"] + (f" ({r['divergence']})" if r["diverged"] else ""), r["steps"],
                       r["sharpness_max_ratio"], r["expected_rp_tail_median"],
                       r["expected_rp_tail_fraction_positive"], r["rhs6_tail_median"], r["eq6_median_rel_error"],
                       r["exact_max_rel_error"], r["fraction_decrease_when_erp_positive"],
                       r["noise_ratio_tail_median"], r["full_rp_tail_median"],
                       f"{r['loss_first']:.3g}->{r['loss_last']:.3g}"] for r in runs]}
    return {"prediction": "E[RP] = exact form of (6) (identity); E[RP] ~ RHS(6); unstable eta: E[RP] near 0 and > 0 "
                          "for most records; ~60% of mini-batches decrease f when E[RP] > 0",
            "measurement": f"SGD, batch {st['batch_size']}, {st['epochs']} epochs from the seeded LeCun init, "
                           f"eta in {st['etas']}; every {st['every']} steps E[RP] over {st['expectation_epochs']} "
                           f"fresh seeded reshuffles, (6), its exact form ({ORDER}-node Gauss-Legendre), the "
                           "fraction of decreasing batches, full-batch RP and sharpness",
            "tolerance": f"exact form: |E[RP] - exact| <= {EXACT_TOL:g} max(1,|E[RP]|) at every record; (6): median "
                         f"relative error <= {EQ6_TOL}; unstable: >= 50% of tail records E[RP] > 0 and |median| <= "
                         "0.2; Remark 6: fraction within 0.1 of 0.6",
            **judged.fields(),
            "numbers": {"remark6": remark6, "settings": st, "quadrature_order": ORDER, "exact_tolerance": EXACT_TOL,
                        "problem": "MLP 2-32-32-2 tanh on spirals(64, 2 classes, seed 0), MSE, LeCun-normal init "
                                   "seed 0; training batches seed 0, expectation batches seed 1 + 7919 (t + 1)",
                        "claims": claims, "identity_check": exact_ok, "divergence_classified": div_ok,
                        "runs": runs},
            "tables": [table],
            "notes": "Regime per step size from the full-batch sharpness along the SGD path (unstable: max >= 0.9 "
                     "x 2/eta, as in uc-edge-of-stability); divergent runs stop with a classified reason and are "
                     "left out of the statistics. The expectation of Def. 3 is the mean over the batches of "
                     "fresh reshuffles, so the batch gradients average to grad f exactly and the exact form of (6) "
                     "holds to quadrature accuracy. ReLU networks are left out (kinks along the segment make the "
                     "quadrature check loose; see uc-edge-of-stability). Corrections: " +
                     ("; ".join(corrections) if corrections else "none") + "."}

"""A case of the first paper (Sun et al. 2022): floating-point sensitivity and restrained instabilities.

* ``cnn-precision-amplification`` — the same sweep in float32 and float64.

Setting, and what the cases of this topic share: :mod:`workbench.validation.shared.restrained`.
"""
from __future__ import annotations

import math

import numpy as np


from workbench.validation.plots import pyplot as _plt
from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict
from workbench.validation.shared.restrained import ALPHA, machine_eps, restrained_settings, restrained_sweep, sweep_rows


def figures(numbers: dict) -> list[tuple]:
    """The case's figure, from its ``numbers`` alone: (file name, Figure, caption)."""
    rows = {p: numbers[f"rows_{p}"] for p in ("float32", "float64")}
    pred_ratio = numbers["predicted_time_ratio"]
    plt = _plt()
    from workbench.validation.plots import mark_nonfinite

    fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.6), layout="constrained")
    lr_v = [x["lr"] for x in rows["float64"]]
    for p, mk in (("float32", "o-"), ("float64", "s-")):
        axes[0].semilogy(lr_v, [x["max_rel_l1"] or np.nan for x in rows[p]], mk, label=p)
        axes[0].axhline(machine_eps(p), ls=":", lw=0.8, color="tab:blue" if p == "float32" else "tab:orange")
    axes[0].axvline(2.0 / ALPHA, color="k", ls="--", lw=0.8)
    axes[0].set_xlabel("learning rate η (dashed: 2/α)")
    axes[0].set_ylabel("max relative L1, k=3 vs k=1")
    axes[0].set_title("divergence (dotted: machine ε)")
    axes[0].legend()
    t32 = [r["first_above_1e-3"] if r["first_above_1e-3"] > 0 else np.nan for r in rows["float32"]]
    t64 = [r["first_above_1e-3"] if r["first_above_1e-3"] > 0 else np.nan for r in rows["float64"]]
    axes[1].plot(lr_v, t32, "o", label="float32")
    axes[1].plot(lr_v, t64, "s", label="float64")
    mark_nonfinite(axes[1], lr_v, [t if not (np.isnan(t32[i]) and np.isnan(t64[i])) else np.nan
                                   for i, t in enumerate(t32)], label="never above 1e-3")
    axes[1].set_xlabel("learning rate η")
    axes[1].set_ylabel("first iteration with rel. L1 > 1e-3")
    axes[1].set_title("separation time")
    axes[1].legend(fontsize=8)
    from workbench.validation.plots import integer_axis
    integer_axis(axes[1], "y")
    return [("cnn_precision_amplification.png", fig, (
        "The learning-rate sweep of cnn-restrained-instabilities in float32 and float64. Left: largest relative "
        "L1 distance between the k=3 and k=1 runs (dotted: machine ε of each precision; dashed: 2/α). Right: "
        "first iteration at which the runs differ by 1e-3, the separation time; × on the top edge marks "
        f"learning rates where neither precision separates. Predicted ratio t32/t64 = {pred_ratio:.2f}."))]


RULE = ("inconclusive if a self-check fails (every run took its planned steps; in each precision the k = 3 and k = 1 "
        "runs differ at some learning rate, so the perturbation perturbs); "
        "confirmed if the regimes (separated or not) agree at all but two learning rates and the median separation "
        "time ratio t32/t64 is within a factor 2 of log(1e-3/eps32)/log(1e-3/eps64); refined if one of the two holds; "
        "refuted if neither")


def judge(numbers: dict) -> Verdict:
    """Verdict of the precision claim of the first paper (Sun et al. 2022, §3-5) from the sweep's numbers.

    Parameters
    ----------
    numbers : dict
        ``self_checks`` (name -> bool), ``regimes_agree``, ``learning_rates``, ``median_time_ratio``
        (None when no rate separates in both precisions) and ``predicted_time_ratio``.
    """
    bad = [k for k, ok in numbers["self_checks"].items() if not ok]
    if bad:
        return Verdict("inconclusive", RULE, "self-check failed: " + ", ".join(bad))
    agree = numbers["regimes_agree"] >= numbers["learning_rates"] - 2
    med, pred = numbers["median_time_ratio"], numbers["predicted_time_ratio"]
    ratio_ok = med is not None and 0.5 * pred <= med <= 2.0 * pred
    why = (f"regimes agree at {numbers['regimes_agree']} of {numbers['learning_rates']} rates; median t32/t64 "
           f"{med if med is None else round(med, 3)} vs predicted {pred:.3f}")
    if agree and ratio_ok:
        return Verdict("confirmed", RULE, why)
    if agree or ratio_ok:
        return Verdict("refined", RULE, why)
    return Verdict("refuted", RULE, why)


@case(
    "cnn-precision-amplification",
    claim="The perturbation is a last-bit rounding difference that the dynamics amplify: the same sweep in float32 "
          "and float64 shows the same regimes, with amplified runs separating after a time proportional to log(1/eps)",
    source="Sun et al. 2022, main text sections 3-5 (finite-precision errors amplified when the CFL condition "
           "fails); the Fig. 4 setting in both precisions",
    paper=1, where="§3-5, Fig. 4 setting in float32 and float64",
)
def cnn_precision_amplification(ctx: Context) -> dict:
    st = restrained_settings(ctx.quick)
    runs = {p: restrained_sweep(ctx.quick, p, diagnostics=False) for p in ("float32", "float64")}
    rows = {p: sweep_rows(runs[p], p) for p in runs}
    e32, e64 = machine_eps("float32"), machine_eps("float64")
    target = 1e-3
    pred_ratio = math.log(target / e32) / math.log(target / e64)
    table, ratios, rounding_ratio, same_class = [], [], [], 0
    for a, c in zip(rows["float32"], rows["float64"]):
        t32, t64 = a["first_above_1e-3"], c["first_above_1e-3"]
        ratio = t32 / t64 if t32 > 0 and t64 > 0 else None
        if ratio is not None and a["lr"] != 1.0 / ALPHA:
            ratios.append(ratio)
        if a["class"] == "rounding" and c["class"] == "rounding":
            rounding_ratio.append(((a["max_rel_l1"] or 0) / e32, (c["max_rel_l1"] or 0) / e64))
        same_class += int((a["class"] == "separated") == (c["class"] == "separated"))
        table.append([a["lr"], a["max_rel_l1"], c["max_rel_l1"], (a["max_rel_l1"] or 0) / e32,
                      (c["max_rel_l1"] or 0) / e64, a["class"], c["class"], t32, t64, ratio])
    med = float(np.median(ratios)) if ratios else None
    ctx.save_figures(figures({"predicted_time_ratio": pred_ratio, "rows_float32": rows["float32"],
                              "rows_float64": rows["float64"]}))
    self_checks = {
        "every run took its planned steps": bool(all(r.steps == st["steps"] for r in runs.values())),
        "k = 3 and k = 1 differ at some rate in each precision":
            bool(all(any((x["max_rel_l1"] or 0) > 0 for x in rows[p]) for p in rows)),
    }
    judged = judge({"self_checks": self_checks, "regimes_agree": same_class, "learning_rates": len(table),
                    "median_time_ratio": med, "predicted_time_ratio": pred_ratio})
    return {
        "prediction": f"same regimes in both precisions; separation time ratio t32/t64 ~ log(1e-3/eps32)/log(1e-3/eps64) "
                      f"= {pred_ratio:.3f}; rounding-level runs stay at O(10-1000) eps",
        "measurement": f"the lr sweep of cnn-restrained-instabilities (checkerboard:{st['n']}, w={st['w']}, "
                       f"{st['steps']} iterations) in float32 and float64",
        "tolerance": "regimes (separated or not) agree for all but two learning rates; median ratio within a factor 2",
        **judged.fields(),
        "numbers": {"self_checks": self_checks, "eps_float32": e32, "eps_float64": e64, "predicted_time_ratio": pred_ratio,
                    "median_time_ratio": med, "time_ratios": ratios, "regimes_agree": same_class,
                    "learning_rates": len(table), "rounding_level_in_units_of_eps": rounding_ratio,
                    "rows_float32": rows["float32"], "rows_float64": rows["float64"]},
        "tables": [{
            "title": "float32 vs float64 (k=3 vs k=1)",
            "columns": ["lr", "max rel L1 f32", "max rel L1 f64", "/eps f32", "/eps f64", "class f32", "class f64",
                        "first iter >1e-3 f32", "first iter >1e-3 f64", "t32/t64"],
            "rows": table,
        }],
        "notes": (
            f"Separation (rel L1 from ~eps to 1e-3) takes a time ~ log(1e-3/eps)/lambda for a growth rate lambda, so "
            f"float32 should separate after {pred_ratio:.2f} of the float64 time; the median measured ratio over the "
            f"learning rates where both separate is {med if med is None else f'{med:.3g}'} ({len(ratios)} learning "
            f"rates). Regimes (separated or not) agree at {same_class} of {len(table)} learning rates. Where both stay at "
            f"rounding level the divergence is a fixed multiple of eps (max rel L1 / eps, float32 vs float64: "
            f"{[(round(a, 1), round(b, 1)) for a, b in rounding_ratio]}): amplification by the dynamics, not by "
            f"the precision."
        ),
    }

"""A case of the first paper (Sun et al. 2022): floating-point sensitivity and restrained instabilities.

* ``cnn-perturbation-spread`` — the k × seed table of the final loss (Tables 2–3 analogue).

Setting, and what the cases of this topic share: :mod:`workbench.validation.shared.restrained`.
"""
from __future__ import annotations

import math

import numpy as np

from workbench.solvers.cnn.perturbation import run_perturbed

from workbench.validation.plots import pyplot as _plt
from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict, mean_interval
from workbench.validation.shared.restrained import ALPHA, checkerboard_operator, restrained_settings


#: "comparable": the spread over k at least this fraction of the spread over seeds
COMPARABLE = 0.3
RULE = ("inconclusive if a final loss is not finite; per learning rate, effect = log10(STD over k of one seed / mean "
        f"STD over seeds), 95 % interval over the seeds, against log10({COMPARABLE}): confirmed if every interval "
        "lies above it, refuted if every interval lies below it, refined if each lies on one side but not all on the "
        "same (comparable at some learning rates only), not reproduced otherwise (no significant difference)")


def judge(numbers: dict) -> Verdict:
    """Verdict of appendix C, Tables 3-4, of the first paper (Sun et al. 2022) from the spread ratios.

    Parameters
    ----------
    numbers : dict
        ``all_finite`` and ``effects``: per learning rate ``mean`` and ``half_width`` of the log10 ratio.
    """
    if not numbers["all_finite"]:
        return Verdict("inconclusive", RULE, "a final loss is not finite")
    ref = math.log10(COMPARABLE)
    side = {lr: (1 if e["mean"] - e["half_width"] > ref else -1 if e["mean"] + e["half_width"] < ref else 0)
            for lr, e in numbers["effects"].items()}
    why = "; ".join(f"lr={lr}: {e['mean']:+.2f} +- {e['half_width']:.2f} (vs {ref:+.2f})"
                    for lr, e in numbers["effects"].items())
    if all(s == 1 for s in side.values()):
        return Verdict("confirmed", RULE, why)
    if all(s == -1 for s in side.values()):
        return Verdict("refuted", RULE, why)
    if all(s != 0 for s in side.values()):
        return Verdict("refined", RULE, why)
    return Verdict("not reproduced", RULE, why)


def figures(numbers: dict) -> list[tuple]:
    """The case's figure, from its ``numbers`` alone: (file name, Figure, caption)."""
    ks, seeds, per_lr = numbers["ks"], numbers["seeds"], numbers["by_lr"]
    plt = _plt()
    fig, axes = plt.subplots(1, len(per_lr), figsize=(7.0, 3.4), layout="constrained")
    axes = np.atleast_1d(axes)
    for ax, (lr, d) in zip(axes, per_lr.items()):
        L = np.array(d["final_loss"])
        for ik, k in enumerate(ks):
            ax.semilogy(np.arange(len(seeds)) + 1 + 0.06 * (ik - 2.5), L[ik], "o", ms=4, label=f"k = {k}")
        ax.set_xlabel("seed")
        ax.set_xticks(range(1, len(seeds) + 1))
        ax.set_title(f"η = {lr}")
    axes[0].set_ylabel(f"final loss after {numbers['steps']} iterations")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=len(ks), frameon=False)
    return [("cnn_perturbation_spread.png", fig, (
        "Final loss of each (seed, k) run, one panel per learning rate η: the seeds change the initial kernel, "
        "k only the rounding of each step. Points of one seed spread over k as much as (or more than) the "
        "seeds spread."))]


@case(
    "cnn-perturbation-spread",
    claim="The spread of the final result caused by last-bit perturbations (different k) is comparable to "
          "the spread caused by different random seeds",
    source="Sun et al. 2022, appendix C, Tables 3-4 (k = 1,3,5,7,9,11 x 6 seeds; STD over k vs STD over seeds)", paper=1,
      where='appendix C, Tables 3-4')
def cnn_perturbation_spread(ctx: Context) -> dict:
    st = restrained_settings(ctx.quick)
    ks = (1, 3, 5, 7, 9, 11)
    seeds = st["seeds"]
    prec = "float32"  # the precision the paper's networks train in
    op = checkerboard_operator(st, prec)
    r = run_perturbed(op, st["spread_lrs"], ks, ALPHA, seeds, steps=st["steps"], histories=False)
    tables, per_lr = [], {}
    for il, lr in enumerate(r.lrs):
        L = np.array([[r.final_loss[r.index(il, ik, 0, isd)] for isd in range(len(seeds))] for ik in range(len(ks))])
        logL = np.log10(np.maximum(L, 1e-300))
        std_over_seeds = L.std(axis=1, ddof=1)  # per k (a row of the paper's table)
        std_over_k = L.std(axis=0, ddof=1)  # per seed (a column)
        lstd_seeds = logL.std(axis=1, ddof=1).mean()
        lstd_k = logL.std(axis=0, ddof=1).mean()
        seed_spread = float(std_over_seeds.mean())
        floor = 1e-16 * seed_spread + 1e-300  # a bit-identical spread over k: far below any rounding level
        log_ratio = [math.log10(max(float(x), floor) / seed_spread) if seed_spread > 0 else 0.0 for x in std_over_k]
        lr_mean, lr_hw = mean_interval(log_ratio)
        per_lr[f"{lr:g}"] = {
            "log10_ratio_per_seed": log_ratio, "log10_ratio_mean": lr_mean, "log10_ratio_half_width": lr_hw,
            "final_loss": L.tolist(), "std_over_seeds_per_k": std_over_seeds.tolist(),
            "std_over_k_per_seed": std_over_k.tolist(), "mean_std_over_seeds": float(std_over_seeds.mean()),
            "mean_std_over_k": float(std_over_k.mean()),
            "ratio_k_to_seed": float(std_over_k.mean() / std_over_seeds.mean()) if std_over_seeds.mean() > 0 else None,
            "mean_std_log10_over_seeds": float(lstd_seeds), "mean_std_log10_over_k": float(lstd_k),
            "diverged_members": int(sum(r.diverged[r.index(il, ik, 0, isd)] for ik in range(len(ks))
                                        for isd in range(len(seeds)))),
        }
        rows = [[f"k = {k}"] + L[ik].tolist() + [float(std_over_seeds[ik])] for ik, k in enumerate(ks)]
        rows.append(["STD over k"] + std_over_k.tolist() + [float(std_over_k.mean())])
        tables.append({"title": f"Table 3 analogue: final loss, lr={lr:g} ({prec}); rows k, columns seeds",
                       "columns": ["k"] + [f"seed {s}" for s in seeds] + ["STD over seeds"], "rows": rows})
    ctx.save_figures(figures({"ks": list(ks), "seeds": list(seeds), "steps": st["steps"], "by_lr": per_lr}))
    ratios = {lr: d["ratio_k_to_seed"] for lr, d in per_lr.items()}
    comparable = {lr: (x is not None and x >= COMPARABLE) for lr, x in ratios.items()}
    judged = judge({"all_finite": bool(np.all(np.isfinite(r.final_loss))),
                    "effects": {lr: {"mean": d["log10_ratio_mean"], "half_width": d["log10_ratio_half_width"]}
                                for lr, d in per_lr.items()}})
    return {
        "prediction": "STD over k (floating-point perturbation) comparable to or larger than STD over seeds",
        "measurement": f"final loss after {st['steps']} iterations, k x seed grid, checkerboard:{st['n']}, w={st['w']}, "
                       f"alpha={ALPHA:g}, {prec}, lr in {list(st['spread_lrs'])}",
        "tolerance": f"comparable: STD over k >= {COMPARABLE} x mean STD over seeds (95 % interval over seeds)",
        **judged.fields(),
        "numbers": {"steps": st["steps"], "ks": list(ks), "seeds": list(seeds), "dtype": prec, "by_lr": per_lr, "ratio_k_to_seed": ratios},
        "tables": tables,
        "notes": (
            "Seeds change the initial kernel (the only randomness of full-batch gradient descent on one image). "
            + "; ".join(f"lr={lr}: mean STD over k {d['mean_std_over_k']:.3g} vs over seeds {d['mean_std_over_seeds']:.3g} "
                        f"(ratio {d['ratio_k_to_seed'] if d['ratio_k_to_seed'] is None else round(d['ratio_k_to_seed'], 3)}; "
                        f"log10-loss STDs {d['mean_std_log10_over_k']:.3g} vs {d['mean_std_log10_over_seeds']:.3g})"
                        for lr, d in per_lr.items())
            + ". "
            + " ".join(f"lr={lr}: {'comparable' if comparable[lr] else 'not comparable'} "
                       f"(k-spread/seed-spread {ratios[lr] if ratios[lr] is None else round(ratios[lr], 3)})."
                       for lr in per_lr)
            + " Where rounding differences are attenuated for every seed, the spread over k collapses to rounding "
              "level; where a seed's run is restrained (amplifying), k scatters the final loss as much as the seed."
        ),
    }

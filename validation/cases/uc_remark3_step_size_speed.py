"""A case of the fourth paper (Ahn, Zhang, Sra): larger step sizes train faster, until they diverge.

* ``uc-remark3-step-size-speed`` — §4.1.2, Remark 3 (after Experiment 3): in the unstable regime
  "the training seems to get faster as we choose larger step sizes", "however, that does not mean
  one can increase the step size too large": in the paper's experiment (CIFAR-10, Cohen et al.'s
  network) the training loss diverges at η = 2/8.

Setting: full-batch GD on the tanh MLP 2-16-16-2 with MSE on 64 two-class spiral points
(:func:`workbench.validation.shared.unstable_convergence.eos_problem`, 354 parameters), seeded
initialisations, step sizes η = 2/s on a grid of s; speed = the first step at which the loss is at
or below a threshold (a run that does not reach it within the budget counts as budget + 1);
divergence is :func:`workbench.solvers.dynamics.dal.run`'s criterion (|E| > 1e6·max(1, |E₀|) or
a non-finite value).
"""
from __future__ import annotations

import math

import numpy as np

from workbench.solvers.dynamics import dal as dalmod
from workbench.solvers.linalg.hessian import sharpness

from workbench.validation.plots import figure
from workbench.validation.registry import Context, case
from workbench.validation.shared.unstable_convergence import eos_problem
from workbench.validation.verdict import Verdict, kendall_tau, mean_interval

RULE = ("per seed: Kendall tau between eta and steps-to-threshold over the step sizes that did not diverge "
        "(-1: every larger step is faster); mean and 95% t-interval over seeds. Inconclusive if the loss "
        "recomputed at a run's last finite iterate differs from the recorded one by > 1e-10 (relative); not "
        "reproduced if some seed has no diverging step size in the grid or fewer than 3 converging ones, or if "
        "the interval contains 0; refuted if the interval lies above 0; confirmed if it lies below 0 and in every "
        "seed the largest converging step is the fastest; refined if it lies below 0 but in some seed a smaller "
        "step is strictly faster than the largest converging one (the speed-up stops before divergence)")


def measure(quick: bool) -> dict:
    """GD per seed and step size: steps to the loss threshold, divergence."""
    inv = (20, 10, 5, 3, 2, 1.4) if quick else (40, 20, 10, 6, 4, 3, 2.5, 2, 1.4, 1)
    seeds = range(3) if quick else range(6)
    budget, threshold = (250, 0.2) if quick else (1000, 0.1)
    obj = eos_problem("tanh", n=64, width=16)
    runs = []
    for seed in seeds:
        th0 = obj.initial(seed)
        for s in inv:
            r = dalmod.run(obj, th0, dalmod.fixed(2.0 / s), budget, record_hvp=False, keep_path=True)
            L = np.asarray(r.losses, dtype=float)
            hit = np.nonzero(L <= threshold)[0]
            reached = bool(hit.size and not r.diverged)
            # the regime GD is in when it reaches the threshold: eta * lambda0 there (> 2: unstable)
            eta_lam = (2.0 / s) * float(sharpness(obj, obj.xp.asarray(r.path[int(hit[0])])).value) if reached else None
            runs.append({"seed": seed, "s": s, "eta": 2.0 / s, "status": r.status,
                         "steps_to_threshold": int(hit[0]) if reached else None, "eta_lambda0_at_threshold": eta_lam,
                         "steps_done": r.steps_done, "last_finite_loss": r.last_finite_loss,
                         "recomputed_loss": float(obj.value(r.theta)),
                         "loss": [float(v) if math.isfinite(v) else None for v in L[:: max(1, budget // 100)]]})
    return {"parameters": obj.size, "budget": budget, "threshold": threshold, "grid_s": list(inv),
            "seeds": len(seeds), "runs": runs}


def judge(numbers: dict) -> Verdict:
    """The rule in :data:`RULE`."""
    worst = max(abs(r["recomputed_loss"] - r["last_finite_loss"]) / max(abs(r["last_finite_loss"]), 1e-300)
                for r in numbers["runs"])
    if not worst <= 1e-10:
        return Verdict("inconclusive", RULE, f"recomputed loss differs by {worst:.2g}")
    budget = numbers["budget"]
    taus, saturated, first_div, problems = [], [], [], []
    for seed in sorted({r["seed"] for r in numbers["runs"]}):
        rs = sorted((r for r in numbers["runs"] if r["seed"] == seed), key=lambda r: r["eta"])
        ok = [r for r in rs if r["status"] != "diverged"]
        div = [r for r in rs if r["status"] == "diverged"]
        if not div or len(ok) < 3:
            problems.append(f"seed {seed}: {len(div)} diverging, {len(ok)} converging step sizes")
            continue
        first_div.append(min(r["eta"] for r in div))
        steps = [budget + 1 if r["steps_to_threshold"] is None else r["steps_to_threshold"] for r in ok]
        taus.append(kendall_tau([r["eta"] for r in ok], steps))
        if min(steps) < steps[-1]:
            saturated.append(f"seed {seed}: eta = {ok[steps.index(min(steps))]['eta']:.3g} needs {min(steps)} steps, "
                             f"the largest converging eta = {ok[-1]['eta']:.3g} needs {steps[-1]}")
    if problems or len(taus) < 2:
        return Verdict("not reproduced", RULE, "; ".join(problems) or "fewer than 2 seeds")
    m, hw = mean_interval(taus)
    txt = (f"Kendall tau(eta, steps to loss <= {numbers['threshold']}) = {m:.3f} +- {hw:.3f} over {len(taus)} seeds; "
           f"smallest diverging eta per seed: {', '.join(f'{e:.3g}' for e in first_div)} (paper: 2/8 = 0.25 on its "
           "network)")
    el = [r.get("eta_lambda0_at_threshold") for r in numbers["runs"]]
    el = [x for x in el if x is not None]
    if el:
        txt += f"; eta lambda0 where runs reach the threshold: {min(el):.2f} ... {max(el):.2f} (> 2: unstable regime)"
    if m - hw > 0:
        return Verdict("refuted", RULE, txt + ": larger steps are slower")
    if m + hw >= 0:
        return Verdict("not reproduced", RULE, txt + ": no significant trend")
    if saturated:
        return Verdict("refined", RULE, txt + "; the speed-up stops before divergence: " + "; ".join(saturated))
    return Verdict("confirmed", RULE, txt)


def figures(numbers: dict) -> list:
    """Steps to the threshold against η per seed, diverging step sizes marked."""
    fig, ax = figure(1, 1, height=3.0)
    b = numbers["budget"]
    for seed in sorted({r["seed"] for r in numbers["runs"]}):
        rs = sorted((r for r in numbers["runs"] if r["seed"] == seed), key=lambda r: r["eta"])
        ok = [r for r in rs if r["status"] != "diverged"]
        ax.plot([r["eta"] for r in ok], [b + 1 if r["steps_to_threshold"] is None else r["steps_to_threshold"]
                                         for r in ok], "o-", ms=3, lw=1, color=f"C{seed}", label=f"seed {seed}")
        dv = [r["eta"] for r in rs if r["status"] == "diverged"]
        ax.plot(dv, [b * 1.1] * len(dv), "x", color=f"C{seed}")
    ax.set_xscale("log")
    ax.set_xlabel("step size eta")
    ax.set_ylabel(f"steps to loss <= {numbers['threshold']} (x: diverged)")
    ax.legend(fontsize=8)
    ax.set_title("Remark 3: larger steps train faster until they diverge")
    return [("uc_remark3_step_size_speed.png", fig, "Full-batch GD on the spiral MLP: steps needed to reach the loss "
             "threshold per step size (budget + 1 = not reached), diverging step sizes marked x above.")]


@case("uc-remark3-step-size-speed",
      claim="In the unstable regime larger step sizes train faster, until the step size is so large that training "
            "diverges (eta = 2/8 in the paper's experiment)",
      source="Ahn, Zhang, Sra (4th paper), §4.1.2, Remark 3 (Experiment 3)", paper=4, where="§4.1.2, Remark 3")
def uc_remark3_step_size_speed(ctx: Context) -> dict:
    numbers = measure(ctx.quick)
    v = judge(numbers)
    for name, fig, caption in figures(numbers):
        ctx.save_figure(fig, name, caption)
    rows = [[r["seed"], r["eta"], r["status"], r["steps_to_threshold"], r["eta_lambda0_at_threshold"],
             r["steps_done"], r["last_finite_loss"]] for r in numbers["runs"]]
    return {
        "prediction": "steps to a loss threshold decrease with eta over the converging step sizes; beyond some eta "
                      "training diverges",
        "measurement": f"tanh MLP 2-16-16-2 ({numbers['parameters']} parameters), MSE, 64 spiral points, "
                       f"{numbers['seeds']} seeds, eta = 2/s for s in {numbers['grid_s']}, {numbers['budget']} steps, "
                       f"threshold {numbers['threshold']}",
        "tolerance": "95% t-interval of Kendall's tau over seeds",
        **v.fields(),
        "numbers": numbers,
        "tables": [{"title": "GD runs", "columns": ["seed", "eta", "status", "steps to threshold",
                                                     "eta lambda0 at threshold", "steps done", "last finite loss"],
                    "rows": rows}],
        "notes": "Setting differs from the paper's (CIFAR-10, Cohen et al.'s network, divergence at eta = 2/8): a "
                 "354-parameter MLP on spirals, where the divergence step size is larger; the claim tested is the "
                 "ordering (faster until divergence), not the value 2/8. eta lambda0 where each run reaches the "
                 "threshold is in the table (> 2: the unstable regime of the remark); the quick threshold 0.2 is "
                 "reached early, mostly in the stable regime; the full threshold 0.1 later.",
    }

"""Case ``scheme-atlas``: every registered optimizer's exact region, checked two independent ways.

For each scheme of :mod:`workbench.derivations.schemes.registry` (gd, heavy ball, Nesterov, the first
paper's central differences, QHM, AggMo):

1. **root sampling**: 2000 random (hyperparameters, h = ηλ) points (500 in the quick run); the largest
   root modulus of p(ξ) = det(ξI − A + hBC) by ``numpy.roots`` against the exact
   interval (:func:`workbench.solvers.stepping.optimizers.h_interval`: closed form where SymPy reduced
   the Schur–Cohn conditions, else the roots of the Jury conditions); points within
   1e-9 of |ξ| = 1 are left out;
2. **simulation on the one-layer CNN**: the α bounds of the linearized CNN (first
   paper (20)/(41)) from the windowed spectrum and the exact region, against the
   bounds found by stepping the scheme (:func:`workbench.solvers.cnn.schemes.run_cnn`) and the
   unseeded scan-and-bisect, at two hyperparameter settings per scheme (the first, its defaults, in the
   quick run: the default test suite's own simulated-vs-exact checks draw random images and settings).

The regions the sources state are checked too: heavy ball 0 < h < 2(1+μ) (Polyak),
Nesterov 0 < h < 2(1+μ)/(1+2μ) (first paper (42)-(44) through the analyzer).
"""
from __future__ import annotations

import math

import numpy as np

from workbench.derivations.schemes import registry as reg
from workbench.solvers.cnn.bounds import compute_bounds
from workbench.solvers.cnn.images import smooth
from workbench.solvers.stepping.optimizers import h_interval
from workbench.solvers.stepping.root_sampling import sample_region

from workbench.validation.region_figure import atlas_figure
from workbench.validation.plots import caption_of
from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict

#: two hyperparameter settings per scheme for the CNN simulations (the defaults first)
SETTINGS = {
    "gd": ({},),
    "heavy-ball": ({"mu": 0.9}, {"mu": 0.5}),
    "nesterov": ({"mu": 0.9}, {"mu": 0.3}),
    "central-difference": ({"mu": 0.9}, {"mu": 0.0}),
    "qhm": ({"nu": 0.7, "beta": 0.9}, {"nu": 1.0, "beta": 0.5}),
    "aggmo": ({"K": 2, "base": 0.5}, {"K": 3, "base": 0.3}),
    "heavy-ball-dampened": ({"mu": 0.9, "dampening": 0.3}, {"mu": 0.5, "dampening": 0.0}),
    "nesterov-lookahead": ({"mu": 0.9}, {"mu": 0.3}),
    "adam": ({"beta1": 0.9}, {"beta1": 0.5}),
    "rmsprop": ({"mu": 0.0}, {"mu": 0.5}),
    # one Fourier mode of Algorithm 1 (second paper): M = γ − βκ = 0.5, and −0.7 (below −1/2, inside the CFL (11))
    "diffusion-nesterov": ({"gamma": 0.9, "beta": 0.1, "kappa": 4.0}, {"gamma": 0.5, "beta": 0.3, "kappa": 4.0}),
}
#: closed forms stated by the sources (written out here, not taken from the registry), checked at their settings
STATED = {
    "heavy-ball": lambda p: 2 * (1 + p["mu"]),                                   # Polyak 1964
    "nesterov": lambda p: 2 * (1 + p["mu"]) / (1 + 2 * p["mu"]),                 # first paper (45)
    "heavy-ball-dampened": lambda p: 2 * (1 + p["mu"]) / (1 - p["dampening"]),   # torch SGD(dampening=tau)
    "nesterov-lookahead": lambda p: 2 * (1 + p["mu"]) / (1 + 2 * p["mu"]),       # torch SGD(nesterov=True)
    "adam": lambda p: (2 + 2 * p["beta1"]) / (1 - p["beta1"]),                   # Cohen et al. 2022, frozen P
    "rmsprop": lambda p: 2 * (1 + p["mu"]),                                      # heavy ball in P^-1/2 coordinates
}


RULE = ("inconclusive if root sampling (eigenvalues of A - hBC, an independent computation) disagrees with the exact "
        "region at some point outside a 1e-9 band around |xi| = 1; confirmed if the simulated CNN alpha bounds of "
        "every scheme are within rtol of the exact ones and the region's upper end equals the closed form its source "
        "states (heavy ball 2(1+mu), Nesterov 2(1+mu)/(1+2mu), dampened heavy ball 2(1+mu)/(1-tau), Adam "
        "(2+2 beta1)/(1-beta1), RMSprop 2(1+mu)) to 1e-12; refuted otherwise")


def judge(numbers: dict) -> Verdict:
    """Verdict of the registry's exact regions (Polyak 1964; Sun et al. 2022 (37)-(44); QHM; AggMo).

    Parameters
    ----------
    numbers : dict
        ``disagreements`` (root sampling vs region), ``worst_simulated_rel``, ``rtol``, ``stated_error``.
    """
    if numbers["disagreements"]:
        return Verdict("inconclusive", RULE, f"{numbers['disagreements']} sampled points disagree with the region")
    why = (f"simulated vs exact alpha bounds within {numbers['worst_simulated_rel']:.2g} (rtol {numbers['rtol']:g}); "
           f"stated closed forms off by {numbers['stated_error']:.1e}")
    ok = numbers["worst_simulated_rel"] <= numbers["rtol"] and numbers["stated_error"] <= 1e-12
    return Verdict("confirmed" if ok else "refuted", RULE, why)


def figures(numbers: dict) -> list[tuple]:
    """The atlas of every registered scheme's exact region (drawn from the registry, seeded samples)."""
    fig = atlas_figure(reg.names(), n=600)
    return [("scheme_atlas.png", fig, caption_of(fig))]


@case(
    "scheme-atlas",
    claim="every registered optimizer's exact stability region in h = eta*lambda (Schur-Cohn/Jury on its "
          "state-space record) is where its iteration is stable: heavy ball 0 < h < 2(1+mu), Nesterov "
          "0 < h < 2(1+mu)/(1+2mu), and the region gives the one-layer CNN's alpha bounds for each scheme",
    source="Polyak 1964; Sun et al. 2022 appendix E eqs. (37)-(44); Ma & Yarats 2019 (QHM); Lucas et al. 2019 "
           "(AggMo); the workbench's registry (derivations/schemes/entries.py)", paper=0,
      where='registry (derivations/schemes/entries.py); first paper appendix E (37)-(44)')
def scheme_atlas(ctx: Context) -> dict:
    n_samples = 500 if ctx.quick else 2000
    n_img, w, steps, rtol = (16, 3, 2000, 1e-2) if ctx.quick else (24, 4, 3000, 2e-3)
    img = smooth(n_img, seed=0)
    rows, sim_rows = [], []
    worst_sim, disagreements, stated_err = 0.0, 0, 0.0
    for name in reg.names():
        s = sample_region(name, n_samples, seed=1)
        disagreements += s.disagreements
        region = h_interval(name)
        rows.append([name, int(s.kept.sum()), int((~s.kept).sum()), s.disagreements, region.closed_form,
                     region.upper])
        settings = SETTINGS.get(name, ({},))   # a newly registered scheme: its defaults
        for params in settings:
            if name in STATED:
                stated_err = max(stated_err, abs(h_interval(name, **params).upper - STATED[name](params)))
        for params in settings[:1] if ctx.quick else settings:
            probe = compute_bounds(img, w, lr=1.0, scheme=name, params=params, methods=("exact",))
            lr = 1.0 / probe["exact"]["mu_max"]          # z_hi = h_upper * mu_max: each scheme its own upper bound
            r = compute_bounds(img, w, lr=lr, scheme=name, params=params, methods=("exact", "simulated"), rtol=rtol,
                               steps=steps, seeded=False)
            ex, sim = r["exact"], r["simulated"]
            rel = max(abs(sim[f"alpha_{k}"] - ex[f"alpha_{k}"]) / abs(ex[f"alpha_{k}"]) for k in ("lower", "upper"))
            rel = rel if math.isfinite(rel) else math.inf
            worst_sim = max(worst_sim, rel)
            sim_rows.append([name, ", ".join(f"{k}={v:g}" for k, v in r["params"].items()) or "-", lr,
                             ex["alpha_lower"], sim["alpha_lower"], ex["alpha_upper"], sim["alpha_upper"], rel])
    ctx.save_figures(figures({}))
    return {
        "prediction": "root sampling and simulation agree with the exact region of every scheme; the closed forms "
                      "of heavy ball and Nesterov equal the stated ones",
        "measurement": f"{n_samples} sampled points per scheme: {disagreements} disagreements; CNN alpha bounds "
                       f"(smooth:{n_img}, w={w}, {steps} steps): largest relative gap simulated vs exact "
                       f"{worst_sim:.2e}; stated closed forms off by at most {stated_err:.1e}",
        "tolerance": f"0 disagreements outside a 1e-9 band around |xi| = 1; simulated within rtol = {rtol:g}; "
                     "stated forms to 1e-12",
        **judge({"disagreements": disagreements, "worst_simulated_rel": worst_sim, "rtol": rtol,
                 "stated_error": stated_err}).fields(),
        "numbers": {"rtol": rtol, "disagreements": disagreements, "worst_simulated_rel": worst_sim, "stated_error": stated_err,
                    "samples_per_scheme": n_samples},
        "tables": [
            {"title": "Exact region vs root sampling (h_upper at the default hyperparameters)",
             "columns": ["scheme", "points kept", "points in the 1e-9 band", "disagreements", "closed form",
                         "h_upper (default)"], "rows": rows},
            {"title": "Alpha bounds of the linearized one-layer CNN: exact (windowed spectrum + region) vs "
                      "simulated (stepping + unseeded bisection)",
             "columns": ["scheme", "hyperparameters", "lr", "exact lower", "simulated lower", "exact upper",
                         "simulated upper", "largest rel. gap"], "rows": sim_rows},
        ],
        "notes": "Adding a scheme is one entry in derivations/schemes/entries.py; this case picks it up. "
                 "Regions without a closed form (QHM, AggMo) are found where a root crosses the unit circle: "
                 "p(xi) = a(xi) + h b(xi) is affine in h because BC has rank one, so the crossings are the real "
                 "h = -a/b at the unit-circle roots of a*rev(b) - rev(a)*b; root sampling uses the eigenvalues of "
                 "A - hBC instead (LAPACK), an independent computation. The simulated bounds here are unseeded "
                 "(scan and bisection) so that they do not start from the prediction.",
    }

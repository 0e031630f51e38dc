"""Shared by the cases of one topic (one module per case in :mod:`workbench.validation.cases`).

Cases on floating-point sensitivity and restrained instabilities of the one-layer CNN.

First paper (Sun et al. 2022), main text §4–5 (Fig. 4) and appendix B–C (Tables 2–3);
settings from ``../shared/papers/README.md``: 256×256 ±1 checkerboard, 32×32 kernel,
valid mode, α = 20, β = 1, b = 0, y = 1, 1000 iterations, learning rates 0.01 … 0.13
(2/α = 0.1), the perturbed copy with k = 3 against k = 1. The runs are
:func:`workbench.solvers.cnn.perturbation.run_perturbed` (one batch per precision).

Cases:

* ``cnn-power-of-two`` — k and k·2ⁿ give bit-identical runs; the groups differ.
* ``cnn-restrained-instabilities`` — the k = 3 vs k = 1 divergence against lr, with the
  local amplification factor ρ_n (spectral radius of I − lr·H) and the tangent growth.
* ``cnn-precision-amplification`` — the same sweep in float32 and float64.
* ``cnn-perturbation-spread`` — the k × seed table of the final loss (Tables 2–3 analogue).

Why 2/α matters on the checkerboard: every image patch is ±v, v(z) = (−1)^{z₁+z₂}, so
the loss depends on K only through ⟨K, v⟩. Orthogonal to v the step is exactly
K⊥ ← (1 − lr·α) K⊥: for lr > 2/α these components grow geometrically, an unrestrained
instability. Along v the Hessian is α + (data curvature), which is huge while the
sigmoid is not saturated; that direction is where restrained instabilities live.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from workbench.solvers.core.backend import get_namespace
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.cnn.images import checkerboard
from workbench.solvers.cnn.perturbation import run_perturbed


ALPHA = 20.0
PAPER_LRS = tuple(round(0.01 * i, 2) for i in range(1, 14))  # 0.01 … 0.13
EXTRA_LRS = (0.0025, 0.005)  # below the paper's range: where the iterates converge


def restrained_settings(quick: bool) -> dict:
    """Board size, kernel, steps, learning rates and seeds (a 32×32 board and 8×8 kernel in quick mode)."""
    if quick:  # same structure, a 32×32 board and 8×8 kernel: seconds
        return {"n": 32, "w": 8, "steps": 300, "spectral_every": 1, "spread_lrs": (0.01, 0.07),
                "seeds": (1, 2, 3, 4, 5, 6), "power_lr": 0.07}
    return {"n": 256, "w": 32, "steps": 1000, "spectral_every": 4, "spread_lrs": (0.01, 0.07),
            "seeds": (1, 2, 3, 4, 5, 6), "power_lr": 0.07}


def machine_eps(prec: str) -> float:
    """Machine epsilon of ``prec`` (``'float32'`` or ``'float64'``)."""
    return float(np.finfo(np.float32 if prec == "float32" else np.float64).eps)


def checkerboard_operator(st: dict, prec: str) -> CnnOperator:
    """The ±1 checkerboard CNN operator of the paper (valid mode) at the sizes of ``st``, in ``prec``."""
    xp = get_namespace("numpy")
    return CnnOperator(xp.asarray(checkerboard(st["n"]), dtype=getattr(xp, prec)), st["w"])


@lru_cache(maxsize=4)
def restrained_sweep(quick: bool, prec: str, diagnostics: bool = True):
    """The lr sweep, k ∈ {1, 3} (cached per process).

    With ``diagnostics`` it also carries ρ every few iterations and the tangent (about
    2.7 Hessian-vector products per step on top of the step); without, only the two
    trajectories and their summaries (distances, separation times, losses), which are
    the same numbers bit for bit: the diagnostics only read the iterates.
    """
    st = restrained_settings(quick)
    lrs = EXTRA_LRS + PAPER_LRS
    if not diagnostics:
        return run_perturbed(checkerboard_operator(st, prec), lrs, (1, 3), ALPHA, 0, steps=st["steps"],
                             histories=False)
    return run_perturbed(checkerboard_operator(st, prec), lrs, (1, 3), ALPHA, 0, steps=st["steps"],
                         spectral_every=st["spectral_every"], tangent=True)


def finite_or_none(x: float) -> float | None:
    """JSON-safe float (NaN/inf → None)."""
    x = float(x)
    return x if math.isfinite(x) else None


# --------------------------------------------------------------------------- restrained instabilities
def classify_separation(max_l1: float, eps: float) -> str:
    """How far the k = 3 run left the k = 1 run: ``rounding``, ``amplified``, ``separated`` or ``n/a``."""
    if not math.isfinite(max_l1):
        return "n/a"
    if max_l1 <= 1e3 * eps:
        return "rounding"
    return "separated" if max_l1 >= 0.1 else "amplified"


def sweep_rows(r, prec: str) -> list[dict]:
    """One row per learning rate of a sweep ``r``: statuses, losses, k = 3 vs k = 1 distances, predicted growth.

    The ρ and tangent columns are None for a sweep run without them (``diagnostics=False``).
    """
    eps = machine_eps(prec)
    nan = np.full(len(r.status), np.nan)
    amps = r.amplification if r.amplification is not None else nan
    cross = r.crossing_fraction if r.crossing_fraction is not None else nan
    mlr = r.mean_log_rho if r.mean_log_rho is not None else nan
    lyap = r.lyapunov if r.lyapunov is not None else nan
    rows = []
    for i, lr in enumerate(r.lrs):
        j1, j3 = r.index(i, 0), r.index(i, 1)
        amp = float(amps[j3])
        pred = (2.0 if amp > math.log(2.0 / eps) else eps * math.exp(amp)) if math.isfinite(amp) else math.nan
        rows.append({
            "lr": float(lr), "lr_alpha": float(lr * ALPHA), "status_k1": r.status[j1], "status_k3": r.status[j3],
            "final_loss_k1": finite_or_none(r.final_loss[j1]), "final_loss_k3": finite_or_none(r.final_loss[j3]),
            "max_rel_l1": finite_or_none(r.max_rel_l1[j3]), "final_rel_l1": finite_or_none(r.final_rel_l1[j3]),
            "max_rel_l2": finite_or_none(r.max_rel_l2[j3]), "first_above_1e-3": int(r.first_above[j3]),
            "class": classify_separation(float(r.max_rel_l1[j3]), eps),
            "crossing_fraction_k1": finite_or_none(cross[j1]),
            "crossing_fraction_k3": finite_or_none(cross[j3]),
            "mean_log_rho_k1": finite_or_none(mlr[j1]), "lyapunov_k1": finite_or_none(lyap[j1]),
            "tangent_amplification_k3": finite_or_none(amp), "predicted_rel_l1": finite_or_none(pred),
            "yhat_equal_fraction": finite_or_none(r.yhat_equal_fraction[j3]),
            "diverged_at_k1": int(r.diverged_at[j1]),
        })
    return rows

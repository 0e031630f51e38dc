"""A case of the fourth paper (Ahn, Zhang, Sra): no stationary point with scale-invariant weights and weight decay.

* ``uc-proposition2-weight-decay`` — §3.1, Proposition 2: if ℓ(θ) = (1/n)Σ f(xᵢ, θ) + γ‖θ‖² and a
  block ζ of θ = [ξ; ζ] is scale invariant (f(x, [ξ, cζ]) = f(x, [ξ, ζ]) for c > 0), then ℓ has no
  stationary point with ζ ≠ 0. The proof: ⟨∇_ζ f, ζ⟩ = 0, so ⟨∇_ζ ℓ, ζ⟩ = 2γ‖ζ‖² and
  ‖∇ℓ‖ ≥ ‖∇_ζ ℓ‖ ≥ 2γ‖ζ‖ > 0.

Setting: a one-hidden-unit "normalised" model f(x, [ξ, ζ]) = (y − ξ₁ tanh(ζᵀx/‖ζ‖) − ξ₀)² on 32
seeded points in ℝ³ (ζ ∈ ℝ³ is scale invariant, like a weight-normalised or batch-normalised
layer), γ = 0.01. Measured: the identity ⟨∇_ζ f, ζ⟩ = 0 at random θ; the ratio
‖∇ℓ‖/(2γ‖ζ‖) at every GD iterate and at the end of searches for a stationary point
(BFGS on ‖∇ℓ‖² from seeded starts). The paper proves the statement for networks (batch
normalisation); the model here is the smallest one with the property.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from workbench.solvers.stepping.divergence import DivergenceCriterion
from workbench.solvers.stepping.tracking import run_tracked

from workbench.validation.plots import figure
from workbench.validation.registry import Context, case
from workbench.validation.verdict import Verdict

GAMMA = 0.01
N_DATA, DIM = 32, 3
RULE = ("inconclusive if the model's analytic gradient differs from central finite differences by > 1e-6 "
        "(relative) at the test points, or the model is not scale invariant as the proof uses it: "
        "|<grad_zeta f, zeta>| > 1e-10 ||grad_zeta f|| ||zeta|| at a sample, or <grad_zeta l, zeta> differs from "
        "2 gamma ||zeta||^2 (the proof's identity, written out) by > 1e-6 (relative) at a search end point; "
        "confirmed if ||grad l|| >= 2 gamma ||zeta|| (1 - 1e-9) at every GD iterate and every end point of the "
        "stationary-point searches (so none is stationary with zeta != 0); refuted otherwise")


class NormalizedModel:
    """ℓ(θ) = (1/n)Σ (yᵢ − ξ₁ tanh(ζᵀxᵢ/‖ζ‖) − ξ₀)² + γ‖θ‖², θ = [ξ₀, ξ₁, ζ] (ζ scale invariant)."""

    def __init__(self, seed: int = 0, gamma: float = GAMMA) -> None:
        rng = np.random.default_rng(seed)
        self.X = rng.standard_normal((N_DATA, DIM))
        self.y = np.tanh(self.X @ np.array([1.0, -2.0, 0.5]) / 2.3) + 0.1 * rng.standard_normal(N_DATA)
        self.gamma = gamma
        self.size = 2 + DIM

    def data_loss_grad(self, th: np.ndarray) -> tuple[float, np.ndarray]:
        """(1/n)Σ f and its gradient (no weight decay)."""
        b, a, z = th[0], th[1], th[2:]
        nz = float(np.linalg.norm(z))
        w = z / nz
        s = np.tanh(self.X @ w)
        r = b + a * s - self.y
        g_b = 2.0 * float(np.mean(r))
        g_a = 2.0 * float(np.mean(r * s))
        g_w = (2.0 * a * (r * (1.0 - s * s))) @ self.X / len(r)
        g_z = (g_w - w * float(w @ g_w)) / nz  # d(z/|z|)/dz = (I - w w^T)/|z|
        return float(np.mean(r * r)), np.concatenate([[g_b, g_a], g_z])

    def loss(self, th: np.ndarray) -> float:
        return self.data_loss_grad(th)[0] + self.gamma * float(th @ th)

    def grad(self, th: np.ndarray) -> np.ndarray:
        return self.data_loss_grad(th)[1] + 2.0 * self.gamma * th


class _GdWatch:
    """Tracker of the GD run: ∇l(θₙ) (the force) every step; ‖∇l‖/(2γ‖ζ‖), ‖ζ‖, ‖∇l‖, l about 200 times."""

    def __init__(self, m: Any, steps: int) -> None:
        self.m, self.steps, self.every = m, steps, max(1, steps // 200)
        self.g: Any = None
        self.ratio: list[float] = []
        self.zeta: list[float] = []
        self.grad: list[float] = []
        self.loss: list[float] = []

    def start(self, visit: Any) -> None:
        return None

    def handle(self, t: int, v: Any) -> None:
        if t == self.steps:
            return
        th, m = v.theta, self.m
        self.g = g = m.grad(th)
        nz = float(np.linalg.norm(th[2:]))
        if t % self.every == 0:
            self.ratio.append(float(np.linalg.norm(g)) / (2 * m.gamma * nz))
            self.zeta.append(nz)
            self.grad.append(float(np.linalg.norm(g)))
            self.loss.append(m.loss(th))

    def finish(self, run: Any) -> None:
        return None


def measure(quick: bool) -> dict:
    """Identity samples, a GD run and stationary-point searches on :class:`NormalizedModel`."""
    from scipy.optimize import minimize

    m = NormalizedModel(0)
    rng = np.random.default_rng(1)
    n_samples, n_search, steps = (50, 3, 600) if quick else (500, 8, 6000)
    ident, fd_err = [], []
    for _ in range(n_samples):
        th = rng.standard_normal(m.size)
        g = m.data_loss_grad(th)[1][2:]
        ident.append(abs(float(g @ th[2:])) / max(float(np.linalg.norm(g) * np.linalg.norm(th[2:])), 1e-300))
    for _ in range(5):
        th = rng.standard_normal(m.size)
        fd = np.array([(m.loss(th + 1e-6 * e) - m.loss(th - 1e-6 * e)) / 2e-6 for e in np.eye(m.size)])
        fd_err.append(float(np.linalg.norm(fd - m.grad(th)) / np.linalg.norm(fd)))
    # GD with weight decay
    th = np.concatenate([[0.0, 1.0], rng.standard_normal(DIM)])
    eta = 0.1
    watch = _GdWatch(m, steps)
    run_tracked(None, "gd", th, eta, [watch], DivergenceCriterion(blowup=math.inf), steps=steps,
                force=lambda v: watch.g)
    gd_ratio, gd_zeta, gd_grad, gd_loss = watch.ratio, watch.zeta, watch.grad, watch.loss
    # searches for a stationary point: minimise ||grad l||^2
    search = []
    for k in range(n_search):
        x0 = rng.standard_normal(m.size)
        res = minimize(lambda x: float(m.grad(x) @ m.grad(x)), x0, method="Nelder-Mead",
                       options={"maxiter": 1200 if quick else 4000, "xatol": 1e-12, "fatol": 1e-20})
        x = res.x
        nz = float(np.linalg.norm(x[2:]))
        search.append({"grad_norm": float(np.linalg.norm(m.grad(x))), "zeta_norm": nz,
                       "ratio": float(np.linalg.norm(m.grad(x))) / (2 * m.gamma * nz),
                       "zeta_inner": float(m.grad(x)[2:] @ x[2:]), "paper_inner": 2 * m.gamma * nz * nz})
    return {"gamma": m.gamma, "n_data": N_DATA, "dim_zeta": DIM, "eta": eta, "steps": steps,
            "identity_rel": ident, "fd_rel_error": fd_err, "gd": {"ratio": gd_ratio, "zeta_norm": gd_zeta,
                                                                   "grad_norm": gd_grad, "loss": gd_loss},
            "search": search}


def judge(numbers: dict) -> Verdict:
    """The rule in :data:`RULE`."""
    fd = max(numbers["fd_rel_error"])
    ident = max(numbers["identity_rel"])
    inner = max(abs(s["zeta_inner"] - s["paper_inner"]) / s["paper_inner"] for s in numbers["search"])
    if not (fd <= 1e-6 and ident <= 1e-10 and inner <= 1e-6):
        return Verdict("inconclusive", RULE, f"analytic gradient vs finite differences: {fd:.2g}; scale-invariance "
                                             f"identity: {ident:.2g}; <grad_zeta l, zeta> vs 2 gamma |zeta|^2: "
                                             f"{inner:.2g}")
    ratios = numbers["gd"]["ratio"] + [s["ratio"] for s in numbers["search"]]
    low = min(ratios)
    txt = (f"max |<grad_zeta f, zeta>| / (|grad_zeta f| |zeta|) = {ident:.2g} over {len(numbers['identity_rel'])} "
           f"samples; min ||grad l|| / (2 gamma ||zeta||) = {low:.6g} over {len(ratios)} GD iterates and search "
           f"end points (smallest ||grad l|| found: {min(s['grad_norm'] for s in numbers['search']):.3g})")
    if low >= 1 - 1e-9:
        return Verdict("confirmed", RULE, txt)
    return Verdict("refuted", RULE, txt)


def figures(numbers: dict) -> list:
    """‖ζ‖, ‖∇ℓ‖ and 2γ‖ζ‖ along GD."""
    fig, ax = figure(1, 1, height=3.0)
    gd = numbers["gd"]
    n = np.arange(len(gd["zeta_norm"])) * max(1, numbers["steps"] // 200)
    ax.semilogy(n, gd["grad_norm"], lw=1, label="||grad l||")
    ax.semilogy(n, [2 * numbers["gamma"] * z for z in gd["zeta_norm"]], "--", lw=1, label="2 gamma ||zeta|| (bound)")
    ax.semilogy(n, gd["zeta_norm"], ":", lw=1, label="||zeta||")
    ax.set_xlabel("GD step")
    ax.legend(fontsize=8)
    ax.set_title("Proposition 2: the gradient norm stays above 2 gamma ||zeta|| along GD")
    return [("uc_proposition2_weight_decay.png", fig, "GD with weight decay on a model with a scale-invariant block "
             "zeta: ||grad l|| never falls below 2 gamma ||zeta||, so no iterate with zeta != 0 is stationary.")]


@case("uc-proposition2-weight-decay",
      claim="With weight decay and a scale-invariant block zeta of the parameters, the loss has no stationary point "
            "with zeta != 0",
      source="Ahn, Zhang, Sra (4th paper), §3.1, Proposition 2", paper=4, where="§3.1, Proposition 2")
def uc_proposition2_weight_decay(ctx: Context) -> dict:
    numbers = measure(ctx.quick)
    v = judge(numbers)
    for name, fig, caption in figures(numbers):
        ctx.save_figure(fig, name, caption)
    rows = [[k, s["grad_norm"], s["zeta_norm"], s["ratio"], s["zeta_inner"], s["paper_inner"]]
            for k, s in enumerate(numbers["search"])]
    return {
        "prediction": "<grad_zeta f, zeta> = 0, hence <grad_zeta l, zeta> = 2 gamma ||zeta||^2 and "
                      "||grad l|| >= 2 gamma ||zeta|| > 0 wherever zeta != 0",
        "measurement": f"normalised one-unit model, {N_DATA} points in R^{DIM}, gamma = {GAMMA}; "
                       f"{len(numbers['identity_rel'])} random samples, GD ({numbers['steps']} steps, eta = "
                       f"{numbers['eta']}), {len(numbers['search'])} Nelder-Mead searches minimising ||grad l||^2",
        "tolerance": "identity to 1e-10 relative; bound ratio >= 1 - 1e-9",
        **v.fields(),
        "numbers": numbers,
        "tables": [{"title": "searches for a stationary point (end points)",
                    "columns": ["start", "||grad l||", "||zeta||", "||grad l|| / (2 gamma ||zeta||)",
                                "<grad_zeta l, zeta>", "2 gamma ||zeta||^2"], "rows": rows}],
        "notes": "Setting differs from the paper's (a statement about networks with normalisation layers): the "
                 "smallest model with a scale-invariant block. The searches drive ||zeta|| towards 0, the only "
                 "place the gradient can vanish; GD with weight decay shrinks ||zeta||, which raises the effective "
                 "step on zeta/||zeta|| (the paper's route to the unstable regime).",
    }

"""Shared by the cases of one topic (one module per case in :mod:`workbench.validation.cases`).

Cases of the fourth paper (Ahn, Zhang, Sra, "Understanding the unstable convergence of GD").

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

import numpy as np

from workbench.solvers.core.backend import get_namespace
from workbench.solvers.nets.datasets import spirals
from workbench.solvers.nets.networks import NetworkObjective, mlp


SOURCE = "Ahn, Zhang, Sra (4th paper)"


# -- Example 2 ------------------------------------------------------------------------------
ETA2 = 2.0 / 39.0
Q_STAR = math.acosh(math.sqrt(40.0 / 39.0))  # sech^2(q*) = 39/40: |1 - 40 eta sech^2| = 1 at eta = 2/39
C_STAR = (41.0 / 39.0) ** 2 * Q_STAR


def q_of(th: np.ndarray) -> np.ndarray:
    """Example 2's quadratic form q(θ) = 20θ₁² + θ₂²."""
    return 20.0 * th[..., 0] ** 2 + th[..., 1] ** 2


def tanh_gd_map(th: np.ndarray, eta: float = ETA2) -> np.ndarray:
    """One GD step on Example 2, f = tanh(q(θ)), at step size ``eta`` (default 2/39)."""
    s = 1.0 / np.cosh(q_of(th)) ** 2
    return np.stack([th[..., 0] * (1 - 40 * eta * s), th[..., 1] * (1 - 2 * eta * s)], axis=-1)


def ellipse_samples(n: int, c: float, seed: int) -> np.ndarray:
    """``n`` seeded points uniform in the ellipse {q(θ) ≤ c}."""
    rng = np.random.default_rng(seed)
    r = np.sqrt(rng.random(n) * c)
    a = rng.random(n) * 2 * np.pi
    return np.stack([r * np.cos(a) / math.sqrt(20.0), r * np.sin(a)], axis=1)


def eos_problem(activation: str, n: int = 64, width: int = 32) -> NetworkObjective:
    """MLP 2-width-width-2 on 2-class spirals (n points), MSE on one-hot targets, float64."""
    xp = get_namespace("numpy")
    d = spirals(n, classes=2, seed=0, xp=xp)
    return NetworkObjective(mlp([2, width, width, 2], activation), d.X, d.Y, "mse")

"""Shared by the cases of one topic (one module per case in :mod:`workbench.validation.cases`).

Principal flow on small networks (third paper, Rosca et al. 2023): tracking, stability coefficients, DAL.

Three cases, each on a seeded tanh MLP with MSE loss on random 2-D regression data
(X, Y ~ N(0, 1), as the paper's "2 dimensional input regression problem, with random
inputs and labels", §4):

* ``pf-mlp-tracking`` — §4, Fig. 7: ‖θ_n − θ(nh)‖ of NGF (2), IGR (3), the third-order
  flow (8), PF (12) and PF+ (14) from θ(0) = θ₀, for h below and above 2/λ₀. The flows run on
  the network's analytic continuation (:meth:`workbench.solvers.dynamics.flows.FlowProblem.from_network`:
  backprop and the R-operator on complex128), a dense Hessian and a complex
  eigendecomposition per PF evaluation; RK4 at two step counts bounds the integration error.
* ``pf-stability-coefficients`` — Def. 3.4, §5, Figs. 9, 12: GD with a fixed h trained
  into the edge of stability; at every recorded step the full spectrum gives
  sc₀ = α_PF(hλ₀)·∇Eᵀu₀ and the PF's dE/dt = Σ Re α_PF(hλᵢ)(∇Eᵀuᵢ)² (15), beside the loss
  change E(θₜ₊₁) − E(θₜ); a 2×2 table, precision/recall and correlations.
* ``dal-vs-fixed`` — §6.1-§7, Figs. 16-18, 20, 23: DAL (18), DAL-0.5 (19) and DAL with
  momentum (21) against a sweep of fixed learning rates (:mod:`workbench.solvers.dynamics.dal`): final loss,
  loss increases, mean per-iteration drift ‖θₜ − NGF(θₜ₋₁, h)‖ and its relation to
  ‖∇²E∇E‖ (Theorem 6.1).
"""
from __future__ import annotations

import numpy as np

from workbench.solvers.core.backend import get_namespace
from workbench.solvers.nets.networks import NetworkObjective, mlp


def regression_problem(sizes: list[int], n: int, seed: int) -> NetworkObjective:
    """A tanh MLP with MSE on X, Y ~ N(0, 1) (seeded), on NumPy float64."""
    rng = np.random.default_rng(seed)
    xp = get_namespace("numpy")
    X = xp.asarray(rng.standard_normal((n, sizes[0])))
    Y = xp.asarray(rng.standard_normal((n, sizes[-1])))
    return NetworkObjective(mlp(sizes, "tanh"), X, Y, "mse")

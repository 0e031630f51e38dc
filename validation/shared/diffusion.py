"""Shared by the cases of one topic (one module per case in :mod:`workbench.validation.cases`).

Cases for the second paper (Sun, Lao, Sundaramoorthi, Yezzi, "Accelerated PDEs ... SGD Extension").

* ``diffusion-cfl``: Theorem 2, (10)-(11).  For N = 1, 2, 3 and several (η, γ) the largest
  stable diffusion of Algorithm 1 (:class:`workbench.solvers.dynamics.diffusion.DiffusionNesterov`, ∇J = 0: the
  homogeneous part the theorem analyses) is found by bisection and compared with
  ``b_max = 1/(2NΔt)`` (Δx = 1), i.e. ``β_max = (1 + γ)/(4N)``.  Periodic grids of even size
  contain the frequency ω_k = π on every axis, where the prediction is exact; Neumann grids
  (the paper's appendix C) lack it, and their exact bound ``(1 + γ)/κ_max`` lies above (11).
* ``diffusion-joint-region``: beyond the paper, the gradient kept -- a quadratic loss
  ``J = ½λ|θ|²`` (h = ηλ): simulated β_max(h) vs :func:`workbench.derivations.diffusion.joint_beta_max`.

Divergence criterion (stated in each case's notes): :mod:`workbench.solvers.stepping.divergence` with its
defaults -- a non-finite iterate, an increment above 1e8× the first, or increments still
growing over the last 10% of the run, unless at rounding level (converged).  Finite
horizon: a mode growing too slowly to show counts as stable; the bisection tolerance is
sized to the horizon.  The largest stable β comes from :func:`workbench.solvers.stepping.bisect.largest_stable`
seeded by the prediction.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from workbench.solvers.stepping import stepper
from workbench.solvers.stepping.bisect import largest_stable
from workbench.solvers.stepping.divergence import DivergenceCriterion
from workbench.solvers.dynamics.diffusion import DiffusionUpdate


#: Algorithm 1's modes near the edge oscillate (complex roots): compare window maxima, 5 % windows
DIFFUSION_CRITERION = DivergenceCriterion(window=0.05, growth_test="max")
CRITERION = DIFFUSION_CRITERION.describe()


def diverging(betas: Any, gamma: float, eta: float, shape: tuple[int, ...], boundary: str, steps: int,
              lam: float = 0.0, seed: int = 0, grad: Callable[[Any], Any] | None = None) -> np.ndarray:
    """Algorithm 1 from one random (θ^0, v^0) at every β of ``betas`` (one batch); True where it diverges.

    :func:`workbench.solvers.stepping.stepper.run` of :class:`workbench.solvers.dynamics.diffusion.DiffusionUpdate`, classified by
    :mod:`workbench.solvers.stepping.divergence` (``CRITERION``).  The loss is ``J = ½λ|θ|²`` (λ = 0: the
    homogeneous part), or the one whose gradient is ``grad`` (batched over the leading axis)
    when given; the Laplacian acts on every axis of ``shape``.
    """
    rng = np.random.default_rng(seed)
    th = rng.standard_normal(shape)
    v0 = rng.standard_normal(shape)
    betas = np.asarray(betas, dtype=np.float64).reshape(-1)
    theta0 = np.broadcast_to(th, (betas.size,) + tuple(shape)).copy()
    force = (lambda x: lam * x) if grad is None else grad
    return stepper.run(DiffusionUpdate(gamma, betas, boundary, v0=v0), force, theta0, eta, steps,
                       criterion=DIFFUSION_CRITERION, members=betas).diverged


def diverges(beta: float, gamma: float, eta: float, shape: tuple[int, ...], boundary: str, steps: int,
             lam: float = 0.0, seed: int = 0, grad: Callable[[Any], Any] | None = None) -> bool:
    """:func:`diverging` at one β."""
    return bool(diverging([beta], gamma, eta, shape, boundary, steps, lam, seed, grad)[0])


def bisect_beta(ref: float, rtol: float, test: Callable[..., np.ndarray] = diverging,
                **kw: Any) -> tuple[float, list[float]]:
    """Largest stable β by :func:`workbench.solvers.stepping.bisect.largest_stable`; returns (β, [unstable, stable] bracket).

    ``test(betas, **kw)`` says where the batched run diverges (default :func:`diverging`).
    The predicted ``ref`` is confirmed in one batch of two (β = ref·(1 ∓ rtol/2)); if it is
    not, a scan of [ref/4, 4 ref] and batched bisection find the edge from the runs alone.
    """
    edge = largest_stable(lambda b: ~np.asarray(test(b, **kw), dtype=bool), ref / 4.0, ref * 4.0, guess=ref,
                          rtol=rtol, spacing="log", scan=16, points=3)
    if not edge.found:
        raise RuntimeError(f"no stable/unstable beta pair around {ref:g}: {'; '.join(edge.notes)}")
    return edge.value, list(edge.bracket)

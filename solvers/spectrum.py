"""Extreme eigenvalues of symmetric operators given by matrix-vector products.

The exact windowed α bounds need the smallest and largest eigenvalues of the Gram
operator G of :class:`~solvers.correlation.CnnOperator` (w²×w², symmetric positive
semi-definite). :func:`lanczos_extremes` is a Lanczos iteration with full
reorthogonalisation written once against the array API (NumPy, CuPy,
array-api-strict); the small tridiagonal problem is solved on the host. Its slow
references are a dense ``numpy.linalg.eigvalsh`` (tests, tiny windows) and
``scipy.sparse.linalg.eigsh`` (tests).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from scipy.linalg import eigh_tridiagonal

from .checks import ParameterError
from .correlation import CnnOperator

__all__ = ["Extremes", "lanczos_extremes", "gram_extremes"]


@dataclass(frozen=True)
class Extremes:
    """Smallest/largest eigenvalue with a certified error bound.

    ``error_min``/``error_max`` are the Lanczos residual norms ‖Gy − θy‖ of the
    extreme Ritz pairs; for a symmetric operator an eigenvalue lies within that
    distance of θ. ``method`` is ``"lanczos"`` or ``"dense"``.
    """

    lambda_min: float
    lambda_max: float
    error_min: float
    error_max: float
    steps: int
    converged: bool
    method: str


def lanczos_extremes(
    matvec: Callable[[Any], Any],
    n: int,
    xp: Any,
    dtype: Any,
    *,
    tol: float = 1e-10,
    max_steps: int | None = None,
    seed: int = 0,
    check_every: int = 8,
) -> Extremes:
    """Extreme eigenvalues of a symmetric n×n operator by Lanczos.

    Parameters
    ----------
    matvec : callable
        v ↦ A v for vectors of shape (n,) in namespace ``xp``.
    n : int
        Dimension.
    tol : float
        Stop when both extreme residuals are ≤ ``tol · max|θ|`` (an absolute error
        bound on both eigenvalues relative to the spectral radius).
    max_steps : int, optional
        Default ``min(n, 600)``. With ``max_steps = n`` the Krylov space is the
        whole space and the result is exact up to rounding.
    seed : int
        Seed of the random start vector (reproducible).

    Notes
    -----
    Full reorthogonalisation (classical Gram–Schmidt applied twice) keeps the basis
    orthogonal to rounding, so no spurious copies of converged eigenvalues appear.
    A breakdown (β ≈ 0) means an invariant subspace was found: the Ritz values are
    then exact eigenvalues of A restricted to it. For PSD operators with a large
    null space (the checkerboard's rank-one Gram matrix) that happens at step 2,
    and λ_min = 0 is returned because the start vector has a null-space component.
    """
    if n < 1:
        raise ParameterError(f"n: must be >= 1, got {n}")
    m_max = min(n, 600) if max_steps is None else min(int(max_steps), n)
    rng = np.random.default_rng(seed)
    v = xp.asarray(rng.standard_normal(n), dtype=dtype)
    v = v / xp.linalg.vector_norm(v)
    basis = xp.zeros((m_max, n), dtype=dtype)
    alphas: list[float] = []
    betas: list[float] = []
    scale = 0.0
    beta_prev = 0.0
    v_prev = xp.zeros_like(v)
    theta = np.zeros(1)
    s = np.ones((1, 1))
    for j in range(m_max):
        basis[j, :] = v
        w = matvec(v)
        alpha = float(xp.sum(w * v))
        w = w - alpha * v - beta_prev * v_prev
        vb = basis[: j + 1, :]
        for _ in range(2):  # reorthogonalise against the whole basis, twice
            w = w - xp.matmul(xp.matmul(vb, w), vb)
        beta = float(xp.linalg.vector_norm(w))
        alphas.append(alpha)
        scale = max(scale, abs(alpha), beta)
        breakdown = beta <= 1e-13 * max(scale, 1e-300) * np.sqrt(n)
        last = breakdown or j + 1 == m_max
        if last or (j + 1) % check_every == 0:
            if len(alphas) == 1:
                theta, s = np.array(alphas), np.ones((1, 1))
            else:
                theta, s = eigh_tridiagonal(np.array(alphas), np.array(betas))
            res = np.abs(beta * s[-1, :]) if not breakdown else np.zeros_like(theta)
            bound = tol * max(np.max(np.abs(theta)), 1e-300)
            if breakdown or (res[0] <= bound and res[-1] <= bound) or last:
                converged = bool(breakdown or (res[0] <= bound and res[-1] <= bound) or j + 1 == n)
                return Extremes(
                    lambda_min=float(theta[0]),
                    lambda_max=float(theta[-1]),
                    error_min=float(res[0]),
                    error_max=float(res[-1]),
                    steps=j + 1,
                    converged=converged,
                    method="lanczos",
                )
        betas.append(beta)
        v_prev, v, beta_prev = v, w / beta, beta
    raise AssertionError("unreachable")  # pragma: no cover


def gram_extremes(
    op: CnnOperator, *, tol: float = 1e-10, method: str = "auto", max_steps: int | None = None, seed: int = 0
) -> Extremes:
    """Smallest and largest eigenvalues of the windowed Gram operator G of ``op``.

    ``method="dense"`` forms G on the host (float64) and calls ``eigvalsh`` — exact
    but O(w⁶); ``"lanczos"`` uses FFT matrix-vector products on ``op``'s backend;
    ``"auto"`` picks dense for w ≤ 8.
    """
    if method not in ("auto", "dense", "lanczos"):
        raise ParameterError(f"method: unknown eigen method {method!r}; use auto, dense or lanczos")
    w = op.w
    if method == "dense" or (method == "auto" and w <= 8):
        ev = np.linalg.eigvalsh(op.gram_dense())
        return Extremes(float(ev[0]), float(ev[-1]), 0.0, 0.0, w * w, True, "dense")
    xp = op.xp

    def matvec(v: Any) -> Any:
        return xp.reshape(op.gram(xp.reshape(v, (w, w))), (w * w,))

    return lanczos_extremes(matvec, w * w, xp, op.dtype, tol=tol, max_steps=max_steps, seed=seed)

"""Extreme eigenvalues of symmetric operators given by matrix-vector products.

The exact windowed α bounds need the smallest and largest eigenvalues of the Gram
operator G of :class:`~solvers.correlation.CnnOperator` (w²×w², symmetric positive
semi-definite). :func:`lanczos_extremes` takes both ends of the Ritz values of one
Lanczos run (:func:`solvers.lanczos.krylov_checkpoints`: full reorthogonalisation,
array API, the small tridiagonal problem solved on the host). Its slow
references are a dense ``numpy.linalg.eigvalsh`` (tests, tiny windows) and
``scipy.sparse.linalg.eigsh`` (tests).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from .checks import ParameterError
from .correlation import CnnOperator
from .lanczos import krylov_checkpoints

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
    for st in krylov_checkpoints(matvec, n, xp, dtype, max_steps=m_max, seed=seed, check_every=check_every):
        res = st.residuals()
        bound = tol * max(np.max(np.abs(st.theta)), 1e-300)
        both = bool(res[0] <= bound and res[-1] <= bound)
        if st.breakdown or both or st.last:
            return Extremes(
                lambda_min=float(st.theta[0]),
                lambda_max=float(st.theta[-1]),
                error_min=float(res[0]),
                error_max=float(res[-1]),
                steps=st.steps,
                converged=bool(st.breakdown or both or st.steps == n),
                method="lanczos",
            )
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

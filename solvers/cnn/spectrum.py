"""Extreme eigenvalues of symmetric operators given by matrix-vector products.

The exact windowed α bounds need the smallest and largest eigenvalues of the Gram
operator G of :class:`~workbench.solvers.cnn.correlation.CnnOperator` (w²×w², symmetric positive
semi-definite). :func:`lanczos_extremes` runs one Lanczos iteration (array API, the
small tridiagonal problem solved on the host) and stops **each end** as soon as that
end is known to its own tolerance:

* λ_max to ``tol`` relative (residual ‖Gy − θy‖ ≤ tol·θ_max), which fixes the bound
  that depends on λ_max (α_lower = −½aβ·λ_max for a < 0) to ``tol`` relative;
* λ_min to ``tol_min``·θ_max absolute (default ``tol``): the bound that depends on
  λ_min (α_upper = z_hi + ½aβ·λ_min) is then known to ``tol_min`` times the α scale
  ½|a|β·λ_max. For a positive semi-definite operator (``psd=True``) Cauchy interlacing
  gives 0 ≤ λ_min ≤ θ_min, so a small θ_min certifies λ_min without resolving it.

Reorthogonalisation is one classical Gram–Schmidt pass against the stored basis per
step, repeated only when the pass removed more than 1 − 1/√2 of the vector's norm
(the Daniel–Gragg–Kaufman–Stewart criterion), instead of two passes always: the
basis stays orthogonal to rounding at half the memory traffic. Slow references: a
dense ``numpy.linalg.eigvalsh`` (tests, tiny windows) and
``scipy.sparse.linalg.eigsh`` (tests).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from workbench.solvers.core.checks import ParameterError
from workbench.solvers.core.threads import cover_scipy_blas
from workbench.solvers.cnn.correlation import CnnOperator

__all__ = ["Extremes", "lanczos_extremes", "gram_extremes", "alpha_extremes"]


@dataclass(frozen=True)
class Extremes:
    """Smallest/largest eigenvalue with a certified error bound.

    ``error_min``/``error_max`` bound |λ − θ| for the reported values: the Lanczos
    residual norms ‖Gy − θy‖ of the extreme Ritz pairs (for a symmetric operator an
    eigenvalue lies within that distance of θ), and for a PSD operator at most θ_min
    itself (0 ≤ λ_min ≤ θ_min). ``method`` is ``"lanczos"`` or ``"dense"``.
    ``converged_min``/``converged_max`` say which end met its tolerance.
    """

    lambda_min: float
    lambda_max: float
    error_min: float
    error_max: float
    steps: int
    converged: bool
    method: str
    converged_min: bool = True
    converged_max: bool = True


def _tridiagonal_ends(alphas: list[float], betas: list[float]) -> tuple[float, float, float, float]:
    """θ_min, θ_max and the last components of their unit eigenvectors of the Lanczos T."""
    if len(alphas) == 1:
        return alphas[0], alphas[0], 1.0, 1.0
    from scipy.linalg import eigh_tridiagonal  # lazy: keeps scipy.linalg off the start-up path

    cover_scipy_blas()

    m = len(alphas)
    d, e = np.array(alphas), np.array(betas[: m - 1])
    lo, s_lo = eigh_tridiagonal(d, e, select="i", select_range=(0, 0))
    hi, s_hi = eigh_tridiagonal(d, e, select="i", select_range=(m - 1, m - 1))
    return float(lo[0]), float(hi[0]), float(s_lo[-1, 0]), float(s_hi[-1, 0])


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
    tol_min: float | None = None,
    psd: bool = False,
) -> Extremes:
    """Extreme eigenvalues of a symmetric n×n operator by Lanczos, each end to its tolerance.

    Parameters
    ----------
    matvec : callable
        v ↦ A v for vectors of shape (n,) in namespace ``xp``.
    n : int
        Dimension.
    tol : float
        λ_max is done when its residual is ≤ ``tol · θ_max`` (relative error).
    tol_min : float, optional
        λ_min is done when its error bound is ≤ ``tol_min · θ_max`` (absolute, on the
        λ_max scale); default ``tol``.
    psd : bool
        The operator is positive semi-definite: λ_min's error bound is then
        min(residual, θ_min), since 0 ≤ λ_min ≤ θ_min.
    max_steps : int, optional
        Default ``min(n, 600)``. With ``max_steps = n`` the Krylov space is the
        whole space and the result is exact up to rounding.
    seed : int
        Seed of the random start vector (reproducible).

    Notes
    -----
    A breakdown (β ≈ 0, i.e. β ≤ 1e-13·scale·√n) means an invariant subspace was
    found: the Ritz values are then exact eigenvalues of A restricted to it. For PSD
    operators with a large null space (the checkerboard's rank-one Gram matrix) that
    happens at step 2, and λ_min = 0 is returned because the start vector has a
    null-space component. The basis storage grows geometrically (32 rows, then
    doubling), so a run that stops early never allocates ``max_steps · n`` numbers.
    """
    if n < 1:
        raise ParameterError(f"n: must be >= 1, got {n}")
    tol_lo = tol if tol_min is None else float(tol_min)

    def tols(lo: float, hi: float) -> tuple[float, float]:
        ref = max(abs(hi), abs(lo), 1e-300)
        return tol_lo * ref, tol * ref

    return _lanczos(matvec, n, xp, dtype, tols, max_steps=max_steps, seed=seed, check_every=check_every, psd=psd)


def _lanczos(matvec: Callable[[Any], Any], n: int, xp: Any, dtype: Any,
             tols: Callable[[float, float], tuple[float, float]], *, max_steps: int | None, seed: int,
             check_every: int, psd: bool) -> Extremes:
    """The Lanczos loop of :func:`lanczos_extremes`; ``tols(θ_min, θ_max)`` gives each end's absolute tolerance."""
    m_max = min(n, 600) if max_steps is None else min(int(max_steps), n)
    rng = np.random.default_rng(seed)
    v = xp.asarray(rng.standard_normal(n), dtype=dtype)
    v = v / xp.linalg.vector_norm(v)
    cap = min(m_max, 32)
    basis = xp.zeros((cap, n), dtype=dtype)
    alphas: list[float] = []
    betas: list[float] = []
    scale, beta_prev = 0.0, 0.0
    v_prev = xp.zeros_like(v)
    for j in range(m_max):
        if j == cap:  # grow the basis storage geometrically
            cap = min(m_max, 2 * cap)
            grown = xp.zeros((cap, n), dtype=dtype)
            grown[:j, :] = basis
            basis = grown
        basis[j, :] = v
        w = matvec(v)
        alpha = float(xp.sum(w * v))
        w = w - alpha * v - beta_prev * v_prev
        vb = basis[: j + 1, :]
        norm0 = float(xp.linalg.vector_norm(w))
        for _ in range(2):  # DGKS: a second pass only when the first removed a large component
            w = w - xp.matmul(xp.matmul(vb, w), vb)
            beta = float(xp.linalg.vector_norm(w))
            if beta > norm0 / math.sqrt(2.0):
                break
            norm0 = beta
        alphas.append(alpha)
        betas.append(beta)
        scale = max(scale, abs(alpha), beta)
        breakdown = beta <= 1e-13 * max(scale, 1e-300) * math.sqrt(n)
        last = breakdown or j + 1 == m_max
        if last or (j + 1) % check_every == 0:
            lo, hi, s_lo, s_hi = _tridiagonal_ends(alphas, betas)
            r_lo, r_hi = (0.0, 0.0) if breakdown else (abs(beta * s_lo), abs(beta * s_hi))
            if psd:
                r_lo = min(r_lo, max(lo, 0.0))
            t_lo, t_hi = tols(lo, hi)
            done_hi, done_lo = r_hi <= t_hi, r_lo <= t_lo
            if last or (done_hi and done_lo):
                exact = breakdown or j + 1 == n
                return Extremes(lambda_min=lo, lambda_max=hi, error_min=r_lo, error_max=r_hi, steps=j + 1,
                                converged=bool(exact or (done_hi and done_lo)), method="lanczos",
                                converged_min=bool(exact or done_lo), converged_max=bool(exact or done_hi))
        v_prev, v, beta_prev = v, w / beta, beta
    raise AssertionError("unreachable")  # pragma: no cover


def gram_extremes(
    op: CnnOperator, *, tol: float = 1e-10, method: str = "auto", max_steps: int | None = None, seed: int = 0,
    tol_min: float | None = None,
) -> Extremes:
    """Smallest and largest eigenvalues of the windowed Gram operator G of ``op``.

    ``method="dense"`` forms G on the host (float64) and calls ``eigvalsh`` — exact
    but O(w⁶); ``"lanczos"`` uses FFT matrix-vector products on ``op``'s backend;
    ``"auto"`` picks dense for w ≤ 8. ``tol`` is λ_max's relative tolerance and
    ``tol_min`` (default ``tol``) λ_min's absolute one on the λ_max scale (see the
    module docstring: with ``tol = tol_min = rtol`` both α bounds are known to
    ``rtol`` of the α scale). G is PSD, so λ_min is certified by a small θ_min.
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

    return lanczos_extremes(matvec, w * w, xp, op.dtype, tol=tol, tol_min=tol_min, max_steps=max_steps, seed=seed,
                            psd=True)


def alpha_extremes(
    op: CnnOperator, s: float, z_hi: float, *, rtol: float = 1e-9, method: str = "auto",
    max_steps: int | None = None, seed: int = 0, z_lo: float = 0.0,
) -> Extremes:
    """The extremes of G to the precision the α bounds they determine need.

    First paper, appendix D.3 (and (26)-(27) for a < 0): a linearized scheme is stable iff
    z_lo < α + s·μ < z_hi for every eigenvalue μ of G, s = ½aβ, so
    α_lower = z_lo − min(s·λ_min, s·λ_max) and α_upper = z_hi − max(s·λ_min, s·λ_max).
    Each end of the spectrum stops when the bound it determines is known to ``rtol`` of its
    own value, with the α scale |s|·θ_max as a floor for a bound near zero: the end's
    absolute error ≤ rtol · max(|bound| / |s|, θ_max). For a < 0 that is λ_max to
    ``rtol`` relative (α_lower = z_lo − s·λ_max) and λ_min to rtol·|α_upper|/|s| absolute,
    which G's positive semi-definiteness certifies as soon as the smallest Ritz value is
    that small (0 ≤ λ_min ≤ θ_min): λ_min itself is never chased.

    Parameters
    ----------
    op : CnnOperator
    s : float
        ½aβ of the linearization.
    z_hi : float
        Upper end of the scheme's stability region in z (2/Δt for forward Euler (21)).
    rtol : float
        Relative tolerance of each α bound (default 1e-9).
    z_lo : float
        Lower end of the region in z (0 for forward Euler).

    Returns
    -------
    Extremes
        ``converged_min``/``converged_max`` say which end met its tolerance; the α bound
        each end fixes is given above.
    """
    if method not in ("auto", "dense", "lanczos"):
        raise ParameterError(f"method: unknown eigen method {method!r}; use auto, dense or lanczos")
    w = op.w
    if method == "dense" or (method == "auto" and w <= 8):
        return gram_extremes(op, method="dense")
    s, z_lo, z_hi, rtol = float(s), float(z_lo), float(z_hi), float(rtol)
    xp = op.xp

    def tols(lo: float, hi: float) -> tuple[float, float]:
        lo = max(lo, 0.0)
        if s == 0.0:  # the bounds do not depend on the spectrum
            return math.inf, math.inf
        # bound fixed by each end: s < 0: λ_max -> α_lower, λ_min -> α_upper; s > 0 the other way round
        by_lo, by_hi = (z_hi - s * lo, z_lo - s * hi) if s < 0 else (z_lo - s * lo, z_hi - s * hi)
        floor = max(abs(hi), 1e-300)
        return rtol * max(abs(by_lo) / abs(s), floor), rtol * max(abs(by_hi) / abs(s), floor)

    def matvec(v: Any) -> Any:
        return xp.reshape(op.gram(xp.reshape(v, (w, w))), (w * w,))

    return _lanczos(matvec, w * w, xp, op.dtype, tols, max_steps=max_steps, seed=seed, check_every=8, psd=True)

"""The symmetric Lanczos iteration, written once against the array API.

:func:`krylov_checkpoints` runs Lanczos with full reorthogonalisation (classical
Gram–Schmidt applied twice) on a matrix-vector product in any array namespace (NumPy,
CuPy, array-api-strict) and hands the caller, every ``check_every`` steps, the Ritz
values and the eigenvectors of the small tridiagonal matrix (solved on the host with
SciPy). The caller decides when it has what it wants. Two callers share it:
:func:`workbench.solvers.cnn.spectrum.lanczos_extremes` (both ends of the spectrum of the windowed
Gram operator) and :func:`workbench.solvers.linalg.hessian.lanczos` (k pairs at one end, with Ritz
vectors, for Hessians of objectives).

Backends. Every array is allocated with ``device=`` the device the caller names (that of
θ, e.g. a CUDA tensor's), so a GPU operator never meets a host vector. Where the backend
allows in-place writes (NumPy, CuPy, PyTorch, array-api-strict) the basis is one
preallocated matrix, grown geometrically, written row by row; JAX arrays are immutable,
so there row j is set by a masked ``where`` over the whole preallocated block and the
reorthogonalisation runs against the whole block (its rows past j are zero). Every
array keeps its shape from step to step, so JAX compiles each operation once per
block size instead of once per step. Which path runs is :func:`inplace_ok`.

Precision. In float32 the Lanczos residual estimates stop falling at about
ε₃₂·‖A‖·√m ≈ 1e-6·|λ|max; :data:`FLOAT32_TOL` (1e-5, relative) is the smallest tolerance
the callers accept in float32 (a smaller one is raised to it), and the eigenvalues then
agree with a float64 dense ``eigvalsh`` to ≈ 1e-5 relative (measured on tanh MLPs in
``tests/test_lanczos_backends.py``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
from scipy.linalg import eigh_tridiagonal

__all__ = ["KrylovState", "krylov_checkpoints", "inplace_ok", "FLOAT32_TOL", "dtype_tol"]

#: Smallest relative Lanczos tolerance that float32 arithmetic reaches reliably.
FLOAT32_TOL = 1e-5


def inplace_ok(xp: Any) -> bool:
    """False for backends whose arrays are immutable (JAX): Lanczos then keeps its basis functionally."""
    from array_api_compat import is_jax_namespace

    return not is_jax_namespace(xp)


def dtype_tol(xp: Any, dtype: Any, tol: float) -> float:
    """``tol``, raised to :data:`FLOAT32_TOL` for float32 (see the module docstring)."""
    if dtype == xp.float32:
        return max(float(tol), FLOAT32_TOL)
    return float(tol)


@dataclass(frozen=True)
class KrylovState:
    """The Lanczos run at a checkpoint.

    ``theta`` (ascending) and ``s`` are the eigenpairs of the m×m tridiagonal matrix,
    ``m = steps``; ``beta`` is the next off-diagonal entry, so the Ritz pair i has the
    residual estimate ``|beta · s[-1, i]|`` (zero at a ``breakdown``, where the Krylov
    space is invariant and its Ritz values are exact eigenvalues). ``last`` is True at
    the final checkpoint (breakdown or ``max_steps`` reached); ``basis`` holds the m
    orthonormal Lanczos vectors as rows, on the operator's backend.
    """

    steps: int
    theta: np.ndarray
    s: np.ndarray
    beta: float
    breakdown: bool
    last: bool
    basis: Any

    def residuals(self, idx: Any = slice(None)) -> np.ndarray:
        """Lanczos residual estimates |β s_{m,i}| of the Ritz pairs ``idx``."""
        if self.breakdown:
            return np.zeros(len(self.theta[idx]))
        return np.abs(self.beta * self.s[-1, idx])


def krylov_checkpoints(
    matvec: Callable[[Any], Any],
    n: int,
    xp: Any,
    dtype: Any,
    *,
    max_steps: int,
    seed: int = 0,
    check_every: int = 5,
    first_check: int = 1,
    device: Any = None,
    start: Any = None,
) -> Iterator[KrylovState]:
    """Run Lanczos on a symmetric n×n operator; yield a :class:`KrylovState` at checkpoints.

    Parameters
    ----------
    matvec : callable
        v ↦ A v for vectors of shape (n,) in namespace ``xp``.
    n, max_steps : int
        Dimension and Krylov dimension cap (``1 ≤ max_steps ≤ n``, checked by callers).
    seed : int
        Seed of the random start vector (reproducible).
    check_every, first_check : int
        Checkpoints at steps m with ``m ≥ first_check`` and ``m % check_every == 0``,
        and always at the last step.
    device : optional
        Where to allocate (``array_api_compat.device`` of θ); None is the backend's default.
    start : array, optional
        Start vector (e.g. the previous top eigenvector, to warm-start a tracked
        sharpness); default a random one from ``seed``.

    Notes
    -----
    The basis storage grows geometrically (32 rows, then doubling), so a run that
    converges early never allocates ``max_steps · n`` numbers. A breakdown is
    β ≤ 1e-13 · (largest α or β so far) · √n.
    """
    if start is None:
        v = xp.asarray(np.random.default_rng(seed).standard_normal(n), dtype=dtype, device=device)
    else:
        v = xp.reshape(xp.asarray(start, dtype=dtype, device=device), (n,))
    v = v / xp.linalg.vector_norm(v)
    mutable = inplace_ok(xp)
    cap = min(max_steps, 32)
    basis = xp.zeros((cap, n), dtype=dtype, device=device)
    rows = xp.arange(cap, device=device)
    alphas: list[float] = []
    betas: list[float] = []
    scale = 0.0
    beta_prev = 0.0
    v_prev = xp.zeros_like(v)
    for j in range(max_steps):
        if j == cap:  # grow the basis storage geometrically
            cap = min(max_steps, 2 * cap)
            grown = xp.zeros((cap, n), dtype=dtype, device=device)
            if mutable:
                grown[:j, :] = basis
                basis = grown
            else:
                basis = xp.concat([basis, grown[j:, :]], axis=0)
                rows = xp.arange(cap, device=device)
        if mutable:
            basis[j, :] = v
        else:  # functional: a masked select of the same shape (no in-place write, no new shape to compile)
            basis = xp.where(xp.reshape(rows == j, (cap, 1)), xp.reshape(v, (1, n)), basis)
        vb = basis[: j + 1, :] if mutable else basis  # rows past j are zero: they do not change w
        w = matvec(v)
        alpha = float(xp.sum(w * v))
        w = w - alpha * v - beta_prev * v_prev
        for _ in range(2):  # reorthogonalise against the whole basis, twice
            w = w - xp.matmul(xp.matmul(vb, w), vb)
        beta = float(xp.linalg.vector_norm(w))
        alphas.append(alpha)
        scale = max(scale, abs(alpha), beta)
        breakdown = beta <= 1e-13 * max(scale, 1e-300) * math.sqrt(n)
        last = breakdown or j + 1 == max_steps
        if last or (j + 1 >= first_check and (j + 1) % check_every == 0):
            if len(alphas) == 1:
                theta, s = np.array(alphas), np.ones((1, 1))
            else:
                theta, s = eigh_tridiagonal(np.array(alphas), np.array(betas))
            yield KrylovState(j + 1, theta, s, beta, breakdown, last, basis[: j + 1, :])
            if last:
                return
        betas.append(beta)
        v_prev, v, beta_prev = v, w / beta, beta

"""Hessian spectra and drift from Hessian-vector products, on any backend.

* :func:`lanczos` — k Ritz pairs at either end of the spectrum of a symmetric
  operator, with Ritz vectors and certified residuals, from the shared Lanczos run
  :func:`workbench.solvers.linalg.lanczos.krylov_checkpoints` (the one
  :func:`workbench.solvers.cnn.spectrum.lanczos_extremes` also uses).
* :func:`top_eigenpairs` / :func:`sharpness` — the k largest (or smallest) Hessian
  eigenpairs of an :class:`~workbench.solvers.core.objectives.Objective` at θ: scipy's ``eigsh``
  (ARPACK) on NumPy, :func:`lanczos` elsewhere, a dense ``eigh`` on request. Every
  result carries the residual ‖Hu − λu‖ of each pair, recomputed with one extra HVP
  per pair; for a symmetric H an eigenvalue lies within that distance of λ.
* :func:`drift` — the third paper's drift ∇²E∇E (Rosca et al., §6.1, Theorem 6.1) exact
  (one HVP) or by the one-extra-gradient forward difference
  [∇E(θ + ε∇E) − ∇E(θ)]/ε they quote from Geiping et al. (2021);
  :func:`drift_report` compares the two and gives ‖∇²E ĝ‖ (ĝ = ∇E/‖∇E‖), the
  quantity of DAL (their eq. 18).

Sharpness means λ_max(∇²E) (fourth paper, footnote 1; Cohen et al. 2021).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from workbench.solvers.core.backend import backend_name, to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.linalg.lanczos import dtype_tol, krylov_checkpoints
from workbench.solvers.core.objectives import DEFAULT_MAX_HESSIAN_BYTES, fd_step

__all__ = [
    "Eigenpairs",
    "lanczos",
    "top_eigenpairs",
    "sharpness",
    "dense_eigenpairs",
    "drift",
    "DriftReport",
    "drift_report",
]

WHICH = ("largest", "smallest")
METHODS = ("auto", "eigsh", "lanczos", "dense")


@dataclass(frozen=True)
class Eigenpairs:
    """k eigenpairs of a symmetric operator, ordered from the wanted end inwards.

    ``values[0]`` is the largest (``which="largest"``) or the smallest eigenvalue.
    ``vectors`` has shape (n, k) on the operator's backend (unit columns).
    ``residuals[i]`` = ‖A uᵢ − λᵢ uᵢ‖ (a certified bound on |λᵢ − exact eigenvalue|).
    ``matvecs`` counts operator applications, ``method`` says how they were found.

    Examples
    --------
    The repr is one line (sizes, the first three eigenvalues, the largest residual), never the vectors:

    >>> Eigenpairs(np.array([4.0, 1.0]), np.eye(3)[:, :2], np.array([1e-12, 3e-11]), 12, True, "lanczos")
    Eigenpairs(k=2, n=3, values=[4, 1], max residual 3.0e-11, 12 matvecs, lanczos)
    """

    values: np.ndarray
    vectors: Any
    residuals: np.ndarray
    matvecs: int
    converged: bool
    method: str

    def __repr__(self) -> str:
        values = np.asarray(self.values)
        shown = ", ".join(f"{v:.6g}" for v in values[:3]) + (", ..." if values.size > 3 else "")
        n = getattr(self.vectors, "shape", (None,))[0]
        res = float(np.max(np.asarray(self.residuals))) if np.asarray(self.residuals).size else math.nan
        return (f"Eigenpairs(k={values.size}, n={n}, values=[{shown}], max residual {res:.1e}, {self.matvecs} matvecs, "
                f"{self.method}{'' if self.converged else ', not converged'})")

    def _repr_html_(self) -> str:
        """A notebook summary: one row per eigenpair (value and residual), never the vectors."""
        from html import escape

        values, res = np.asarray(self.values), np.asarray(self.residuals)
        rows = "".join(f"<tr><td>{i}</td><td>{float(v):.8g}</td><td>{float(r):.2e}</td></tr>"
                       for i, (v, r) in enumerate(zip(values[:10], res[:10])))
        more = f"<tr><td colspan='3'>… {values.size - 10} more</td></tr>" if values.size > 10 else ""
        return (f"<table><caption>{escape(repr(self))}</caption><thead><tr><th>i</th><th>eigenvalue</th>"
                f"<th>residual</th></tr></thead><tbody>{rows}{more}</tbody></table>")

    @property
    def value(self) -> float:
        """The extreme eigenvalue (``values[0]``)."""
        return float(self.values[0])

    @property
    def error(self) -> float:
        """Residual of the extreme pair."""
        return float(self.residuals[0])


def lanczos(
    matvec: Callable[[Any], Any],
    n: int,
    xp: Any,
    dtype: Any,
    *,
    k: int = 1,
    which: str = "largest",
    tol: float = 1e-8,
    max_steps: int | None = None,
    seed: int = 0,
    check_every: int = 5,
    device: Any = None,
    start: Any = None,
) -> Eigenpairs:
    """k extreme eigenpairs of a symmetric n×n operator by Lanczos (array API).

    Parameters
    ----------
    matvec : callable
        v ↦ A v for vectors of shape (n,) in namespace ``xp``.
    n : int
        Dimension.
    k : int
        Number of pairs (1 ≤ k ≤ n).
    which : {"largest", "smallest"}
        End of the spectrum (algebraic order).
    tol : float
        Stop when the k wanted Ritz residuals |β_m s_{m,i}| are ≤ ``tol · max|θ|``
        (in float32 at least :data:`workbench.solvers.linalg.lanczos.FLOAT32_TOL` = 1e-5).
    max_steps : int, optional
        Krylov dimension cap, default ``min(n, max(100, 20 k))``. The basis is kept
        (full reorthogonalisation): memory ``max_steps · n`` numbers.
    seed : int
        Seed of the random start vector.
    device : optional
        Device to allocate on (``array_api_compat.device(theta)``; None: the default).
    start : array, optional
        Start vector (a warm start, e.g. the previous top eigenvector); default random.

    Returns
    -------
    Eigenpairs
        ``residuals`` are the Lanczos estimates |β_m s_{m,i}|, which equal ‖Au − θu‖
        in exact arithmetic with an orthogonal basis.

    Notes
    -----
    A breakdown (β ≈ 0) means an invariant subspace was found; its Ritz values are
    exact eigenvalues of A, but with fewer than k of them the rest of the spectrum was
    not reached (``converged`` is then False unless the space is all of ℝⁿ).
    """
    if isinstance(n, bool) or int(n) < 1:
        raise ParameterError(f"n: must be >= 1, got {n}")
    n = int(n)
    if int(k) < 1 or int(k) > n:
        raise ParameterError(f"k: must be between 1 and n={n}, got {k}")
    k = int(k)
    if which not in WHICH:
        raise ParameterError(f"which: expected 'largest' or 'smallest', got {which!r}")
    m_max = min(n, max(100, 20 * k)) if max_steps is None else min(int(max_steps), n)
    if m_max < k:
        raise ParameterError(f"max_steps: must be >= k={k}, got {max_steps}")
    tol = dtype_tol(xp, dtype, tol)
    for st in krylov_checkpoints(matvec, n, xp, dtype, max_steps=m_max, seed=seed, check_every=check_every,
                                 first_check=k, device=device, start=start):
        order = np.argsort(-st.theta) if which == "largest" else np.argsort(st.theta)
        idx = order[:k]
        res = st.residuals(idx)
        bound = tol * max(float(np.max(np.abs(st.theta))), 1e-300)
        done = len(idx) == k and bool(np.all(res <= bound))
        if done or st.last:
            converged = bool(len(idx) == k and (done or st.breakdown or st.steps == n))
            S = xp.asarray(np.ascontiguousarray(st.s[:, idx]), dtype=dtype, device=device)
            vecs = xp.matmul(xp.permute_dims(st.basis, (1, 0)), S)
            return Eigenpairs(st.theta[idx].copy(), vecs, res, st.steps, converged, "lanczos")
    raise AssertionError("unreachable")  # pragma: no cover


def _device(x: Any) -> Any:
    """The device of an array (``array_api_compat.device``), None for non-arrays."""
    from array_api_compat import device

    try:
        return device(x)
    except Exception:
        return None


def _residuals(obj: Any, theta: Any, values: np.ndarray, vectors: Any) -> np.ndarray:
    xp = obj.xp
    out = np.empty(len(values))
    for i, lam in enumerate(values):
        u = vectors[:, i]
        out[i] = float(xp.linalg.vector_norm(obj.hvp(theta, u) - float(lam) * u))
    return out


def dense_eigenpairs(obj: Any, theta: Any, k: int | None = None, which: str = "largest",
                     max_bytes: int = DEFAULT_MAX_HESSIAN_BYTES) -> Eigenpairs:
    """Eigenpairs from the dense Hessian (``numpy.linalg.eigh`` on the host, float64).

    The slow reference of :func:`top_eigenpairs`; refuses sizes past ``max_bytes``.
    """
    if which not in WHICH:
        raise ParameterError(f"which: expected 'largest' or 'smallest', got {which!r}")
    H = to_numpy(obj.hessian(theta, max_bytes=max_bytes)).astype(np.float64)
    w, V = np.linalg.eigh(0.5 * (H + H.T))
    kk = obj.size if k is None else int(k)
    idx = np.arange(len(w))[::-1][:kk] if which == "largest" else np.arange(kk)
    vals, vecs = w[idx], V[:, idx]
    res = np.linalg.norm(H @ vecs - vecs * vals, axis=0)
    return Eigenpairs(vals.copy(), obj.xp.asarray(np.ascontiguousarray(vecs), dtype=obj.dtype,
                                                  device=_device(theta)), res, obj.size, True, "dense")


def top_eigenpairs(obj: Any, theta: Any, k: int = 1, *, which: str = "largest", method: str = "auto",
                   tol: float = 1e-8, max_steps: int | None = None, seed: int = 0,
                   max_bytes: int = DEFAULT_MAX_HESSIAN_BYTES) -> Eigenpairs:
    """The k largest (or smallest) eigenpairs of ∇²E(θ) from Hessian-vector products.

    Parameters
    ----------
    obj : Objective
    theta : array, shape (n,)
    k : int
    which : {"largest", "smallest"}
    method : {"auto", "eigsh", "lanczos", "dense"}
        ``"eigsh"``: scipy's ARPACK on a ``LinearOperator`` of HVPs (NumPy backend only);
        ``"lanczos"``: :func:`lanczos` on the objective's backend; ``"dense"``:
        :func:`dense_eigenpairs`. ``"auto"``: dense for n ≤ 64, eigsh on NumPy,
        Lanczos otherwise.
    tol : float
        Relative tolerance (ARPACK's ``tol``; Lanczos residual ≤ tol·|λ|max; in float32
        at least 1e-5, :data:`workbench.solvers.linalg.lanczos.FLOAT32_TOL`).

    Returns
    -------
    Eigenpairs
        With the residual ‖Hu − λu‖ of every pair recomputed by one HVP each
        (except for ``"dense"``, where it is computed from H).
    """
    if method not in METHODS:
        raise ParameterError(f"method: unknown eigen method {method!r}; use {', '.join(METHODS)}")
    if which not in WHICH:
        raise ParameterError(f"which: expected 'largest' or 'smallest', got {which!r}")
    n = obj.size
    if isinstance(k, bool) or int(k) < 1 or int(k) > n:
        raise ParameterError(f"k: must be between 1 and the number of parameters {n}, got {k}")
    k = int(k)
    numpy_backend = backend_name(obj.xp) == "numpy"
    if method == "auto":
        method = "dense" if n <= 64 else ("eigsh" if numpy_backend and k < n - 1 else "lanczos")
    if method == "dense":
        return dense_eigenpairs(obj, theta, k, which, max_bytes)
    if method == "eigsh":
        if not numpy_backend:
            raise ParameterError(f"method: 'eigsh' runs on the numpy backend only, the objective is on "
                                 f"{backend_name(obj.xp)}; use 'lanczos'")
        if k >= n - 1:
            raise ParameterError(f"k: eigsh needs k < n - 1 = {n - 1}; use method='dense' or 'lanczos'")
        from scipy.sparse.linalg import LinearOperator, eigsh

        xp, dt = obj.xp, obj.dtype
        count = [0]

        def mv(x: np.ndarray) -> np.ndarray:
            count[0] += 1
            return np.asarray(obj.hvp(theta, xp.asarray(np.ravel(x), dtype=dt)), dtype=np.float64)

        op = LinearOperator((n, n), matvec=mv, dtype=np.float64)
        v0 = np.random.default_rng(seed).standard_normal(n)
        vals, vecs = eigsh(op, k=k, which="LA" if which == "largest" else "SA", tol=tol, v0=v0,
                           maxiter=None if max_steps is None else int(max_steps))
        order = np.argsort(-vals) if which == "largest" else np.argsort(vals)
        vals, vecs = vals[order], vecs[:, order]
        V = xp.asarray(np.ascontiguousarray(vecs), dtype=dt)
        res = _residuals(obj, theta, vals, V)
        return Eigenpairs(vals, V, res, count[0] + k, True, "eigsh")
    # an objective that can keep its gradient graph at θ (TorchObjective.hvp_operator) builds it once
    op = obj.hvp_operator(theta) if hasattr(obj, "hvp_operator") else (lambda u: obj.hvp(theta, u))
    r = lanczos(op, n, obj.xp, obj.dtype, k=k, which=which, tol=tol,
                max_steps=max_steps, seed=seed, device=_device(theta))
    res = _residuals(obj, theta, r.values, r.vectors)
    return Eigenpairs(r.values, r.vectors, res, r.matvecs + k, r.converged, "lanczos")


def sharpness(obj: Any, theta: Any, *, method: str = "auto", tol: float = 1e-8, seed: int = 0,
              max_steps: int | None = None) -> Eigenpairs:
    """λ_max(∇²E(θ)) with its eigenvector and residual (``.value``, ``.error``).

    GD with step η is linearly unstable at a critical point where this exceeds 2/η
    (fourth paper, Fact 1 / Theorem 1; first paper (50) with the Hessian spectrum
    in place of F̂).
    """
    return top_eigenpairs(obj, theta, 1, which="largest", method=method, tol=tol, seed=seed, max_steps=max_steps)


def drift(obj: Any, theta: Any, method: str = "exact", eps: float | None = None) -> Any:
    """The drift ∇²E(θ)∇E(θ) of the third paper (Rosca et al., §6.1, Theorem 6.1).

    ``method="exact"``: one Hessian-vector product with v = ∇E. ``"forward"``: the
    one-extra-gradient difference [∇E(θ + ε∇E) − ∇E(θ)]/ε (Geiping et al. 2021, as
    quoted there), ε = √(machine ε) · max(1, rms θ)/rms ∇E by default (:func:`fd_step`
    with order 1: the O(ε) truncation and O(macheps/ε) rounding errors balance).
    ``"central"``: [∇E(θ + ε∇E) − ∇E(θ − ε∇E)]/(2ε), ε^{1/3} scaling, two extra
    gradients.
    """
    g = obj.gradient(theta)
    if method == "exact":
        return obj.hvp(theta, g)
    if method == "forward":
        h = fd_step(theta, g, 1) if eps is None else float(eps)
        if h == 0.0:
            return g * 0.0
        return (obj.gradient(theta + h * g) - g) / h
    if method == "central":
        h = fd_step(theta, g, 2) if eps is None else float(eps)
        if h == 0.0:
            return g * 0.0
        return (obj.gradient(theta + h * g) - obj.gradient(theta - h * g)) / (2.0 * h)
    raise ParameterError(f"method: unknown drift method {method!r}; use exact, forward or central")


@dataclass(frozen=True)
class DriftReport:
    """Drift quantities at one θ (third paper §6): norms, and exact vs finite difference."""

    grad_norm: float
    drift_norm: float  # ‖∇²E ∇E‖, exact
    drift_fd_norm: float  # ‖forward difference‖
    rel_error_fd: float  # ‖exact − forward‖ / ‖exact‖
    normalized: float  # ‖∇²E ĝ‖ = drift_norm / grad_norm (DAL's denominator)

    def to_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def drift_report(obj: Any, theta: Any) -> DriftReport:
    """Exact and forward-difference drift side by side, and ‖∇²E ĝ‖."""
    xp = obj.xp
    g = obj.gradient(theta)
    gn = float(xp.linalg.vector_norm(g))
    ex = drift(obj, theta, "exact")
    fd = drift(obj, theta, "forward")
    en = float(xp.linalg.vector_norm(ex))
    err = float(xp.linalg.vector_norm(ex - fd)) / en if en > 0 else float(xp.linalg.vector_norm(fd))
    return DriftReport(gn, en, float(xp.linalg.vector_norm(fd)), err, en / gn if gn > 0 else 0.0)

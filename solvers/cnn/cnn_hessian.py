"""Hessian of the windowed nonlinear one-layer CNN loss, and the local amplification factor.

First paper (Sun et al. 2022), main text §5 and appendix D.1: the loss (2) of the
one-layer CNN on one image, L(K) = ℓ(y, ŷ) + (α/2)‖K‖², ŷ = s(Σ_x r(u)(x) − b),
u = K⋆I, r the Swish with β (14), s the sigmoid, ℓ the cross-entropy. Its gradient on
the w×w window is (:func:`workbench.solvers.cnn.schemes.nonlinear_gradient`)

    ∇L = (ŷ − y) g + αK,    g = P*r′(u),

with P = ``response`` (K ↦ K⋆I) and P* = ``backproject`` its adjoint. Differentiating
once more by hand gives the Hessian-vector product used here:

    H V = αV + (ŷ − y) P*[r″(u) · PV] + ŷ(1 − ŷ) ⟨g, V⟩ g,

r″(u) = βσ(1 − σ)(2 + βu(1 − 2σ)), σ = σ(βu). One product costs two correlations
(four real FFTs of the image grid per member), like one gradient. ŷ(1 − ŷ) is computed
as e^{−|t|}/(1 + e^{−|t|})², accurate where ŷ rounds to 1.

:func:`hvp_fd` is the independent reference (central differences of the gradient),
:func:`hessian_dense` the dense host reference for tiny windows.

The **local amplification factor** of gradient descent K ← K − lr∇L at an iterate is
the spectral radius ρ = max(|1 − lr λ_min|, |1 − lr λ_max|) of its Jacobian I − lr H
(H symmetric). :func:`step_spectral_radius` gets λ_min, λ_max for a whole batch of
iterates at once with a batched Lanczos iteration on Hessian-vector products
(:func:`batched_lanczos_extremes`), with a certified error bound. ρ > 1 means the
iterate is outside the locally stable region: perturbations along the extreme
eigenvector grow during that step. Because H is symmetric, ‖J_n⋯J_1‖ ≤ ∏ρ_n, so
mean(log ρ_n) over a trajectory bounds the growth rate of rounding differences from
above; it equals it when the Hessians commute (the checkerboard: H = αI + c_n vvᵀ).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from scipy.linalg import eigh_tridiagonal

from array_api_compat import is_numpy_namespace

from workbench.solvers.core.backend import namespace_of, to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.cnn.model import cross_entropy, sigmoid, swish_derivatives, swish_second
from workbench.solvers.cnn.schemes import nonlinear_gradient

__all__ = [
    "LocalCurvature",
    "hvp",
    "hvp_fd",
    "hessian_dense",
    "batched_lanczos_extremes",
    "step_spectral_radius",
]


def _batch(K: Any) -> tuple[Any, bool]:
    xp = namespace_of(K)
    if K.ndim == 2:
        return xp.reshape(K, (1,) + tuple(K.shape)), True
    if K.ndim != 3:
        raise ParameterError(f"K: expected shape (w, w) or (B, w, w), got {tuple(K.shape)}")
    return K, False


def _alpha_col(xp: Any, alphas: Any, B: int, dtype: Any) -> Any:
    if isinstance(alphas, (int, float, np.floating, np.integer)):
        return xp.full((B, 1, 1), float(alphas), dtype=dtype)
    a = xp.asarray(alphas, dtype=dtype) if not hasattr(alphas, "shape") else alphas
    return xp.reshape(a, (-1, 1, 1)) if a.ndim <= 1 else a


#: On the host, LocalCurvature works through a batch this many bytes of complex spectrum at a time
#: (one member on the 256×256 grid in float64, three in float32): each member's response, Swish
#: and backprojection then stay in the 1 MiB L2 cache instead of streaming (B, H, W) arrays
#: through memory, about 1.4× faster; every member's numbers are the same (members are independent).
HOST_CHUNK_BYTES = 2 ** 20


def member_chunks(op: CnnOperator, B: int) -> list[slice]:
    """Slices of a batch of B members, a cache-sized chunk each on the NumPy backend (one chunk elsewhere)."""
    if not is_numpy_namespace(op.xp):
        return [slice(0, B)]
    spectrum = op.shape[0] * (op.shape[1] // 2 + 1) * 2 * np.dtype(op.dtype).itemsize
    step = max(1, HOST_CHUNK_BYTES // spectrum)
    return [slice(i, min(i + step, B)) for i in range(0, B, step)]


class LocalCurvature:
    """Everything the Hessian of the loss needs at a batch of iterates K (B, w, w).

    Built from one ``response`` and one ``backproject``; :meth:`matvec` then costs one
    more of each per product. ``gradient`` is the gradient at K, bit-identical to
    :func:`workbench.solvers.cnn.schemes.nonlinear_gradient`; ``loss`` the loss (2) per member.
    The pixel-sized arrays are computed in cache-sized chunks of members (:func:`member_chunks`).
    """

    def __init__(self, op: CnnOperator, K: Any, alphas: Any, beta: float = 1.0, b: float = 0.0, y: float = 1.0,
                 *, need_loss: bool = True):
        xp = op.xp
        self.op, self.xp = op, xp
        K, self.squeeze = _batch(K)
        self.K = K
        B = int(K.shape[0])
        self.alphas = _alpha_col(xp, alphas, B, K.dtype)
        self.beta, self.b, self.y = float(beta), float(b), float(y)
        self._chunks = member_chunks(op, B)
        self._u, self._sg, self._r2 = [], [], []
        gsums, gs = [], []
        for c in self._chunks:
            u = op.response(_part(K, c, B))
            sg, r, r1 = swish_derivatives(xp, u, self.beta, second=False)
            self._u.append(u)
            self._sg.append(sg)
            gsums.append(xp.sum(xp.sum(r, axis=-1), axis=-1))
            gs.append(op.backproject(r1))  # P* r'(u): the data direction
        t = _joined(xp, gsums) - self.b
        self.t = t
        self.yhat = sigmoid(xp, t)
        self.coeff = xp.reshape(self.yhat - self.y, (-1, 1, 1))
        self.g = _joined(xp, gs)
        e = xp.exp(-xp.abs(t))
        self.curv = xp.reshape(e / ((1.0 + e) * (1.0 + e)), (-1, 1, 1))  # ŷ(1 − ŷ), accurate
        self._loss = None
        if need_loss:
            self._loss = cross_entropy(xp, t, self.y) + 0.5 * xp.reshape(self.alphas, (-1,)) * xp.sum(xp.sum(K * K, axis=-1), axis=-1)

    @property
    def gradient(self) -> Any:
        """(ŷ − y) P*r′(u) + αK, the operations of :func:`~workbench.solvers.cnn.schemes.nonlinear_gradient`."""
        return self.coeff * self.g + self.alphas * self.K

    @property
    def u(self) -> Any:
        """The responses u = K⋆I of the batch (B, Ho, Wo)."""
        return _joined(self.xp, self._u)

    def _second(self, i: int) -> Any:
        """r″(u) of chunk i, computed at the first Hessian-vector product (a gradient step needs none)."""
        if len(self._r2) <= i:
            sg = self._sg[i]
            self._r2.append(swish_second(self._u[i], sg, 1.0 - sg, self.beta))
            self._sg[i] = None
        return self._r2[i]

    @property
    def loss(self) -> Any:
        if self._loss is None:
            raise ParameterError("loss: built with need_loss=False")
        return self._loss

    def matvec(self, V: Any) -> Any:
        """H V for V of shape (B, w, w) (one direction per member)."""
        xp, op = self.xp, self.op
        B = int(self.K.shape[0])
        data = _joined(xp, [op.backproject(self._second(i) * op.response(_part(V, c, B)))
                            for i, c in enumerate(self._chunks)])
        gv = xp.reshape(xp.sum(xp.sum(self.g * V, axis=-1), axis=-1), (-1, 1, 1))
        return self.alphas * V + self.coeff * data + (self.curv * gv) * self.g


def _part(x: Any, c: slice, B: int) -> Any:
    """Members ``c`` of a batch x of B members (x itself when c covers them all or x is one broadcast member)."""
    return x if (c.start, c.stop) == (0, B) or int(x.shape[0]) == 1 else x[c, ...]


def _joined(xp: Any, parts: list) -> Any:
    """The chunks of a batch back in one array (the chunk itself when there is one)."""
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def hvp(op: CnnOperator, K: Any, V: Any, alphas: Any, beta: float = 1.0, b: float = 0.0, y: float = 1.0) -> Any:
    """Exact Hessian-vector product H(K)·V of the loss (2) (see the module docstring).

    ``K`` and ``V`` have shape (w, w) or (B, w, w); ``alphas`` a number or one per member.
    """
    lc = LocalCurvature(op, K, alphas, beta, b, y, need_loss=False)
    Vb, _ = _batch(V)
    out = lc.matvec(Vb)
    return out[0, ...] if lc.squeeze else out


def hvp_fd(op: CnnOperator, K: Any, V: Any, alphas: Any, beta: float = 1.0, b: float = 0.0, y: float = 1.0,
           h: float | None = None) -> Any:
    """Central finite difference [∇L(K + hV) − ∇L(K − hV)] / (2h), the slow reference of :func:`hvp`.

    Default step h = ε^{1/3}·max(‖K‖, s)/‖V‖ with s = 1e-3/(w·rms(I)) (the size of the default initial kernel): it balances the O(h²)
    truncation error against the O(ε/h) rounding error of the gradient (ε of the dtype).
    """
    xp = op.xp
    Kb, squeeze = _batch(K)
    Vb, _ = _batch(V)
    al = _alpha_col(xp, alphas, int(Kb.shape[0]), Kb.dtype)
    if h is None:
        eps = float(np.finfo(np.float32 if Kb.dtype == xp.float32 else np.float64).eps)
        rms = float(xp.sqrt(xp.mean(op.image * op.image)))
        kn = float(xp.max(xp.sqrt(xp.sum(xp.sum(Kb * Kb, axis=-1), axis=-1))))
        vn = float(xp.max(xp.sqrt(xp.sum(xp.sum(Vb * Vb, axis=-1), axis=-1))))
        h = eps ** (1.0 / 3.0) * max(kn, 1e-3 / (op.w * max(rms, 1e-300))) / max(vn, 1e-300)
    gp, _ = nonlinear_gradient(op, Kb + h * Vb, al, beta, b, y)
    gm, _ = nonlinear_gradient(op, Kb - h * Vb, al, beta, b, y)
    out = (gp - gm) / (2.0 * h)
    return out[0, ...] if squeeze else out


def hessian_dense(op: CnnOperator, K: Any, alpha: float, beta: float = 1.0, b: float = 0.0, y: float = 1.0) -> np.ndarray:
    """Dense w²×w² Hessian at one kernel K (w, w), float64 on the host, from the patch matrix.

    H = αI + (ŷ − y) Pᵀ diag(r″(u)) P + ŷ(1 − ŷ) g gᵀ with P the (pixels × w²) patch
    matrix, u = P vec(K), g = Pᵀ r′(u). O(pixels · w⁴): for tiny windows and tests only.
    """
    P = op.patches_dense()
    k = to_numpy(K).astype(np.float64).reshape(-1)
    u = P @ k
    sg = 0.5 * (1.0 + np.tanh(0.5 * beta * u))
    r = u * sg
    r1 = sg + beta * u * sg * (1.0 - sg)
    r2 = beta * sg * (1.0 - sg) * (2.0 + beta * u * (1.0 - 2.0 * sg))
    t = float(np.sum(r)) - b
    yhat = 0.5 * (1.0 + np.tanh(0.5 * t))
    e = np.exp(-abs(t))
    g = P.T @ r1
    n = P.shape[1]
    return alpha * np.eye(n) + (yhat - y) * (P.T * r2) @ P + (e / (1.0 + e) ** 2) * np.outer(g, g)


def batched_lanczos_extremes(
    matvec: Callable[[Any], Any],
    batch: int,
    n: int,
    xp: Any,
    dtype: Any,
    *,
    max_steps: int = 30,
    tol: float | None = None,
    seed: int = 0,
    check_every: int = 2,
) -> dict:
    """Extreme eigenvalues of ``batch`` symmetric n×n operators at once, by Lanczos.

    ``matvec`` maps (batch, n) to (batch, n), member i by its own operator. Every member
    runs its own Lanczos recurrence (full reorthogonalisation, twice) from the same
    seeded start vector; members that break down (an invariant subspace: their Ritz
    values are exact) or converge (both extreme residuals ≤ ``tol``·max|θ|) are frozen
    with zero vectors while the others go on. Stops when all members are done or after
    ``max_steps`` products.

    Returns host arrays (length ``batch``): ``lambda_min``, ``lambda_max``, ``error_min``,
    ``error_max`` (residual norms ‖Hy − θy‖: the eigenvalue lies within that distance),
    ``steps`` (Krylov dimension used), ``converged``.
    """
    if n < 1 or batch < 1:
        raise ParameterError(f"n: need n >= 1 and batch >= 1, got n={n}, batch={batch}")
    m_max = max(1, min(int(max_steps), n))
    eps = float(np.finfo(np.float32 if dtype == xp.float32 else np.float64).eps)
    tol = float(tol) if tol is not None else max(1e-8, 1e3 * eps)  # 1e-8 in float64, 1.2e-4 in float32
    rng = np.random.default_rng(seed)
    v0 = rng.standard_normal(n)
    v0 /= np.linalg.norm(v0)
    v = xp.asarray(np.broadcast_to(v0, (batch, n)).copy(), dtype=dtype)
    basis = xp.zeros((m_max, batch, n), dtype=dtype)
    v_prev = xp.zeros_like(v)
    beta_prev = xp.zeros((batch, 1), dtype=dtype)
    A = np.zeros((m_max, batch))
    Bt = np.zeros((m_max, batch))
    length = np.zeros(batch, dtype=int)  # Krylov dimension of finished members (0 = running)
    lam_min = np.full(batch, np.nan)
    lam_max = np.full(batch, np.nan)
    err_min = np.full(batch, np.nan)
    err_max = np.full(batch, np.nan)
    conv = np.zeros(batch, dtype=bool)
    scale = np.zeros(batch)
    for j in range(m_max):
        basis[j, ...] = v
        w = matvec(v)
        a = xp.sum(w * v, axis=-1)
        w = w - xp.reshape(a, (-1, 1)) * v - beta_prev * v_prev
        vb = basis[: j + 1, ...]
        for _ in range(2):
            c = xp.sum(vb * xp.reshape(w, (1, batch, n)), axis=-1)  # (j+1, batch)
            w = w - xp.sum(xp.reshape(c, (j + 1, batch, 1)) * vb, axis=0)
        bn = xp.sqrt(xp.sum(w * w, axis=-1))
        a_h = to_numpy(a).astype(np.float64)
        b_h = to_numpy(bn).astype(np.float64)
        running = length == 0
        A[j, running] = a_h[running]
        Bt[j, running] = b_h[running]
        scale = np.maximum(scale, np.maximum(np.abs(a_h), b_h))
        breakdown = running & (b_h <= 100.0 * eps * np.sqrt(n) * np.maximum(scale, 1e-300))
        last = j + 1 == m_max
        check = last or (j + 1) % check_every == 0 or bool(np.any(breakdown))
        if check:
            for i in np.nonzero(running)[0]:
                d, e = A[: j + 1, i], Bt[:j, i]
                if j == 0:
                    theta, s = d.copy(), np.ones((1, 1))
                else:
                    theta, s = eigh_tridiagonal(d, e)
                res = np.zeros_like(theta) if breakdown[i] else np.abs(Bt[j, i] * s[-1, :])
                bound = tol * max(np.max(np.abs(theta)), 1e-300)
                ok = bool(breakdown[i] or (res[0] <= bound and res[-1] <= bound))
                if ok or last:
                    lam_min[i], lam_max[i] = theta[0], theta[-1]
                    err_min[i], err_max[i] = res[0], res[-1]
                    conv[i] = ok or j + 1 == n
                    length[i] = j + 1
        running = length == 0
        if not np.any(running):
            break
        keep = xp.asarray(running.reshape(-1, 1))
        bcol = xp.reshape(bn, (-1, 1))
        v_new = xp.where(keep, w / xp.where(keep, bcol, xp.ones_like(bcol)), xp.zeros_like(w))
        v_prev, v, beta_prev = v, v_new, xp.where(keep, bcol, xp.zeros_like(bcol))
    return {"lambda_min": lam_min, "lambda_max": lam_max, "error_min": err_min, "error_max": err_max,
            "steps": length, "converged": conv}


def step_spectral_radius(
    op: CnnOperator,
    K: Any,
    alphas: Any,
    lrs: Any,
    beta: float = 1.0,
    b: float = 0.0,
    y: float = 1.0,
    *,
    curvature: LocalCurvature | None = None,
    max_steps: int = 30,
    tol: float | None = None,
    seed: int = 0,
) -> dict:
    """Spectral radius of the gradient-descent Jacobian I − lr·H(K) for a batch of iterates.

    ``K`` (B, w, w), ``alphas`` and ``lrs`` one per member (or scalars). Returns host
    arrays ``rho`` = max(|1 − lr λ_min|, |1 − lr λ_max|), ``rho_error`` = lr·max(residual)
    (a bound on |ρ − ρ_true|), ``lambda_min``, ``lambda_max``, ``steps``, ``converged``.
    Pass a prebuilt ``curvature`` to reuse the forward pass of a gradient step.
    """
    xp = op.xp
    lc = curvature if curvature is not None else LocalCurvature(op, K, alphas, beta, b, y, need_loss=False)
    Kb = lc.K
    B, w = int(Kb.shape[0]), op.w
    lr_h = np.broadcast_to(np.asarray(to_numpy(lrs) if hasattr(lrs, "shape") else lrs, dtype=np.float64).reshape(-1), (B,))

    def mv(v: Any) -> Any:
        return xp.reshape(lc.matvec(xp.reshape(v, (B, w, w))), (B, w * w))

    ex = batched_lanczos_extremes(mv, B, w * w, xp, Kb.dtype, max_steps=max_steps, tol=tol, seed=seed)
    rho = np.maximum(np.abs(1.0 - lr_h * ex["lambda_min"]), np.abs(1.0 - lr_h * ex["lambda_max"]))
    out = dict(ex)
    out["rho"] = rho
    out["rho_error"] = lr_h * np.maximum(ex["error_min"], ex["error_max"])
    return out

"""Onset of instability of the nonlinear one-layer CNN scheme at an equilibrium, by bisection on α.

First paper (Sun et al. 2022), appendix D.4-D.5.  The linearizations there predict
when gradient descent (13) on the one-layer CNN turns unstable *near a given
kernel* (``K = 0`` in D.4, an "activated" kernel with ``K ⋆ I > 0`` in D.5).  The
nonlinear scheme has forcing (``∇L(0) = ½(s(0) - y)c ≠ 0``), so it does not sit
at the linearization point; what loses stability is its equilibrium ``K*(α)``,
``∇L(K*) = 0``.  This module measures that onset by simulation:

1. :func:`equilibrium` -- ``K*(α)`` for every α of a batch, by the damped Picard
   iteration ``K ← K - (relax/α)∇L(K)`` (a contraction while the data-loss
   Hessian is small against α; independent of the scheme's Δt, so it finds
   ``K*`` also where the scheme is unstable);
2. :func:`local_stability` -- the scheme (13) with step Δt started from
   ``K* + ε v`` (``v`` a seeded random direction, ``ε`` a tiny fraction of
   ``‖K*‖``) and classified by :class:`~workbench.solvers.stepping.divergence.DivergenceCriterion` with
   ``blowup = 1e4`` (:data:`LOCAL_CRITERION`): the perturbation decays (stable) or
   grows (unstable).  The map linearized at ``K*`` is symmetric (a Hessian), so in
   the stable case the increments never grow; in the unstable case they either
   still grow at the end (``growth``) or have grown by more than 1e4 before the
   nonlinearity bounds them (``blowup``: a period-2 orbit of the sigmoid, which
   the end-of-run growth test alone would call stable);
3. :func:`bisect_onset` / :func:`nonlinear_onset` -- a scan and then batched
   bisection on α to a relative tolerance.

Slow references on the host: :func:`data_hessian` (the dense Hessian of the data
term at one kernel, ``s'(g - b)∇g∇gᵀ + (ŷ - y)Pᵀ diag(r''(u)) P``) and
:func:`hessian_onset` (the α where ``α + λ_max(H(K*(α))) = 2/Δt``), which the
simulated onset must reproduce to the bisection tolerance; :func:`rank_one_operator`
builds the windowed D.4 operator ``coef_G·G + coef_cc·c cᵀ`` from coefficients
lambdified from :mod:`workbench.derivations.linearizations`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from workbench.solvers.core.backend import quiet_overflow, to_numpy
from workbench.solvers.core.checks import ParameterError, check_finite, check_positive
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.cnn.model import sigmoid, swish_derivatives
from workbench.solvers.stepping import stepper
from workbench.solvers.stepping.bisect import stable_interval
from workbench.solvers.stepping.divergence import DivergenceCriterion, RunResult
from workbench.solvers.cnn.schemes import check_model, nonlinear_gradient

__all__ = [
    "LOCAL_CRITERION", "Equilibrium", "equilibrium", "local_stability", "bisect_onset", "nonlinear_onset",
    "data_hessian", "activation_stats", "rank_one_operator", "hessian_onset",
]


#: criterion for perturbations of an equilibrium: saturation before 1e4-fold growth is impossible
#: unless the saturated amplitude is below 1e4 * rel_perturbation (1e-6 of ‖K*‖ by default)
LOCAL_CRITERION = DivergenceCriterion(blowup=1e4)


def _positive_alphas(alphas: Any) -> np.ndarray:
    try:
        arr = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    except (TypeError, ValueError):
        raise ParameterError(f"alpha: expected numbers, got {alphas!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ParameterError("alpha: expected a non-empty 1-D sequence of weight decays")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ParameterError(f"alpha: the equilibrium iteration needs finite alpha > 0, got {arr.tolist()}")
    return arr


def _batch(op: CnnOperator, K: Any, B: int) -> Any:
    xp = op.xp
    K = xp.asarray(K, dtype=op.dtype)
    if tuple(K.shape) not in ((B, op.w, op.w), (op.w, op.w)):
        raise ParameterError(f"K0: expected shape {(B, op.w, op.w)} or {(op.w, op.w)}, got {tuple(K.shape)}")
    if K.ndim == 2:
        K = xp.broadcast_to(K, (B, op.w, op.w))
    return xp.asarray(K, copy=True)


def _norms(xp: Any, x: Any) -> Any:
    return xp.sqrt(xp.sum(xp.sum(x * x, axis=-1), axis=-1))


@dataclass
class Equilibrium:
    """Result of :func:`equilibrium` (host arrays, one entry per α)."""

    alphas: np.ndarray
    kernel: Any               # (B, w, w) backend array
    residual: np.ndarray      # ‖∇L(K*)‖ / (α‖K*‖)
    converged: np.ndarray
    iterations: int


def equilibrium(
    op: CnnOperator,
    alphas: Any,
    beta: float = 1.0,
    b: float = 0.0,
    y: float = 1.0,
    K0: Any = None,
    *,
    relax: float = 1.0,
    tol: float = 1e-13,
    max_iter: int = 2000,
) -> Equilibrium:
    """Stationary points ``∇L(K*) = 0`` of the loss (2), one per α, by ``K ← K - (relax/α)∇L(K)``.

    ``∇L = (ŷ - y)(r'(K⋆I) ⋆ I) + αK`` (first paper, appendix D.1, eq. (11)), so with
    ``relax = 1`` this is the fixed-point map ``K ← -(ŷ - y)(r'(K⋆I) ⋆ I)/α``; it
    converges when the data-loss Hessian is small against α (contraction
    ``max|λ|/α < 1``).  Start: ``K0`` (default 0).  Converged when the relative
    residual ``‖∇L‖/(α‖K‖)`` is at most ``tol``.
    """
    beta, b, y = check_model(beta, b, y)
    relax = check_positive("relax", relax)
    tol = check_positive("tol", tol)
    if int(max_iter) < 1:
        raise ParameterError(f"max_iter: need at least 1 iteration, got {max_iter}")
    host = _positive_alphas(alphas)
    xp = op.xp
    B = host.size
    al = xp.reshape(xp.asarray(host, dtype=op.dtype), (B, 1, 1))
    K = xp.zeros((B, op.w, op.w), dtype=op.dtype) if K0 is None else _batch(op, K0, B)
    res = np.full(B, np.inf)
    it = 0
    with quiet_overflow():          # a non-contracting iteration overflows: reported as not converged
        for it in range(1, int(max_iter) + 1):
            grad, _ = nonlinear_gradient(op, K, al, beta, b, y)
            K = K - (relax / al) * grad
            if it % 10 == 0 or it == int(max_iter):
                grad, _ = nonlinear_gradient(op, K, al, beta, b, y)
                gn = to_numpy(_norms(xp, grad)).astype(np.float64)
                kn = to_numpy(_norms(xp, K)).astype(np.float64)
                res = gn / np.maximum(host * kn, np.finfo(np.float64).tiny)
                res = np.where(np.isfinite(res), res, np.inf)
                if np.all(res <= tol) or np.any(np.isinf(res)):
                    break
    return Equilibrium(host, K, res, res <= tol, it)


def local_stability(
    op: CnnOperator,
    alphas: Any,
    dt: float,
    beta: float = 1.0,
    b: float = 0.0,
    y: float = 1.0,
    *,
    steps: int = 400,
    rel_perturbation: float = 1e-10,
    seed: int = 0,
    K0: Any = None,
    criterion: DivergenceCriterion | None = None,
    eq: Equilibrium | None = None,
) -> RunResult:
    """Run gradient descent (13) from ``K*(α) + ε v`` and classify each α (stable = not diverged).

    ``ε = rel_perturbation · max(‖K*‖, 1e-3/rms(I))``; ``v`` is a seeded unit
    random direction, the same for every α.  ``K0`` seeds :func:`equilibrium`.
    ``result.extra`` holds the equilibria (``"equilibrium"``).
    """
    dt = check_positive("dt", dt)
    rel = check_positive("rel_perturbation", rel_perturbation)
    host = _positive_alphas(alphas)
    if eq is None:
        eq = equilibrium(op, host, beta, b, y, K0)
    if not np.all(eq.converged):
        bad = host[~eq.converged].tolist()
        raise ParameterError(f"alpha: the equilibrium iteration did not converge for alpha = {bad} "
                             f"(residual {eq.residual[~eq.converged].tolist()}); alpha is too small against "
                             "the data-loss Hessian for the Picard iteration")
    xp = op.xp
    B = host.size
    v = np.random.default_rng(seed).standard_normal((op.w, op.w))
    v /= np.linalg.norm(v)
    rms = float(np.sqrt(np.mean(to_numpy(op.image).astype(np.float64) ** 2)))
    kn = to_numpy(_norms(xp, eq.kernel)).astype(np.float64)
    size = rel * np.maximum(kn, 1e-3 / max(rms, 1e-300))
    start = eq.kernel + xp.asarray(size[:, None, None] * v[None], dtype=op.dtype)
    al = xp.reshape(xp.asarray(host, dtype=op.dtype), (B, 1, 1))
    beta, b, y = check_model(beta, b, y)
    res = stepper.run("gd", lambda K: nonlinear_gradient(op, K, al, beta, b, y)[0], start, dt, steps,
                      criterion=criterion or LOCAL_CRITERION, members=host)
    res.extra["equilibrium"] = eq
    return res


def bisect_onset(
    classify: Callable[[np.ndarray], np.ndarray],
    lo: float,
    hi: float,
    *,
    side: str = "upper",
    rtol: float = 1e-4,
    scan: int = 9,
    points: int = 3,
    max_rounds: int = 60,
) -> dict:
    """Locate a stability onset in α with the one scan-and-bisect (:func:`workbench.solvers.stepping.bisect.stable_interval`).

    ``classify(alphas) -> bool array`` (True = stable) is called with one batch per
    round.  ``side="upper"``: stable below the onset, unstable above (an upper
    bound on α); ``"lower"``: the reverse.  Returns ``alpha`` (bracket midpoint),
    ``bracket`` ``[stable side, unstable side]``, ``runs``, ``rounds`` and
    ``monotone`` (False if the scan found a stable value beyond an unstable one).
    """
    lo, hi = check_finite("lo", lo), check_finite("hi", hi)
    if not lo < hi:
        raise ParameterError(f"lo: must be below hi, got [{lo}, {hi}]")
    if side not in ("upper", "lower"):
        raise ParameterError(f"side: must be 'upper' or 'lower', got {side!r}")
    rtol = check_positive("rtol", rtol)
    if rtol >= 1:
        raise ParameterError(f"rtol: must be < 1, got {rtol}")
    s = stable_interval(classify, lo, hi, rtol=rtol, scan=max(int(scan), 3), points=points, edges=(side,),
                        max_rounds=max_rounds)
    edge = s.edges[side]
    if s.empty or not edge.found:
        raise ParameterError(
            f"lo: no {'stable-to-unstable' if side == 'upper' else 'unstable-to-stable'} transition in "
            f"[{lo:.6g}, {hi:.6g}]; widen the interval")
    u, st = edge.bracket
    converged = abs(st - u) <= rtol * max(abs(u), abs(st))
    return {"alpha": edge.value, "bracket": [float(st), float(u)], "runs": int(s.runs), "rounds": int(s.rounds),
            "monotone": not any("between stable ones" in n for n in s.notes), "converged": bool(converged),
            "rtol": rtol, "side": side, "scan": [float(lo), float(hi), int(scan)]}


def nonlinear_onset(
    op: CnnOperator,
    dt: float,
    lo: float,
    hi: float,
    beta: float = 1.0,
    b: float = 0.0,
    y: float = 1.0,
    *,
    side: str = "upper",
    rtol: float = 1e-4,
    steps: int = 400,
    rel_perturbation: float = 1e-10,
    seed: int = 0,
    K0: Any = None,
    scan: int = 9,
    points: int = 3,
    criterion: DivergenceCriterion | None = None,
) -> dict:
    """The α where the equilibrium of the nonlinear scheme (13) turns unstable, by :func:`bisect_onset`.

    Each classification is one batched :func:`local_stability` run; ``K0`` seeds
    the equilibrium iteration.  Adds ``steps``, ``rel_perturbation`` and the
    criterion to the result of :func:`bisect_onset`.
    """
    crit = criterion or LOCAL_CRITERION

    def classify(alphas: np.ndarray) -> np.ndarray:
        r = local_stability(op, alphas, dt, beta, b, y, steps=steps, rel_perturbation=rel_perturbation,
                            seed=seed, K0=K0, criterion=crit)
        return ~r.diverged

    out = bisect_onset(classify, lo, hi, side=side, rtol=rtol, scan=scan, points=points)
    out.update(steps=int(steps), rel_perturbation=float(rel_perturbation),
               criterion=f"perturbation of the equilibrium: increment growth over the last {crit.window:.0%} "
                         f"of {int(steps)} steps, blow-up x{crit.blowup:.0e}, non-finite")
    return out


# -- host references -------------------------------------------------------------------
def data_hessian(op: CnnOperator, K: Any, beta: float = 1.0, b: float = 0.0, y: float = 1.0) -> np.ndarray:
    """Dense Hessian of the data term ``ℓ(y, s(g(K)))`` at one w×w kernel (host float64).

    ``H = s'(g - b)∇g∇gᵀ + (ŷ - y)Pᵀ diag(r''(u)) P`` with ``P`` the patch matrix
    (row x: ``I(x + z)``), ``u = PK``, ``∇g = Pᵀ r'(u)``, ``ŷ = s(g - b)``
    (first paper, D.1, eqs. (9)-(11) differentiated once more).  The Hessian of the
    loss (2) is ``H + αI``.
    """
    beta, b, y = check_model(beta, b, y)
    k = to_numpy(K).astype(np.float64).reshape(-1)
    if k.size != op.w * op.w:
        raise ParameterError(f"K: expected {op.w}x{op.w} entries, got {k.size}")
    P = op.patches_dense()
    uu = P @ k
    _, r0, r1, r2 = swish_derivatives(np, uu, beta)
    g = float(np.sum(r0))
    yh = float(sigmoid(np, np.asarray(g - b)))
    grad_g = P.T @ r1
    return yh * (1.0 - yh) * np.outer(grad_g, grad_g) + (yh - y) * (P.T * r2) @ P


def activation_stats(op: CnnOperator, K: Any, beta: float = 1.0, b: float = 0.0) -> dict:
    """Where the model operates at kernel ``K`` (one w×w kernel): pre-activations, r', g, ŷ, s'."""
    beta = check_positive("beta", beta)
    b = check_finite("b", b)
    k = to_numpy(K).astype(np.float64).reshape(-1)
    uu = op.patches_dense() @ k
    _, r0, r1 = swish_derivatives(np, uu, beta, second=False)
    g = float(np.sum(r0))
    yh = float(sigmoid(np, np.asarray(g - b)))
    return {"u_min": float(uu.min()), "u_max": float(uu.max()), "beta_u_min": float(beta * uu.min()),
            "max_abs_rprime_minus_1": float(np.max(np.abs(r1 - 1.0))),
            "max_abs_rprime_minus_half": float(np.max(np.abs(r1 - 0.5))),
            "g": g, "yhat": yh, "sprime": yh * (1.0 - yh)}


def rank_one_operator(op: CnnOperator, coef_G: float, coef_cc: float) -> np.ndarray:
    """Dense ``coef_G·G + coef_cc·c cᵀ`` on the window (host float64), ``c(z) = Σ_x I(x + z)``.

    The windowed form of the D.4 linearization (29) (first paper, appendix D.4):
    ``|Î(ω)|² -> G``, ``|Î(0)|² δ(ω) -> c cᵀ``.
    """
    cg, cc = check_finite("coef_G", coef_G), check_finite("coef_cc", coef_cc)
    c = to_numpy(op.patch_sum()).astype(np.float64).reshape(-1)
    return cg * op.gram_dense() + cc * np.outer(c, c)


def hessian_onset(
    op: CnnOperator,
    dt: float,
    alpha0: float,
    beta: float = 1.0,
    b: float = 0.0,
    y: float = 1.0,
    *,
    K0: Any = None,
    tol: float = 1e-12,
    max_iter: int = 50,
) -> dict:
    """Upper onset from the equilibrium's Hessian: solve ``α = 2/Δt - λ_max(H(K*(α)))`` by iteration.

    The slow reference for :func:`nonlinear_onset` (``side="upper"``): the scheme
    is stable at ``K*`` iff every ``α + λ(H(K*))`` lies in ``(0, 2/Δt)``.
    Returns ``alpha``, ``lambda_max``, ``lambda_min``, ``iterations`` and the
    activation stats at ``K*``.
    """
    dt = check_positive("dt", dt)
    alpha = check_positive("alpha0", alpha0)
    K = K0
    lmax = lmin = math.nan
    for it in range(1, int(max_iter) + 1):
        eq = equilibrium(op, [alpha], beta, b, y, K)
        if not eq.converged[0]:
            raise ParameterError(f"alpha0: equilibrium did not converge at alpha = {alpha:.6g}")
        K = eq.kernel
        ev = np.linalg.eigvalsh(data_hessian(op, K[0], beta, b, y))
        lmin, lmax = float(ev[0]), float(ev[-1])
        new = 2.0 / dt - lmax
        if new <= 0:
            raise ParameterError(f"dt: no positive alpha with alpha + lambda_max < 2/dt (lambda_max = {lmax:.6g})")
        done = abs(new - alpha) <= tol * abs(new)
        alpha = new
        if done:
            break
    stats = activation_stats(op, K[0], beta, b)
    return {"alpha": alpha, "lambda_max": lmax, "lambda_min": lmin, "iterations": it, "stats": stats}

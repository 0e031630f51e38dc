"""Windowed gradient-descent schemes of the one-layer CNN, batched over α.

First paper (Sun et al. 2022), appendix D:

* :func:`linear_step` — the forward-Euler scheme (21) of the linearized PDE (20),
  K ← K − Δt[½a(c + β G K) + αK], with G and c = Σ_x I(x+·) from
  :class:`~solvers.correlation.CnnOperator` (in valid mode c depends on z; the paper's
  Ī is its periodic, constant value).
* :func:`nonlinear_step` — forward Euler of the windowed gradient PDE (13),
  K ← K − Δt[(ŷ − y)(r′(K⋆I) ⋆ I) + αK], ŷ = s(Σ_x r(K⋆I)(x)), the full-batch gradient
  descent of the loss (2) (Swish r with β, sigmoid s with bias b, cross-entropy).

Every batch member carries its own α: K has shape (B, w, w) and one FFT batch advances
all of them. :func:`run` drives a step function and classifies each member as
diverged or not with the criterion stated in :class:`RunResult`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .backend import namespace_of, quiet_overflow, to_numpy
from .checks import ParameterError, check_finite, check_positive
from .correlation import CnnOperator

__all__ = [
    "RunResult",
    "DivergenceCriterion",
    "check_model",
    "initial_kernel",
    "linear_force",
    "linear_step",
    "nonlinear_gradient",
    "nonlinear_step",
    "nonlinear_loss",
    "run",
    "run_linear",
    "run_nonlinear",
]


@dataclass(frozen=True)
class DivergenceCriterion:
    """How a run is classified; the increments δₙ = Kₙ₊₁ − Kₙ are measured per member.

    A member is **diverged** when any of these holds:

    1. ``nonfinite``: an iterate has a NaN or ±inf entry;
    2. ``blowup``: ‖δₙ‖ > ``blowup`` · ‖δ₀‖ at some step n;
    3. ``growth``: at the end, ρ̂ = (‖δ_N‖ / ‖δ_{N−m}‖)^{1/m} > 1 with m = ⌈``window`` · N⌉,
       unless the run has **converged** (‖δ_N‖ ≤ ``converged`` · ε · ‖K_N‖, ε the
       dtype's machine epsilon: the increments have reached rounding level).

    For the linearized scheme the increments obey δₙ₊₁ = T δₙ with T symmetric, so
    ‖δₙ₊₁‖/‖δₙ‖ is non-decreasing and tends to the spectral radius ρ(T): (3) detects
    any ρ(T) > 1 once the unstable mode dominates the increments, which takes about
    log(1/(ρ−1))/γ steps (γ the decay rate of the other modes). A mode that grows by
    less than that within N steps is counted as stable: simulated bounds are
    finite-horizon measurements.
    """

    blowup: float = 1e8
    window: float = 0.1
    converged: float = 100.0


@dataclass
class RunResult:
    """Outcome of a batched run (host arrays, one entry per batch member)."""

    alphas: np.ndarray
    diverged: np.ndarray
    reason: list[str]
    growth: np.ndarray  # ρ̂ at the end (nan where diverged early)
    converged: np.ndarray
    increments: np.ndarray  # (steps, B) ‖δₙ‖
    norms: np.ndarray  # (steps + 1, B) ‖Kₙ‖
    kernel: Any  # final iterate (backend array, frozen at the last finite value)
    steps: int
    criterion: DivergenceCriterion = field(default_factory=DivergenceCriterion)
    extra: dict = field(default_factory=dict)


def _alphas(alphas: Any, xp: Any, dtype: Any) -> Any:
    if not isinstance(alphas, (list, tuple, float, int, np.ndarray, np.floating)):
        alphas = to_numpy(alphas)
    try:
        arr = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    except (TypeError, ValueError):
        raise ParameterError(f"alpha: expected numbers, got {alphas!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ParameterError("alpha: expected a non-empty 1-D sequence of weight decays")
    if not np.all(np.isfinite(arr)):
        raise ParameterError("alpha: values must be finite")
    return xp.reshape(xp.asarray(arr, dtype=dtype), (arr.size, 1, 1))


def initial_kernel(op: CnnOperator, batch: int, seed: int = 0, scale: float | None = None) -> Any:
    """Seeded random K₀ of shape (batch, w, w), identical for every member.

    Default ``scale`` makes the pre-activations K⋆I of order 1e-3 (the small-K regime
    of the linearization): entries N(0, s²) with s = 1e-3 / (w · rms(I)).
    """
    xp = op.xp
    if scale is None:
        rms = float(xp.sqrt(xp.mean(op.image * op.image)))
        scale = 1e-3 / (op.w * max(rms, 1e-300))
    k = np.random.default_rng(seed).standard_normal((op.w, op.w)) * scale
    k = np.broadcast_to(k, (batch, op.w, op.w)).copy()
    return xp.asarray(k, dtype=op.dtype)


def linear_force(op: CnnOperator, K: Any, alphas: Any, a: float, beta: float) -> Any:
    """The linearized gradient ½a(c + β G K) + αK on the window (appendix D.2, eq. (20); (41) in appendix E)."""
    return 0.5 * a * (op.patch_sum() + beta * op.gram(K)) + alphas * K


def linear_step(op: CnnOperator, K: Any, alphas: Any, dt: float, a: float, beta: float) -> Any:
    """One step of the forward-Euler scheme (21) of the linearized PDE (20).

    Kₙ₊₁ = Kₙ − Δt[½a(c + β G Kₙ) + αKₙ] (appendix D.3, eq. (21); windowed: every term
    lives on the w×w window).
    """
    return K - dt * linear_force(op, K, alphas, a, beta)


def _sigmoid(xp: Any, t: Any) -> Any:
    # 1/(1+e^{-t}) without overflow for any t
    return 0.5 * (1.0 + xp.tanh(0.5 * t))


def _softplus(xp: Any, t: Any) -> Any:
    return xp.maximum(t, xp.zeros_like(t)) + xp.log1p(xp.exp(-xp.abs(t)))


def nonlinear_gradient(op: CnnOperator, K: Any, alphas: Any, beta: float, b: float, y: float) -> tuple[Any, Any]:
    """∇_K L of the windowed one-layer CNN, eq. (11) restricted to the window (13).

    Returns ``(grad, yhat)`` with ∇L = (ŷ − y) (r′(K⋆I) ⋆ I) + αK and ŷ = s(Σ_x r(K⋆I)(x)),
    r(u) = u σ(βu) the Swish (14), r′ from (15), s the sigmoid with bias b.
    """
    xp = op.xp
    u = op.response(K)
    sg = _sigmoid(xp, beta * u)
    r = u * sg
    r1 = sg + beta * u * sg * (1.0 - sg)  # eq. (15) written with σ(βu)
    gsum = xp.sum(xp.sum(r, axis=-1), axis=-1)
    yhat = _sigmoid(xp, gsum - b)
    coeff = xp.reshape(yhat - y, (-1,) + (1,) * (K.ndim - 1)) if K.ndim > 2 else yhat - y
    return coeff * op.backproject(r1) + alphas * K, yhat


def nonlinear_loss(op: CnnOperator, K: Any, alphas: Any, beta: float, b: float, y: float) -> Any:
    """The loss (2): cross-entropy ℓ(y, ŷ) + (α/2)‖K‖², per batch member (stable log-sigmoid)."""
    xp = op.xp
    u = op.response(K)
    gsum = xp.sum(xp.sum(u * _sigmoid(xp, beta * u), axis=-1), axis=-1)
    t = gsum - b
    ce = y * _softplus(xp, -t) + (1.0 - y) * _softplus(xp, t)
    al = xp.reshape(alphas, (-1,)) if K.ndim > 2 else alphas
    return ce + 0.5 * al * xp.sum(xp.sum(K * K, axis=-1), axis=-1)


def nonlinear_step(op: CnnOperator, K: Any, alphas: Any, dt: float, beta: float, b: float, y: float) -> Any:
    """One forward-Euler step of the windowed gradient PDE (13): full-batch gradient descent."""
    grad, _ = nonlinear_gradient(op, K, alphas, beta, b, y)
    return K - dt * grad


def _norms(xp: Any, x: Any) -> Any:
    return xp.sqrt(xp.sum(xp.sum(x * x, axis=-1), axis=-1))


def run(
    step: Callable[[Any], Any],
    K0: Any,
    steps: int,
    alphas_host: np.ndarray,
    criterion: DivergenceCriterion | None = None,
) -> RunResult:
    """Iterate ``K ← step(K)`` for ``steps`` steps and classify every batch member.

    ``step`` maps a (B, w, w) array to the next iterate. Diverged members are frozen
    at their last finite iterate, so no overflow spreads and nothing warns.
    """
    crit = criterion or DivergenceCriterion()
    steps = int(steps)
    if steps < 2:
        raise ParameterError(f"steps: need at least 2 time steps, got {steps}")
    xp = namespace_of(K0)
    B = int(K0.shape[0])
    incs = xp.zeros((steps, B), dtype=K0.dtype)
    norms = xp.zeros((steps + 1, B), dtype=K0.dtype)
    active = xp.ones((B,), dtype=xp.bool)
    nonfinite = xp.zeros((B,), dtype=xp.bool)
    blown = xp.zeros((B,), dtype=xp.bool)
    K = K0
    norms[0, :] = _norms(xp, K)
    d0 = None
    with quiet_overflow():
        for n in range(steps):
            Kn = step(K)
            dn = _norms(xp, Kn - K)
            if d0 is None:
                d0 = xp.where(dn > 0, dn, xp.ones_like(dn))
            fin = xp.isfinite(dn)
            newly_nf = active & ~fin
            newly_bu = active & fin & (dn > crit.blowup * d0)
            nonfinite = nonfinite | newly_nf
            blown = blown | newly_bu
            active = active & ~newly_nf & ~newly_bu
            keep = xp.reshape(active, (B, 1, 1))
            K = xp.where(keep, Kn, K)
            incs[n, :] = xp.where(active, dn, xp.zeros_like(dn))
            norms[n + 1, :] = _norms(xp, K)
    inc_h = to_numpy(incs).astype(np.float64)
    norm_h = to_numpy(norms).astype(np.float64)
    nf_h = to_numpy(nonfinite).astype(bool)
    bu_h = to_numpy(blown).astype(bool)
    eps = float(np.finfo(np.float32 if K0.dtype == xp.float32 else np.float64).eps)
    m = max(1, int(np.ceil(crit.window * steps)))
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = (inc_h[-1] / inc_h[-1 - m]) ** (1.0 / m)
    conv = inc_h[-1] <= crit.converged * eps * norm_h[-1]
    early = nf_h | bu_h
    grow = ~early & ~conv & (growth > 1.0)
    diverged = early | grow
    growth = np.where(early, np.nan, growth)
    reason = ["nonfinite" if a else "blowup" if b_ else "growth" if g else "" for a, b_, g in zip(nf_h, bu_h, grow)]
    return RunResult(
        alphas=np.asarray(alphas_host, dtype=np.float64),
        diverged=diverged,
        reason=reason,
        growth=growth,
        converged=conv & ~early,
        increments=inc_h,
        norms=norm_h,
        kernel=K,
        steps=steps,
        criterion=crit,
    )


def check_model(beta: float, b: float, y: float) -> tuple[float, float, float]:
    """Validated (β, b, y) of the one-layer CNN (14): β > 0, b finite, label y in [0, 1]."""
    beta = check_positive("beta", beta)
    b = check_finite("b", b)
    y = check_finite("y", y)
    if not 0.0 <= y <= 1.0:
        raise ParameterError(f"y: the label must lie in [0, 1], got {y}")
    return beta, b, y


def _common(op: CnnOperator, alphas: Any, dt: float, K0: Any, seed: int) -> tuple[Any, Any, np.ndarray, float]:
    dt = check_positive("dt", dt)
    al = _alphas(alphas, op.xp, op.dtype)
    host = to_numpy(al).reshape(-1).astype(np.float64)
    if K0 is None:
        K0 = initial_kernel(op, host.size, seed)
    else:
        K0 = op.xp.asarray(K0, dtype=op.dtype)
        if K0.ndim == 2:
            K0 = op.xp.broadcast_to(K0, (host.size, op.w, op.w))
        if tuple(K0.shape) != (host.size, op.w, op.w):
            raise ParameterError(f"K0: expected shape {(host.size, op.w, op.w)} or {(op.w, op.w)}, got {tuple(K0.shape)}")
    return al, K0, host, dt


def run_linear(
    op: CnnOperator,
    alphas: Any,
    dt: float,
    a: float = -0.5,
    beta: float = 1.0,
    steps: int = 1000,
    K0: Any = None,
    seed: int = 0,
    criterion: DivergenceCriterion | None = None,
) -> RunResult:
    """Run the linearized forward-Euler scheme (21) for every α of ``alphas`` at once."""
    a = check_finite("a", a)
    beta = check_positive("beta", beta)
    al, K0, host, dt = _common(op, alphas, dt, K0, seed)
    return run(lambda K: linear_step(op, K, al, dt, a, beta), K0, steps, host, criterion)


def run_nonlinear(
    op: CnnOperator,
    alphas: Any,
    dt: float,
    beta: float = 1.0,
    b: float = 0.0,
    y: float = 1.0,
    steps: int = 1000,
    K0: Any = None,
    seed: int = 0,
    criterion: DivergenceCriterion | None = None,
) -> RunResult:
    """Full-batch gradient descent (13) on the one-layer CNN for every α at once."""
    beta, b, y = check_model(beta, b, y)
    al, K0, host, dt = _common(op, alphas, dt, K0, seed)
    return run(lambda K: nonlinear_step(op, K, al, dt, beta, b, y), K0, steps, host, criterion)

"""Windowed gradient-descent schemes of the one-layer CNN, batched over α.

First paper (Sun et al. 2022), appendix D:

* :func:`linear_step` — the forward-Euler scheme (21) of the linearized PDE (20),
  K ← K − Δt[½a(c + β G K) + αK], with G and c = Σ_x I(x+·) from
  :class:`~workbench.solvers.cnn.correlation.CnnOperator` (in valid mode c depends on z; the paper's
  Ī is its periodic, constant value).
* :func:`nonlinear_step` — forward Euler of the windowed gradient PDE (13),
  K ← K − Δt[(ŷ − y)(r′(K⋆I) ⋆ I) + αK], ŷ = s(Σ_x r(K⋆I)(x)), the full-batch gradient
  descent of the loss (2) (Swish r with β, sigmoid s with bias b, cross-entropy).

Every batch member carries its own α: K has shape (B, w, w) and one FFT batch advances
all of them. :func:`run_cnn` steps any registered optimizer (:mod:`workbench.derivations.schemes.registry`;
``"gd"`` is the forward-Euler scheme (21), ``"nesterov"`` the semi-implicit scheme (37)-(38))
on either force through the one stepper :func:`workbench.solvers.stepping.stepper.run`, which classifies each
member with :class:`~workbench.solvers.stepping.divergence.DivergenceCriterion`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from workbench.solvers.stepping import stepper
from workbench.solvers.core.backend import to_numpy
from workbench.solvers.core.checks import ParameterError, check_finite, check_positive
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.cnn.model import cross_entropy, sigmoid, swish_derivatives
from workbench.solvers.stepping.divergence import DivergenceCriterion, RunResult
from workbench.solvers.stepping.optimizers import Resolved, resolve

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
    "run_cnn",
    "FORCES",
]

#: the forces :func:`run_cnn` integrates: the linearized gradient (20)/(41) and the windowed gradient (13)
FORCES = ("linear", "nonlinear")


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
    of the linearization): entries N(0, s²) with s = 1e-3 / (w · rms(I)), capped at
    1e100/w so that norms of K stay finite for images of (near-)zero energy (an
    all-zero image gets s = 1e-3/w; the linear scheme is scale-invariant).
    """
    xp = op.xp
    if scale is None:
        peak = float(xp.max(xp.abs(op.image)))
        rms = peak * float(xp.sqrt(xp.mean((op.image / peak) ** 2))) if peak > 0 else 0.0
        scale = 1e-3 / op.w if rms == 0.0 else min(1e-3 / (op.w * rms), 1e100 / op.w)
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


def nonlinear_gradient(op: CnnOperator, K: Any, alphas: Any, beta: float, b: float, y: float) -> tuple[Any, Any]:
    """∇_K L of the windowed one-layer CNN, eq. (11) restricted to the window (13).

    Returns ``(grad, yhat)`` with ∇L = (ŷ − y) (r′(K⋆I) ⋆ I) + αK and ŷ = s(Σ_x r(K⋆I)(x)),
    r(u) = u σ(βu) the Swish (14), r′ from (15), s the sigmoid with bias b.
    """
    xp = op.xp
    u = op.response(K)
    _, r, r1 = swish_derivatives(xp, u, beta, second=False)   # r′: eq. (15) written with σ(βu)
    gsum = xp.sum(xp.sum(r, axis=-1), axis=-1)
    yhat = sigmoid(xp, gsum - b)
    coeff = xp.reshape(yhat - y, (-1,) + (1,) * (K.ndim - 1)) if K.ndim > 2 else yhat - y
    return coeff * op.backproject(r1) + alphas * K, yhat


def nonlinear_loss(op: CnnOperator, K: Any, alphas: Any, beta: float, b: float, y: float) -> Any:
    """The loss (2): cross-entropy ℓ(y, ŷ) + (α/2)‖K‖², per batch member (stable log-sigmoid)."""
    xp = op.xp
    u = op.response(K)
    gsum = xp.sum(xp.sum(u * sigmoid(xp, beta * u), axis=-1), axis=-1)
    ce = cross_entropy(xp, gsum - b, y)
    al = xp.reshape(alphas, (-1,)) if K.ndim > 2 else alphas
    return ce + 0.5 * al * xp.sum(xp.sum(K * K, axis=-1), axis=-1)


def nonlinear_step(op: CnnOperator, K: Any, alphas: Any, dt: float, beta: float, b: float, y: float) -> Any:
    """One forward-Euler step of the windowed gradient PDE (13): full-batch gradient descent."""
    grad, _ = nonlinear_gradient(op, K, alphas, beta, b, y)
    return K - dt * grad


def check_model(beta: float, b: float, y: float) -> tuple[float, float, float]:
    """Validated (β, b, y) of the one-layer CNN (14): β > 0, b finite, label y in [0, 1]."""
    beta = check_positive("beta", beta)
    b = check_finite("b", b)
    y = check_finite("y", y)
    if not 0.0 <= y <= 1.0:
        raise ParameterError(f"y: the label must lie in [0, 1], got {y}")
    return beta, b, y


def _kernels(op: CnnOperator, alphas: Any, K0: Any, seed: int) -> tuple[Any, Any, np.ndarray]:
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
    return al, K0, host


def run_cnn(
    op: CnnOperator,
    alphas: Any,
    lr: float | None = None,
    *,
    scheme: str | Resolved = "gd",
    params: dict[str, Any] | None = None,
    force: str = "linear",
    a: float = -0.5,
    beta: float = 1.0,
    b: float = 0.0,
    y: float = 1.0,
    steps: int = 1000,
    K0: Any = None,
    seed: int = 0,
    criterion: DivergenceCriterion | None = None,
) -> RunResult:
    """Run a registered optimizer on the windowed one-layer CNN for every α of ``alphas`` at once.

    Parameters
    ----------
    lr : float
        The learning rate η (for ``gd`` the time step Δt of (21)); or give the scheme's
        alternative parameters in ``params`` (Nesterov: ``dt`` and ``d`` or ``momentum``,
        first paper (37)-(38)).
    force : {"linear", "nonlinear"}
        The linearized gradient ½a(c + βGK) + αK of (20)/(41) (``a``, ``beta``), or the
        windowed gradient (13) of the loss (2) (``beta``, ``b``, ``y``).

    Returns
    -------
    RunResult
        Classified members; ``extra`` echoes the scheme, η and hyperparameters.
    """
    res = scheme if isinstance(scheme, Resolved) else resolve(scheme, lr, params)
    if force == "linear":
        a, beta = check_finite("a", a), check_positive("beta", beta)
        al, K0, host = _kernels(op, alphas, K0, seed)
        grad = lambda K: linear_force(op, K, al, a, beta)  # noqa: E731
    elif force == "nonlinear":
        beta, b, y = check_model(beta, b, y)
        al, K0, host = _kernels(op, alphas, K0, seed)
        grad = lambda K: nonlinear_gradient(op, K, al, beta, b, y)[0]  # noqa: E731
    else:
        raise ParameterError(f"force: unknown {force!r}; use {' or '.join(FORCES)}")
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool) and steps < 2:
        raise ParameterError(f"steps: need at least 2 time steps to classify growth, got {steps}")
    return stepper.run(res, grad, K0, steps=steps, criterion=criterion, members=host)

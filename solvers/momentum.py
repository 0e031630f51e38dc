"""Nesterov's semi-implicit scheme on the windowed one-layer CNN, batched over α.

First paper (Sun et al. 2022), appendix E, eqs. (37)-(38):

    Vⁿ = Kⁿ + μ(Kⁿ − Kⁿ⁻¹),   Kⁿ⁺¹ = Vⁿ − η F(Vⁿ),
    μ = (2 − dΔt)/(2 + dΔt),   η = 2Δt²/(2 + dΔt),

with F the linearized gradient (41) (:func:`~solvers.schemes.linear_force`) or the
nonlinear windowed gradient (13) (:func:`~solvers.schemes.nonlinear_gradient`).
The (Δt, d) ↔ (η, μ) map is the one derived in :mod:`derivations.momentum`,
lambdified. Runs start at rest (K⁻¹ = K⁰) and are classified by
:func:`~solvers.schemes.run` with the same divergence criterion as gradient descent;
for this two-level scheme the increments δₙ obey a (non-symmetric) companion
recurrence, so ‖δₙ‖ need not grow monotonically, but its growth over the last
window still measures the largest root modulus once the dominant mode takes over.
With μ = 0 the scheme is forward Euler with step η, bit for bit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from derivations import momentum as M
from derivations import symbols as S

from .checks import ParameterError, check_finite, check_positive
from .correlation import CnnOperator
from .lambdify import lambdify
from .schemes import DivergenceCriterion, RunResult, _common, check_model, linear_force, nonlinear_gradient, run

__all__ = ["MomentumParams", "momentum_params", "NesterovStepper", "run_nesterov_linear", "run_nesterov_nonlinear"]


@dataclass(frozen=True)
class MomentumParams:
    """The two parametrizations of the scheme (37)-(38), consistent with each other.

    Attributes
    ----------
    dt : float
        Time step Δt of the momentum PDE (36).
    momentum : float
        μ = (2 − dΔt)/(2 + dΔt) ∈ [0, 1), SGD-Nesterov's momentum coefficient.
    damping : float
        d = 2(1 − μ)/((1 + μ)Δt) > 0.
    eta : float
        η = 2Δt²/(2 + dΔt), SGD-Nesterov's learning rate.
    """

    dt: float
    momentum: float
    damping: float
    eta: float

    def to_dict(self) -> dict:
        return {"dt": self.dt, "momentum": self.momentum, "d": self.damping, "eta": self.eta}


def momentum_params(dt: float, momentum: float | None = None, damping: float | None = None) -> MomentumParams:
    """Complete (Δt, μ) or (Δt, d) to all four parameters (appendix E, (37)-(38) and the inverse map).

    Exactly one of ``momentum`` and ``damping`` may be given; neither means the
    paper's μ = 0.9 (Table 5).

    Raises
    ------
    ParameterError
        ``dt`` ≤ 0; ``momentum`` outside [0, 1); ``damping`` < 0, = 0 (μ = 1, no
        damping) or with dΔt > 2 (μ < 0).
    """
    dt = check_positive("dt", dt)
    if momentum is not None and damping is not None:
        raise ParameterError("momentum: give either momentum or damping d, not both")
    (mu_e, eta_e), (d_e, _) = M.parameter_map(), M.inverse_map()
    if damping is not None:
        d = check_finite("damping", damping)
        if d < 0:
            raise ParameterError(f"damping: d must be >= 0, got {damping!r}")
        if d == 0:
            raise ParameterError("damping: d = 0 gives momentum 1 (an undamped oscillator); need d > 0")
        if d * dt > 2:
            raise ParameterError(f"damping: d*dt = {d * dt:.6g} > 2 gives a negative momentum coefficient; "
                                 "need 0 < d*dt <= 2")
        mu = float(lambdify(mu_e, (S.dt, S.d))(dt, d))
    else:
        mu = 0.9 if momentum is None else check_finite("momentum", momentum)
        if not 0.0 <= mu < 1.0:
            raise ParameterError(f"momentum: must lie in [0, 1), got {momentum!r}")
        d = float(lambdify(d_e, (M.momentum_sym, S.dt))(mu, dt))
    eta = float(lambdify(eta_e, (S.dt, S.d))(dt, d))
    if not (math.isfinite(eta) and eta > 0):  # pragma: no cover - guarded above
        raise ParameterError(f"momentum: no finite step for dt={dt}, d={d}")
    return MomentumParams(dt=dt, momentum=mu, damping=d, eta=eta)


class NesterovStepper:
    """One step Kⁿ → Kⁿ⁺¹ of (37)-(38) for :func:`~solvers.schemes.run`, keeping Kⁿ⁻¹ itself.

    ``force(V)`` is the gradient F at the look-ahead. A member that
    :func:`~solvers.schemes.run` freezes is handed back its last iterate, so its
    previous level becomes that iterate too: a frozen member stays finite.
    """

    def __init__(self, force: Callable[[Any], Any], momentum: float, eta: float, K0: Any) -> None:
        self.force, self.mu, self.eta, self.prev = force, float(momentum), float(eta), K0

    def __call__(self, K: Any) -> Any:
        V = K + self.mu * (K - self.prev)
        self.prev = K
        return V - self.eta * self.force(V)


def _result(res: RunResult, p: MomentumParams) -> RunResult:
    res.extra.update(scheme="nesterov", **p.to_dict())
    return res


def run_nesterov_linear(
    op: CnnOperator,
    alphas: Any,
    dt: float,
    a: float = -0.5,
    beta: float = 1.0,
    momentum: float | None = None,
    damping: float | None = None,
    steps: int = 1000,
    K0: Any = None,
    seed: int = 0,
    criterion: DivergenceCriterion | None = None,
) -> RunResult:
    """The semi-implicit scheme (37)-(38) of the linearized momentum PDE, every α at once.

    ``res.extra`` echoes ``dt``, ``momentum``, ``d`` and ``eta``.
    """
    a = check_finite("a", a)
    beta = check_positive("beta", beta)
    p = momentum_params(dt, momentum, damping)
    al, K0, host, _ = _common(op, alphas, dt, K0, seed)
    stepper = NesterovStepper(lambda V: linear_force(op, V, al, a, beta), p.momentum, p.eta, K0)
    return _result(run(stepper, K0, steps, host, criterion), p)


def run_nesterov_nonlinear(
    op: CnnOperator,
    alphas: Any,
    dt: float,
    beta: float = 1.0,
    b: float = 0.0,
    y: float = 1.0,
    momentum: float | None = None,
    damping: float | None = None,
    steps: int = 1000,
    K0: Any = None,
    seed: int = 0,
    criterion: DivergenceCriterion | None = None,
) -> RunResult:
    """SGD-Nesterov (full batch) on the windowed one-layer CNN (37)-(38) with the gradient (13)."""
    beta, b, y = check_model(beta, b, y)
    p = momentum_params(dt, momentum, damping)
    al, K0, host, _ = _common(op, alphas, dt, K0, seed)
    stepper = NesterovStepper(lambda V: nonlinear_gradient(op, V, al, beta, b, y)[0], p.momentum, p.eta, K0)
    return _result(run(stepper, K0, steps, host, criterion), p)

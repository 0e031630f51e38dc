"""The momentum PDE and its schemes (first paper, Sun et al. 2022, appendix E, eqs. (36)-(47)).

SymPy derives, in paper order:

* (36) the damped second-order PDE ``∂ttK + d ∂tK = -∇L(K)``;
* (39) its central-difference discretization (``as_finite_difference`` on the
  stencils {t-Δt, t, t+Δt} and {t-Δt, t+Δt}) and (40), solved for ``K^{n+1}``;
* (37)-(38) the semi-implicit (Nesterov) scheme: the gradient of (40) evaluated
  at the look-ahead ``V^n = K^n + μ(K^n - K^{n-1})``;
* the map between (Δt, d) and the (learning rate η, momentum μ) of SGD-Nesterov
  and its inverse;
* (44) the symbol z(ω) and, through the Von Neumann analyzer
  (:mod:`workbench.derivations.von_neumann`, :mod:`workbench.derivations.regions`), the EXACT stability
  region ``0 < z < 4(2 + dΔt)/((6 - dΔt)Δt²)`` beside the paper's (45)
  ``Δt < 2/√(3z)``, and the α bounds (46)-(47) with their exact counterparts.

Findings: (45) is the μ → 1 (d → 0) limit of the exact region; for 0 ≤ μ < 1 it
is sufficient but conservative by the factor ``3/(1 + 2μ)`` on the upper bound
of z (15/14, i.e. 7.1 %, at μ = 0.9; 3 at μ = 0), so the paper's remark that "the
choice of damping d has no impact on the stability bounds" is true of (45) only.
(46)-(47) name the upper bound α_min and the lower bound α_max; here they are
``alpha_upper`` and ``alpha_lower``.  They hold for a < 0 (general forms in
:func:`workbench.derivations.regions.alpha_interval`).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from workbench.derivations import regions
from workbench.derivations.steps import Derivation, Step
from workbench.derivations.symbols import P, P_max, P_min, a, alpha, beta, d, dt
from workbench.derivations.von_neumann import K_n, K_nm1, K_np1, V_n, nesterov_semi_implicit_scheme, z

__all__ = [
    "gradL", "lr_sym", "momentum_sym", "pde", "central_difference", "explicit_update", "semi_implicit", "parameter_map",
    "inverse_map", "characteristic_polynomial", "steps", "derivation",
]

t = sp.Symbol("t", real=True)
#: ∇L as an undefined function of the iterate
gradL = sp.Function(r"\nabla L")
_K = sp.Function("K")(t)
#: |a| for statements made for a < 0
_abs_a, _dP = sp.Symbol("|a|", positive=True), sp.Symbol("Delta_P", nonnegative=True)
#: learning rate η and momentum μ of SGD-Nesterov, the variables of :func:`inverse_map`
lr_sym, momentum_sym = sp.Symbol("eta", positive=True), sp.Symbol("mu", nonnegative=True)
_lr, _mom = lr_sym, momentum_sym


def pde() -> sp.Eq:
    """The momentum PDE (36): ``∂ttK + d ∂tK = -∇L(K)``, d > 0 the damping."""
    return sp.Eq(_K.diff(t, 2) + d * _K.diff(t), -gradL(_K))


def _to_levels(expr: sp.Expr) -> sp.Expr:
    return expr.subs({_K.subs(t, t + dt): K_np1, _K.subs(t, t - dt): K_nm1}).subs(_K, K_n)


@lru_cache(maxsize=None)
def central_difference() -> sp.Eq:
    """(39): (36) with central differences for both time derivatives (second order in Δt)."""
    e = pde()
    d2 = _K.diff(t, 2).as_finite_difference([t - dt, t, t + dt])
    d1 = _K.diff(t).as_finite_difference([t - dt, t + dt])
    lhs = e.lhs.subs({_K.diff(t, 2): d2}).subs({_K.diff(t): d1})
    return sp.Eq(_to_levels(lhs), _to_levels(e.rhs))


@lru_cache(maxsize=None)
def explicit_update() -> sp.Expr:
    """(40): (39) solved for ``K^{n+1}``, the heavy-ball update."""
    return sp.expand(sp.solve(central_difference(), K_np1)[0])


def _coefficients() -> tuple[sp.Expr, sp.Expr]:
    """(μ, η) read off (40): ``K^{n+1} = K^n + μ(K^n - K^{n-1}) - η∇L(K^n)``."""
    rhs = explicit_update()
    m = sp.factor(-sp.diff(rhs, K_nm1))
    s = sp.factor(-sp.diff(rhs, gradL(K_n)))
    return m, s


@lru_cache(maxsize=None)
def semi_implicit() -> tuple[sp.Eq, sp.Eq]:
    """(37)-(38): the gradient of (40) moved to the look-ahead ``V^n``; returns the two equations.

    Checked in :func:`steps`: with ``∇L(K^n) → ∇L(V^n)``, (40) equals
    ``V^n - η∇L(V^n)`` identically once ``V^n`` is substituted.
    """
    m, s = _coefficients()
    e37 = sp.Eq(V_n, K_n + m * (K_n - K_nm1))
    e38 = sp.Eq(K_np1, V_n - s * gradL(V_n))
    residual = sp.simplify(explicit_update().subs(gradL(K_n), gradL(V_n)) - e38.rhs.subs(V_n, e37.rhs)
                           .subs(gradL(e37.rhs), gradL(V_n)))
    if residual != 0:  # pragma: no cover - a derivation error
        raise AssertionError(f"semi-implicit scheme does not reproduce (40): residual {residual}")
    return e37, e38


@lru_cache(maxsize=None)
def parameter_map() -> tuple[sp.Expr, sp.Expr]:
    """(μ, η) of SGD-Nesterov as functions of (Δt, d): ``((2 - dΔt)/(2 + dΔt), 2Δt²/(2 + dΔt))``."""
    return _coefficients()


@lru_cache(maxsize=None)
def inverse_map() -> tuple[sp.Expr, sp.Expr]:
    """(d, Δt) from (momentum μ, learning rate η): ``d = 2(1 - μ)/((1 + μ)Δt)``, ``Δt = √(2η/(1 + μ))``.

    ``d`` is given in terms of μ and Δt (the form the paper uses for Table 5);
    ``Δt`` in terms of η and μ.
    """
    m, s = parameter_map()
    d_sol = sp.solve(sp.Eq(_mom, m), d)
    if len(d_sol) != 1:  # pragma: no cover
        raise AssertionError(f"d: expected one solution, got {d_sol}")
    d_mu = sp.factor(d_sol[0])
    dt_sol = [r for r in sp.solve(sp.Eq(_lr, s.subs(d, d_mu)), dt) if r.is_positive is not False]
    return d_mu, sp.factor(dt_sol[0])


def characteristic_polynomial() -> sp.Poly:
    """The DFT (42)-(44) of the linearized semi-implicit scheme as ``p(ξ)`` in (Δt, d, z)."""
    return nesterov_semi_implicit_scheme(symbol=z).polynomial


def steps() -> list[Step]:
    """Appendix E in paper order, (36)-(47), with the exact region beside (45)-(47)."""
    out: list[Step] = []
    add = out.append
    add(Step("momentum_pde", "(36)", pde(), "input: damped second-order flow of the loss"))
    Kp, Kn, Km = K_np1, K_n, K_nm1
    add(Step("central_difference", "(39)", central_difference(),
             "central differences: stencils {t-Δt, t, t+Δt} for ∂tt, {t-Δt, t+Δt} for ∂t",
             stated=sp.Eq((Kp - 2 * Kn + Km) / dt ** 2 + d * (Kp - Km) / (2 * dt), -gradL(Kn))))
    add(Step("explicit_update", "(40)", sp.Eq(Kp, explicit_update()), "(39) solved for K^{n+1}",
             stated=sp.Eq(Kp, Kn + (2 - d * dt) / (2 + d * dt) * (Kn - Km) - 2 * dt ** 2 / (2 + d * dt) * gradL(Kn))))
    e37, e38 = semi_implicit()
    add(Step("lookahead", "(37)", e37, "semi-implicit: the partial update (look-ahead)",
             stated=sp.Eq(V_n, Kn + (2 - d * dt) / (2 + d * dt) * (Kn - Km))))
    add(Step("nesterov_update", "(38)", e38, "gradient of (40) evaluated at V^n (identity with (40) checked)",
             stated=sp.Eq(Kp, V_n - 2 * dt ** 2 / (2 + d * dt) * gradL(V_n))))
    m, s = parameter_map()
    add(Step("momentum_coefficient", "", sp.Eq(_mom, m), "SGD-Nesterov momentum μ from (37)"))
    add(Step("learning_rate", "", sp.Eq(_lr, s), "SGD-Nesterov learning rate η from (38)"))
    d_mu, dt_eta = inverse_map()
    add(Step("damping_from_momentum", "", sp.Eq(d, d_mu), "inverse map; the paper's Table 5 d = (2-2·0.9)/(Δt(1+0.9))",
             stated=sp.Eq(d, (2 - 2 * _mom) / (dt * (1 + _mom)))))
    add(Step("dt_from_learning_rate", "", sp.Eq(dt, dt_eta), "inverse map: Δt from (η, μ)",
             stated=sp.Eq(dt, sp.sqrt(2 * _lr / (1 + _mom)))))
    zsym = regions.cnn_symbol()
    add(Step("gradient_amplifier", "(44)", sp.Eq(z, zsym), "symbol of the linearized gradient (41), P = |Î(ω)|²",
             stated=sp.Eq(z, alpha + a * beta * P / 2)))
    poly = characteristic_polynomial()
    add(Step("characteristic_polynomial", "(42)-(43)", sp.Eq(poly.as_expr(), 0),
             "DFT of (37)-(38) with G -> z, V^n eliminated, K^{n+k} -> ξ^k K̂ (Von Neumann analyzer)"))
    z_lo, z_hi = regions.z_interval("nesterov", "exact")
    add(Step("exact_region", "", sp.And(sp.Gt(z, z_lo), sp.Lt(z, z_hi)),
             "strict Schur-Cohn conditions on p(ξ), solved for z (0 <= μ < 1)"))
    add(Step("exact_region_dt", "", sp.Lt(dt ** 2 * z, sp.factor(z_hi * dt ** 2)),
             "the exact region as a condition on Δt: depends on d"))
    zp = sp.Symbol("z", positive=True)
    add(Step("paper_condition", "(45)", sp.Lt(dt, 2 / sp.sqrt(3 * zp)),
             "as stated by the paper (from its ref. [1]); equivalent to z < 4/(3Δt²)"))
    add(Step("paper_to_exact_ratio", "", sp.Eq(sp.Symbol("z_hi_exact/z_hi_45"), regions.paper_to_exact_ratio()),
             "= 3/(1 + 2μ) > 1 for μ < 1: (45) is conservative, exact only as d -> 0",
             stated=sp.Eq(sp.Symbol("z_hi_exact/z_hi_45"), (3 / (1 + 2 * m)))))
    neg = {a: -_abs_a, P_max: P_min + _dP}
    lo_p, hi_p = regions.alpha_bounds("nesterov", "paper")
    add(Step("alpha_upper_paper", "(46)", sp.Lt(alpha, hi_p),
             "upper bound on α from (45) (the paper calls it α_min); a < 0: P_min binds",
             stated=sp.Lt(alpha, sp.Rational(4, 3) / dt ** 2 - a * beta * P_min / 2), where=neg))
    add(Step("alpha_lower_paper", "(47)", sp.Gt(alpha, lo_p),
             "lower bound on α (the paper calls it α_max); a < 0: P_max binds",
             stated=sp.Gt(alpha, -a * beta * P_max / 2), where=neg))
    lo_e, hi_e = regions.alpha_bounds("nesterov", "exact")
    add(Step("alpha_upper_exact", "", sp.Lt(alpha, hi_e), "upper bound on α from the exact region"))
    add(Step("alpha_lower_exact", "", sp.Gt(alpha, lo_e), "lower bound on α from the exact region: same as (47)",
             stated=sp.Gt(alpha, lo_p)))
    return out


def derivation() -> Derivation:
    """Appendix E as a :class:`Derivation` (Sun et al. 2022, eqs. (36)-(47))."""
    return Derivation("momentum", "Momentum PDE, Nesterov's semi-implicit scheme and its exact stability region",
                      "Sun et al. 2022, appendix E, eqs. (36)-(47)", steps())

"""Relative progress, directional smoothness and Theorem 2, in SymPy.

Fourth paper (Ahn, Zhang, Sra, "Understanding the unstable convergence of gradient
descent"), §4 and appendix C. For an objective f(θ) (a
:class:`derivations.objectives.SymbolicObjective`) and a step η > 0:

* Definition 1, relative progress: RP(θ) = [f(θ − η∇f(θ)) − f(θ)] / (η‖∇f(θ)‖²);
* Definition 2, directional smoothness: L(θ; v) = ⟨v, ∇f(θ) − ∇f(θ − v)⟩ / ‖v‖²;
* Theorem 2, identity (4): RP(θ) = −1 + (η/2)·2∫₀¹ τ·L(θ; ητ∇f(θ)) dτ;
* approximation (5): RP(θ) ≈ −1 + (η/2)·L(θ; η∇f(θ)), exact for quadratics (where L(θ; v)
  is the Rayleigh quotient vᵀPv/‖v‖², independent of τ);
* the per-sample identity behind (6) (appendix C, "derivation for the SGD case"):
  f(θ − ηg) − f(θ) = −η⟨g, ∇f(θ)⟩ + η²‖g‖²·∫₀¹ τ·L(θ; ητg) dτ for any vector g.

The proof of (4) is done here for polynomial objectives, as the paper's appendix C does
it: τ·L(θ; ητ∇f) = ⟨∇f, ∇f − ∇f(θ − ητ∇f)⟩ / (η‖∇f‖²) (step ``tau_L``, checked by
``cancel``) is a polynomial in τ, which SymPy integrates exactly; the difference of the
two sides of (4) then cancels to 0 as a rational function of θ, η and the coefficients.
For non-polynomial objectives (tanh) the integral has no closed form; the numeric side
(:mod:`solvers.diagnostics`) checks (4) there by Gauss–Legendre quadrature.
"""
from __future__ import annotations

from typing import Sequence

import sympy as sp

from .objectives import SymbolicObjective, quadratic, theta_symbols
from .steps import Derivation, Step

__all__ = [
    "eta",
    "tau",
    "relative_progress",
    "directional_smoothness",
    "gd_directional_smoothness",
    "tau_times_L",
    "theorem2_rhs",
    "theorem2_difference",
    "approximation5",
    "approximation5_error",
    "sgd_per_sample_difference",
    "general_polynomial",
    "steps",
    "derivation",
]

#: The step size η (positive) and the integration variable τ ∈ [0, 1].
eta = sp.Symbol("eta", positive=True)
tau = sp.Symbol("tau", positive=True)


def _grad_at(obj: SymbolicObjective, point: Sequence[sp.Expr]) -> sp.Matrix:
    sub = dict(zip(obj.variables, point))
    return sp.Matrix([gi.xreplace(sub) for gi in obj.gradient])


def _value_at(obj: SymbolicObjective, point: Sequence[sp.Expr]) -> sp.Expr:
    return obj.expr.xreplace(dict(zip(obj.variables, point)))


def _dot(a: sp.Matrix, b: sp.Matrix) -> sp.Expr:
    return sp.expand((a.T * b)[0, 0])


def relative_progress(obj: SymbolicObjective, step: sp.Expr = eta) -> sp.Expr:
    """RP(θ) of Definition 1 (4th paper): [f(θ − η∇f) − f(θ)] / (η‖∇f‖²).

    Parameters
    ----------
    obj : SymbolicObjective
    step : sympy.Expr
        η (default the positive symbol ``eta``).

    Returns
    -------
    sympy.Expr
        A function of θ, η and the objective's constants (undefined where ∇f = 0).
    """
    th = sp.Matrix(obj.variables)
    g = sp.Matrix(obj.gradient)
    return (_value_at(obj, list(th - step * g)) - obj.expr) / (step * _dot(g, g))


def directional_smoothness(obj: SymbolicObjective, v: Sequence[sp.Expr]) -> sp.Expr:
    """L(θ; v) of Definition 2 (4th paper): ⟨v, ∇f(θ) − ∇f(θ − v)⟩ / ‖v‖².

    Parameters
    ----------
    obj : SymbolicObjective
    v : sequence of sympy.Expr
        The update vector (length n); L is undefined for v = 0.
    """
    vv = sp.Matrix(list(v))
    if vv.rows != obj.size:
        raise ValueError(f"v: expected {obj.size} entries, got {vv.rows}")
    th = sp.Matrix(obj.variables)
    g = sp.Matrix(obj.gradient)
    return (vv.T * (g - _grad_at(obj, list(th - vv))))[0, 0] / (vv.T * vv)[0, 0]


def gd_directional_smoothness(obj: SymbolicObjective, step: sp.Expr = eta, t: sp.Expr = 1) -> sp.Expr:
    """L(θ; ητ∇f(θ)), the directional smoothness along the (partial) GD step (§4.2, (3))."""
    g = sp.Matrix(obj.gradient)
    return directional_smoothness(obj, list(step * t * g))


def tau_times_L(obj: SymbolicObjective) -> sp.Expr:
    """τ·L(θ; ητ∇f) in the form of appendix C: ⟨∇f, ∇f − ∇f(θ − ητ∇f)⟩ / (η‖∇f‖²).

    The factor τ cancels against the ‖ητ∇f‖² of Definition 2; the result is smooth at
    τ = 0 (a polynomial in τ for polynomial f).
    """
    th = sp.Matrix(obj.variables)
    g = sp.Matrix(obj.gradient)
    return (g.T * (g - _grad_at(obj, list(th - eta * tau * g))))[0, 0] / (eta * _dot(g, g))


def _theorem2_integral(obj: SymbolicObjective) -> sp.Expr:
    """∫₀¹ ⟨∇f, ∇f − ∇f(θ − ητ∇f)⟩ dτ, the numerator of ∫₀¹ τ·L dτ times η‖∇f‖² (polynomial f)."""
    th = sp.Matrix(obj.variables)
    g = sp.Matrix(obj.gradient)
    num = sp.expand((g.T * (g - _grad_at(obj, list(th - eta * tau * g))))[0, 0])
    if not num.is_polynomial(tau):
        raise ValueError(f"objective: {obj.name!r} is not polynomial; use the quadrature of solvers.diagnostics")
    return sp.integrate(num, (tau, 0, 1))


def theorem2_rhs(obj: SymbolicObjective) -> sp.Expr:
    """The right-hand side of Theorem 2 (4): −1 + (η/2)·2∫₀¹ τ·L(θ; ητ∇f) dτ.

    The integrand is :func:`tau_times_L`; its numerator is expanded as a polynomial in
    τ and integrated term by term (``sympy.integrate``). Polynomial objectives only:
    a non-polynomial f raises ``ValueError``.
    """
    g = sp.Matrix(obj.gradient)
    return -1 + eta / 2 * 2 * _theorem2_integral(obj) / (eta * _dot(g, g))


def theorem2_difference(obj: SymbolicObjective) -> sp.Expr:
    """RP(θ) − RHS of (4), over their common denominator D = η‖∇f‖²: 0 proves Theorem 2.

    RP = [f(θ − η∇f) − f(θ)]/D and RHS = [−D + η·∫₀¹⟨∇f, ∇f − ∇f(θ − ητ∇f)⟩dτ]/D;
    the numerator of the difference is expanded as a polynomial (a rational ``cancel``
    of the two quotients takes minutes for a generic quartic) and returned over D.
    """
    th = sp.Matrix(obj.variables)
    g = sp.Matrix(obj.gradient)
    D = eta * _dot(g, g)
    rp_num = _value_at(obj, list(th - eta * g)) - obj.expr
    rhs_num = -D + eta * _theorem2_integral(obj)
    return sp.expand(rp_num - rhs_num) / D


def approximation5(obj: SymbolicObjective) -> sp.Expr:
    """The right-hand side of (5): −1 + (η/2)·L(θ; η∇f(θ))."""
    return -1 + eta / 2 * gd_directional_smoothness(obj)


def approximation5_error(obj: SymbolicObjective) -> sp.Expr:
    """RP(θ) − RHS of (5), cancelled; 0 for every quadratic, O(η²‖∇f‖·∇³f) otherwise."""
    return sp.cancel(sp.together(relative_progress(obj) - approximation5(obj)))


def sgd_per_sample_difference(obj: SymbolicObjective) -> sp.Expr:
    """Appendix C, SGD case, for one sample g = (g₁, …, g_n) (symbols ``g_1``…), cancelled.

    Returns [f(θ − ηg) − f(θ)] − [−η⟨g, ∇f(θ)⟩ + η²‖g‖²∫₀¹ τ·L(θ; ητg) dτ], with
    τ·L(θ; ητg) = ⟨g, ∇f(θ) − ∇f(θ − ητg)⟩ / (η‖g‖²). Taking the expectation over g
    (E g = ∇f) and dividing by η‖∇f‖² gives the exact form of (6); 0 proves it for
    polynomial ``obj``.
    """
    gs = sp.Matrix(theta_symbols(obj.size, "g"))
    th = sp.Matrix(obj.variables)
    gf = sp.Matrix(obj.gradient)
    num = sp.expand((gs.T * (gf - _grad_at(obj, list(th - eta * tau * gs))))[0, 0])
    if not num.is_polynomial(tau):
        raise ValueError(f"objective: {obj.name!r} is not polynomial")
    integral = sp.integrate(num, (tau, 0, 1)) / eta  # ∫ ‖g‖² τ L(θ; ητg) dτ
    lhs = _value_at(obj, list(th - eta * gs)) - obj.expr
    rhs = -eta * _dot(gs, gf) + eta ** 2 * integral
    return sp.expand(lhs - rhs)


def general_polynomial(degree: int = 3, n: int = 2, name: str = "c") -> SymbolicObjective:
    """f(θ) = Σ_{|α| ≤ degree} c_α θ^α with every coefficient a free symbol (a generic polynomial).

    Proving (4) for this objective proves it for every polynomial of that degree in n
    variables at once.
    """
    th = theta_symbols(n)
    monos = sorted(sp.itermonomials(th, int(degree)), key=sp.default_sort_key)
    coeffs = [sp.Symbol(f"{name}_{i}", real=True) for i in range(len(monos))]
    expr = sum(c * m for c, m in zip(coeffs, monos))
    return SymbolicObjective(f"polynomial-{degree}-{n}", expr, th, (),
                             f"generic degree-{degree} polynomial in {n} variables (symbolic coefficients)")


def steps(obj: SymbolicObjective | None = None) -> list[Step]:
    """The chain Def. 1, Def. 2, appendix C, (4), (5), (6) on ``obj`` (default Example 1).

    Each identity step carries ``stated`` = 0 beside the derived difference, so tests
    check ``simplify(expr - stated) == 0``.
    """
    obj = quadratic() if obj is None else obj
    f = sp.Function("f")
    RP, Lsym = sp.Symbol("RP"), sp.Symbol("L")
    rp = relative_progress(obj)
    out = [
        Step("objective", "", sp.Eq(f(*obj.variables), obj.expr), f"the objective ({obj.source})"),
        Step("relative_progress", "Def. 1", sp.Eq(RP, sp.simplify(rp)),
             "RP(theta) = [f(theta - eta grad f) - f(theta)] / (eta |grad f|^2)"),
        Step("directional_smoothness", "Def. 2", sp.Eq(Lsym, sp.simplify(gd_directional_smoothness(obj))),
             "L(theta; eta grad f) = <v, grad f(theta) - grad f(theta - v)> / |v|^2 with v = eta grad f"),
        Step("tau_L", "", sp.Eq(sp.Symbol("tau") * Lsym, sp.simplify(tau_times_L(obj))),
             "appendix C: tau * L(theta; eta tau grad f) = <grad f, grad f - grad f(theta - eta tau grad f)> / "
             "(eta |grad f|^2), a polynomial in tau for polynomial f; stated: tau times Def. 2 at v = eta tau grad f",
             stated=tau * gd_directional_smoothness(obj, eta, tau)),
        Step("theorem2", "(4)", sp.Eq(RP, sp.simplify(theorem2_rhs(obj))),
             "Theorem 2: RP = -1 + (eta/2) 2 int_0^1 tau L(theta; eta tau grad f) dtau, integrated by SymPy",
             stated=sp.Eq(RP, rp)),
        Step("theorem2_difference", "(4)", theorem2_difference(obj),
             "RP minus the right-hand side of (4), cancelled: zero proves Theorem 2 for this objective",
             stated=sp.Integer(0)),
        Step("approximation5", "(5)", sp.Eq(RP, sp.simplify(approximation5(obj))),
             "RP ~ -1 + (eta/2) L(theta; eta grad f)"),
        Step("approximation5_error", "(5)", approximation5_error(obj),
             "RP minus the right-hand side of (5); zero for quadratics (L does not depend on tau)"),
        Step("sgd_per_sample", "(6)", sgd_per_sample_difference(obj),
             "appendix C, SGD case, for one stochastic gradient g: f(theta - eta g) - f(theta) = -eta <g, grad f> + "
             "eta^2 |g|^2 int_0^1 tau L(theta; eta tau g) dtau; the difference cancels to 0, and its expectation "
             "divided by eta |grad f|^2 is the exact form of (6)",
             stated=sp.Integer(0)),
    ]
    return out


def derivation(obj: SymbolicObjective | None = None) -> Derivation:
    """Registry entry ``unstable-convergence``: Def. 1, Def. 2, Theorem 2 (4), (5), (6) on Example 1."""
    return Derivation("unstable-convergence",
                      "Unstable convergence: relative progress, directional smoothness, Theorem 2",
                      "Ahn, Zhang, Sra, 4th paper, Defs. 1-3, Theorem 2 (4), (5), (6), appendix C", steps(obj))

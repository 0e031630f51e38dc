"""Relative progress, directional smoothness and Theorem 2, in SymPy.

Fourth paper (Ahn, Zhang, Sra, "Understanding the unstable convergence of gradient
descent"), §4 and appendix C. For an objective f(θ) (a
:class:`workbench.derivations.objectives.SymbolicObjective`) and a step η > 0:

* Definition 1, relative progress: RP(θ) = [f(θ − η∇f(θ)) − f(θ)] / (η‖∇f(θ)‖²);
* Definition 2, directional smoothness: L(θ; v) = ⟨v, ∇f(θ) − ∇f(θ − v)⟩ / ‖v‖²;
* Theorem 2, identity (4): RP(θ) = −1 + (η/2)·2∫₀¹ τ·L(θ; ητ∇f(θ)) dτ;
* approximation (5): RP(θ) ≈ −1 + (η/2)·L(θ; η∇f(θ)), exact for quadratics (where L(θ; v)
  is the Rayleigh quotient vᵀPv/‖v‖², independent of τ);
* the per-sample identity behind (6) (appendix C, "derivation for the SGD case"):
  f(θ − ηg) − f(θ) = −η⟨g, ∇f(θ)⟩ + η²‖g‖²·∫₀¹ τ·L(θ; ητg) dτ for any vector g.

The proof of (4) is done here for polynomial objectives, as the paper's appendix C does
it: τ·L(θ; ητ∇f) = ⟨∇f, ∇f − ∇f(θ − ητ∇f)⟩ / (η‖∇f‖²) (step ``tau_L``, checked by
``cancel``) is a polynomial in τ. The numerators are built in a sparse polynomial ring
QQ[c, θ, η, τ] (c the objective's constants; ``sympy.polys.rings``),
composed exactly (θ ↦ θ − ητ∇f) and integrated term by term (τᵏ ↦ 1/(k+1)); the
difference of the two sides of (4) is then 0 as a polynomial. Calling
``sympy.integrate`` on the expanded 10⁴-term integrand of a generic quartic took minutes
(224 s, then 355 s for the integration alone on a loaded machine); the ring takes about
half a second.

Cheaper still, and stronger: the per-sample identity behind (6) with a *free* direction
g is the 1-D fundamental theorem of calculus for φ(τ) = f(θ − ητg); it is linear in f,
involves no composition with ∇f, and implies (4) by g = ∇f(θ). :func:`prove_polynomial`
checks it for generic polynomials of degree up to 8 and in up to 4 variables in well under
a second. For non-polynomial objectives (tanh) the integral has no closed form; the
numeric side (:mod:`workbench.solvers.dynamics.diagnostics`) checks (4) there by Gauss–Legendre quadrature.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import sympy as sp
from sympy.polys.rings import ring

from workbench.derivations.objectives import SymbolicObjective, quadratic, theta_symbols
from workbench.derivations.steps import Derivation, Step

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
    "PolynomialProof",
    "prove_polynomial",
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


def _polynomial_ring(obj: SymbolicObjective, extra: Sequence[sp.Symbol]) -> tuple[Any, list, list, Any]:
    """A sparse polynomial ring holding f, with generators θ₁…θ_n and ``extra``.

    Returns ``(R, thetas, extras, F)`` with F = f as an element of R. When f is a
    polynomial with rational coefficients in all its symbols (θ and constants such as
    the c_α of :func:`general_polynomial`) the constants become generators too and the
    ring is QQ[constants, θ, extra] (fastest); otherwise (constants in denominators,
    algebraic numbers) the ring is K[θ, extra] over the field K of f's coefficients.
    Either way the arithmetic is exact (no floats) and never calls ``simplify`` or
    ``integrate`` on large expressions.

    Raises
    ------
    ValueError
        ``obj`` is not a polynomial in its variables (e.g. tanh); use the quadrature of
        :mod:`workbench.solvers.dynamics.diagnostics` there.
    """
    th = list(obj.variables)
    if not obj.expr.is_polynomial(*th):
        raise ValueError(f"objective: {obj.name!r} is not polynomial; use the quadrature of workbench.solvers.dynamics.diagnostics")
    extra = list(extra)
    others = sorted(obj.expr.free_symbols - set(th) - set(extra), key=sp.default_sort_key)
    try:
        full = sp.Poly(obj.expr, *others, *th, *extra)
        rational = full.domain.is_ZZ or full.domain.is_QQ
    except sp.PolynomialError:
        rational = False
    if rational:
        R, *gens = ring(others + th + extra, sp.QQ)
        gens = gens[len(others):]
    else:
        try:
            dom = sp.Poly(obj.expr, *th).domain.get_field()
        except sp.PolynomialError as exc:  # pragma: no cover - is_polynomial passed
            raise ValueError(f"objective: {obj.name!r} is not polynomial ({exc})") from None
        R, *gens = ring(th + extra, dom)
    n = len(th)
    return R, gens[:n], gens[n:], R(obj.expr)


def _shift(p: Any, xs: Sequence[Any], direction: Sequence[Any], scale: Any) -> Any:
    """p(θ − scale·direction) in the ring (exact polynomial composition)."""
    return p.compose([(x, x - scale * d) for x, d in zip(xs, direction)])


def _integrate_last_01(p: Any) -> Any:
    """∫₀¹ p dτ for p in the ring, τ its last generator: term-wise, τᵏ ↦ 1/(k + 1)."""
    R = p.ring
    k_last = R.ngens - 1
    out: dict[tuple[int, ...], Any] = {}
    for mono, c in p.terms():
        key = mono[:k_last] + (0,)
        out[key] = out.get(key, R.domain.zero) + c * R.domain.convert(sp.Rational(1, mono[k_last] + 1))
    return R.from_dict(out) if out else R.zero


def _ring_dot(a: Sequence[Any], b: Sequence[Any], zero: Any) -> Any:
    return sum((x * y for x, y in zip(a, b)), zero)


def _theorem2_parts(obj: SymbolicObjective) -> tuple[Any, Any, Any, Any]:
    """Ring elements (F, F(θ − η∇f), ‖∇f‖², ∫₀¹⟨∇f, ∇f − ∇f(θ − ητ∇f)⟩dτ) for polynomial f."""
    R, X, (e, t), F = _polynomial_ring(obj, (eta, tau))
    G = [F.diff(x) for x in X]
    Gt = [_shift(gi, X, G, e * t) for gi in G]
    gg = _ring_dot(G, G, R.zero)
    integral = _integrate_last_01(gg - _ring_dot(G, Gt, R.zero))
    return F, _shift(F, X, G, e), gg, integral


def _theorem2_integral(obj: SymbolicObjective) -> sp.Expr:
    """∫₀¹ ⟨∇f, ∇f − ∇f(θ − ητ∇f)⟩ dτ, the numerator of ∫₀¹ τ·L dτ times η‖∇f‖² (polynomial f).

    The integrand is a polynomial in τ; it is built in a sparse polynomial ring and
    integrated term by term (τᵏ ↦ 1/(k+1)), exactly.
    """
    return _theorem2_parts(obj)[3].as_expr()


def theorem2_rhs(obj: SymbolicObjective) -> sp.Expr:
    """The right-hand side of Theorem 2 (4): −1 + (η/2)·2∫₀¹ τ·L(θ; ητ∇f) dτ.

    The integrand is :func:`tau_times_L`; its numerator is a polynomial in τ integrated
    term by term. Polynomial objectives only: a non-polynomial f raises ``ValueError``.
    """
    g = sp.Matrix(obj.gradient)
    return -1 + eta / 2 * 2 * _theorem2_integral(obj) / (eta * _dot(g, g))


def theorem2_difference(obj: SymbolicObjective) -> sp.Expr:
    """RP(θ) − RHS of (4), over their common denominator D = η‖∇f‖²: 0 proves Theorem 2.

    RP = [f(θ − η∇f) − f(θ)]/D and RHS = [−D + η·∫₀¹⟨∇f, ∇f − ∇f(θ − ητ∇f)⟩dτ]/D; the
    numerator of the difference is computed in a sparse polynomial ring (see
    :func:`_polynomial_ring`): composition θ ↦ θ − ητ∇f, term-wise
    integration in τ, subtraction. Exact; a generic quartic in 2 variables takes about
    half a second (the former ``sympy.integrate`` of the 10⁴-term expanded integrand took minutes).
    """
    F, F1, gg, integral = _theorem2_parts(obj)
    e = F.ring.gens[-2]
    num = (F1 - F) - (-e * gg + e * integral)
    g = sp.Matrix(obj.gradient)
    return num.as_expr() / (eta * _dot(g, g))


def approximation5(obj: SymbolicObjective) -> sp.Expr:
    """The right-hand side of (5): −1 + (η/2)·L(θ; η∇f(θ))."""
    return -1 + eta / 2 * gd_directional_smoothness(obj)


def approximation5_error(obj: SymbolicObjective) -> sp.Expr:
    """RP(θ) − RHS of (5), cancelled; 0 for every quadratic, O(η²‖∇f‖·∇³f) otherwise."""
    return sp.cancel(sp.together(relative_progress(obj) - approximation5(obj)))


def sgd_per_sample_difference(obj: SymbolicObjective) -> sp.Expr:
    """Appendix C, SGD case, for one sample g = (g₁, …, g_n) (free symbols ``g_1``…).

    Returns [f(θ − ηg) − f(θ)] − [−η⟨g, ∇f(θ)⟩ + η²‖g‖²·∫₀¹ τ·L(θ; ητg) dτ], with
    η‖g‖²·τ·L(θ; ητg) = ⟨g, ∇f(θ) − ∇f(θ − ητg)⟩, expanded (computed in the polynomial
    ring over θ, g, η, τ and integrated term-wise in τ). Taking the expectation over g
    (E g = ∇f) and dividing by η‖∇f‖² gives the exact form of (6); 0 proves it for
    polynomial ``obj``.

    Because g is free, this is the 1-D identity φ(1) − φ(0) = ∫₀¹ φ'(τ) dτ for
    φ(τ) = f(θ − ητg), φ'(τ) = −η⟨g, ∇f(θ − ητg)⟩; substituting g = ∇f(θ) and dividing by
    η‖∇f‖² gives Theorem 2 (4). So a zero here proves (4) as well, and it is far cheaper
    than :func:`theorem2_difference` (no composition with ∇f): see :func:`prove_polynomial`.
    """
    gs = theta_symbols(obj.size, "g")
    R, X, ext, F = _polynomial_ring(obj, (*gs, eta, tau))
    V, e, t = ext[:-2], ext[-2], ext[-1]
    G = [F.diff(x) for x in X]
    Gt = [_shift(gi, X, V, e * t) for gi in G]
    integral = _integrate_last_01(_ring_dot(V, G, R.zero) - _ring_dot(V, Gt, R.zero))  # η‖g‖²∫τL dτ
    lhs = _shift(F, X, V, e) - F
    rhs = -e * _ring_dot(V, G, R.zero) + e * integral
    return (lhs - rhs).as_expr()


@dataclass(frozen=True)
class PolynomialProof:
    """Outcome of :func:`prove_polynomial` for every polynomial of degree ≤ ``degree`` in ``n`` variables.

    ``line_identity`` — the per-sample identity (appendix C, SGD case) with a free
    direction g is 0 for the generic polynomial: this proves (4) (g = ∇f) and the exact
    form of (6) (E g = ∇f). ``theorem2_direct`` — :func:`theorem2_difference` on the generic
    polynomial is 0 (``None`` when not attempted). ``coefficients`` — the number of free
    coefficients c_α.
    """

    degree: int
    n: int
    coefficients: int
    line_identity: bool
    theorem2_direct: bool | None

    @property
    def proved(self) -> bool:
        return self.line_identity and self.theorem2_direct is not False


def prove_polynomial(degree: int, n: int = 2, direct: bool = True) -> PolynomialProof:
    """Prove Theorem 2 (4) and the SGD identity behind (6) for all polynomials of degree ≤ ``degree``.

    Uses :func:`general_polynomial` (every coefficient a free symbol). The free-direction
    identity (:func:`sgd_per_sample_difference`) is checked always; the direct form
    (:func:`theorem2_difference`, g = ∇f composed in) only when ``direct`` (it grows fast:
    about 0.5 s for degree 4 in 2 variables, about 15 s for degree 5).

    Raises
    ------
    ValueError
        ``degree`` < 1 or ``n`` < 1.
    """
    if isinstance(degree, bool) or int(degree) < 1:
        raise ValueError(f"degree: must be an integer >= 1, got {degree!r}")
    if isinstance(n, bool) or int(n) < 1:
        raise ValueError(f"n: must be an integer >= 1, got {n!r}")
    obj = general_polynomial(int(degree), int(n))
    line = sgd_per_sample_difference(obj) == 0
    d = (theorem2_difference(obj) == 0) if direct else None
    return PolynomialProof(int(degree), int(n), len(obj.expr.free_symbols - set(obj.variables)), line, d)


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

"""Theorem 2 (4), (5) and the SGD identity behind (6), proved symbolically (4th paper)."""
from __future__ import annotations

import pytest
import sympy as sp

from workbench.derivations import registry
from workbench.derivations import unstable_convergence as uc
from workbench.derivations.objectives import SymbolicObjective, quadratic, theta_symbols, toy


@pytest.mark.parametrize("degree", [2, 3])
def test_theorem2_generic_polynomial(degree):
    # every polynomial of this degree in 2 variables at once (symbolic coefficients)
    assert uc.theorem2_difference(uc.general_polynomial(degree)) == 0
    assert uc.sgd_per_sample_difference(uc.general_polynomial(degree)) == 0


def test_theorem2_generic_quartic_direct():
    # every quartic in 2 variables (15 free coefficients), (4) with g = grad f composed in: ~1 s in the
    # polynomial ring (sympy.integrate on the expanded integrand took minutes)
    p = uc.prove_polynomial(4, 2, direct=True)
    assert p.theorem2_direct is True and p.line_identity is True and p.proved
    assert p.coefficients == 15


@pytest.mark.parametrize("degree,n", [(5, 2), (6, 2), (8, 2), (4, 3), (6, 3), (5, 4)])
def test_line_identity_generic_polynomials(degree, n):
    # free-direction identity (appendix C, SGD case) for the generic polynomial: implies (4) with g = grad f
    p = uc.prove_polynomial(degree, n, direct=False)
    assert p.line_identity and p.theorem2_direct is None and p.proved
    assert p.coefficients == sp.binomial(degree + n, n)


def test_ring_proof_catches_wrong_identities():
    # the ring route must not return 0 for a wrong statement: a doubled integral, and the integrand
    # evaluated at tau = 1 in place of its integral over [0, 1]
    F, F1, gg, integral = uc._theorem2_parts(uc.general_polynomial(3))
    e = F.ring.gens[-2]
    assert (F1 - F) - (-e * gg + e * integral) == 0
    assert (F1 - F) - (-e * gg + 2 * e * integral) != 0
    R, X, (e2, t), G = uc._polynomial_ring(uc.general_polynomial(3), (uc.eta, uc.tau))
    grads = [G.diff(x) for x in X]
    inner = uc._ring_dot(grads, grads, R.zero) - uc._ring_dot(grads, [uc._shift(g, X, grads, e2 * t)
                                                                       for g in grads], R.zero)
    at_one = inner.compose(t, R.one)
    assert (F1 - F) - (-e2 * gg + e2 * at_one) != 0
    # term-wise integration against sympy.integrate on a small polynomial
    p = 3 * t ** 4 * X[0] - 5 * t * e2 + 7
    assert sp.expand(uc._integrate_last_01(p).as_expr()
                     - sp.integrate(p.as_expr(), (uc.tau, 0, 1))) == 0


def test_ring_proof_with_non_rational_coefficients():
    # constants in denominators and algebraic numbers: the ring is K[theta, eta, tau] over their field
    th = theta_symbols(2)
    b = sp.Symbol("b", positive=True)
    obj = SymbolicObjective("irr", th[0] ** 4 / b + sp.sqrt(2) * th[0] * th[1] ** 2 - th[1] ** 3, th)
    assert uc.theorem2_difference(obj) == 0
    assert uc.sgd_per_sample_difference(obj) == 0
    # RHS of (4) agrees with RP at a numeric point (exact rationals)
    pt = {th[0]: sp.Rational(1, 3), th[1]: -2, b: 5, uc.eta: sp.Rational(1, 7)}
    assert sp.simplify((uc.theorem2_rhs(obj) - uc.relative_progress(obj)).subs(pt)) == 0


@pytest.mark.slow
def test_theorem2_generic_quintic_direct():
    # degree 5 with g = grad f composed in: ~15 s (the free-direction proof above covers it in milliseconds)
    assert uc.prove_polynomial(5, 2, direct=True).theorem2_direct is True


def test_prove_polynomial_bad_input():
    with pytest.raises(ValueError, match="^degree"):
        uc.prove_polynomial(0)
    with pytest.raises(ValueError, match="^n"):
        uc.prove_polynomial(3, 0)


def test_theorem2_quartics():
    th = theta_symbols(3)
    o = SymbolicObjective("q4", (th[0] * th[1] - 1) ** 2 + th[2] ** 4 + 3 * th[0] * th[2] ** 3, th)
    for obj in (toy("rosenbrock"), o):
        assert uc.theorem2_difference(obj) == 0
        assert uc.sgd_per_sample_difference(obj) == 0
        # (5) is only an approximation beyond quadratics
        assert sp.simplify(uc.approximation5_error(obj)) != 0


def test_a_wrong_identity_is_caught():
    # dropping the factor 2 of (4) must not simplify to zero
    obj = quadratic()
    g = sp.Matrix(obj.gradient)
    wrong = uc.relative_progress(obj) - (-1 + uc.eta / 2 * uc._theorem2_integral(obj) / (uc.eta * uc._dot(g, g)))
    assert sp.simplify(wrong) != 0


def test_approximation5_exact_for_quadratics():
    P = sp.Matrix([[3, 1], [1, 5]])
    assert uc.approximation5_error(quadratic(P.tolist(), q=[1, -2])) == 0
    # for Example 1, RP = -1 + (eta/2) * Rayleigh quotient of P at the gradient
    obj = quadratic()
    g = sp.Matrix(obj.gradient)
    Pm = sp.diag(40, 2)
    rq = (g.T * Pm * g)[0, 0] / (g.T * g)[0, 0]
    assert sp.simplify(uc.relative_progress(obj) - (-1 + uc.eta / 2 * rq)) == 0


def test_non_polynomial_refused():
    with pytest.raises(ValueError, match="objective"):
        uc.theorem2_rhs(toy("tanh-quadratic"))


def test_directional_smoothness_definition():
    obj = quadratic()
    v = sp.symbols("v1 v2", real=True)
    L = uc.directional_smoothness(obj, v)
    assert sp.simplify(L - (40 * v[0] ** 2 + 2 * v[1] ** 2) / (v[0] ** 2 + v[1] ** 2)) == 0
    with pytest.raises(ValueError, match="v"):
        uc.directional_smoothness(obj, v[:1])


def test_derivation_steps_and_registry(derivation):
    d = derivation("unstable-convergence")
    assert "unstable-convergence" in registry.available()
    for name in ("tau_L", "theorem2", "theorem2_difference", "sgd_per_sample"):
        assert sp.simplify(d[name].stated_difference()) == 0, name
    assert d["(5)"].name == "approximation5"
    assert "tag{4}" in d.latex()

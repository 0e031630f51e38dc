"""Theorem 2 (4), (5) and the SGD identity behind (6), proved symbolically (4th paper)."""
from __future__ import annotations

import pytest
import sympy as sp

from derivations import registry
from derivations import unstable_convergence as uc
from derivations.objectives import SymbolicObjective, quadratic, theta_symbols, toy


@pytest.mark.parametrize("degree", [2, 3])
def test_theorem2_generic_polynomial(degree):
    # every polynomial of this degree in 2 variables at once (symbolic coefficients)
    assert uc.theorem2_difference(uc.general_polynomial(degree)) == 0
    assert uc.sgd_per_sample_difference(uc.general_polynomial(degree)) == 0


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


def test_derivation_steps_and_registry():
    d = registry.get("unstable-convergence")
    assert "unstable-convergence" in registry.available()
    for name in ("tau_L", "theorem2", "theorem2_difference", "sgd_per_sample"):
        assert sp.simplify(d[name].stated_difference()) == 0, name
    assert d["(5)"].name == "approximation5"
    assert "tag{4}" in d.latex()

"""Appendix D.1-D.2 of Sun et al. 2022: every stated equation against SymPy's derivation.

Exact checks use ``sp.simplify(derived - stated) == 0``.  The discrete CNN's
gradient is checked exactly at random rational points (exponentials treated as
formal generators) and numerically against central finite differences of an
independent NumPy forward pass (relative tolerance 1e-7, step h = 1e-5).
"""
from __future__ import annotations

import random

import numpy as np
import pytest
import sympy as sp

from workbench.derivations import cnn

from workbench.derivations import forward_euler
from workbench.derivations.steps import difference
from workbench.derivations.symbols import a, alpha, b, beta, g, u, y, yhat

ERRATA = {"swish_d2"}  # the paper's (16) is wrong; checked separately


@pytest.fixture(scope="module")
def der():
    return cnn.derivation()


STATED = [st.name for st in cnn.steps() if st.stated is not None and st.name not in ERRATA]


def test_every_paper_equation_is_present(der):
    labels = {st.equation for st in der if st.equation}
    assert labels == {f"({i})" for i in range(1, 21)}
    # each numbered derived step (bar the model definitions) carries the paper's printed form
    assert {st.equation for st in der if st.stated is not None} >= {f"({i})" for i in range(4, 21)} - {"(14)"}


@pytest.mark.parametrize("name", STATED)
def test_derived_equals_stated(der, name):
    assert sp.simplify(der[name].stated_difference()) == 0


@pytest.mark.parametrize("name", ["grad_L_ce", "swish_taylor", "linearized_pde", "grad_g", "variation_g"])
def test_comparison_can_fail(der, name):
    """A perturbed statement is detected, so the equality tests above have teeth."""
    st = der[name]
    bad = st.stated.func(st.stated.lhs, st.stated.rhs + sp.Rational(1, 7) * beta)
    assert sp.simplify(difference(st.expr, bad)) != 0


def test_paper_eq16_has_wrong_sign(der):
    st = der["swish_d2"]
    r2 = st.expr.rhs
    assert sp.simplify(r2 - cnn.SWISH_D2_CORRECTED) == 0
    wrong = sp.simplify(r2 - cnn.SWISH_D2_PAPER)
    assert wrong != 0
    assert sp.simplify(wrong - 2 * beta**2 * u * sp.exp(-beta * u) * (sp.exp(-beta * u) - 1)
                       / (1 + sp.exp(-beta * u)) ** 3) == 0
    # both agree at 0, so (18) r''(0) = β/2 stands
    assert sp.simplify(cnn.SWISH_D2_PAPER.subs(u, 0) - beta / 2) == 0
    r2_num = float(r2.subs({beta: 1, u: 1}))
    h, f = 1e-4, lambda v: v / (1 + np.exp(-v))
    assert abs(r2_num - (f(1 + h) - 2 * f(1) + f(1 - h)) / h**2) < 1e-6


def test_taylor_uses_derivatives_at_zero(der):
    lin = der["swish_taylor"].expr.rhs
    assert sp.simplify(lin - (der["swish_d1_at_0"].expr.rhs + der["swish_d2_at_0"].expr.rhs * u)) == 0
    assert der["swish_d1_at_0"].expr.rhs == sp.Rational(1, 2)
    assert sp.simplify(der["swish_d2_at_0"].expr.rhs - beta / 2) == 0


def test_sigmoid_and_cross_entropy_identities():
    sig = cnn.sigmoid(g)
    assert sp.simplify(sp.diff(sig, g) - sig * (1 - sig)) == 0
    ce = cnn.cross_entropy(y, yhat)
    assert sp.simplify(yhat * (1 - yhat) * sp.diff(ce, yhat) - (yhat - y)) == 0
    assert sp.simplify(yhat * (1 - yhat) * sp.diff(ce, yhat) - (y - yhat)) != 0


def test_linearized_pde_matches_forward_euler_input(der):
    """(20) of the chain, at one point z, is the input of appendix D.3."""
    z, t = cnn.z, cnn.t
    pointwise = der["linearized_pde"].expr.rhs.xreplace({
        cnn.K(z, t): sp.Function("K")(t), cnn.KII(z): sp.Function("C")(t), cnn.W(z): forward_euler.Win})
    assert sp.simplify(pointwise - forward_euler.linearized_pde().rhs) == 0


def test_input_sum_is_z_free_only_on_the_whole_line(der):
    rhs = der["input_sum"].expr.rhs
    assert cnn.z not in rhs.free_symbols
    rng = np.random.default_rng(3)
    img = rng.integers(-3, 4, size=(6, 6)).tolist()
    per = cnn.discrete_input_sum(img, 3, mode="periodic")
    val = cnn.discrete_input_sum(img, 3, mode="valid")
    assert len(set(per)) == 1 and per[0] == sum(map(sum, img))
    assert len(set(val)) > 1          # valid mode: Σ_x I(x+z) depends on z
    ones = cnn.discrete_input_sum([[1] * 6] * 6, 3, mode="valid")
    assert set(ones) == {16}


# -- discrete CNN ---------------------------------------------------------------------
def _formal_zero(expr: sp.Expr, seed: int) -> sp.Expr:
    """Replace every exp(...) by an independent random rational (formal identity check)."""
    rnd = random.Random(seed)
    atoms = {e: sp.Rational(rnd.randint(1, 40), rnd.randint(1, 40)) for e in expr.atoms(sp.exp)}
    return sp.nsimplify(expr.xreplace(atoms))


@pytest.fixture(scope="module")
def tiny():
    rnd = random.Random(7)
    K = cnn.kernel_symbols(3)
    img = [[sp.Rational(rnd.randint(-9, 9), 5) for _ in range(6)] for _ in range(6)]
    params = (sp.Rational(1, 3), sp.Rational(3, 2), sp.Rational(1, 5), sp.Rational(1, 4))
    point = {k: sp.Rational(rnd.randint(-5, 5), 7) for k in K}
    return K, img, params, point


def test_discrete_gradient_is_exact(tiny):
    """SymPy's gradient of the discrete loss equals (11) in discrete form, exactly."""
    K, img, params, point = tiny
    loss = cnn.discrete_loss(K, img, *params)
    formula = cnn.discrete_gradient_formula(K, img, *params)
    wrong = formula - params[0] * K      # forgets the weight-decay term
    for (i, j) in [(0, 0), (1, 2), (2, 1)]:
        d = (sp.diff(loss, K[i, j]) - formula[i, j]).xreplace(point)
        assert _formal_zero(d, 1) == 0 and _formal_zero(d, 2) == 0
        bad = (sp.diff(loss, K[i, j]) - wrong[i, j]).xreplace(point)
        assert _formal_zero(bad, 1) != 0


def _np_loss(Kv, img, alpha_, beta_, b_, y_, mode="valid"):
    w = Kv.shape[0]
    if mode == "periodic":
        img = np.pad(img, ((0, w - 1), (0, w - 1)), mode="wrap")
    oh, ow = img.shape[0] - w + 1, img.shape[1] - w + 1
    pre = np.array([[np.sum(Kv * img[i:i + w, j:j + w]) for j in range(ow)] for i in range(oh)])
    gsum = np.sum(pre / (1 + np.exp(-beta_ * pre)))
    yh = 1 / (1 + np.exp(-(gsum - b_)))
    return -y_ * np.log(yh) - (1 - y_) * np.log(1 - yh) + 0.5 * alpha_ * np.sum(Kv**2)


@pytest.mark.parametrize("mode", ["valid", "periodic"])
def test_discrete_gradient_matches_finite_differences(mode):
    rng = np.random.default_rng(11)
    img = rng.normal(size=(6, 6)) * 0.5
    Kv = rng.normal(size=(3, 3)) * 0.3
    alpha_, beta_, b_, y_ = 0.3, 1.5, 0.2, 1.0
    # SymPy evaluates the formula directly at the numeric kernel (53-bit Floats)
    formula = cnn.discrete_gradient_formula(sp.Matrix(Kv), img.tolist(), alpha_, beta_, b_, y_, mode=mode)
    grad = np.array(formula.tolist(), dtype=float)
    h, fd = 1e-5, np.zeros_like(Kv)
    for idx in np.ndindex(*Kv.shape):
        e = np.zeros_like(Kv)
        e[idx] = h
        fd[idx] = (_np_loss(Kv + e, img, alpha_, beta_, b_, y_, mode)
                   - _np_loss(Kv - e, img, alpha_, beta_, b_, y_, mode)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-9 * np.abs(fd).max())
    # and the SymPy loss is the same function as the NumPy one
    loss = float(cnn.discrete_loss(sp.Matrix(Kv), img.tolist(), alpha_, beta_, b_, y_, mode=mode))
    assert abs(loss - _np_loss(Kv, img, alpha_, beta_, b_, y_, mode)) < 1e-12


def test_discrete_input_validation():
    K = cnn.kernel_symbols(3)
    with pytest.raises(ValueError, match="^I: "):
        cnn.discrete_loss(K, [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="^mode: "):
        cnn.discrete_loss(K, [[1] * 4] * 4, mode="same")
    with pytest.raises(ValueError, match="^w: "):
        cnn.kernel_symbols(0)
    with pytest.raises(ValueError, match="^K: "):
        cnn.discrete_loss(sp.Matrix([[1, 2]]), [[1] * 4] * 4)


def test_discrete_loss_symbols_default():
    K = cnn.kernel_symbols(2)
    loss = cnn.discrete_loss(K, [[1, 0, 2], [0, 1, 0], [2, 0, 1]])
    assert {alpha, beta, b, y} <= loss.free_symbols and a not in loss.free_symbols

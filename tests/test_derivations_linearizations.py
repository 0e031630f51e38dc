"""Appendix D.4, D.5 and F of Sun et al. 2022: exact symbolic checks of workbench.derivations.linearizations.

Steps whose printed form the derivation confirms must give ``simplify(derived - stated) == 0``;
the steps where the paper is wrong must differ, by exactly the amount the module docstring states.
Independent checks re-derive the windowed D.4 operator as the exact Hessian of the discrete loss
and sample the analyzer's amplification factors numerically.
"""
from __future__ import annotations

import random

import pytest
import sympy as sp

from workbench.derivations import cnn

from workbench.derivations import registry
from workbench.derivations import linearizations as LZ
from workbench.derivations import von_neumann as vn
from workbench.derivations.symbols import P, a, alpha, b, beta, dt, y

Ibar = LZ.Ibar


@pytest.fixture(scope="module")
def d4():
    return LZ.derivation_d4()


@pytest.fixture(scope="module")
def d5():
    return LZ.derivation_d5()


@pytest.fixture(scope="module")
def df():
    return LZ.derivation_f()


WRONG_D4 = {"amplifier_zero_freq", "sinc_delta_mass", "box_delta"}
WRONG_D5 = {"g_activated", "a_linearized_activated", "activated_linear_pde_consistent", "alpha_lower",
            "alpha_upper_consistent"}


def _stated(deriv, wrong):
    return [st.name for st in deriv if st.stated is not None and st.name not in wrong]


def test_confirmed_steps_equal_printed_forms(d4, d5, df):
    names = {"d4": _stated(d4, WRONG_D4), "d5": _stated(d5, WRONG_D5), "f": _stated(df, set())}
    # the paper's numbered equations are all covered
    assert {d4[n].equation for n in names["d4"]} >= {"(28)", "(29)", "(30)", "(31)", "(33)"}
    assert {d5[n].equation for n in names["d5"]} >= {"(34)", "(35)"}
    assert {df[n].equation for n in names["f"]} >= {"(49)", "(50)", "(51)"}
    for deriv, key in ((d4, "d4"), (d5, "d5"), (df, "f")):
        for n in names[key]:
            assert sp.simplify(deriv[n].stated_difference()) == 0, (key, n)


def test_d4_31_has_half_the_delta_term(d4):
    """(31) at ω = 0 prints 1/8 s'(0)|Î(0)|²δ; (29) and (33) give 1/4 s'(0)|Î(0)|²δ."""
    diff = d4["amplifier_zero_freq"].stated_difference()
    assert sp.simplify(diff - dt * LZ.P0 * LZ.D0 * LZ.s1 / 8) == 0
    # (33) evaluated at ω = 0 is the derived (31) branch; at ω ≠ 0 the δ term vanishes
    A33 = d4["amplifier"].expr.rhs
    assert sp.simplify(A33.subs({P: LZ.P0, LZ.D: LZ.D0}) - d4["amplifier_zero_freq"].expr.rhs) == 0
    assert sp.simplify(A33.subs(LZ.D, 0) - d4["amplifier_nonzero_freq"].expr.rhs) == 0


def test_d4_amplifier_matches_the_29_coefficients(d4):
    """A = 1 - Δt z with z read off (29) mode by mode: C -> K̂P, K̄ -> K̂δ, Ī² -> P_0."""
    rhs = d4["pde_linear_part"].expr.rhs / LZ.Win
    Kt, Ct, Kbt = LZ._Kt, LZ._Ct, LZ._Kbt
    z_hand = -(sp.diff(rhs, Kt) + sp.diff(rhs, Ct) * P + sp.diff(rhs, Kbt) * LZ.D).subs(Ibar ** 2, LZ.P0)
    assert sp.simplify(d4["amplifier"].expr.rhs - (1 - dt * z_hand)) == 0
    # the dropped terms are the K-free forcing and a product of two fields
    dropped = d4["dropped_terms"].expr.rhs / LZ.Win
    assert sp.simplify(dropped - (-(LZ.s0 - y) * Ibar / 2 - LZ.s1 * beta * Ibar * Kbt * Ct / 4)) == 0


def test_d4_sinc_normalisation(d4):
    assert d4["sinc_delta_mass"].expr.rhs == 2 * sp.pi ** 3
    assert d4["box_delta_mass"].expr.rhs == 1
    ratio = sp.simplify(LZ.paper_delta_sinc() / LZ.box_delta_sinc(in_L=True))
    assert ratio == 2 * sp.pi ** 3
    # the box approximation concentrates: at ω = 0 it is (w/2π)², growing with the window
    assert sp.simplify(LZ.box_delta_sinc().subs({LZ.omega1: 0, LZ.omega2: 0}).rewrite(sp.sin)) != 0


def test_delta_zero_is_the_rank_one_eigenvalue():
    """On a w×w window the constant field's operator 1 1ᵀ has eigenvalue w² (the discrete δ(0))."""
    w = 3
    assert sp.ones(w * w, w * w).eigenvals() == {w * w: 1, 0: w * w - 1}
    assert LZ.derivation_d4()["delta_zero_window"].expr.rhs.subs(LZ.wpix, w) == w * w


def test_sigmoid_constants():
    sub = LZ.sigmoid_at_zero()
    assert sub[LZ.s0].subs(b, 0) == sp.Rational(1, 2)
    assert sp.simplify(sub[LZ.s1].subs(b, 0) - sp.Rational(1, 4)) == 0
    # s' = s(1 - s) for every bias
    assert sp.simplify((sub[LZ.s1] - sub[LZ.s0] * (1 - sub[LZ.s0])).rewrite(sp.exp)) == 0
    cg, cc = LZ.d4_operator_coefficients()
    assert sp.simplify(cg.subs({b: 0, y: 1, beta: 1}) + sp.Rational(1, 4)) == 0
    assert sp.simplify(cc.subs(b, 0) - sp.Rational(1, 16)) == 0


def _patches(img: sp.Matrix, w: int) -> sp.Matrix:
    oh, ow = img.rows - w + 1, img.cols - w + 1
    return sp.Matrix([[img[i + p, j + q] for p in range(w) for q in range(w)] for i in range(oh) for j in range(ow)])


def test_d4_windowed_operator_is_the_exact_hessian_at_zero():
    """Valid mode: Hess L(0) - α = coef_G·G + coef_cc·c cᵀ exactly (rational image, symbolic β, b, y)."""
    img = sp.Matrix([[1, 2, 0], [sp.Rational(1, 2), 3, 1], [2, -1, 1]])
    w = 2
    Ks = cnn.kernel_symbols(w)
    loss = cnn.discrete_loss(Ks, img, alpha_=0, mode="valid")
    ks = list(Ks)
    H = sp.hessian(loss, ks).subs({k: 0 for k in ks})
    Pm = _patches(img, w)
    G = Pm.T * Pm
    c = Pm.T * sp.ones(Pm.rows, 1)
    cg, cc = LZ.d4_operator_coefficients()
    expected = cg * G + cc * c * c.T
    diff = (H - expected).applyfunc(lambda e: sp.simplify(e.rewrite(sp.exp)))
    assert diff == sp.zeros(w * w, w * w)
    # a wrong coefficient (the (31) misprint, 1/8 s'(0)) would fail
    wrong = cg * G + cc / 2 * c * c.T
    assert sp.simplify((H - wrong)[0, 0].rewrite(sp.exp)) != 0


def test_mode_bounds_through_the_analyzer():
    lo, hi = LZ.mode_alpha_bounds()
    assert sp.simplify(lo + LZ.lam) == 0 and sp.simplify(hi - (2 / dt - LZ.lam)) == 0
    rng = random.Random(3)
    A = 1 - dt * (alpha + LZ.lam)
    for _ in range(40):
        vals = {dt: sp.Rational(rng.randint(1, 50), 10), LZ.lam: sp.Rational(rng.randint(-40, 40), 10),
                alpha: sp.Rational(rng.randint(-40, 40), 10)}
        inside = lo.subs(vals) < vals[alpha] < hi.subs(vals)
        rad = vn.sample_check(sp.Poly(vn.xi - A, vn.xi), params=vals)
        if abs(rad - 1) > 1e-9:
            assert inside == (rad < 1), vals


def test_d5_paper_errors(d5):
    a_, s1, D0 = LZ.Kbar, LZ.s1, LZ.D0
    assert sp.simplify(d5["g_activated"].stated_difference() + Ibar * a_ / 2) == 0
    assert sp.simplify(d5["a_linearized_activated"].stated_difference() + Ibar * a_ * s1 / 2) == 0
    kb = sp.Function("Kbar")(LZ.t)
    assert sp.simplify(d5["activated_linear_pde_consistent"].stated_difference() - Ibar ** 2 * kb / 8) == 0
    # lower bound: the derived one is 0 (ω ≠ 0 modes), the printed -Ibar²/8
    assert d5["alpha_lower"].expr == sp.Gt(alpha, 0)
    assert sp.simplify(d5["alpha_lower"].stated_difference() + Ibar ** 2 / 8) == 0
    assert sp.simplify(d5["alpha_upper_consistent"].stated_difference() - Ibar ** 2 / 8) == 0


def test_d5_printed_amplifier_needs_delta_zero_one(d5):
    st = d5["amplifier_zero_freq"]
    assert sp.simplify(st.stated_difference()) == 0            # under s'(0) = 1/4, δ(0) = 1
    free = sp.simplify((st.expr.rhs - st.stated.rhs).subs(LZ.s1, sp.Rational(1, 4)))
    assert sp.simplify(free + dt * Ibar ** 2 * (LZ.D0 - 1) / 8) == 0


def test_d5_bounds_functions():
    assert sp.simplify(LZ.d5_alpha_upper() - (2 / dt - LZ.s1 * LZ.Q)) == 0
    assert sp.simplify(LZ.d5_alpha_upper(False) - (2 / dt - LZ.s1 * LZ.Q / 2)) == 0
    assert LZ.d5_alpha_lower() == 0
    # at s' = 1/4 and δ(0) = 1 the paper's coefficient reproduces its printed bound
    paper = LZ.d5_alpha_upper(False).subs({LZ.s1: sp.Rational(1, 4), LZ.Q: Ibar ** 2})
    assert sp.simplify(paper - LZ.d5_alpha_upper_paper()) == 0


def test_d5_activated_pde_from_12(d5):
    e = d5["activated_pde"].expr
    K = cnn.K(cnn.z, LZ.t)
    assert sp.simplify(e.rhs - (-a * Ibar - alpha * K)) == 0
    assert sp.simplify(e.rhs.diff(K) + alpha) == 0
    assert d5["activated_rprime"].expr.rhs == 1 and d5["activated_rsecond"].expr.rhs == 0


def test_f_bound_and_limit(df):
    assert df["large_alpha_limit"].expr == sp.Lt(dt, 2 / alpha)
    ser = df["large_alpha_series"].expr.rhs
    assert sp.simplify(ser - (2 / alpha - 2 * LZ.F_max / alpha ** 2)) == 0
    ratio = df["large_alpha_ratio"].expr.rhs
    assert sp.limit(ratio, alpha, sp.oo) == 1
    # ratio < 1 exactly when F_max > 0 (Δt < 2/α is then not sufficient at finite α)
    fpos = sp.Symbol("f", positive=True)
    apos = sp.Symbol("A", positive=True)
    assert (ratio.subs({LZ.F_max: fpos, alpha: apos}) - 1).simplify().is_negative
    # numeric confirmation of (50) through the analyzer's roots
    rng = random.Random(5)
    A = df["amplifier"].expr.rhs
    for _ in range(40):
        vals = {alpha: sp.Rational(rng.randint(1, 60), 10), LZ.Fhat: sp.Rational(rng.randint(-20, 40), 10),
                dt: sp.Rational(rng.randint(1, 40), 40)}
        rate = vals[alpha] + vals[LZ.Fhat]
        stable = rate > 0 and vals[dt] < 2 / rate
        rad = vn.sample_check(sp.Poly(vn.xi - A, vn.xi), params=vals)
        if abs(rad - 1) > 1e-9:
            assert stable == (rad < 1), vals


def test_registry_and_printing(derivation):
    names = registry.available()
    for n in ("linearization-d4", "activated-d5", "multilayer-f"):
        assert n in names
        d = derivation(n)
        assert d.name == n and len(d) > 5
        tex = d.latex()
        # one equation environment per step, except consecutive steps of one paper equation, which share one
        groups = sum(1 for i, st in enumerate(d) if i == 0 or not st.equation or st.equation != d[i - 1].equation)
        assert "\\tag{" in tex and tex.count("\\begin{equation") == groups
        assert all(set(s) == {"name", "equation", "text", "sympy", "latex", "description"} for s in d.to_dict()["steps"])

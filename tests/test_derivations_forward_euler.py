"""Appendix D.3 of Sun et al. 2022: forward Euler, DFT, amplifier and stability bounds.

Exact checks use ``sp.simplify(derived - stated) == 0``; the equivalence
``|A| < 1 ⇔ lower < α < upper`` is shown symbolically and then sampled with
NumPy over random parameters (samples within 1e-9 of a boundary are skipped).
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from workbench.derivations import alpha_bounds, amplifier, dt_bound

from workbench.derivations import forward_euler
from workbench.derivations.symbols import P, P_max, P_min, a, alpha, beta, dt

abs_a = sp.Symbol("abs_a", positive=True)
dP = sp.Symbol("dP", nonnegative=True)
NEG = {a: -abs_a, P_max: P_min + dP}      # a < 0, P_min <= P_max
POS = {a: abs_a, P_max: P_min + dP}       # a > 0


@pytest.fixture(scope="module")
def der():
    return forward_euler.derivation()


STATED = [st.name for st in forward_euler.steps() if st.stated is not None]


def test_stated_steps_cover_21_to_27():
    labels = {st.equation for st in forward_euler.steps() if st.stated is not None}
    assert labels == {f"({i})" for i in range(21, 28)}


@pytest.mark.parametrize("name", STATED)
def test_derived_equals_stated(der, name):
    assert sp.simplify(der[name].stated_difference()) == 0


def test_amplifier_exact():
    A = amplifier()
    assert sp.simplify(A - (1 - dt * (alpha + a * beta * P / 2))) == 0
    assert sp.simplify(A - (1 - dt * (alpha - a * beta * P / 2))) != 0   # sign matters
    assert A.free_symbols == {dt, alpha, a, beta, P}


def test_amplifier_is_coefficient_of_the_scheme(der):
    """Re-derive A from (21) by hand-free substitution: one Fourier mode K^n = K̂, C^n = K̂ P."""
    inc = der["euler_scheme"].expr.rhs
    khat = sp.Symbol("khat")
    mode = inc.subs({forward_euler.Win: 1, forward_euler.Kn: khat, forward_euler.Cn: khat * P})
    assert sp.simplify(sp.diff(khat + mode, khat) - amplifier()) == 0


def test_alpha_bounds_match_contract_form():
    lower, upper = alpha_bounds()
    assert lower == sp.Max(-a * beta * P_min / 2, -a * beta * P_max / 2)
    assert upper == sp.Min(2 / dt - a * beta * P_min / 2, 2 / dt - a * beta * P_max / 2)
    assert lower.free_symbols | upper.free_symbols == {dt, a, beta, P_min, P_max}


def test_alpha_bounds_reduce_to_26_27_for_negative_a():
    lower, upper = alpha_bounds()
    assert sp.simplify(lower.subs(NEG) - (-a * beta * P_max / 2).subs(NEG)) == 0        # (26)
    assert sp.simplify(upper.subs(NEG) - (2 / dt - a * beta * P_min / 2).subs(NEG)) == 0  # (27)
    # for a > 0 the roles of P_min and P_max swap: the paper's (26) would be wrong there
    assert sp.simplify(lower.subs(POS) - (-a * beta * P_min / 2).subs(POS)) == 0
    assert sp.simplify(lower.subs(POS) - (-a * beta * P_max / 2).subs(POS)) != 0


def test_abs_A_below_one_iff_bounds_symbolic():
    """A is decreasing in α (slope -Δt); A = 1 at the lower and A = -1 at the upper bound."""
    A = amplifier()
    lo, hi = forward_euler._bounds_in_P()
    assert sp.diff(A, alpha) == -dt and (-dt).is_negative
    assert sp.simplify(A.subs(alpha, lo) - 1) == 0
    assert sp.simplify(A.subs(alpha, hi) + 1) == 0
    # both bounds are linear in P, so their extremes over [P_min, P_max] are at the endpoints
    assert sp.diff(lo, P, 2) == 0 and sp.diff(hi, P, 2) == 0


def test_dt_bounds():
    assert sp.simplify(forward_euler.dt_bound_pointwise() - 2 / (alpha + a * beta * P / 2)) == 0
    assert sp.simplify(dt_bound().subs(NEG) - (2 / (alpha + a * beta * P_min / 2)).subs(NEG)) == 0
    assert sp.simplify(dt_bound().subs(POS) - (2 / (alpha + a * beta * P_max / 2)).subs(POS)) == 0


def test_eq25_is_not_sufficient_for_negative_a():
    """a < 0: a step allowed by (25) (‖I‖²_L1 >= P_max) can still give |A| > 1 at P_min."""
    vals = {a: sp.Rational(-1, 2), beta: 1, alpha: 3, P_min: sp.Rational(1, 10), P_max: 10}
    norm_sq = 10                                            # ‖I‖²_L1 >= max |Î|²
    step = sp.Integer(1)
    lower, _ = alpha_bounds()
    assert vals[alpha] > lower.subs(vals)                   # (26) holds
    assert step < 2 / (alpha + a * beta * norm_sq / 2).subs(vals)   # (25) holds
    A_at_Pmin = amplifier().subs(vals).subs({P: P_min}).subs(vals).subs(dt, step)
    assert abs(A_at_Pmin) > 1                               # ... yet unstable
    assert step > dt_bound().subs(vals)                     # the uniform bound catches it


def test_correlation_theorem_behind_22():
    for res in forward_euler.periodic_correlation_dft_residuals(4):
        assert sp.simplify(res) == 0
    with pytest.raises(ValueError, match="^n: "):
        forward_euler.periodic_correlation_dft_residuals(0)


def test_solve_linear_needs_known_sign():
    with pytest.raises(ValueError, match="^alpha: "):
        forward_euler._solve_linear(a * alpha < 1, alpha)
    assert forward_euler._solve_linear(dt * alpha < 1, alpha) == sp.Lt(alpha, 1 / dt)


def test_amplifier_latex(der):
    tex = der["amplifier"].latex()
    assert r"\tag{23}" in tex and r"\alpha" in tex and r"\beta" in tex
    assert r"\tag{26}" in der["alpha_lower"].latex() and r"\max" in der["alpha_lower"].latex()


def test_bounds_numerically_by_sampling():
    rng = np.random.default_rng(2024)
    args = (dt, a, beta, P_min, P_max)
    lower_f, upper_f = (sp.lambdify(args, e, "numpy") for e in alpha_bounds())
    dtb_f = sp.lambdify((alpha, a, beta, P_min, P_max), dt_bound(), "numpy")
    A_f = sp.lambdify((dt, alpha, a, beta, P), amplifier(), "numpy")
    checked = agree_dt = 0
    for _ in range(3000):
        dt_, a_, b_ = rng.uniform(1e-3, 1.0), rng.uniform(-2, 2), rng.uniform(0.1, 3)
        p0, p1 = np.sort(rng.uniform(0, 10, size=2))
        lo, hi = lower_f(dt_, a_, b_, p0, p1), upper_f(dt_, a_, b_, p0, p1)
        al = rng.uniform(min(lo, hi) - 2, max(lo, hi) + 2)   # the interval may be empty
        if min(abs(al - lo), abs(al - hi)) < 1e-9:
            continue
        Ps = np.concatenate([[p0, p1], rng.uniform(p0, p1, size=16)])
        stable = bool(np.all(np.abs(A_f(dt_, al, a_, b_, Ps)) < 1))
        assert stable == (lo < al < hi)
        checked += 1
        if al > lo:       # with the lower bound met, α < upper ⇔ Δt < dt_bound
            dtb = dtb_f(al, a_, b_, p0, p1)
            if abs(dt_ - dtb) > 1e-9:
                assert (dt_ < dtb) == (al < hi)
                agree_dt += 1
    assert checked > 2900 and agree_dt > 1000

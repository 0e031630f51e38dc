"""General Von Neumann analyzer (workbench.derivations.von_neumann): polynomials, Schur–Cohn, bounds.

Exact claims are checked symbolically; the Schur–Cohn/Jury conditions are also
checked against NumPy root sampling (tolerance: points with ``|max|ξ| - 1| <
1e-9`` count as on the boundary and are skipped; float64 roots of a quadratic
are good to ~1e-12 there).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp

from workbench.derivations import forward_euler
from workbench.derivations.symbols import P, a, alpha, beta, d, dt
from workbench.derivations.von_neumann import (
    G, K_n, K_nm1, K_np1, Scheme, amplification, central_difference_momentum_scheme,
    characteristic_polynomial, derivation, eta, forward_euler_scheme, h, mu,
    n_step, nesterov_exact_bound, nesterov_semi_implicit_scheme, paper_bound_45, sample_check,
    schur_cohn_conditions, solve_bound, t_time, xi, z,
)

BOUNDARY = 1e-9


def _max_root_modulus(coeffs: np.ndarray) -> np.ndarray:
    """Max |root| of monic polynomials, rows ``[c_{n-1}, ..., c_0]``, via batched companion eigenvalues."""
    n = coeffs.shape[1]
    comp = np.zeros((coeffs.shape[0], n, n))
    comp[:, 0, :] = -coeffs
    comp[:, np.arange(1, n), np.arange(n - 1)] = 1.0
    return np.abs(np.linalg.eigvals(comp)).max(axis=1)


def _lambdify_conditions(cond: sp.Basic, args: list[sp.Symbol]):  # noqa: ANN202
    rels = sp.And.make_args(cond)
    fs = [sp.lambdify(args, r.lhs - r.rhs, "numpy") for r in rels]
    kinds = [isinstance(r, (sp.Gt, sp.Ge)) for r in rels]
    assert all(kinds) or not any(kinds)

    ops = {sp.Gt: np.greater, sp.Ge: np.greater_equal, sp.Lt: np.less, sp.Le: np.less_equal}

    def holds(*vals: np.ndarray) -> np.ndarray:
        out = np.ones(np.broadcast(*vals).shape, dtype=bool)
        for f, r in zip(fs, rels):
            out &= ops[type(r)](np.broadcast_to(f(*vals), out.shape), 0)
        return out

    return holds


# -- forward Euler (first paper, (21)-(24)) ----------------------------------------
def test_forward_euler_reproduces_the_amplifier():
    A = amplification(forward_euler_scheme())
    assert not isinstance(A, sp.Poly)
    assert sp.expand(A - forward_euler.amplifier()) == 0
    assert sp.expand(A - (1 - dt * (alpha + a * beta * P / 2))) == 0
    # the weight-decay bounds of |A| < 1 at one frequency are the module's pointwise ones
    cond = schur_cohn_conditions(xi - A)
    sol = solve_bound(cond, alpha)
    lo, hi = forward_euler._bounds_in_P()
    rels = sp.And.make_args(sol)
    assert any(isinstance(r, sp.Gt) and r.lhs == alpha and sp.simplify(r.rhs - lo) == 0
               or isinstance(r, sp.Lt) and r.rhs == alpha and sp.simplify(r.lhs - lo) == 0 for r in rels)
    assert any(isinstance(r, sp.Lt) and r.lhs == alpha and sp.simplify(r.rhs - hi) == 0 for r in rels)


def test_forward_euler_condition_is_0_lt_dt_z_lt_2():
    s = sp.Symbol("s", real=True)                      # s = Δt·z
    A = amplification(forward_euler_scheme(symbol=s / dt))
    cond = schur_cohn_conditions(xi - A)
    assert solve_bound(cond, s).as_set() == sp.Interval.open(0, 2)
    # closed disk: 0 <= s <= 2
    assert solve_bound(schur_cohn_conditions(xi - A, strict=False), s).as_set() == sp.Interval(0, 2)


# -- momentum schemes (first paper, appendix E) --------------------------------------
def test_nesterov_polynomial_paper_form_equals_eta_mu_form():
    paper = nesterov_semi_implicit_scheme().polynomial.as_expr()
    generic = nesterov_semi_implicit_scheme(mu, eta).polynomial.as_expr()
    sub = {mu: (2 - d * dt) / (2 + d * dt), eta: 2 * dt ** 2 / (2 + d * dt)}
    assert sp.simplify(paper - generic.subs(sub)) == 0
    # ξ² - (1+μ)(1-ηz)ξ + μ(1-ηz)
    assert sp.expand(generic - (xi ** 2 - (1 + mu) * (1 - eta * z) * xi + mu * (1 - eta * z))) == 0
    assert amplification(nesterov_semi_implicit_scheme(mu, eta)).degree() == 2


def test_nesterov_exact_region_is_the_known_theory():
    region = nesterov_exact_bound()
    print("\nNesterov exact region in h = eta*z:", region)
    rels = [r.reversed if isinstance(r, sp.Gt) else r for r in sp.And.make_args(region)]   # all '<'
    assert all(isinstance(r, sp.Lt) and h in (r.lhs, r.rhs) for r in rels)
    uppers = [r.rhs for r in rels if r.lhs == h]
    lowers = [r.lhs for r in rels if r.rhs == h]
    assert len(uppers) == 1 and sp.simplify(uppers[0] - 2 * (1 + mu) / (1 + 2 * mu)) == 0
    # the other lower bound (μ-1)/μ is negative for 0 < μ < 1: write μ = 1/(1+t), t > 0
    t = sp.Symbol("t", positive=True)
    others = [lb for lb in lowers if lb != 0]
    assert others and all(sp.simplify(lb.subs(mu, 1 / (1 + t))).is_negative for lb in others)
    assert solve_bound(region, h, {mu: sp.Rational(9, 10)}).as_set() == sp.Interval.open(0, sp.Rational(19, 14))


def test_central_difference_momentum_region():
    cond = schur_cohn_conditions(central_difference_momentum_scheme(mu, eta, h / eta).polynomial)
    sol = solve_bound(cond, h, {mu: sp.Rational(9, 10)})
    assert sol.as_set() == sp.Interval.open(0, sp.Rational(38, 10))    # 0 < h < 2(1+μ)
    assert schur_cohn_conditions(central_difference_momentum_scheme(1, eta, h / eta).polynomial) == sp.false


def test_nesterov_conditions_match_root_sampling_paper_parameters():
    """(Δt, d, z) random; exact conditions of the paper-form polynomial vs NumPy roots."""
    rng = np.random.default_rng(20240601)
    n = 4000
    Dt = np.exp(rng.uniform(np.log(1e-2), np.log(1.0), n))
    dDt = np.exp(rng.uniform(np.log(1e-2), np.log(20.0), n))     # μ from 0.99 down to -0.82
    s = np.exp(rng.uniform(np.log(0.05), np.log(60.0), n)) * np.where(rng.random(n) < 0.1, -1, 1)
    D, Z = dDt / Dt, s / Dt ** 2
    poly = nesterov_semi_implicit_scheme().polynomial
    cond = schur_cohn_conditions(poly)
    print("\nNesterov, paper parameters (Delta_t, d, z):", cond)
    holds = _lambdify_conditions(cond, [dt, d, z])(Dt, D, Z)
    c1, c0 = (sp.lambdify([dt, d, z], poly.nth(k), "numpy") for k in (1, 0))
    rho = _max_root_modulus(np.stack([c1(Dt, D, Z), c0(Dt, D, Z)], axis=1))
    far = np.abs(rho - 1) > BOUNDARY
    assert far.mean() > 0.99
    assert 0.1 < holds[far].mean() < 0.9                       # both sides are sampled
    bad = far & (holds != (rho < 1))
    assert not bad.any(), list(zip(Dt[bad], D[bad], Z[bad], rho[bad]))


def test_nesterov_closed_form_matches_root_sampling():
    """0 < ηz < 2(1+μ)/(1+2μ) for 0 < μ < 1 vs NumPy roots of ξ² - (1+μ)(1-h)ξ + μ(1-h)."""
    rng = np.random.default_rng(7)
    m = rng.uniform(0, 1, 3000)
    hh = rng.uniform(-0.5, 3.0, 3000)
    rho = _max_root_modulus(np.stack([-(1 + m) * (1 - hh), m * (1 - hh)], axis=1))
    pred = (hh > 0) & (hh < 2 * (1 + m) / (1 + 2 * m))
    far = np.abs(rho - 1) > BOUNDARY
    assert far.mean() > 0.99 and 0.1 < pred.mean() < 0.9
    assert np.array_equal(pred[far], (rho < 1)[far])


def test_paper_45_against_exact_region_at_momentum_0_9():
    """Where (45), Δt < 2/√(3z), differs from the exact region, computed for μ = 0.9."""
    m = sp.Rational(9, 10)
    region = solve_bound(nesterov_exact_bound(), h, {mu: m}).as_set()
    exact = region.sup
    paper = paper_bound_45().subs(mu, m)
    ratio = sp.nsimplify(exact / paper)
    # exact zΔt² bound: h = zΔt²(1+μ)/2
    print(f"\nmu = 0.9: exact h = eta*z < {exact} = {float(exact):.6f}; (45) implies h < {paper} = "
          f"{float(paper):.6f}; exact/(45) = {ratio} = {float(ratio):.6f}; "
          f"z*Dt^2 < {float(2 * exact / (1 + m)):.6f} vs 4/3; Dt bound ratio {float(sp.sqrt(ratio)):.6f}")
    print(f"  Table-5 step Dt = 1e-4: z < {float(2 * exact / (1 + m) / sp.Rational(1, 10**8)):.6e} exact vs "
          f"{float(sp.Rational(4, 3) * 10**8):.6e} from (45)/(46)")
    assert region == sp.Interval.open(0, exact)
    assert paper < exact                                         # (45) is conservative at μ = 0.9
    assert sp.simplify((2 * (1 + mu) / (1 + 2 * mu)) / paper_bound_45() - 3 / (1 + 2 * mu)) == 0
    assert paper_bound_45().subs(mu, 1) == (2 * (1 + mu) / (1 + 2 * mu)).subs(mu, 1)   # equal only at μ = 1
    # between the two bounds: stable by the roots though (45) excludes it; beyond exact: unstable
    poly = nesterov_semi_implicit_scheme(mu, eta, h / eta).polynomial
    between = (paper + exact) / 2
    assert sample_check(poly, xi, {mu: m, eta: 1}, {h: between}) < 1
    assert sample_check(poly, xi, {mu: m, eta: 1}, {h: exact + sp.Rational(1, 1000)}) > 1
    assert sample_check(poly, xi, {mu: m, eta: 1}, {h: exact - sp.Rational(1, 1000)}) < 1


# -- Schur–Cohn / Jury on known roots --------------------------------------------------
def _from_roots(*roots: sp.Expr) -> sp.Poly:
    return sp.Poly(sp.expand(sp.Mul(*[xi - r for r in roots])), xi)


R = sp.Rational


@pytest.mark.parametrize("roots,stable", [
    ((R(1, 2), R(-9, 10)), True),
    ((R(1, 2), R(11, 10)), False),
    ((R(1, 2) + sp.I * R(1, 2), R(1, 2) - sp.I * R(1, 2)), True),
    ((R(3, 4) + sp.I * R(3, 4), R(3, 4) - sp.I * R(3, 4)), False),   # |ξ| = 1.06
    ((R(1, 2), R(-3, 10), R(9, 10)), True),
    ((R(1, 2), R(11, 10) * sp.I, -R(11, 10) * sp.I), False),
    ((R(-1, 2), R(1, 2) + sp.I * R(1, 2), R(1, 2) - sp.I * R(1, 2)), True),
    ((R(-1, 5), R(1, 5), R(21, 20)), False),
    ((R(1, 2), R(1, 2), R(-1, 2), R(9, 10), R(-3, 5)), True),
    ((R(1, 2), R(1, 2), R(-1, 2), R(9, 10), R(-6, 5)), False),
])
def test_jury_known_roots(roots, stable):
    p = _from_roots(*roots)
    assert schur_cohn_conditions(p) == (sp.true if stable else sp.false)
    assert schur_cohn_conditions(-3 * p) == (sp.true if stable else sp.false)   # negative leading coefficient


def test_jury_random_polynomials_against_numpy():
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(150):
        n = int(rng.integers(3, 6))
        roots = rng.uniform(0.3, 1.15, n // 2) * np.exp(1j * rng.uniform(0, np.pi, n // 2))
        real = rng.uniform(-1.1, 1.1, n - 2 * (n // 2))
        coeffs = np.real(np.poly(np.concatenate([roots, roots.conj(), real])))
        rho = np.abs(np.roots(coeffs)).max()
        if abs(rho - 1) < 1e-6:
            continue
        p = sp.Poly([sp.Rational(c).limit_denominator(10**12) for c in coeffs], xi)
        rho_exact = np.abs(np.roots([float(c) for c in p.all_coeffs()])).max()
        if abs(rho_exact - 1) < 1e-6:
            continue
        assert schur_cohn_conditions(p) == (sp.true if rho_exact < 1 else sp.false), (coeffs, rho_exact)
        checked += 1
    assert checked > 120


def test_degree_two_is_the_root_amplitude_lemma():
    """Second paper, (18)-(19): Aξ² - Bξ + C (A > 0) has |ξ| <= 1 iff A >= C and A + C >= |B|."""
    B, C = sp.symbols("B C", real=True)
    A = sp.Symbol("A", positive=True)
    cond = schur_cohn_conditions(sp.Poly(A * xi ** 2 - B * xi + C, xi), strict=False)
    expected = [A - C, A + C - B, A + C + B]
    got = [r.lhs - r.rhs for r in sp.And.make_args(cond)]
    assert all(isinstance(r, sp.Ge) for r in sp.And.make_args(cond)) and len(got) == 3
    assert all(any(sp.expand(g - e) == 0 for e in expected) for g in got)
    # closed vs open disk on the boundary: (ξ - 1)² and (ξ + 1)(ξ - 1/2)
    for roots in ((1, 1), (-1, R(1, 2))):
        p = _from_roots(*roots)
        assert schur_cohn_conditions(p, strict=False) == sp.true
        assert schur_cohn_conditions(p) == sp.false


def test_unknown_sign_of_leading_coefficient():
    c = sp.Symbol("c", real=True)
    cond = schur_cohn_conditions(sp.Poly(c * (xi - R(1, 2)) * (xi + R(1, 3)), xi))
    assert cond.subs(c, -2) == sp.true and cond.subs(c, 5) == sp.true
    cond = schur_cohn_conditions(sp.Poly(c * (xi - 2) * (xi + R(1, 3)), xi))
    assert cond.subs(c, -2) == sp.false and cond.subs(c, 5) == sp.false


# -- analyzer plumbing --------------------------------------------------------------
def test_characteristic_polynomial_inputs_and_errors():
    # raw arguments equal the Scheme form; forcing terms are dropped
    f = sp.Symbol("f")
    eq = sp.Eq(K_np1, K_n + mu * (K_n - K_nm1) - eta * G * K_n + f)
    p1 = characteristic_polynomial(eq, [K_np1, K_n, K_nm1], {G: z})
    p2 = central_difference_momentum_scheme(mu, eta).polynomial
    assert sp.expand(p1.as_expr() - p2.as_expr()) == 0
    assert p1 == characteristic_polynomial(Scheme((K_np1, K_n, K_nm1), (eq,), {G: z}))
    with pytest.raises(ValueError, match="non-linear in the iterates"):
        characteristic_polynomial(sp.Eq(K_np1, K_n * K_nm1), [K_np1, K_n, K_nm1])
    with pytest.raises(ValueError, match="non-linear in the iterates"):
        characteristic_polynomial(sp.Eq(K_np1, sp.sin(K_n)), [K_np1, K_n])
    with pytest.raises(ValueError, match="non-constant coefficient.*depends on n"):
        characteristic_polynomial(sp.Eq(K_np1, n_step * K_n), [K_np1, K_n])
    with pytest.raises(ValueError, match="non-constant coefficient"):
        characteristic_polynomial(sp.Eq(K_np1, sp.Function("c")(t_time) * K_n), [K_np1, K_n])
    with pytest.raises(ValueError, match="levels"):
        characteristic_polynomial(eq, [K_np1])
    with pytest.raises(ValueError, match="equations"):
        characteristic_polynomial([eq, eq], [K_np1, K_n, K_nm1])
    with pytest.raises(ValueError, match="degree"):
        schur_cohn_conditions(sp.Poly(3, xi))
    with pytest.raises(ValueError, match="strict"):
        schur_cohn_conditions(_from_roots(0, 0, 0), strict=False)


def test_solve_bound_refuses_unknown_signs():
    cond = schur_cohn_conditions(nesterov_semi_implicit_scheme().polynomial)
    with pytest.raises(ValueError, match="solve_bound"):
        solve_bound(cond, z)                  # coefficient Δt²(dΔt - 6) of unknown sign
    # with dΔt fixed the bound on z is found
    sol = solve_bound(cond, z, {d: 2 / (19 * dt)})          # dΔt = 2/19, μ = 0.9
    ups = [r.rhs for r in sp.And.make_args(sol) if isinstance(r, sp.Lt) and r.lhs == z]
    assert len(ups) == 1 and sp.simplify(ups[0] - sp.Rational(10, 7) / dt ** 2) == 0   # zΔt² < 4/(1+2μ)


def test_sample_check_and_missing_values():
    poly = nesterov_semi_implicit_scheme(mu, eta).polynomial
    r = sample_check(poly, xi, {mu: R(9, 10), eta: R(1, 10)}, {z: 5})
    assert r == pytest.approx(float(np.abs(np.roots([1, -1.9 * 0.5, 0.9 * 0.5])).max()), abs=1e-12)
    with pytest.raises(ValueError, match="no value"):
        sample_check(poly, xi, {mu: R(9, 10)}, {z: 5})


def test_nesterov_derivation_steps():
    der = derivation()
    assert der.name == "von-neumann-nesterov"
    assert sp.simplify(der["exact_upper"].stated_difference()) == 0
    assert "(45)" in der.latex() and "tag{43}" in der.latex()
    dct = der.to_dict()
    assert json.loads(json.dumps(dct)) == dct


@pytest.mark.parametrize("name, scheme", [
    ("gd", lambda: forward_euler_scheme(symbol=h / eta)),
    ("central-difference", lambda: central_difference_momentum_scheme(mu, eta, h / eta)),
    ("nesterov", lambda: nesterov_semi_implicit_scheme(mu, eta, h / eta)),
])
def test_paper_recurrences_are_the_registered_records(name, scheme):
    """The first paper's recurrences as written here ((21), (39)-(40), (37)-(38)) and the registry's records of
    gd, central-difference and nesterov have one characteristic polynomial in h = ηz: not two definitions."""
    from workbench.derivations.schemes.registry import get, polynomial

    sch = scheme()
    if name == "gd":                                            # forward Euler is written with Δt as the step
        sch = Scheme(sch.levels, tuple(e.subs(dt, eta) for e in sch.equations), sch.symbol, sch.eliminate)
    rec = polynomial(get(name)).as_expr()                      # the registry's μ is this module's mu
    assert sp.expand(sch.polynomial.as_expr() - rec) == 0
    assert sp.expand(sch.polynomial.as_expr().subs(h, h + 1) - rec) != 0           # the comparison can fail

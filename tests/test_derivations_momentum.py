"""Appendix E of the first paper: momentum PDE, schemes (37)-(40), exact region vs (45)-(47)."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from workbench.derivations import forward_euler

from workbench.derivations import momentum

from workbench.derivations import regions
from workbench.derivations.symbols import P_max, P_min, a, alpha, beta, d, dt
from workbench.derivations.von_neumann import K_n, K_nm1, K_np1, z


def test_every_stated_equation_matches_its_derivation():
    steps = [s for s in momentum.derivation().steps if s.stated is not None]
    assert {s.equation for s in steps} >= {"(39)", "(40)", "(37)", "(38)", "(44)", "(46)", "(47)"}
    for s in steps:
        assert sp.simplify(s.stated_difference()) == 0, s.name


def test_a_wrong_statement_is_caught():
    # the paper's (46) with 3/(4Δt²) in place of 4/(3Δt²) must not pass
    step = next(s for s in momentum.steps() if s.name == "alpha_upper_paper")
    wrong = sp.Lt(alpha, sp.Rational(3, 4) / dt ** 2 - a * beta * P_min / 2)
    assert sp.simplify(type(step)("x", "", step.expr, stated=wrong, where=step.where).stated_difference()) != 0


def test_central_difference_is_second_order_consistent():
    # (39) applied to K(t) = exp(t) has truncation error O(Δt²) against the PDE's left side
    t = sp.Symbol("t")
    k = sp.exp(t)
    lhs = momentum.central_difference().lhs.subs({K_np1: k.subs(t, t + dt), K_n: k, K_nm1: k.subs(t, t - dt)})
    exact = sp.diff(k, t, 2) + d * sp.diff(k, t)
    series = sp.series(sp.simplify(lhs - exact), dt, 0, 3).removeO()
    assert sp.simplify(series.coeff(dt, 0)) == 0 and sp.simplify(series.coeff(dt, 1)) == 0
    assert sp.simplify(series.coeff(dt, 2)) != 0


def test_parameter_map_round_trip():
    m, s = momentum.parameter_map()
    d_mu, dt_eta = momentum.inverse_map()
    mu_, eta_ = sp.Symbol("mu", nonnegative=True), sp.Symbol("eta", positive=True)
    assert sp.simplify(m.subs(d, d_mu) - mu_) == 0
    assert sp.simplify(s.subs(d, d_mu).subs(dt, dt_eta) - eta_) == 0
    # Table 5: Δt = 1e-4, μ = 0.9 -> d = 0.2/(1.9e-4), η = 9.5e-9
    dv = float(d_mu.subs({mu_: sp.Rational(9, 10), dt: sp.Rational(1, 10 ** 4)}))
    assert dv == pytest.approx(0.2 / 1.9e-4, rel=1e-14)
    assert float(s.subs({d: dv, dt: 1e-4})) == pytest.approx(9.5e-9, rel=1e-12)


def test_exact_region_matches_sampled_roots():
    # the symbolic region against numpy roots of p(ξ) at random points, both sides of the boundary
    poly = momentum.characteristic_polynomial()
    coeffs = [sp.lambdify((dt, d, z), c) for c in poly.all_coeffs()]
    z_lo, z_hi = regions.z_interval("nesterov", "exact")
    f_hi = sp.lambdify((dt, d), z_hi)
    rng = np.random.default_rng(1)
    seen = {True: 0, False: 0}
    for _ in range(300):
        h = 10 ** rng.uniform(-3, 0)
        mu = rng.uniform(0.0, 0.99)
        dv = 2 * (1 - mu) / ((1 + mu) * h)
        zv = rng.uniform(-0.2, 1.3) * f_hi(h, dv)
        rho = max(abs(np.roots([c(h, dv, zv) for c in coeffs])))
        inside = 0 < zv < f_hi(h, dv)
        if abs(zv / f_hi(h, dv) - 1) < 1e-6 or abs(zv) < 1e-9 * f_hi(h, dv):
            continue
        assert (rho < 1) == inside, (h, mu, zv)
        seen[inside] += 1
    assert min(seen.values()) > 50


def test_paper_45_is_conservative_by_three_over_one_plus_two_mu():
    ratio = regions.paper_to_exact_ratio()
    m, _ = momentum.parameter_map()
    assert sp.simplify(ratio - 3 / (1 + 2 * m)) == 0
    dv = 2 * (1 - 0.9) / ((1 + 0.9) * 1e-4)
    assert float(ratio.subs({d: dv, dt: 1e-4})) == pytest.approx(15 / 14, rel=1e-12)
    z_hi = regions.z_interval("nesterov", "exact")[1]
    assert float(z_hi.subs({d: dv, dt: 1e-4})) == pytest.approx(4 / (2.8 * 1e-8), rel=1e-12)   # 1.4286e8
    assert regions.z_interval("nesterov", "paper")[1] == sp.Rational(4, 3) / dt ** 2


def test_regions_reproduce_forward_euler_bounds():
    lo, hi = regions.alpha_bounds("euler", "exact")
    flo, fhi = forward_euler.alpha_bounds()
    assert sp.simplify(lo - flo) == 0 and sp.simplify(hi - fhi) == 0
    assert regions.z_interval("euler", "exact") == (0, 2 / dt)


def test_exact_alpha_bounds_general_sign_of_a():
    lo, hi = regions.alpha_bounds("nesterov", "exact")
    vals = {dt: 1e-2, d: 10.0, beta: 1.0, P_min: 1.0, P_max: 5.0}
    z_hi = float(regions.z_interval("nesterov", "exact")[1].subs(vals))
    # a > 0: z = α + aP/2 largest at P_max, smallest at P_min
    v = {**vals, a: 0.5}
    assert float(lo.subs(v)) == pytest.approx(-0.25 * 1.0)
    assert float(hi.subs(v)) == pytest.approx(z_hi - 0.25 * 5.0)
    v = {**vals, a: -0.5}
    assert float(lo.subs(v)) == pytest.approx(0.25 * 5.0)
    assert float(hi.subs(v)) == pytest.approx(z_hi + 0.25 * 1.0)


def test_unknown_region_is_a_clear_error():
    with pytest.raises(ValueError, match="region: unknown"):
        regions.z_interval("nesterov", "stated")
    with pytest.raises(ValueError, match="scheme: qhm has no closed-form region"):
        regions.z_interval("qhm", "exact")
    with pytest.raises(ValueError, match="scheme: unknown"):
        regions.z_interval("lion", "exact")

"""Second paper (accelerated PDE with diffusion), workbench.derivations.diffusion: exact symbolic checks."""
from __future__ import annotations

import pytest
import sympy as sp

from workbench.derivations import diffusion as D
from workbench.derivations.symbols import dt
from workbench.derivations.von_neumann import sample_check, xi


@pytest.fixture(scope="module")
def chain():
    return D.derivation(2)


def test_every_stated_step_matches_the_derived_one(chain):
    stated = [st for st in chain if st.stated is not None]
    assert len(stated) >= 25
    for st in stated:
        assert sp.simplify(st.stated_difference()) == 0, st.name


@pytest.mark.parametrize("n", [1, 3])
def test_euler_lagrange_gives_3_in_any_dimension_with_btilde_equal_atilde(n):
    el = D.euler_lagrange(n)
    assert sp.simplify(el.rhs.subs(D._btil(D.t), D._atil(D.t)) - D.pde_second_order(n).rhs) == 0
    # with the paper's stated b~ = 1 the force is -grad U / a~, not -grad U (finding)
    diff = sp.simplify(el.rhs.subs(D._btil(D.t), 1) - D.pde_second_order(n).rhs)
    assert diff != 0 and diff.has(D._atil(D.t))


def test_paper_20_as_printed_is_void_and_the_corrected_form_is_derived(chain):
    st = chain["cfl_frequency"]
    printed = D.dx ** 2 - D.b * dt * (-D.S)           # Σ(cos - 1) = -S as printed
    assert sp.simplify(st.expr.lhs - st.expr.rhs - printed) != 0


def test_homogeneous_polynomial_has_root_one_and_velocity_root():
    p = D.homogeneous_polynomial().as_expr()
    gam, bet = D.parameter_map()[1], D.parameter_map()[2]
    other = gam - bet * 2 * D.S / D.dx ** 2
    assert sp.simplify(sp.expand(p - (xi - 1) * (xi - other))) == 0


def test_strict_conditions_fail_closed_ones_give_10():
    from workbench.derivations.von_neumann import schur_cohn_conditions
    strict = schur_cohn_conditions(D.homogeneous_polynomial(), strict=True)
    assert strict == sp.false          # p(1) = 0: never |ξ| < 1 for all roots
    assert sp.simplify(D.b_max() - D.dx ** 2 / (2 * D.N * dt)) == 0


@pytest.mark.parametrize("g, hv, f, stable", [(0.5, 0.3, 0.99, True), (0.5, 0.3, 1.01, False),
                                              (0.9, 1.04, 0.99, True), (0.9, 1.04, 1.01, False)])
def test_joint_beta_max_against_numeric_roots(g, hv, f, stable):
    lo, hi, hend = D.joint_beta_max()
    Nv = 2
    bmax = float((lo if hv < 1 else hi).subs({D.gamma: g, D.h: hv, D.N: Nv}))
    assert hv < float(hend.subs(D.gamma, g))
    poly = D.joint_polynomial()
    r = sample_check(poly, xi, {D.h: hv, D.m: g - f * bmax * 4 * Nv})
    assert (r < 1) == stable


def test_beta_max_grows_with_h():
    lo = D.joint_beta_max()[0]
    vals = [float(lo.subs({D.gamma: 0.9, D.N: 1, D.h: hv})) for hv in (0.0, 0.1, 0.5)]
    assert vals[0] == pytest.approx(1.9 / 4) and vals[0] < vals[1] < vals[2]


def test_registry_has_diffusion(derivation):
    assert derivation("diffusion").name == "diffusion"

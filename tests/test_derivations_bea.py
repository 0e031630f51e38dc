"""workbench.derivations.bea: BEA of gradient descent, Theorem 3.1/3.2, PF, Table 1, (16), Theorem 6.1 (third paper)."""
from __future__ import annotations

import pytest
import sympy as sp

from workbench.derivations import bea
from workbench.derivations.registry import available

E1, E2, E3 = bea.dsym(1), bea.dsym(2), bea.dsym(3)
h = bea.h


def test_igr_and_third_order_flow():
    f = bea.bea_1d(2)
    assert sp.simplify(f[1] - (-E2 * E1 / 2)) == 0  # (3)
    assert sp.simplify(f[2] - (-(E2 ** 2 * E1) / 3 - E3 * E1 ** 2 / 12)) == 0  # (8), non-principal 1/12 term


@pytest.mark.parametrize("n", range(1, 9))
def test_theorem_3_1_every_order(n):
    f = bea.bea_1d(n)[n]
    assert sp.expand(bea.principal_part_1d(f) + sp.Rational(1, n + 1) * E2 ** n * E1) == 0
    assert f.has(E3) or n == 1  # non-principal terms exist from n = 2 on


def test_local_error_order():
    n = 4
    c = bea.flow_map_1d(n)
    assert c[1] == -E1 and all(sp.expand(c[k]) == 0 for k in range(2, n + 2))
    assert sp.expand(c[n + 2]) != 0  # the O(h^(n+2)) error is really there


def test_theorem_3_2_series():
    assert sp.expand(bea.alpha_pf_series(7) - bea.bea_alpha_series(7)) == 0
    assert sp.expand(bea.alpha_pf_series(3) - (-1 - bea.z / 2 - bea.z ** 2 / 3 - bea.z ** 3 / 4)) == 0
    assert sp.expand(bea.alpha_igr() - bea.alpha_pf_series(1)) == 0  # Table 1: IGR truncates the PF series


def test_nd_general_E_third_order_flow():
    x, y = sp.symbols("x y", real=True)
    E = sp.Function("E")(x, y)
    xs = (x, y)
    f = bea.bea_nd(E, xs, 3)
    g = sp.Matrix([E.diff(x), E.diff(y)])
    H = sp.hessian(E, xs)
    assert (f[1] - (-H * g / 2)).applyfunc(sp.expand) == sp.zeros(2, 1)
    T = bea.third_contraction(E, xs, g, g)
    assert (f[2] - (-(H * H * g) / 3 - T / 12)).applyfunc(sp.expand) == sp.zeros(2, 1)
    P3 = bea.principal_part_nd(f[3], E, xs)
    assert (P3 + H ** 3 * g / 4).applyfunc(sp.expand) == sp.zeros(2, 1)  # Theorem 3.1, n-D, p = 3


def test_nd_quadratic_all_orders():
    x, y = sp.symbols("x y", real=True)
    A = sp.Matrix([[3, 1], [1, 2]])
    v = sp.Matrix([x, y])
    E = (v.T * A * v)[0] / 2 + x
    g = A * v + sp.Matrix([1, 0])
    f = bea.bea_nd(E, (x, y), 5)
    for p in range(6):
        assert (f[p] + A ** p * g / (p + 1)).applyfunc(sp.expand) == sp.zeros(2, 1)


def test_jacobian_drift_and_regimes():
    assert sp.simplify(bea.pf_jacobian_1d() - sp.log(1 - h * bea.lam) / h) == 0  # (16)
    assert sp.expand(bea.ngf_drift_1d(3)[2] - E2 * E1 / 2) == 0  # Theorem 6.1
    assert bea.ngf_drift_1d(3)[1] == 0
    cases = [bea.pf_regime(0.1, lv)["case"] for lv in (-1, 5, 10, 15, 20, 25)]
    assert cases == ["saddle (real unstable)", "real stable", "singular", "complex stable", "marginal",
                     "unstable complex"]
    r = bea.pf_regime(0.1, 25.0)
    assert r["jacobian"].real > 0 and not r["attractive"] and r["alpha_pf"].imag == pytest.approx(3.14159265 / 2.5)
    assert bea.pf_regime(0.1, 15.0)["attractive"]


def test_remark_3_1_printed_form_wrong_for_b():
    x0, b, t = sp.symbols("x_0 b t", real=True)
    lv = sp.Rational(3)
    hv = sp.Rational(1, 10)
    for form in (bea.pf_quadratic_component, bea.remark31_component):
        sol = form(x0, b, lv, t, hv)
        resid = sp.simplify(sp.diff(sol, t) - bea.alpha_pf(hv * lv) * (lv * sol + b))
        assert (resid == 0) == (form is bea.pf_quadratic_component)


def test_derivation_registered_and_stated(derivation):
    assert "bea-principal-flow" in available()
    d = derivation("bea-principal-flow")
    for st in d:
        if st.stated is not None:
            assert sp.simplify(st.stated_difference()) == 0, st.name


@pytest.mark.parametrize("order", [0, -1, 15, 2.5, True])
def test_bad_order(order):
    with pytest.raises(ValueError, match="order"):
        bea.bea_1d(order)


def test_bad_h():
    with pytest.raises(ValueError, match="h"):
        bea.modified_field_1d(2, -1)
    with pytest.raises(ValueError, match="h"):
        bea.pf_regime(0.0, 1.0)


def test_text_is_never_parsed():
    # user text must not reach sympify: a string objective or step is refused, not evaluated
    import sympy as _sp

    from workbench.derivations import bea as _bea

    x = _sp.Symbol("x")
    with pytest.raises(ValueError, match="E: expected a SymPy expression"):
        _bea.bea_nd("x**2", (x,), 2)


def test_jacobian_table_is_table1_alpha_times_lambda():
    """Each row of JACOBIAN_EIGENVALUES equals α(hλ)·λ with Table 1's α (the flows' linearization at a minimum)."""
    from workbench.derivations.bea import JACOBIAN_EIGENVALUES, alpha_igr, alpha_ngf, alpha_pf, h, jacobian_eigenvalue, lam
    alphas = {"ngf": alpha_ngf, "igr": alpha_igr, "pf": alpha_pf}
    assert set(JACOBIAN_EIGENVALUES) == set(alphas)
    for flow, a in alphas.items():
        assert sp.simplify(jacobian_eigenvalue(flow) - a(h * lam) * lam) == 0, flow
    with pytest.raises(ValueError, match="flow"):
        jacobian_eigenvalue("third")

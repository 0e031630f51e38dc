"""Objective protocol: SymPy toys (workbench.derivations.objectives), SympyObjective, CallableObjective.

Tolerances: exact algebra 1e-12 in float64; central finite differences 1e-7 relative
(step eps^(1/3), truncation ~h^2 = 4e-11 times the third derivative); float32 1e-5.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from workbench.derivations import objectives as dob
from workbench.solvers.core.backend import get_namespace, to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.core.objectives import (
    BaseObjective,
    CallableObjective,
    Objective,
    SympyObjective,
    check_dense_size,
    fd_gradient,
    fd_hvp,
    fd_step,
)

# -- derivations ---------------------------------------------------------------------------


def test_toy_sharpness_exact():
    assert dob.quadratic().sharpness_at_minimizer() == 40  # Example 1: L = 40
    assert dob.tanh_quadratic().sharpness_at_minimizer() == 40  # Example 2: same Hessian at 0
    lam = dob.rosenbrock().sharpness_at_minimizer()
    assert sp.simplify(lam - (501 + sp.sqrt(250601))) == 0


def test_toy_gradients_symbolic():
    t1, t2 = dob.theta_symbols(2)
    c1, c2 = sp.symbols("c_1 c_2", positive=True)
    g = dob.tanh_quadratic().gradient
    stated = sp.Matrix([2 * c1 * t1, 2 * c2 * t2]) * (1 - sp.tanh(c1 * t1 ** 2 + c2 * t2 ** 2) ** 2)
    assert sp.simplify(g - stated) == sp.zeros(2, 1)
    x, y = sp.symbols("x y", real=True)
    h = dob.single_neuron("linear").hessian
    # f = (θ1 x θ2 − y)²: ∂²f/∂θ1∂θ2 = 2x(2 x θ1 θ2 − y)
    assert sp.simplify(h[0, 1] - 2 * x * (2 * x * t1 * t2 - y)) == 0
    assert h == h.T


def test_quadratic_general_and_errors():
    q = dob.quadratic(((2, 1), (1, 3)), q=(1, -1), r=5)
    assert q.minimizer is not None
    g = q.gradient.subs(q.at(q.minimizer))
    assert g == sp.zeros(2, 1)
    with pytest.raises(ValueError, match="P"):
        dob.quadratic(((1, 2, 3), (4, 5, 6)))
    with pytest.raises(ValueError, match="activation"):
        dob.single_neuron("relu6")
    with pytest.raises(ValueError, match="unknown toy"):
        dob.toy("himmelblau")


def test_toy_derivation_prints():
    d = dob.toy("quadratic").derivation()
    assert d.names() == ["loss", "gradient", "hessian", "sharpness_at_minimizer"]
    assert "40" in d["sharpness_at_minimizer"].text()


# -- SympyObjective -----------------------------------------------------------------------


def test_sympy_objective_values(xp):
    o = SympyObjective(dob.toy("quadratic"), xp)
    assert isinstance(o, Objective)
    th = xp.asarray([0.3, -0.2], dtype=xp.float64)
    assert o.value(th) == pytest.approx(20 * 0.09 + 0.04, rel=1e-15)
    np.testing.assert_allclose(to_numpy(o.gradient(th)), [12.0, -0.4], rtol=1e-15)
    np.testing.assert_allclose(to_numpy(o.hessian(th)), [[40.0, 0.0], [0.0, 2.0]], rtol=0, atol=0)
    v = xp.asarray([1.0, 2.0], dtype=xp.float64)
    np.testing.assert_allclose(to_numpy(o.hvp(th, v)), [40.0, 4.0], rtol=1e-15)
    val, g = o.value_and_gradient(th)
    assert val == o.value(th) and to_numpy(g)[0] == 12.0


@pytest.mark.parametrize("name", list(dob.TOYS))
def test_sympy_hvp_matches_finite_difference(xp, name):
    o = SympyObjective(dob.toy(name), xp)
    th = xp.asarray([0.31, -0.17], dtype=xp.float64)
    v = xp.asarray([0.7, 1.3], dtype=xp.float64)
    ex, fd = to_numpy(o.hvp(th, v)), to_numpy(o.hvp_fd(th, v))
    assert np.linalg.norm(ex - fd) <= 1e-7 * np.linalg.norm(ex)
    # the gradient against a coordinate-wise central difference of the value
    g, gf = to_numpy(o.gradient(th)), to_numpy(fd_gradient(o.value, th))
    assert np.linalg.norm(g - gf) <= 1e-7 * max(np.linalg.norm(g), 1.0)


def test_sympy_params_override_and_float32():
    xp = get_namespace("numpy")
    o = SympyObjective(dob.toy("tanh-quadratic"), xp, c_1=10.0)
    h = to_numpy(o.hessian(xp.asarray([0.0, 0.0])))
    np.testing.assert_allclose(h, [[20.0, 0.0], [0.0, 2.0]], atol=1e-15)
    o32 = SympyObjective(dob.toy("rosenbrock"), xp, dtype="float32")
    g = o32.gradient(xp.asarray([0.5, 0.5], dtype=xp.float32))
    assert g.dtype == xp.float32
    np.testing.assert_allclose(to_numpy(g), [-2 * 0.5 - 400 * 0.5 * (0.5 - 0.25), 200 * 0.25], rtol=1e-6)
    with pytest.raises(ParameterError, match="unknown constant"):
        SympyObjective(dob.toy("quadratic"), xp, c_1=1.0)
    assert to_numpy(SympyObjective(dob.toy("single-neuron-tanh"), xp, start=[13.0, 0.01]).initial()).tolist() == [13.0, 0.01]


def test_input_errors_name_the_parameter(xp):
    o = SympyObjective(dob.toy("quadratic"), xp)
    with pytest.raises(ParameterError, match=r"theta: expected a flat vector of shape \(2,\).*\(3,\)"):
        o.gradient(xp.asarray([1.0, 2.0, 3.0]))
    with pytest.raises(ParameterError, match="theta: contains NaN"):
        o.value(xp.asarray([1.0, float("nan")]))
    with pytest.raises(ParameterError, match="v: expected a flat vector"):
        o.hvp(xp.asarray([1.0, 2.0]), xp.asarray([[1.0, 2.0]]))
    with pytest.raises(ParameterError, match="v: contains NaN"):
        o.hvp(xp.asarray([1.0, 2.0]), xp.asarray([1.0, float("inf")]))


def test_wrong_backend_is_refused():
    o = SympyObjective(dob.toy("quadratic"), get_namespace("array_api_strict"))
    with pytest.raises(ParameterError, match="numpy array but the objective computes on array_api_strict"):
        o.value(np.array([1.0, 2.0]))
    assert o.value([1.0, 2.0]) == pytest.approx(24.0)  # plain lists are converted


def test_dense_size_guard_message():
    with pytest.raises(ParameterError) as ei:
        check_dense_size(100_000, 8, 2 ** 30)
    msg = str(ei.value)
    assert msg.startswith("hessian:") and "80,000,000,000 bytes" in msg and "Hessian-vector products" in msg
    check_dense_size(1000, 8, 2 ** 30)  # 8 MB is fine


# -- finite differences -------------------------------------------------------------------


def test_fd_step_scaling():
    xp = get_namespace("numpy")
    th = xp.asarray([100.0, -100.0])
    v = xp.asarray([2.0, 2.0])
    assert fd_step(th, v) == pytest.approx(2.220446049250313e-16 ** (1 / 3) * 100.0 / 2.0)
    assert fd_step(xp.asarray([0.0, 0.0]), v, order=1) == pytest.approx(2.220446049250313e-16 ** 0.5 / 2.0)
    assert fd_step(th, xp.asarray([0.0, 0.0])) == 0.0


def test_fd_hvp_error_is_second_order():
    """E = Σθ⁴/12, ∇E = θ³/3: the central difference error is exactly h²/3 per unit direction."""
    xp = get_namespace("numpy")

    def grad(t):
        return t ** 3 / 3.0

    th, v = xp.asarray([1.0, 2.0]), xp.asarray([1.0, 1.0])
    exact = to_numpy(th) ** 2  # H = diag(θ²)
    e1 = np.abs(to_numpy(fd_hvp(grad, th, v, 1e-2)) - exact).max()
    e2 = np.abs(to_numpy(fd_hvp(grad, th, v, 5e-3)) - exact).max()
    assert e1 == pytest.approx(1e-4 / 3, rel=1e-6)  # [(θ+h)³ − (θ−h)³]/(6h) − θ² = h²/3
    assert e1 / e2 == pytest.approx(4.0, rel=1e-6)


# -- CallableObjective ---------------------------------------------------------------------


def _quad_np(P):
    return (lambda t: 0.5 * float(t @ P @ t), lambda t: P @ t, lambda t, v: P @ v)


def test_callable_objective_exact_and_fallbacks(rng):
    P = rng.standard_normal((5, 5))
    P = P @ P.T + np.eye(5)
    f, g, h = _quad_np(P)
    th, v = rng.standard_normal(5), rng.standard_normal(5)
    full = CallableObjective(f, 5, gradient=g, hvp=h)
    assert full.exact_hvp and isinstance(full, BaseObjective)
    np.testing.assert_allclose(full.hvp(th, v), P @ v, rtol=1e-14)
    np.testing.assert_allclose(full.hessian(th), P, rtol=1e-14)
    with pytest.warns(UserWarning, match="hvp: no exact Hessian-vector product"):
        CallableObjective(f, 5, gradient=g)  # the finite difference is never chosen silently
    fd = CallableObjective(f, 5, gradient=g, hvp="fd")
    assert not fd.exact_hvp
    np.testing.assert_allclose(fd.hvp(th, v), P @ v, rtol=1e-8)
    only_value = CallableObjective(f, 5, hvp="fd")
    np.testing.assert_allclose(only_value.gradient(th), P @ th, rtol=1e-8)
    vg = CallableObjective(f, 5, value_and_gradient=lambda t: (f(t), g(t)), hvp="fd")
    dense = CallableObjective(f, 5, gradient=g, hessian=lambda t: P)  # an analytic Hessian makes HVPs exact
    assert dense.exact_hvp
    np.testing.assert_allclose(dense.hvp(th, v), P @ v, rtol=1e-14)
    with pytest.raises(ParameterError, match="hvp: expected a callable"):
        CallableObjective(f, 5, hvp="exact")
    val, gg = vg.value_and_gradient(th)
    assert val == pytest.approx(f(th)) and np.allclose(gg, P @ th)


def test_callable_objective_conversion_and_errors():
    # a "foreign" tensor type: lists in, tuples out, as a framework adapter would be
    obj = CallableObjective(lambda t: sum(x * x for x in t), 3, gradient=lambda t: tuple(2 * x for x in t),
                            convert_in=lambda a: [float(x) for x in np.asarray(a)], x0=[1.0, 2.0, 3.0], hvp="fd")
    np.testing.assert_allclose(obj.gradient(obj.initial()), [2.0, 4.0, 6.0])
    bad = CallableObjective(lambda t: 0.0, 3, gradient=lambda t: np.zeros(4), hvp="fd")
    with pytest.raises(ParameterError, match=r"gradient: the callable returned shape \(4,\), expected \(3,\)"):
        bad.gradient(np.zeros(3))
    nanv = CallableObjective(lambda t: float("nan"), 2, hvp="fd")
    with pytest.raises(ParameterError, match="value: the callable returned a non-finite loss"):
        nanv.value(np.zeros(2))
    with pytest.raises(ParameterError, match="size"):
        CallableObjective(lambda t: 0.0, 0)
    with pytest.raises(ParameterError, match="gradient: must be callable"):
        CallableObjective(lambda t: 0.0, 2, gradient=3)


def test_callable_hessian_guard():
    obj = CallableObjective(lambda t: 0.0, 20_000, gradient=lambda t: t, hvp="fd")
    with pytest.raises(ParameterError, match="3,200,000,000 bytes"):
        obj.hessian(np.zeros(20_000))
    tiny = CallableObjective(lambda t: 0.0, 3, gradient=lambda t: 2.0 * t, hvp="fd")
    np.testing.assert_allclose(tiny.hessian(np.ones(3), max_bytes=100), 2.0 * np.eye(3), rtol=1e-8)
    with pytest.raises(ParameterError, match="72 bytes"):
        tiny.hessian(np.ones(3), max_bytes=71)

"""The flows through FlowProblem.from_objective: the PF real while every h*lambda < 1, HVPs passed through."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.derivations import objectives as symobj
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.dynamics.flows import FlowProblem, alpha, integrate, quadratic_flow, vector_field
from workbench.solvers.nets.networks import NetworkObjective, mlp
from workbench.solvers.core.objectives import SympyObjective


def _quadratic(lams=(1.0, 4.0, 9.0), seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((len(lams), len(lams))))
    A = Q @ np.diag(lams) @ Q.T
    A = 0.5 * (A + A.T)
    return A, rng.standard_normal(len(lams)), rng.standard_normal(len(lams))


def test_alpha_pf_is_real_below_one_and_complex_above():
    a = alpha("pf", np.array([0.0, 0.032, 0.5, 0.99]))
    assert a.dtype == np.float64  # the bug: complex128 even here
    np.testing.assert_allclose(a[1:], np.log1p(-np.array([0.032, 0.5, 0.99])) / np.array([0.032, 0.5, 0.99]),
                               rtol=1e-14)
    b = alpha("pf", np.array([0.5, 1.5]))
    assert np.iscomplexobj(b) and b[1].imag == pytest.approx(np.pi / 1.5, rel=1e-15)


def test_pf_from_objective_below_one_matches_closed_form():
    """h*lambda_max = 0.9 < 1: the PF integrates on a real objective and equals the closed form."""
    A, b, th0 = _quadratic()
    h = 0.1  # h * 9 = 0.9
    obj = SympyObjective(symobj.quadratic(A.tolist(), b.tolist()))
    P = FlowProblem.from_objective(obj)
    f = vector_field(P, "pf", h)(th0)
    assert f.dtype == np.float64
    t = np.array([0.0, 0.5, 1.0])
    r = integrate(P, "pf", h, th0, t, rtol=1e-12, atol=1e-13)
    assert not r.diverged and r.theta.dtype == np.float64
    cf = quadratic_flow(A, b, th0, h, t, "pf")
    assert np.max(np.abs(cf.imag)) < 1e-12
    np.testing.assert_allclose(r.theta, cf.real, rtol=1e-9, atol=1e-10)


def test_pf_from_objective_small_h_lambda_regression():
    """The issue's case: h*lambda_max = 0.032 used to raise 'the principal flow is complex here'."""
    sym = symobj.rosenbrock()
    obj = SympyObjective(sym)
    th = np.array([-0.5, 0.5])
    lam_max = float(np.linalg.eigvalsh(np.asarray(obj.hessian(th)))[-1])
    h = 0.032 / lam_max
    real = vector_field(FlowProblem.from_objective(obj), "pf", h)(th)
    exact = vector_field(FlowProblem.from_symbolic(sym), "pf", h)(th.astype(complex))
    assert real.dtype == np.float64
    np.testing.assert_allclose(real, exact.real, rtol=1e-12)
    assert np.max(np.abs(exact.imag)) < 1e-12


def test_pf_from_objective_above_one_names_the_fix():
    A, b, th0 = _quadratic()
    P = FlowProblem.from_objective(SympyObjective(symobj.quadratic(A.tolist(), b.tolist())))
    with pytest.raises(ParameterError, match=r"theta: the principal flow is complex here \(h\*lambda > 1\)"):
        vector_field(P, "pf", 0.2)(th0)  # h * 9 = 1.8 > 1
    # the analytic problem gives the complex PF there, equal to the closed form
    Ps = FlowProblem.from_symbolic(symobj.quadratic(A.tolist(), b.tolist()))
    t = np.array([0.0, 0.4])
    r = integrate(Ps, "pf", 0.2, th0, t, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(r.theta, quadratic_flow(A, b, th0, 0.2, t, "pf"), rtol=1e-8, atol=1e-9)


class _Counting:
    """An objective wrapper counting HVPs and dense Hessians."""

    def __init__(self, obj):
        self.obj, self.hvps, self.hessians = obj, 0, 0
        self.xp, self.dtype, self.size = obj.xp, obj.dtype, obj.size

    def gradient(self, th):
        return self.obj.gradient(th)

    def hvp(self, th, v):
        self.hvps += 1
        return self.obj.hvp(th, v)

    def hessian(self, th):
        self.hessians += 1
        return self.obj.hessian(th)


def test_from_objective_passes_the_hvp_to_igr_and_third():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    net = NetworkObjective(mlp([3, 4, 2]), X, Y)
    th = net.initial(0)
    c = _Counting(net)
    P = FlowProblem.from_objective(c)
    ref = FlowProblem.from_network(net)
    h = 0.05
    for flow in ("igr", "third"):
        a, b = vector_field(P, flow, h)(th), vector_field(ref, flow, h)(th)
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    assert c.hessians == 0
    assert c.hvps == 1 + 4  # IGR: Hg; third: Hg, H(Hg) and two for the difference of HVPs

"""workbench.solvers.dynamics.flows: Table-1 coefficients, PF on quadratics (exact), branch, singularity, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.derivations import objectives as symobj
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.dynamics.flows import (FlowProblem, alpha, dal_learning_rate, gradient_descent, integrate,
                           pf_jacobian_eigenvalues, quadratic_flow, stability_coefficients, vector_field)
from workbench.solvers.core.objectives import SympyObjective


def test_alpha_values_and_branch():
    z = np.array([0.0, 0.5, 1.5, 3.0])
    a = alpha("pf", z)
    assert a[0] == -1.0 and a[1] == pytest.approx(np.log(0.5) / 0.5, rel=1e-15)
    assert a[2] == pytest.approx((np.log(0.5) + 1j * np.pi) / 1.5, rel=1e-15)
    assert a[3].real > 0  # unstable complex case
    assert alpha("igr", 0.4) == pytest.approx(-1.2)
    with pytest.raises(ParameterError, match="h"):
        alpha("pf", [1.0])


def _quad(lams, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((len(lams), len(lams))))
    A = Q @ np.diag(lams) @ Q.T
    return 0.5 * (A + A.T), rng.standard_normal(len(lams)), rng.standard_normal(len(lams))


@pytest.mark.parametrize("lams", [(1.0, 5.0, 9.0), (1.0, 12.0, 15.0), (2.0, 12.0, 26.0)])
def test_pf_equals_gd_on_quadratics(lams):
    h, N = 0.1, 30
    A, b, th0 = _quad(lams)
    P = FlowProblem.from_symbolic(symobj.quadratic(A.tolist(), b.tolist()))
    gd = gradient_descent(P, h, th0, N, blowup=1e300)
    t = np.arange(N + 1) * h
    cf = quadratic_flow(A, b, th0, h, t, "pf")
    scale = np.maximum(1, np.linalg.norm(gd, axis=1))
    assert np.max(np.linalg.norm(cf - gd, axis=1) / scale) < 1e-12
    r = integrate(P, "pf", h, th0, t[:11], blowup=1e300)
    assert np.max(np.linalg.norm(r.theta - gd[:11], axis=1) / scale[:11]) < 1e-8
    ngf = quadratic_flow(A, b, th0, h, t, "ngf")
    assert np.max(np.linalg.norm(ngf - gd, axis=1) / scale) > 1e-2


def test_closed_form_matches_integrated_ngf_igr():
    A, b, th0 = _quad((1.0, 4.0))
    P = FlowProblem.from_symbolic(symobj.quadratic(A.tolist(), b.tolist()))
    t = np.linspace(0, 1, 5)
    for fl in ("ngf", "igr"):
        r = integrate(P, fl, 0.1, th0, t)
        assert np.max(np.abs(r.theta - quadratic_flow(A, b, th0, 0.1, t, fl).real)) < 1e-10


def test_singular_closed_form_and_field():
    A = np.diag([10.0, 1.0])
    out = quadratic_flow(A, None, np.array([1.0, 1.0]), 0.1, [0.0, 0.1, 0.2])
    assert out[1, 0] == 0 and out[0, 0] == 1
    P = FlowProblem.from_symbolic(symobj.quadratic(A.tolist()))
    with pytest.raises(ParameterError, match="h\\*lambda = 1"):
        vector_field(P, "pf", 0.1)(np.array([1.0, 1.0]))


def test_third_order_exact_vs_fd_and_real_objective():
    sym = symobj.rosenbrock()
    exact = FlowProblem.from_symbolic(sym)
    real = FlowProblem.from_objective(SympyObjective(sym))
    th = np.array([-0.5, 0.5])
    a, b = vector_field(exact, "third", 1e-3)(th), vector_field(real, "third", 1e-3)(th)
    assert np.allclose(a, b, rtol=1e-7)
    with pytest.raises(ParameterError, match="complex"):
        vector_field(real, "pf", 0.01)(th)  # h*lambda0 = 3.6 > 1 needs the analytic form


def test_jacobian_sc_dal():
    J = pf_jacobian_eigenvalues([5.0, 25.0], 0.1)
    assert J[0] == pytest.approx(np.log(0.5) / 0.1)
    assert J[1].real == pytest.approx(np.log(1.5) / 0.1) and J[1].imag == pytest.approx(np.pi / 0.1)
    sym = symobj.rosenbrock()
    P = FlowProblem.from_symbolic(sym)
    sc = stability_coefficients(P, np.array([-0.5, 0.5]), 0.01)
    assert np.all(sc["grad_dot_u"] >= 0) and sc["lambda"][0] > sc["lambda"][1]
    assert sc["sc"][0].real > 0  # h*lambda0 = 3.57 > 2: unstable direction
    obj = SympyObjective(sym)
    th = obj.xp.asarray([-0.5, 0.5])
    g = np.asarray(obj.gradient(th))
    d = np.linalg.norm(np.asarray(obj.hessian(th)) @ (g / np.linalg.norm(g)))
    assert dal_learning_rate(obj, th) == pytest.approx(2 / d)
    assert dal_learning_rate(obj, th, 0.5) == pytest.approx(2 / np.sqrt(d))
    with pytest.raises(ParameterError, match="p"):
        dal_learning_rate(obj, th, 0)


def test_bad_input():
    P = FlowProblem.from_symbolic(symobj.rosenbrock())
    with pytest.raises(ParameterError, match="h"):
        integrate(P, "ngf", 0.0, [0.0, 0.0], [0.1])
    with pytest.raises(ParameterError, match="flow"):
        integrate(P, "xyz", 0.1, [0.0, 0.0], [0.1])
    with pytest.raises(ParameterError, match="times"):
        integrate(P, "ngf", 0.1, [0.0, 0.0], [0.2, 0.1])


def test_non_smooth_symbolic_objective_is_refused():
    relu = symobj.mlp_loss([1, 2, 1], "relu", [[0.5], [-1.0]], [[1.0], [0.0]])
    with pytest.raises(ParameterError, match="not smooth.*Max"):
        FlowProblem.from_symbolic(relu)
    tanh = symobj.mlp_loss([1, 2, 1], "tanh", [[0.5], [-1.0]], [[1.0], [0.0]])
    assert FlowProblem.from_symbolic(tanh).size == 7


def test_rk4_update_on_the_stepper_is_classical_rk4():
    """RK4 on the one stepper: θ̇ = cθ gives the RK4 amplification R(c dt)ⁿ, real and complex; a
    tracker's Stop ends it, and a non-finite iterate is reported by the stepper."""
    from workbench.solvers.dynamics.rk4 import rk4_run
    from workbench.solvers.stepping.tracking import Stop

    for c in (-3.0, 0.5 + 2.0j):
        seen = []

        class Keep:
            def start(self, v): return None
            def handle(self, n, v): seen.append(complex(v.theta[0]))
            def finish(self, r): return None

        dt, n = 0.1, 12
        out = rk4_run(lambda y: c * y, np.array([1.0 + 0j if isinstance(c, complex) else 1.0]), [dt] * n, [Keep()])
        z = c * dt
        R = 1 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24
        assert out.steps_done == n and not out.divergence
        assert np.allclose(seen, [R ** k for k in range(n + 1)], rtol=1e-14, atol=0)

    class Cap:
        def start(self, v): return None
        def handle(self, n, v):
            if abs(v.theta[0]) > 10:
                raise Stop("cap")
        def finish(self, r): return None

    out = rk4_run(lambda y: 5.0 * y, np.array([1.0]), [0.1] * 50, [Cap()])
    assert out.stopped == "cap" and 0 < out.steps_done < 50
    out = rk4_run(lambda y: y * np.inf, np.array([1.0]), [0.1] * 5, [])
    assert out.divergence == "nonfinite-iterate"

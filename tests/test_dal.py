"""workbench.solvers.dynamics.dal: DAL (18), DAL-p (19), DAL with momentum (21) as step rules; drift; divergence; bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import expm

from workbench.derivations.objectives import quadratic
from workbench.solvers.dynamics import dal as D
from workbench.solvers.core.backend import to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.nets.datasets import teacher
from workbench.solvers.nets.networks import NetworkObjective, mlp
from workbench.solvers.core.objectives import SympyObjective


def _net(xp, seed=0):
    d = teacher(24, (2, 4, 1), noise=0.3, seed=seed, xp=xp)
    return NetworkObjective(mlp([2, 5, 1], "tanh"), d.X, d.Y, "mse")


def _dense(obj, th):
    H = np.asarray(to_numpy(obj.hessian(th)), dtype=float)
    g = np.asarray(to_numpy(obj.gradient(th)), dtype=float)
    return H, g


def test_dal_and_dal_p_rates_equal_dense_hessian_formula(xp):
    obj = _net(xp)
    th0 = obj.initial(0)
    for rule, p in ((D.dal(), 1.0), (D.dal_p(0.5), 0.5), (D.dal_p(2.0), 2.0)):
        r = D.run(obj, th0, rule, 3, record_hvp=False)
        assert r.status == "completed" and r.steps_done == 3
        th = np.asarray(to_numpy(th0), dtype=float)
        for t in range(3):  # replay with rates from the dense Hessian, computed independently
            H, g = _dense(obj, obj.xp.asarray(th, dtype=obj.dtype))
            lr = 2.0 / np.linalg.norm(H @ (g / np.linalg.norm(g))) ** p
            assert r.lrs[t] == pytest.approx(lr, rel=1e-10)
            assert r.hg_norms[t] == pytest.approx(np.linalg.norm(H @ g), rel=1e-10)
            th = th - lr * g
        assert np.allclose(np.asarray(to_numpy(r.theta)), th, rtol=1e-10, atol=1e-12)
    assert D.dal_learning_rate(obj, th0) == pytest.approx(D.run(obj, th0, D.dal(), 1).lrs[0], rel=1e-14)


def test_flows_keeps_dal_learning_rate():
    from workbench.solvers.dynamics.flows import dal_learning_rate

    assert dal_learning_rate is D.dal_learning_rate


def test_momentum_rule_recurrence_and_reduction_to_dal():
    obj = _net(None, seed=1)
    th0 = obj.initial(1)
    a = D.run(obj, th0, D.dal(), 5)
    b = D.run(obj, th0, D.dal_momentum(momentum=0.0, p=1.0, scale=2.0), 5)
    assert np.array_equal(a.losses, b.losses) and np.array_equal(a.lrs, b.lrs)
    m, c = 0.7, 0.5
    r = D.run(obj, th0, D.dal_momentum(m, 1.0, c), 4)
    th = np.asarray(th0, dtype=float)
    v = np.zeros_like(th)
    for t in range(4):  # (21): v_t = m v_{t-1} - c/||H g_hat|| grad E, theta_t = theta_{t-1} + v_t
        H, g = _dense(obj, th)
        lr = c / np.linalg.norm(H @ (g / np.linalg.norm(g)))
        v = m * v - lr * g
        th = th + v
        assert r.lrs[t] == pytest.approx(lr, rel=1e-10)
        assert r.update_norms[t] == pytest.approx(np.linalg.norm(v), rel=1e-10)
    assert np.allclose(r.theta, th, rtol=1e-10)
    assert math.isnan(r.mean_drift)  # drift is a GD notion; not recorded for momentum


def test_fixed_rule_increases_and_divergence_classified():
    obj = SympyObjective(quadratic(((4, 0), (0, 1))))
    th0 = obj.xp.asarray([1.0, 1.0])
    ok = D.run(obj, th0, D.fixed(0.3), 20)  # h*lambda = 1.2, 0.3: contracting, monotone loss
    assert ok.status == "completed" and ok.n_increases == 0
    assert ok.losses[-1] == pytest.approx(2 * 1.0 * (1 - 1.2) ** 40 + 0.5 * (1 - 0.3) ** 40, rel=1e-12)
    bad = D.run(obj, th0, D.fixed(0.6), 200, blowup=1e6)  # |1 - 2.4| = 1.4 > 1: every step increases
    assert bad.status == "diverged" and bad.divergence == "blowup"
    assert bool(np.all(bad.increased)) and bad.n_increases == bad.steps_done
    assert ok.max_relative_increase == 0.0
    # E_k / E_{k-1} - 1 before the blow-up step; the step past the threshold is left out
    E = [2 * 1.4 ** (2 * j) + 0.5 * 0.16 ** j for j in range(bad.steps_done)]
    assert bad.max_relative_increase == pytest.approx(max(b / a - 1 for a, b in zip(E, E[1:])), rel=1e-12)
    # the first loss beyond 1e6 * E0 = 2.5e6 ends the run; E_k = 2 * 1.4^(2k) + 0.5 * 0.16^k
    k = next(k for k in range(1, 100) if 2 * 1.4 ** (2 * k) + 0.5 * 0.16 ** k > 2.5e6)
    assert bad.steps_done == k and bad.last_finite_loss < 2.5e6 < bad.final_loss
    assert bad.final_loss == pytest.approx(2 * 1.4 ** (2 * k) + 0.5 * 0.16 ** k, rel=1e-12)
    huge = D.run(obj, th0, D.fixed(1e200), 5, blowup=1e300)  # overflow: classified, no FloatingPointError
    assert huge.status == "diverged" and huge.divergence in ("nonfinite-iterate", "nonfinite-loss")
    assert huge.summary()["final_loss"] is None or math.isfinite(huge.summary()["final_loss"])


def test_drift_equals_closed_form_ngf_on_a_quadratic():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    obj = SympyObjective(quadratic(A.tolist()))
    th0 = obj.xp.asarray([1.0, -0.5])
    h = 0.05
    r = D.run(obj, th0, D.fixed(h), 3, drift_every=1)
    th = np.array([1.0, -0.5])
    for t in range(3):  # NGF exact: expm(-hA) theta; GD: (I - hA) theta
        exact = np.linalg.norm((np.eye(2) - h * A) @ th - expm(-h * A) @ th)
        assert r.drifts[t] == pytest.approx(exact, rel=1e-7)
        # Theorem 6.1: leading term (h^2/2)||A A theta||, here within O(h)
        assert r.drifts[t] == pytest.approx(0.5 * h * h * np.linalg.norm(A @ A @ th), rel=0.2)
        th = th - h * A @ th
    assert r.mean_drift == pytest.approx(np.mean(r.drifts), rel=1e-15)


def test_zero_drift_and_zero_gradient():
    lin = SympyObjective(quadratic(((0, 0), (0, 0)), (1.0, -2.0)))  # E = b.theta: H = 0
    th0 = lin.xp.asarray([0.0, 0.0])
    r = D.run(lin, th0, D.dal(), 3)
    assert r.status == "undefined" and r.steps_done == 0 and "max_lr" in r.reason
    capped = D.run(lin, th0, D.dal(max_lr=0.1), 3)
    assert capped.status == "completed" and np.all(capped.lrs == 0.1)
    with pytest.raises(ParameterError, match="drift"):
        D.dal_learning_rate(lin, th0)
    q = SympyObjective(quadratic(((2, 0), (0, 1))))
    z = D.run(q, q.xp.asarray([0.0, 0.0]), D.dal(), 3)
    assert z.status == "converged" and z.steps_done == 0


@pytest.mark.parametrize("make, match", [
    (lambda: D.fixed(0.0), "h"),
    (lambda: D.fixed(-1.0), "h"),
    (lambda: D.fixed(float("nan")), "h"),
    (lambda: D.dal_p(0.0), "p"),
    (lambda: D.dal_p(-2.0), "p"),
    (lambda: D.dal_momentum(1.0), "momentum"),
    (lambda: D.dal_momentum(-0.1), "momentum"),
    (lambda: D.dal_momentum(0.9, scale=0.0), "scale"),
    (lambda: D.StepRule("adam"), "kind"),
    (lambda: D.StepRule("dal", momentum=0.5), "momentum"),
    (lambda: D.dal(max_lr=0.0), "max_lr"),
])
def test_bad_rules(make, match):
    with pytest.raises(ParameterError, match=match):
        make()


def test_bad_run_arguments():
    obj = SympyObjective(quadratic())
    th0 = obj.xp.asarray([1.0, 1.0])
    with pytest.raises(ParameterError, match="steps"):
        D.run(obj, th0, D.dal(), -1)
    with pytest.raises(ParameterError, match="blowup"):
        D.run(obj, th0, D.dal(), 3, blowup=0.5)
    with pytest.raises(ParameterError, match="drift_every"):
        D.run(obj, th0, D.dal(), 3, drift_every=-1)
    with pytest.raises(ParameterError, match="rule"):
        D.run(obj, th0, 0.1, 3)
    with pytest.raises(ParameterError, match="theta0"):
        D.run(obj, obj.xp.asarray([1.0, 2.0, 3.0]), D.dal(), 3)
    with pytest.raises(ParameterError, match="p"):
        D.dal_learning_rate(obj, th0, p=0)

"""workbench.solvers.dynamics.diagnostics and workbench.solvers.dynamics.sgd_diagnostics: RP, L, Theorem 2 by quadrature, (5), SGD (6), recorders, run_sgd (4th paper)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.derivations.objectives import SymbolicObjective, quadratic, theta_symbols, toy
from workbench.solvers.core.backend import get_namespace, to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.nets.datasets import spirals
from workbench.solvers.dynamics.diagnostics import (
    RPRecorder,
    SharpnessRecorder,
    SmoothnessRecorder,
    Theorem2Recorder,
    approximation5,
    directional_smoothness,
    gauss_legendre_01,
    gd_directional_smoothness,
    minibatches,
    network_batch_gradient,
    relative_progress,
    run_gd,
    sgd_relative_progress,
    theorem2_rhs,
)
from workbench.solvers.nets.networks import NetworkObjective, mlp
from workbench.solvers.core.objectives import SympyObjective
from workbench.solvers.dynamics.sgd_diagnostics import (
    DIVERGENCE_KINDS,
    ExpectedRPRecorder,
    FullBatchRPRecorder,
    run_sgd,
)


def _quartic():
    th = theta_symbols(2)
    return SymbolicObjective("q4", (th[0] * th[1] - 1) ** 2 + th[1] ** 4 + th[0] ** 3, th)


def test_rp_and_L_on_quadratic(xp):
    obj = SympyObjective(quadratic(), xp=xp)
    th = xp.asarray([0.3, -0.7], dtype=xp.float64)
    eta = 0.03
    g = np.array([40 * 0.3, 2 * -0.7])
    rq = (40 * g[0] ** 2 + 2 * g[1] ** 2) / (g @ g)
    assert relative_progress(obj, th, eta).value == pytest.approx(-1 + eta / 2 * rq, rel=1e-12)
    assert gd_directional_smoothness(obj, th, eta).value == pytest.approx(rq, rel=1e-12)
    # (5) and (4) are exact for quadratics, with one quadrature node
    a = approximation5(obj, th, eta)
    assert abs(a["error"].value) < 1e-13
    assert theorem2_rhs(obj, th, eta, order=1).value == pytest.approx(a["rp"].value, abs=1e-13)


def test_theorem2_quadrature_order_on_polynomial():
    # tau*L is a cubic in tau for this quartic: 2 nodes exact, 1 node not
    obj = SympyObjective(_quartic())
    th = np.array([0.8, -0.6])
    eta = 0.1
    rp = relative_progress(obj, th, eta).value
    assert theorem2_rhs(obj, th, eta, order=2).value == pytest.approx(rp, abs=1e-13)
    assert abs(theorem2_rhs(obj, th, eta, order=1).value - rp) > 1e-4
    x, w = gauss_legendre_01(3)
    assert np.all((x > 0) & (x < 1)) and w.sum() == pytest.approx(1.0)


def test_theorem2_quadrature_on_tanh_networks(xp):
    d = spirals(16, classes=2, seed=3, xp=xp)
    obj = NetworkObjective(mlp([2, 6, 2], "tanh"), d.X, d.Y, "mse")
    th = obj.initial(1)
    eta = 2.0
    rp = relative_progress(obj, th, eta).value
    errs = [abs(theorem2_rhs(obj, th, eta, order=o).value - rp) for o in (1, 3, 8)]
    assert errs[2] < 1e-10 and errs[0] > 1e2 * errs[2]


def test_undefined_and_bad_input():
    obj = SympyObjective(quadratic())
    zero = np.zeros(2)
    with np.errstate(all="raise"):
        q = relative_progress(obj, zero, 0.1)
        assert math.isnan(q.value) and not q.defined and "zero gradient" in q.reason
        assert not directional_smoothness(obj, zero, zero).defined
        assert not theorem2_rhs(obj, zero, 0.1).defined
        assert not approximation5(obj, zero, 0.1)["error"].defined
    for eta in (0.0, -1.0, math.nan):
        with pytest.raises(ParameterError, match="^eta"):
            relative_progress(obj, np.ones(2), eta)
    with pytest.raises(ParameterError, match="^order"):
        theorem2_rhs(obj, np.ones(2), 0.1, order=0)
    with pytest.raises(ParameterError, match="^order"):
        Theorem2Recorder(1, order=0)
    with pytest.raises(ParameterError, match="^every"):
        RPRecorder(0)
    with pytest.raises(ParameterError, match="^batch_size"):
        minibatches(10, 3)
    with pytest.raises(ParameterError, match="^eta"):
        run_gd(obj, np.ones(2), 0.0, 10)


def test_run_gd_recorders_match_direct_calls():
    obj = SympyObjective(toy("tanh-quadratic"))
    eta = 2 / 39
    recs = [RPRecorder(), SmoothnessRecorder(3), SharpnessRecorder(5), Theorem2Recorder(5, order=6)]
    r = run_gd(obj, [0.2, 0.5], eta, 40, recs, keep_path=True)
    assert not r.diverged and r.steps_done == 40 and r.path.shape == (41, 2)
    rp = r.record("rp")
    assert list(rp["step"]) == list(range(40))
    for t in (0, 7, 39):
        assert rp["rp"][t] == pytest.approx(relative_progress(obj, r.path[t], eta).value, rel=1e-12)
    L = r.record("smoothness")
    assert list(L["step"]) == list(range(0, 40, 3))
    assert L["L"][2] == pytest.approx(gd_directional_smoothness(obj, r.path[6], eta).value, rel=1e-12)
    t2 = r.record("theorem2")
    assert np.allclose(t2["rhs4"], rp["rp"][t2["step"]], atol=1e-8)  # (4) to quadrature accuracy
    sh = r.record("sharpness")
    assert sh["sharpness"][0] == pytest.approx(np.linalg.eigvalsh(obj.hessian(np.array([0.2, 0.5])))[-1])


def test_run_gd_detects_divergence_quietly():
    obj = SympyObjective(quadratic())
    with np.errstate(all="raise"):
        r = run_gd(obj, [1.0, 1.0], 0.2, 10000, [RPRecorder()])
    assert r.diverged and r.steps_done < 10000 and r.reason


def test_run_gd_stops_at_the_loss_limit_step():
    """|1 - eta*4| = 3: f_t = 18 * 9^(t-1) from f_0 = 2.5 passes 1e12 * 2.5 at t = 13 (1e6 * 2.5: t = 7)."""
    obj = SympyObjective(quadratic(((4, 0), (0, 1))))
    r = run_gd(obj, [1.0, 1.0], 1.0, 100, [RPRecorder()], keep_path=True)
    assert r.diverged and r.steps_done == 13 and len(r.losses) == 14 and r.path.shape == (14, 2)
    assert r.losses[-1] == pytest.approx(18 * 9.0 ** 12, rel=1e-12) and "beyond" in r.reason
    assert np.array_equal(np.asarray(r.theta), [(-3.0) ** 13, 0.0])
    assert list(r.record("rp")["step"]) == list(range(13))   # the step that blew up is still recorded
    assert run_gd(obj, [1.0, 1.0], 1.0, 100, blowup=1e6).steps_done == 7
    ok = run_gd(obj, [1.0, 1.0], 0.25, 5)                      # 1 - 4 eta = 0: converges in one step on theta_1
    assert not ok.diverged and ok.steps_done == 5 and np.array_equal(np.asarray(ok.theta), [0.0, 0.75 ** 5])
    assert run_gd(obj, [1.0, 1.0], 0.25, 0).steps_done == 0


def test_sgd_relative_progress_exact_form_and_fraction():
    xp = get_namespace("numpy")
    d = spirals(32, classes=2, seed=0, xp=xp)
    obj = NetworkObjective(mlp([2, 8, 2], "tanh"), d.X, d.Y, "mse", alpha=1e-3)
    th = obj.initial(0)
    eta = 0.5
    batches = minibatches(32, 8, seed=4, epochs=2)
    assert len(batches) == 8 and sorted(np.concatenate(batches[:4]).tolist()) == list(range(32))
    rep = sgd_relative_progress(obj, network_batch_gradient(obj), th, eta, batches, order=6)
    assert rep.mean_g_error < 1e-12
    assert rep.rhs6_exact.value == pytest.approx(rep.expected_rp.value, abs=1e-9)
    changes = []
    bg = network_batch_gradient(obj)
    for b in batches:
        changes.append(obj.value(th - eta * bg(th, b)) - obj.value(th))
    g = obj.gradient(th)
    assert rep.expected_rp.value == pytest.approx(np.mean(changes) / (eta * float(g @ g)), rel=1e-12)
    assert rep.fraction_decrease == pytest.approx(np.mean(np.array(changes) < 0))
    # with batch = full set, (6) reduces to (5)
    full = sgd_relative_progress(obj, network_batch_gradient(obj), th, eta, minibatches(32, 32, seed=0))
    a = approximation5(obj, th, eta)
    assert full.rhs6.value == pytest.approx(a["rhs"].value, rel=1e-10)
    assert full.expected_rp.value == pytest.approx(a["rp"].value, rel=1e-10)


# -- SGD runner and recorders (workbench.solvers.dynamics.sgd_diagnostics) -------------------------------------


def _sgd_net(act="tanh", n=32, hidden=(8,), alpha=1e-3):
    xp = get_namespace("numpy")
    d = spirals(n, classes=2, seed=0, xp=xp)
    return NetworkObjective(mlp([2, *hidden, 2], act), d.X, d.Y, "mse", alpha=alpha)


def test_run_sgd_matches_reference_loop_and_is_seeded():
    obj = _sgd_net()
    th0 = obj.initial(0)
    eta = 0.4
    r = run_sgd(obj, th0, eta, 8, epochs=3, seed=5, keep_path=True, loss_every=2)
    assert not r.diverged and r.steps_done == 12 and r.path.shape == (13, obj.size)
    # reference: explicit batches, the gradient of the loss restricted to the batch
    bg = network_batch_gradient(obj)
    th = np.asarray(th0).copy()
    for t, idx in enumerate(minibatches(32, 8, seed=5, epochs=3)):
        sub = NetworkObjective(obj.net, obj.X[idx], obj.Y[idx], "mse", alpha=1e-3)
        assert np.allclose(bg(th, idx), sub.gradient(th), rtol=1e-13, atol=1e-15)
        th = th - eta * sub.gradient(th)
        assert np.allclose(r.path[t + 1], th, rtol=1e-12, atol=1e-14)
    assert list(r.loss_steps) == [0, 2, 4, 6, 8, 10, 12]
    assert r.losses[-1] == pytest.approx(obj.value(r.path[-1]), rel=1e-12)
    same = run_sgd(obj, th0, eta, 8, epochs=3, seed=5)
    other = run_sgd(obj, th0, eta, 8, epochs=3, seed=6)
    assert np.array_equal(np.asarray(same.theta), np.asarray(r.theta))
    assert not np.allclose(np.asarray(other.theta), np.asarray(r.theta))


def test_expected_rp_recorder_matches_direct_computation():
    obj = _sgd_net()
    eta = 0.5
    rec = ExpectedRPRecorder(every=3, epochs=2, order=6, seed=2)
    full = FullBatchRPRecorder(every=3)
    r = run_sgd(obj, obj.initial(1), eta, 8, epochs=2, recorders=[rec, full], seed=0, keep_path=True)
    e = r.record("expected_rp")
    assert list(e["step"]) == [0, 3, 6]
    bg = network_batch_gradient(obj)
    for i, t in enumerate(e["step"]):
        th = r.path[t]
        batches = minibatches(32, 8, seed=2 + 7919 * (t + 1), epochs=2)
        rep = sgd_relative_progress(obj, bg, th, eta, batches, order=6)
        assert e["expected_rp"][i] == pytest.approx(rep.expected_rp.value, rel=1e-12)
        assert e["rhs6"][i] == pytest.approx(rep.rhs6.value, rel=1e-12)
        assert e["fraction_decrease"][i] == rep.fraction_decrease
        # exact form of (6) is an identity (tanh: quadrature accuracy)
        assert abs(e["exact_error"][i]) < 1e-9 and e["mean_g_error"][i] < 1e-12
        g = obj.gradient(th)
        noise = np.mean([np.sum((bg(th, b) - g) ** 2) for b in batches]) / float(g @ g)
        assert e["noise_ratio"][i] == pytest.approx(noise, rel=1e-12)
        assert r.record("full_rp")["rp"][i] == pytest.approx(relative_progress(obj, th, eta).value, rel=1e-12)


def test_eq6_exact_on_quadratic_loss():
    # a linear network with MSE is a quadratic: L does not depend on tau, so (6) is exact (not only its exact form)
    obj = _sgd_net(act="tanh", hidden=(), alpha=0.0)
    rec = ExpectedRPRecorder(every=1, epochs=1, order=1, seed=0)
    r = run_sgd(obj, obj.initial(0), 0.3, 4, epochs=1, recorders=[rec])
    e = r.record("expected_rp")
    assert len(e["step"]) == 8
    assert np.max(np.abs(e["eq6_error"])) < 1e-12 and np.max(np.abs(e["exact_error"])) < 1e-12
    # and it is not a triviality: E[RP] differs from the full-batch RP of the same iterate
    assert abs(e["expected_rp"][0] - relative_progress(obj, obj.initial(0), 0.3).value) > 1e-3


def test_run_sgd_divergence_classified_quietly():
    obj = _sgd_net()
    with np.errstate(all="raise"):
        r = run_sgd(obj, obj.initial(0), 50.0, 8, epochs=50, recorders=[ExpectedRPRecorder(1), FullBatchRPRecorder(1)])
    assert r.diverged and r.divergence in DIVERGENCE_KINDS and r.reason and r.steps_done < 200
    assert not np.isfinite(r.losses[-1]) or abs(r.losses[-1]) > 1e12 * max(1.0, r.losses[0])


def test_expected_rp_undefined_at_zero_gradient():
    xp = get_namespace("numpy")
    X = xp.asarray(np.random.default_rng(0).normal(size=(8, 2)))
    obj = NetworkObjective(mlp([2, 2], "tanh"), X, xp.zeros((8, 2)), "mse")
    rec = ExpectedRPRecorder(1)
    with np.errstate(all="raise"):
        r = run_sgd(obj, xp.zeros(obj.size), 0.1, 4, epochs=1, recorders=[rec, FullBatchRPRecorder(1)])
    assert not r.diverged
    assert np.all(np.isnan(r.record("expected_rp")["expected_rp"]))
    assert np.all(np.isnan(r.record("full_rp")["rp"]))


def test_run_sgd_bad_input():
    obj = _sgd_net()
    th = obj.initial(0)
    for eta in (0.0, -0.1, math.inf):
        with pytest.raises(ParameterError, match="^eta"):
            run_sgd(obj, th, eta, 8)
    for b in (0, -1, 33, 5, 2.5, True):
        with pytest.raises(ParameterError, match="^batch_size"):
            run_sgd(obj, th, 0.1, b)
    with pytest.raises(ParameterError, match="^epochs"):
        run_sgd(obj, th, 0.1, 8, epochs=0)
    with pytest.raises(ParameterError, match="^loss_every"):
        run_sgd(obj, th, 0.1, 8, loss_every=0)
    with pytest.raises(ParameterError, match="^obj"):
        run_sgd(SympyObjective(quadratic()), np.ones(2), 0.1, 1)
    q = SympyObjective(quadratic())
    q.n_samples = 4
    with pytest.raises(ParameterError, match="^batch_gradient"):
        run_sgd(q, np.ones(2), 0.1, 2)
    with pytest.raises(ParameterError, match="^order"):
        ExpectedRPRecorder(1, order=0)
    with pytest.raises(ParameterError, match="^epochs"):
        ExpectedRPRecorder(1, epochs=0)
    with pytest.raises(ParameterError, match="^every"):
        FullBatchRPRecorder(0)


def test_run_sgd_on_every_backend(xp):
    # written once against the array API: same iterates and records as the NumPy run
    runs = []
    for ns in (get_namespace("numpy"), xp):
        d = spirals(32, classes=2, seed=0, xp=ns)
        obj = NetworkObjective(mlp([2, 8, 2], "tanh"), d.X, d.Y, "mse", alpha=1e-3)
        r = run_sgd(obj, obj.initial(0), 0.4, 8, 2, [ExpectedRPRecorder(2, order=3), FullBatchRPRecorder(2)], seed=3)
        runs.append((to_numpy(r.theta), r.record("expected_rp")["expected_rp"], r.record("full_rp")["rp"]))
    a, b = runs
    assert np.allclose(a[0], b[0], rtol=1e-12, atol=1e-14)
    assert np.allclose(a[1], b[1], rtol=1e-10) and np.allclose(a[2], b[2], rtol=1e-10)
    assert len(a[1]) == 4 and np.all(np.isfinite(a[1]))

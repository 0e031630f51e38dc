"""Hessian spectra (Lanczos / eigsh / dense) and the drift ∇²E∇E.

Tolerances: eigenvalues 1e-9 relative to λ_max (Lanczos tol 1e-10); the certified
residual must bound the true error; forward-difference drift 1e-5 relative (step
√eps), central 1e-8.
"""
from __future__ import annotations

import numpy as np
import pytest

from workbench.derivations.objectives import toy
from workbench.solvers.core.backend import get_namespace, to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.linalg.hessian import dense_eigenpairs, drift, drift_report, lanczos, sharpness, top_eigenpairs
from workbench.solvers.nets.networks import NetworkObjective, mlp, small_cnn
from workbench.solvers.core.objectives import CallableObjective, SympyObjective


def _net(xp, kind="mlp", seed=0):
    rng = np.random.default_rng(seed)
    if kind == "mlp":
        net = mlp([4, 12, 12, 3], "tanh")
        X = rng.standard_normal((24, 4))
    else:
        net = small_cnn((1, 6, 6), channels=(3,), kernel=3, outputs=3)
        X = rng.standard_normal((10, 1, 6, 6))
    Y = np.eye(3)[rng.integers(0, 3, X.shape[0])]
    return NetworkObjective(net, xp.asarray(X), xp.asarray(Y), "ce", alpha=0.01)


def test_lanczos_matches_dense_on_a_matrix(xp, rng):
    n = 80
    a = rng.standard_normal((n, n))
    a = a + a.T + np.diag(np.linspace(0, 10, n))
    A = xp.asarray(a)
    ev, V = np.linalg.eigh(a)
    for which, ref, refv in (("largest", ev[::-1][:3], V[:, ::-1][:, :3]), ("smallest", ev[:3], V[:, :3])):
        r = lanczos(lambda v: xp.matmul(A, v), n, xp, xp.float64, k=3, which=which, tol=1e-12, max_steps=n)
        assert r.converged and r.method == "lanczos"
        scale = np.abs(ev).max()
        np.testing.assert_allclose(r.values, ref, rtol=0, atol=1e-9 * scale)
        assert np.all(np.abs(r.values - ref) <= r.residuals + 1e-12 * scale)  # certified bound
        overlaps = np.abs(np.sum(to_numpy(r.vectors) * refv, axis=0))
        np.testing.assert_allclose(overlaps, 1.0, atol=1e-8)


def test_lanczos_breakdown_on_low_rank(xp):
    u = np.arange(1.0, 31.0)
    a = np.outer(u, u)  # rank one
    A = xp.asarray(a)
    r = lanczos(lambda v: xp.matmul(A, v), 30, xp, xp.float64)
    assert r.matvecs <= 3 and r.converged
    assert r.value == pytest.approx(float(u @ u), rel=1e-12)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_network_top_eigenpairs_against_dense(xp, kind):
    o = _net(xp, kind)
    th = o.initial(1)
    dense = dense_eigenpairs(o, th, k=3)
    lz = top_eigenpairs(o, th, 3, method="lanczos", tol=1e-10)
    scale = abs(dense.values).max()
    np.testing.assert_allclose(lz.values, dense.values, rtol=0, atol=1e-9 * scale)
    assert np.all(lz.residuals < 1e-7 * scale)
    small = top_eigenpairs(o, th, 2, which="smallest", method="lanczos", tol=1e-10)
    np.testing.assert_allclose(small.values, dense_eigenpairs(o, th, 2, "smallest").values, atol=1e-8 * scale)


def test_eigsh_and_auto_on_numpy():
    xp = get_namespace("numpy")
    o = _net(xp)
    th = o.initial(2)
    ref = dense_eigenpairs(o, th, 2)
    es = top_eigenpairs(o, th, 2, method="eigsh", tol=1e-12)
    assert es.method == "eigsh"
    np.testing.assert_allclose(es.values, ref.values, rtol=1e-10)
    assert sharpness(o, th).method == "eigsh"  # auto on numpy, n > 64
    assert top_eigenpairs(SympyObjective(toy("quadratic")), [0.1, 0.2], 1).method == "dense"


def test_sharpness_of_toys(xp):
    o = SympyObjective(toy("tanh-quadratic"), xp)
    s = sharpness(o, xp.asarray([0.0, 0.0]), method="lanczos")
    assert s.value == pytest.approx(40.0, rel=1e-12)  # Example 2: same as the quadratic at 0
    np.testing.assert_allclose(np.abs(to_numpy(s.vectors[:, 0])), [1.0, 0.0], atol=1e-12)


def test_sharpness_of_callable_with_fd_hvp(rng):
    P = rng.standard_normal((30, 30))
    P = P @ P.T
    o = CallableObjective(lambda t: 0.5 * float(t @ P @ t), 30, gradient=lambda t: P @ t, hvp="fd")
    s = sharpness(o, np.zeros(30), method="lanczos")
    assert s.value == pytest.approx(np.linalg.eigvalsh(P)[-1], rel=1e-8)


def test_drift_exact_and_finite_difference(xp):
    o = _net(xp)
    th = o.initial(3)
    ex = to_numpy(drift(o, th, "exact"))
    g = o.gradient(th)
    np.testing.assert_allclose(ex, to_numpy(o.hvp(th, g)), rtol=0, atol=0)
    fw = to_numpy(drift(o, th, "forward"))
    ce = to_numpy(drift(o, th, "central"))
    assert np.linalg.norm(fw - ex) <= 1e-5 * np.linalg.norm(ex)
    assert np.linalg.norm(ce - ex) <= 1e-8 * np.linalg.norm(ex)
    rep = drift_report(o, th)
    assert rep.rel_error_fd <= 1e-5
    assert rep.normalized == pytest.approx(rep.drift_norm / rep.grad_norm, rel=1e-14)
    assert rep.drift_norm == pytest.approx(float(np.linalg.norm(ex)), rel=1e-12)


def test_drift_on_quadratic_is_P_squared_theta(xp):
    o = SympyObjective(toy("quadratic"), xp)
    th = xp.asarray([0.5, -1.0])
    np.testing.assert_allclose(to_numpy(drift(o, th)), [40 * 40 * 0.5, 2 * 2 * -1.0], rtol=1e-15)


def test_bad_requests():
    xp = get_namespace("numpy")
    o = _net(xp)
    th = o.initial(0)
    with pytest.raises(ParameterError, match="method"):
        top_eigenpairs(o, th, method="qr")
    with pytest.raises(ParameterError, match="k: must be between 1"):
        top_eigenpairs(o, th, 0)
    with pytest.raises(ParameterError, match="which"):
        top_eigenpairs(o, th, which="middle")
    with pytest.raises(ParameterError, match="drift method"):
        drift(o, th, "backward")
    with pytest.raises(ParameterError, match=r"hessian: a dense .* needs .* bytes.*Hessian-vector products"):
        dense_eigenpairs(o, th, max_bytes=1000)
    strict = _net(get_namespace("array_api_strict"))
    with pytest.raises(ParameterError, match="eigsh' runs on the numpy backend only"):
        top_eigenpairs(strict, strict.initial(0), method="eigsh")


def test_bench_rows_quick():
    from workbench.benchmarks.objectives import bench_rows

    rows = bench_rows(quick=True, repeat=1)
    assert [r["name"] for r in rows][:5] == [
        "gradient cost vs one forward pass", "HVP cost vs one forward pass", "HVP: exact vs finite difference",
        "sharpness: Lanczos vs scipy eigsh", "sharpness: Lanczos vs dense"]
    for r in rows:
        assert set(r) >= {"name", "ours", "baseline", "ours_s", "baseline_s", "ratio", "note", "noise"}
        assert r["ours_s"] > 0 and r["ratio"] == pytest.approx(r["baseline_s"] / r["ours_s"])
    assert "forward passes" in rows[0]["note"] and rows[0]["kind"] == "factor"

"""Hessian-vector products of the nonlinear CNN loss and the local amplification factor."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.solvers.core.backend import to_numpy
from workbench.solvers.cnn.cnn_hessian import (
    LocalCurvature,
    batched_lanczos_extremes,
    hessian_dense,
    hvp,
    hvp_fd,
    step_spectral_radius,
)
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.cnn.images import checkerboard, smooth
from workbench.solvers.cnn.schemes import nonlinear_gradient, nonlinear_loss

BETA, B_BIAS, Y = 1.0, 0.3, 1.0


def _setup(xp, n=14, w=4, batch=3, dtype=None, seed=0):
    dtype = dtype or xp.float64
    op = CnnOperator(xp.asarray(smooth(n, seed=seed), dtype=dtype), w)
    rng = np.random.default_rng(seed + 1)
    # pre-activations of order 0.3, so the sigmoid is far from saturation and r'' matters
    k = rng.standard_normal((batch, w, w)) * 0.3 / w
    v = rng.standard_normal((batch, w, w))
    alphas = np.array([0.7, 2.0, 0.0][:batch])
    return op, xp.asarray(k, dtype=dtype), xp.asarray(v, dtype=dtype), xp.asarray(alphas, dtype=dtype)


def test_hvp_matches_central_differences(xp):
    op, K, V, al = _setup(xp)
    exact = to_numpy(hvp(op, K, V, al, BETA, B_BIAS, Y))
    fd = to_numpy(hvp_fd(op, K, V, al, BETA, B_BIAS, Y))
    err = np.max(np.abs(exact - fd)) / np.max(np.abs(exact))
    assert err < 1e-7, err  # central differences: O(h²) + O(eps/h) with h = eps^(1/3)·scale ≈ 1e-9 here
    # the data part is not negligible: dropping r'' or the rank-one term changes H V by O(1)
    lc = LocalCurvature(op, K, al, BETA, B_BIAS, Y, need_loss=False)
    no_data = to_numpy(lc.alphas * V)
    assert np.max(np.abs(exact - no_data)) > 1e-2 * np.max(np.abs(exact))


def test_hvp_matches_dense_hessian(xp):
    op, K, V, al = _setup(xp, batch=2)
    got = to_numpy(hvp(op, K, V, al, BETA, B_BIAS, Y))
    Kh, Vh, ah = to_numpy(K), to_numpy(V), to_numpy(al)
    for i in range(2):
        H = hessian_dense(op, xp.asarray(Kh[i]), float(ah[i]), BETA, B_BIAS, Y)
        assert np.allclose(H, H.T, rtol=0, atol=1e-12 * np.max(np.abs(H)))
        ref = (H @ Vh[i].reshape(-1)).reshape(op.w, op.w)
        assert np.max(np.abs(got[i] - ref)) <= 1e-11 * np.max(np.abs(ref))


def test_dense_hessian_matches_fd_of_gradient_columns():
    import array_api_compat.numpy as xnp

    op, K, _, _ = _setup(xnp, n=10, w=3, batch=1)
    H = hessian_dense(op, K[0, ...], 0.7, BETA, B_BIAS, Y)
    n = op.w ** 2
    cols = []
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1.0
        cols.append(to_numpy(hvp_fd(op, K[0, ...], xnp.asarray(e.reshape(op.w, op.w)), 0.7, BETA, B_BIAS, Y)).reshape(-1))
    assert np.max(np.abs(np.stack(cols, 1) - H)) < 1e-7 * np.max(np.abs(H))


def test_local_curvature_gradient_is_bit_identical_to_schemes(xp):
    op, K, _, al = _setup(xp)
    lc = LocalCurvature(op, K, al, BETA, B_BIAS, Y)
    g_ref, _ = nonlinear_gradient(op, K, xp.reshape(al, (-1, 1, 1)), BETA, B_BIAS, Y)
    assert np.array_equal(to_numpy(lc.gradient), to_numpy(g_ref))
    l_ref = to_numpy(nonlinear_loss(op, K, xp.reshape(al, (-1, 1, 1)), BETA, B_BIAS, Y))
    assert np.allclose(to_numpy(lc.loss), l_ref, rtol=1e-14, atol=0)


@pytest.mark.parametrize("prec", ["float64", "float32"])
def test_local_curvature_in_member_chunks_is_bit_identical(monkeypatch, prec):
    # on the host the pixel arrays are built a cache-sized chunk of members at a time; with a
    # budget of one byte every member is its own chunk, and every number must stay the same
    import array_api_compat.numpy as xnp
    from workbench.solvers.cnn import cnn_hessian

    op, K, V, al = _setup(xnp, batch=3, dtype=getattr(xnp, prec))
    whole = LocalCurvature(op, K, al, BETA, B_BIAS, Y)
    assert len(cnn_hessian.member_chunks(op, 3)) == 1
    monkeypatch.setattr(cnn_hessian, "HOST_CHUNK_BYTES", 1)
    assert cnn_hessian.member_chunks(op, 3) == [slice(0, 1), slice(1, 2), slice(2, 3)]
    parts = LocalCurvature(op, K, al, BETA, B_BIAS, Y)
    for name in ("gradient", "loss", "u", "yhat"):
        a, b = getattr(whole, name), getattr(parts, name)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    for _ in range(2):  # r'' is computed at the first product and reused at the second
        a, b = whole.matvec(V), parts.matvec(V)
        assert a.tobytes() == b.tobytes()
    g_ref, _ = nonlinear_gradient(op, K, xnp.reshape(al, (-1, 1, 1)), BETA, B_BIAS, Y)
    assert parts.gradient.tobytes() == g_ref.tobytes()
    one = V[:1, ...]  # one direction for every member (broadcast)
    assert whole.matvec(one).tobytes() == parts.matvec(one).tobytes()


@pytest.mark.parametrize("prec,tol", [("float64", 1e-9), ("float32", 2e-4)])
def test_spectral_radius_matches_dense_eigenvalues(xp, prec, tol):
    dtype = getattr(xp, prec)
    op, K, _, al = _setup(xp, n=12, w=3, batch=3, dtype=dtype)
    lrs = np.array([0.05, 0.3, 1.2])
    sr = step_spectral_radius(op, K, al, lrs, BETA, B_BIAS, Y, max_steps=9)
    Kh, ah = to_numpy(K).astype(np.float64), to_numpy(al).astype(np.float64)
    for i in range(3):
        op64 = CnnOperator(xp.asarray(to_numpy(op.image).astype(np.float64)), op.w)
        ev = np.linalg.eigvalsh(hessian_dense(op64, xp.asarray(Kh[i]), float(ah[i]), BETA, B_BIAS, Y))
        rho = max(abs(1 - lrs[i] * ev[0]), abs(1 - lrs[i] * ev[-1]))
        assert abs(sr["rho"][i] - rho) <= tol * max(rho, 1.0), (i, sr["rho"][i], rho)
        assert abs(sr["lambda_max"][i] - ev[-1]) <= tol * np.max(np.abs(ev))
        assert abs(sr["lambda_min"][i] - ev[0]) <= tol * np.max(np.abs(ev))
    assert sr["converged"].all()


def test_lanczos_on_checkerboard_hessian_breaks_down_at_two_steps(xp):
    # every patch of the checkerboard is ±v: H = αI + c vvᵀ, a two-dimensional Krylov space
    op = CnnOperator(xp.asarray(checkerboard(24)), 6)
    rng = np.random.default_rng(3)
    K = xp.asarray(rng.standard_normal((2, 6, 6)) * 0.02)
    al = xp.asarray(np.array([20.0, 3.0]))
    sr = step_spectral_radius(op, K, al, [0.01, 0.01], max_steps=36)
    assert list(sr["steps"]) == [2, 2]
    for i, a in enumerate((20.0, 3.0)):
        # α is an extreme eigenvalue (the w² − 1 directions orthogonal to v) ...
        assert min(abs(sr["lambda_min"][i] - a), abs(sr["lambda_max"][i] - a)) <= 1e-9 * a
        # ... and both extremes agree with the dense Hessian
        ev = np.linalg.eigvalsh(hessian_dense(op, K[i, ...], a))
        assert abs(sr["lambda_max"][i] - ev[-1]) <= 1e-9 * np.max(np.abs(ev))
        assert abs(sr["lambda_min"][i] - ev[0]) <= 1e-9 * np.max(np.abs(ev))


def test_batched_lanczos_members_are_independent(xp):
    # diagonal operators with known extremes, one per member; a member that breaks down early
    # (member 0: two distinct eigenvalues) must not disturb the others
    n = 12
    diags = np.stack([np.r_[np.full(6, 2.0), np.full(6, -1.0)], np.linspace(-3, 5, n), np.linspace(0.5, 1.5, n)])
    D = xp.asarray(diags)
    ex = batched_lanczos_extremes(lambda v: D * v, 3, n, xp, xp.float64, max_steps=n)
    assert np.allclose(ex["lambda_min"], [-1.0, -3.0, 0.5], atol=1e-9)
    assert np.allclose(ex["lambda_max"], [2.0, 5.0, 1.5], atol=1e-9)
    assert ex["steps"][0] == 2 and ex["steps"][1] > 2

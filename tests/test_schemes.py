"""Windowed schemes (21) and (13): dense references, batching, finite differences, divergence."""
from __future__ import annotations

import numpy as np
import pytest

import array_api_compat.numpy as npx
from workbench.solvers.core.backend import to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.cnn.images import checkerboard, smooth
from workbench.solvers.cnn.schemes import initial_kernel, linear_step, nonlinear_gradient, nonlinear_loss, run_cnn


def run_linear(op, alphas, dt, **kw):
    return run_cnn(op, alphas, dt, force="linear", **kw)


def run_nonlinear(op, alphas, dt, **kw):
    return run_cnn(op, alphas, dt, force="nonlinear", **kw)


def test_linear_step_matches_dense_reference(xp, rng):
    img = rng.standard_normal((12, 12))
    op = CnnOperator(xp.asarray(img), 4)
    g, c = op.gram_dense(), to_numpy(op.patch_sum()).ravel()
    dt, a, beta = 1e-3, -0.5, 1.3
    alphas = np.array([0.5, 2.0, 7.0])
    K = xp.asarray(rng.standard_normal((3, 4, 4)))
    ref = to_numpy(K).reshape(3, -1)
    out = to_numpy(K)
    al = xp.reshape(xp.asarray(alphas), (3, 1, 1))
    for _ in range(20):
        ref = ref - dt * (0.5 * a * (c + beta * ref @ g) + alphas[:, None] * ref)
        K = linear_step(op, K, al, dt, a, beta)
    np.testing.assert_allclose(to_numpy(K).reshape(3, -1), ref, rtol=1e-11, atol=1e-12)
    assert out.shape == (3, 4, 4)


def test_batched_run_equals_one_alpha_loop(rng):
    op = CnnOperator(npx.asarray(smooth(20, 2)), 5)
    alphas = [10.0, 300.0, 900.0, 4000.0]
    batched = run_linear(op, alphas, 1e-3, steps=60)
    for i, al in enumerate(alphas):
        single = run_linear(op, [al], 1e-3, steps=60)
        np.testing.assert_allclose(single.increments[:, 0], batched.increments[:, i], rtol=1e-12)
        assert single.diverged[0] == batched.diverged[i]


def test_nonlinear_gradient_vs_finite_differences(xp, rng):
    img = rng.standard_normal((9, 9))
    op = CnnOperator(xp.asarray(img), 3)
    k = 0.3 * rng.standard_normal((3, 3))
    alpha, beta, b, y = 0.7, 1.5, 0.2, 1.0
    al = xp.asarray(alpha)
    grad, _ = nonlinear_gradient(op, xp.asarray(k), al, beta, b, y)
    grad = to_numpy(grad)
    h = 1e-6
    fd = np.zeros_like(k)
    for i in range(3):
        for j in range(3):
            e = np.zeros_like(k)
            e[i, j] = h
            lp = float(nonlinear_loss(op, xp.asarray(k + e), al, beta, b, y))
            lm = float(nonlinear_loss(op, xp.asarray(k - e), al, beta, b, y))
            fd[i, j] = (lp - lm) / (2 * h)
    # central differences: error O(h^2 |L'''|) + rounding O(eps |L| / h) ~ 1e-9 here
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)


def test_nonlinear_gradient_matches_sympy_discrete_gradient(rng):
    sp = pytest.importorskip("sympy")
    from workbench.derivations.cnn import discrete_gradient_formula, discrete_loss, kernel_symbols

    img = rng.integers(-2, 3, size=(5, 5)).astype(float)
    k = 0.1 * rng.integers(-3, 4, size=(2, 2)).astype(float)
    alpha, beta, b, y = 0.5, 1.0, 0.0, 1.0
    op = CnnOperator(npx.asarray(img), 2)
    grad, _ = nonlinear_gradient(op, npx.asarray(k), npx.asarray(alpha), beta, b, y)
    ks = kernel_symbols(2)
    loss = discrete_loss(ks, img.tolist(), alpha, beta, b, y)
    subs = {ks[i, j]: k[i, j] for i in range(2) for j in range(2)}
    sym = np.array([[float(sp.diff(loss, ks[i, j]).subs(subs).evalf(30)) for j in range(2)] for i in range(2)])
    np.testing.assert_allclose(to_numpy(grad), sym, rtol=1e-10, atol=1e-12)
    formula = discrete_gradient_formula(ks, img.tolist(), alpha, beta, b, y)
    np.testing.assert_allclose(np.array(sp.Matrix(formula).subs(subs).evalf(30), dtype=float), sym, rtol=1e-10)


def test_divergence_detected_without_warnings(xp):
    op = CnnOperator(xp.asarray(checkerboard(32)), 8)
    mu_max = (32 - 8 + 1) ** 2 * 64
    dt = 1e-4
    lower, upper = 0.25 * mu_max, 2 / dt
    res = run_linear(op, [0.5 * lower, 1.5 * lower, 0.5 * (lower + upper), 1.2 * upper, 1e9], dt, steps=300)
    assert res.diverged.tolist() == [True, False, False, True, True]
    assert res.reason[0] in ("growth", "blowup") and res.reason[-1] in ("blowup", "nonfinite")
    assert np.all(np.isfinite(to_numpy(res.kernel)))  # diverged members are frozen, finite


def test_nonlinear_run_is_deterministic_and_classified(xp):
    op = CnnOperator(xp.asarray(smooth(16, 4), dtype=xp.float32), 4)
    r1 = run_nonlinear(op, [1.0, 1e9], 1e-2, steps=50, seed=3)
    r2 = run_nonlinear(op, [1.0, 1e9], 1e-2, steps=50, seed=3)
    np.testing.assert_array_equal(to_numpy(r1.kernel), to_numpy(r2.kernel))
    assert r1.diverged.tolist() == [False, True]


def test_initial_kernel_scale():
    op = CnnOperator(npx.asarray(checkerboard(16)), 4)
    k = to_numpy(initial_kernel(op, 2, seed=1))
    assert k.shape == (2, 4, 4) and np.array_equal(k[0], k[1])
    assert 1e-5 < np.abs(to_numpy(op.response(npx.asarray(k[0])))).max() < 1e-2


@pytest.mark.parametrize("kw,msg", [
    ({"dt": 0.0}, "lr: must be > 0"),
    ({"dt": -1.0}, "lr: must be > 0"),
    ({"beta": 0.0}, "beta: must be finite and > 0"),
    ({"alphas": [np.nan]}, "alpha: values must be finite"),
    ({"alphas": []}, "alpha: expected a non-empty"),
    ({"steps": 1}, "steps: need at least 2"),
])
def test_bad_parameters(kw, msg):
    op = CnnOperator(npx.asarray(checkerboard(8)), 2)
    args = {"alphas": [1.0], "dt": 1e-3, "beta": 1.0, "steps": 10} | kw
    with pytest.raises(ParameterError, match=msg):
        run_linear(op, args["alphas"], args["dt"], beta=args["beta"], steps=args["steps"])
    with pytest.raises(ParameterError, match="y: the label"):
        run_nonlinear(op, [1.0], 1e-3, y=2.0)


def test_degenerate_images_get_finite_kernels_and_agreeing_bounds():
    # an all-zero image and one of energy ~1e-400: G = 0, so the stable alphas are (0, 2/dt) exactly
    from workbench.solvers.cnn.bounds import compute_bounds

    for img in (np.zeros((16, 16)), 1e-200 * checkerboard(16)):
        op = CnnOperator(npx.asarray(img), 4)
        k = to_numpy(initial_kernel(op, 1))
        assert np.all(np.isfinite(k)) and 0 < np.abs(k).max() < 1e100
        r = compute_bounds(img, 4, dt=1e-3, steps=200, seeded=False)
        assert r["exact"]["alpha_lower"] == pytest.approx(0.0, abs=1e-9)
        assert r["exact"]["alpha_upper"] == pytest.approx(2e3, rel=1e-12)
        sim = r["simulated"]
        got, want = sim["alpha_upper"], r["exact"]["alpha_upper"]
        assert abs(got - want) <= 1e-3 * abs(want), ("upper", got, want)
        # the lower edge is alpha = 0 exactly: 200 steps at dt = 1e-3 resolve it to 1/(dt*steps) = 5, and
        # the result says so instead of a bracket narrower than the horizon can resolve
        assert sim["zero_scale"] == pytest.approx(5.0)
        assert abs(sim["alpha_lower"]) <= sim["zero_scale"]
        assert any("alpha_lower" in n and "finite horizon" in n for n in sim["notes"])


def test_qhm_closed_region_is_derived_and_matches_the_numeric_edge():
    """QHM's region comes out of the registry in closed form, 0 < h < 2(1 + β)/(1 + β − 2βν) (SymPy, on the
    hyperparameters' ranges), and equals the numeric unit-circle-crossing edge at 60 settings."""
    import numpy as np
    import sympy as sp

    from workbench.derivations.schemes import registry as reg
    from workbench.solvers.stepping.optimizers import _matrices, _numeric_interval

    lo, hi = reg.closed_region("qhm")
    nu, beta = reg.get("qhm").hyper("nu").symbol, reg.get("qhm").hyper("beta").symbol
    assert lo == 0 and sp.simplify(hi - 2 * (1 + beta) / (1 + beta - 2 * beta * nu)) == 0
    rng = np.random.default_rng(5)
    settings = [(1.0, 0.999), (0.0, 0.5), (0.7, 0.0)] + [(float(rng.uniform(0, 1)), float(rng.uniform(0, 0.999)))
                                                          for _ in range(57)]
    for n, b in settings:
        num_lo, num_hi = _numeric_interval(*_matrices("qhm", (("beta", b), ("nu", n))))
        closed = 2 * (1 + b) / (1 + b - 2 * b * n)
        assert abs(num_hi - closed) <= 1e-9 * closed and abs(num_lo) <= 1e-12, (n, b, num_hi, closed)

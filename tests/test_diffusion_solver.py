"""SGD-Nesterov with diffusion (second paper, Algorithm 1, (4)-(9)): workbench.solvers.dynamics.diffusion."""
from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.solvers.core.backend import to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.dynamics.diffusion import (ApdeScheme, DiffusionNesterov, beta_max, kappa_max, laplacian, pde_params,
                               sgd_params)


def _dense_laplacian_1d(n: int, boundary: str) -> np.ndarray:
    A = -2.0 * np.eye(n) + np.eye(n, k=1) + np.eye(n, k=-1)
    if boundary == "periodic":
        A[0, -1] = A[-1, 0] = 1.0
    else:
        A[0, 0] = A[-1, -1] = -1.0
    return A


@pytest.mark.parametrize("boundary", ["neumann", "periodic"])
def test_laplacian_matches_dense_kronecker_sum(xp, rng, boundary):
    x = rng.standard_normal((5, 4, 6))
    axes = (0, 2)
    got = to_numpy(laplacian(xp.asarray(x), axes, boundary, dx=0.5))
    A0, A2 = _dense_laplacian_1d(5, boundary), _dense_laplacian_1d(6, boundary)
    ref = (np.einsum("ij,jkl->ikl", A0, x) + np.einsum("lm,ikm->ikl", A2, x)) / 0.25
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-12)
    # zero flux / periodic: the sum is conserved
    assert abs(got.sum()) < 1e-10


@pytest.mark.parametrize("boundary", ["neumann", "periodic"])
def test_kappa_max_is_the_largest_eigenvalue(boundary):
    for n in (6, 7):
        ev = np.linalg.eigvals(-_dense_laplacian_1d(n, boundary)).real.max()
        assert abs(kappa_max((n,), None, boundary) - ev) < 1e-12
    assert abs(kappa_max((8, 3, 8), (0, 2), "periodic") - 8.0) < 1e-14


def test_beta_zero_is_pytorch_nesterov_bit_for_bit(xp, rng):
    A = rng.standard_normal((6, 6))
    H = xp.asarray(A @ A.T / 6 + np.eye(6))
    grad = lambda th: H @ th  # noqa: E731
    th0 = xp.asarray(rng.standard_normal(6))
    opt = DiffusionNesterov(lr=0.05, momentum=0.9, beta=0.0, axes=0)
    th, ref, buf = th0, th0, xp.zeros_like(th0)
    for _ in range(50):
        g = grad(th)
        th = opt.step(th, g)
        gr = grad(ref)                    # torch.optim.SGD(nesterov=True): buf = m*buf + g; p -= lr*(g + m*buf)
        buf = 0.9 * buf + gr
        ref = ref - 0.05 * (gr + 0.9 * buf)
    assert np.array_equal(to_numpy(th), to_numpy(ref))
    assert float(np.abs(to_numpy(th)).max()) < float(np.abs(to_numpy(th0)).max())   # it did move (converging)


def test_beta_zero_matches_first_paper_nesterov_stepper(rng):
    """θ^n of (14) is the look-ahead V^n of the first paper's (37)-(38) (the registry's nesterov, stepped)."""
    import array_api_compat.numpy as npx

    from workbench.solvers.stepping import stepper

    A = rng.standard_normal((5, 5))
    H = A @ A.T / 5 + np.eye(5)
    K0 = rng.standard_normal(5)
    looks = []

    def grad(V):                          # the stepper evaluates the gradient at V^n = K^n + mu (K^n - K^{n-1})
        looks.append(np.array(V[0]))
        return V @ H

    stepper.run("nesterov", grad, npx.asarray(K0[None]), 0.1, 30, params={"mu": 0.8})
    opt = DiffusionNesterov(0.1, 0.8)
    th = K0.copy()                        # V^0 = K^0 from rest, θ^0 = V^0, v^0 = 0
    for V in looks:
        np.testing.assert_allclose(th, V, rtol=1e-12, atol=1e-13)
        th = opt.step(th, H @ th)


@pytest.mark.parametrize("boundary", ["neumann", "periodic"])
def test_batched_update_on_the_stepper_is_algorithm_1_exactly(xp, rng, boundary):
    """DiffusionUpdate on workbench.solvers.stepping.stepper, one β per member, equals DiffusionNesterov.step bit for bit."""
    from workbench.solvers.stepping import stepper
    from workbench.solvers.dynamics.diffusion import DiffusionUpdate

    shape, betas, gamma, eta = (6, 5), [0.05, 0.12, 0.2], 0.9, 0.1
    th0, v0 = rng.standard_normal(shape), rng.standard_normal(shape)
    grad = lambda x: 0.5 * x + 0.1 * xp.tanh(x)  # noqa: E731  (non-linear on purpose)
    batch = xp.asarray(np.stack([th0] * len(betas)))
    r = stepper.run(DiffusionUpdate(gamma, betas, boundary, v0=xp.asarray(v0)), grad, batch, eta, 40, members=betas)
    assert r.extra["scheme"] == "diffusion-nesterov" and r.steps == 40
    for i, b in enumerate(betas):
        opt = DiffusionNesterov(eta, gamma, b, boundary=boundary)
        opt.v = xp.asarray(v0)
        th = xp.asarray(th0)
        for _ in range(40):
            th = opt.step(th, grad(th))
        assert np.array_equal(to_numpy(r.theta[i, ...]), to_numpy(th))
        assert np.array_equal(to_numpy(r.state[1][i, ...]), to_numpy(opt.v))
    with pytest.raises(ParameterError, match=r"^beta:"):
        DiffusionUpdate(gamma, [-0.1])
    with pytest.raises(ParameterError, match=r"^beta:"):
        stepper.run(DiffusionUpdate(gamma, [0.1, 0.2]), grad, xp.asarray(np.zeros((3, 4))), eta, 3)


@pytest.mark.parametrize("boundary", ["neumann", "periodic"])
def test_scheme_4_matches_optimizer_through_map_8(xp, rng, boundary):
    dt, a, b = 0.3, 0.7, 0.4
    p = sgd_params(dt, a, b)
    grad = lambda x: 0.5 * x + 0.1 * x ** 3  # noqa: E731  (non-linear on purpose)
    sch = ApdeScheme(dt, a, b, axes=(0, 1), boundary=boundary)
    u = xp.asarray(rng.standard_normal((6, 5)))
    du = xp.asarray(0.1 * rng.standard_normal((6, 5)))
    opt = DiffusionNesterov(p["eta"], p["momentum"], p["beta"], axes=(0, 1), boundary=boundary)
    opt.v = -du / p["eta"]                # v^0 = -Δu^{-1}/η
    theta = sch.lookahead(u, du)          # θ^0 = w^0
    for _ in range(25):
        u, du, w = sch.step(u, du, grad)
        np.testing.assert_allclose(to_numpy(theta), to_numpy(w), rtol=1e-11, atol=1e-12)
        theta = opt.step(theta, grad(theta))
        np.testing.assert_allclose(to_numpy(opt.v), to_numpy(-du / p["eta"]), rtol=1e-11, atol=1e-11)
    assert float(np.abs(to_numpy(du)).max()) > 1e-6    # not trivially at rest


def test_maps_8_and_9_are_inverse():
    p = sgd_params(0.2, 1.5, 0.8)
    q = pde_params(p["eta"], p["momentum"], p["beta"])
    assert math.isclose(q["dt"], 0.2, rel_tol=1e-14) and math.isclose(q["a"], 1.5, rel_tol=1e-14)
    assert math.isclose(q["b"], 0.8, rel_tol=1e-14)
    # (11) against (10): b_max = 1/(2N dt) maps to beta_max = (1+gamma)/(4N)
    for n_dims in (1, 2, 3):
        bm = sgd_params(0.2, 1.5, 1 / (2 * n_dims * 0.2))["beta"]
        assert math.isclose(bm, beta_max(p["momentum"], n_dims), rel_tol=1e-14)


def test_diffusion_step_is_stable_below_and_unstable_above_beta_max(rng):
    gamma, shape = 0.9, (16,)
    bm = beta_max(gamma, 1)
    norms = {}
    for f in (0.98, 1.02):
        opt = DiffusionNesterov(0.1, gamma, f * bm, boundary="periodic")
        opt.v = rng.standard_normal(shape)
        th = np.zeros(shape)
        for _ in range(600):
            th = opt.step(th, np.zeros(shape))
        norms[f] = float(np.linalg.norm(opt.v))
    assert norms[0.98] < 1e-3 and norms[1.02] > 1e3


@pytest.mark.parametrize("kwargs, name", [
    ({"beta": -0.1}, "beta"), ({"axes": (3,)}, "axes"), ({"axes": (0, 0)}, "axes"), ({"boundary": "dirichlet"}, "boundary"),
    ({"dx": 0.0}, "dx"), ({"dx": -1.0}, "dx"), ({"momentum": 1.0}, "momentum"), ({"lr": 0.0}, "lr"),
])
def test_bad_input_names_the_parameter(kwargs, name):
    args = {"lr": 0.1, "momentum": 0.9, "beta": 0.1, "axes": (0,), "boundary": "neumann", "dx": 1.0, **kwargs}
    with pytest.raises(ParameterError, match=rf"^{name}:"):
        opt = DiffusionNesterov(**args)
        opt.step(np.zeros((3, 3)), np.ones((3, 3)))
    with pytest.raises(ParameterError, match=r"^axes:"):
        laplacian(np.zeros(4), axes=(1,))
    with pytest.raises(ParameterError, match=r"^boundary:"):
        laplacian(np.zeros(4), boundary="reflect")
    with pytest.raises(ParameterError, match=r"^dx:"):
        ApdeScheme(0.1, 1.0, 0.1, dx=0)


def test_split_update_is_algorithm_1_on_the_block_and_nesterov_elsewhere(rng):
    """SplitDiffusionUpdate on the stepper equals DiffusionNesterov on the block plus (14) on the rest, bit for bit."""
    from workbench.solvers.stepping import stepper
    from workbench.solvers.dynamics.diffusion import SplitDiffusionUpdate

    off, shape, axes, eta, mu, beta = 3, (2, 3, 3), (1, 2), 0.05, 0.9, 0.2
    nk, P = 18, 27
    th0 = rng.standard_normal(P)
    grad = lambda x: 0.3 * x + 0.05 * np.sin(x)  # noqa: E731
    upd = SplitDiffusionUpdate(mu, beta, off, shape, axes)
    r = stepper.run(upd, grad, th0[None], eta, 25)
    opt_k = DiffusionNesterov(eta, mu, beta, axes=axes, boundary="neumann")
    v_r, th = np.zeros(P), th0.copy()
    for _ in range(25):
        g = grad(th)
        wk = opt_k.step(np.reshape(th[off:off + nk], shape), np.reshape(g[off:off + nk], shape))
        v_r = mu * v_r + g
        rest = th - eta * (g + mu * v_r)
        th = np.concatenate([rest[:off], np.reshape(wk, -1), rest[off + nk:]])
    assert np.array_equal(r.theta[0], th)
    assert np.array_equal(upd.current[1][0, off:off + nk], np.reshape(opt_k.v, -1))
    assert float(np.abs(r.theta[0, off:off + nk] - th0[off:off + nk]).max()) > 1e-3   # it moved


@pytest.mark.parametrize("boundary", ["neumann", "periodic"])
def test_algorithm1_step_is_the_registered_record(boundary):
    """The one step of Algorithm 1 equals the registry's ``diffusion-nesterov`` record s' = A s − ηB g with its
    coefficients (polynomials in the Laplacian L) applied as the discrete Laplacian (5) — the analysed and the
    stepped scheme are one; and on one Fourier mode the record's polynomial is the paper scheme's (4)
    joint polynomial (workbench.derivations.diffusion.joint_polynomial) with m = γ − βκ."""
    import sympy as sp

    from workbench.derivations import diffusion as dd
    from workbench.derivations.schemes.registry import LAPLACIAN, get, polynomial
    from workbench.solvers.dynamics.diffusion import algorithm1_step, laplacian

    gamma, beta, eta = 0.8, 0.15, 0.07
    A, B, C, kinds = get("diffusion-nesterov").operator_matrices()
    assert kinds == ("theta", "buffer")
    syms = {sp.Symbol("gamma", nonnegative=True): gamma, sp.Symbol("beta", nonnegative=True): beta}
    lap = lambda x: laplacian(x, (0, 1), boundary)  # noqa: E731

    def apply(entry, x):
        coeffs = sp.Poly(sp.expand(entry.subs(syms)), LAPLACIAN).all_coeffs()[::-1]   # c0 + c1 L + c2 L² ...
        out, power = 0.0 * x, x
        for c in coeffs:
            out = out + float(c) * power
            power = lap(power)
        return out

    rng = np.random.default_rng(3)
    th, v, g = (rng.standard_normal((6, 5)) for _ in range(3))
    th1, v1, _ = algorithm1_step(th, v, lap(v), g, eta, gamma, beta, lap)
    s = [th, eta * v]                                      # the record's buffer is u = ηv
    new = [sum(apply(A[i, j], s[j]) for j in range(2)) - eta * apply(B[i], g) for i in range(2)]
    assert np.allclose(new[0], th1, rtol=0, atol=1e-12) and np.allclose(new[1], eta * v1, rtol=0, atol=1e-12)
    assert not np.allclose(th1, algorithm1_step(th, v, lap(v), g, eta, gamma, 0.0, lap)[0])   # β matters

    mode = polynomial(get("diffusion-nesterov")).as_expr()
    k = sp.Symbol("kappa", nonnegative=True)
    b_of_m = (sp.Symbol("gamma", nonnegative=True) - dd.m) / k
    assert sp.expand(mode.subs(sp.Symbol("beta", nonnegative=True), b_of_m) - dd.joint_polynomial().as_expr()) == 0


def test_diffusion_nesterov_region_is_the_cfl_at_small_h():
    """`workbench region diffusion-nesterov`: per mode the nesterov region with μ = γ − βκ, empty once
    γ − βκ ≤ −1 (the CFL (11): β ≤ (1 + γ)/κ)."""
    from workbench.solvers.stepping.optimizers import h_interval

    r = h_interval("diffusion-nesterov", gamma=0.9, beta=0.1, kappa=4.0)
    m = 0.9 - 0.4
    assert abs(r.upper - 2 * (1 + m) / (1 + 2 * m)) < 1e-9 and r.lower == 0
    assert not h_interval("diffusion-nesterov", gamma=0.9, beta=0.99 * 1.9 / 4, kappa=4.0).empty
    assert h_interval("diffusion-nesterov", gamma=0.9, beta=1.01 * 1.9 / 4, kappa=4.0).empty

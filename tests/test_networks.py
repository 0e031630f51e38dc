"""Networks: backprop gradient and R-operator HVP against finite differences and SymPy.

Tolerances: SymPy reference 1e-12 (float64, exact algebra up to rounding); central
finite differences 1e-7 relative (measured ~1e-9); float32 vs float64 2e-5.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

from workbench.derivations.objectives import mlp_loss
from workbench.solvers.core.backend import get_namespace, to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.nets.networks import Activation, Conv2d, NetworkObjective, mlp, small_cnn
from workbench.solvers.core.objectives import SympyObjective, fd_gradient

RNG_SEED = 7


def _problem(xp, kind, act, loss, alpha=0.1, seed=RNG_SEED):
    rng = np.random.default_rng(seed)
    if kind == "mlp":
        net = mlp([3, 5, 4, 3], act)
        X = rng.standard_normal((7, 3))
    else:
        net = small_cnn((2, 5, 5), channels=(3,), kernel=3, hidden=(4,), outputs=3, activation=act)
        X = rng.standard_normal((4, 2, 5, 5))
    N = X.shape[0]
    Y = rng.standard_normal((N, 3)) if loss == "mse" else np.eye(3)[rng.integers(0, 3, N)]
    return NetworkObjective(net, xp.asarray(X), xp.asarray(Y), loss, alpha=alpha)


def _rel(a, b):
    a, b = to_numpy(a), to_numpy(b)
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("act,loss", [("tanh", "ce"), ("swish", "mse"), ("relu", "ce"), ("tanh", "mse")])
def test_gradient_and_hvp_match_finite_differences(xp, kind, act, loss):
    o = _problem(xp, kind, act, loss)
    # nonzero biases: with zero biases a ReLU pre-activation can sit exactly on the kink;
    # seed 6 keeps every pre-activation >= 0.02 away from it, far beyond the FD step
    th = o.initial(1) + xp.asarray(0.1 * np.random.default_rng(6).standard_normal(o.size))
    v = xp.asarray(np.random.default_rng(3).standard_normal(o.size))
    assert _rel(fd_gradient(o.value, th), o.gradient(th)) < 1e-7
    assert _rel(o.hvp_fd(th, v), o.hvp(th, v)) < 1e-7
    val, g = o.value_and_gradient(th)
    assert val == pytest.approx(o.value(th), rel=1e-14)
    assert _rel(g, o.gradient(th)) == 0.0


@functools.lru_cache(maxsize=None)
def _sympy_reference(act, loss):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((2, 2))
    Y = np.eye(2)[[0, 1]] if loss == "ce" else rng.standard_normal((2, 2))
    sym = mlp_loss([2, 2, 2], act, X.tolist(), Y.tolist(), loss, weight_decay=0.25)
    return SympyObjective(sym), X, Y


@pytest.mark.parametrize("act,loss", [("tanh", "ce"), ("swish", "mse")])
def test_tiny_network_against_sympy(xp, act, loss):
    so, X, Y = _sympy_reference(act, loss)
    no = NetworkObjective(mlp([2, 2, 2], act), xp.asarray(X), xp.asarray(Y), loss, alpha=0.25)
    assert so.size == no.size == 12
    th = no.initial(5) + 0.3  # nonzero biases too
    th_np = get_namespace("numpy").asarray(to_numpy(th))
    assert no.value(th) == pytest.approx(so.value(th_np), abs=1e-13)
    np.testing.assert_allclose(to_numpy(no.gradient(th)), to_numpy(so.gradient(th_np)), rtol=0, atol=1e-13)
    np.testing.assert_allclose(to_numpy(no.hessian(th)), to_numpy(so.hessian(th_np)), rtol=0, atol=1e-12)


def test_conv_layer_is_valid_correlation(xp):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 7))
    W = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    y, _ = Conv2d(3, 4, 3).forward(xp, [xp.asarray(W), xp.asarray(b)], xp.asarray(x))
    ref = np.zeros((2, 4, 4, 5))
    for i in range(3):
        for j in range(3):
            ref += np.einsum("fc,nchw->nfhw", W[:, :, i, j], x[:, :, i:i + 4, j:j + 5])
    ref += b[None, :, None, None]
    np.testing.assert_allclose(to_numpy(y), ref, rtol=1e-13, atol=1e-13)


def test_activation_derivatives():
    xp = get_namespace("numpy")
    z = xp.asarray(np.linspace(-3, 3, 13))
    h = 1e-5
    for name in ("tanh", "swish", "linear"):
        a = Activation(name, beta=1.7)
        _, d1, d2 = a.derivs(xp, z, 2)
        fp, _, _ = a.derivs(xp, z + h, 1)
        fm, _, _ = a.derivs(xp, z - h, 1)
        np.testing.assert_allclose(d1, (fp - fm) / (2 * h), atol=1e-9)
        _, gp, _ = a.derivs(xp, z + h, 1)
        _, gm, _ = a.derivs(xp, z - h, 1)
        np.testing.assert_allclose(d2, (gp - gm) / (2 * h), atol=1e-9)
    # Swish has r''(0) = beta/2 (first paper (18)); the sigmoid must not overflow far out
    _, _, d2 = Activation("swish", beta=1.7).derivs(xp, xp.asarray([0.0, -1e4, 1e4]), 2)
    assert d2[0] == pytest.approx(0.85, rel=1e-15) and np.all(np.isfinite(d2))


def test_weight_decay_and_layout(xp):
    o = _problem(xp, "mlp", "tanh", "ce", alpha=0.0)
    o2 = o.with_alpha(0.5)
    th = o.initial(2)
    v = xp.asarray(np.random.default_rng(1).standard_normal(o.size))
    assert _rel(o2.hvp(th, v) - o.hvp(th, v), 0.5 * v) < 1e-13
    assert o2.value(th) - o.value(th) == pytest.approx(0.25 * float(xp.sum(th * th)), rel=1e-12)
    assert o2.data_term().alpha == 0.0 and o2.alpha == 0.5
    net = o.net
    assert net.size == 3 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3
    parts = net.unflatten(xp, th)
    assert tuple(parts[0][0].shape) == (5, 3) and parts[1] == []
    assert _rel(net.flatten(xp, parts), th) == 0.0
    # seeded init is the same on every backend
    np.testing.assert_array_equal(to_numpy(net.init(4, xp)), to_numpy(net.init(4, "numpy")))


def test_float32_matches_float64():
    xp = get_namespace("numpy")
    o64 = _problem(xp, "cnn", "tanh", "ce")
    o32 = NetworkObjective(o64.net, xp.astype(o64.X, xp.float32), xp.astype(o64.Y, xp.float32), "ce", alpha=0.1)
    th = o64.initial(0)
    v = xp.asarray(np.random.default_rng(0).standard_normal(o64.size))
    g32 = o32.gradient(xp.astype(th, xp.float32))
    assert g32.dtype == xp.float32
    assert _rel(g32, o64.gradient(th)) < 2e-5
    assert _rel(o32.hvp(xp.astype(th, xp.float32), xp.astype(v, xp.float32)), o64.hvp(th, v)) < 2e-5


def test_bad_inputs(xp):
    rng = np.random.default_rng(0)
    net = mlp([3, 4, 2])
    X, Y = xp.asarray(rng.standard_normal((5, 3))), xp.asarray(rng.standard_normal((5, 2)))
    with pytest.raises(ParameterError, match=r"X: expected shape \(N, 3\)"):
        NetworkObjective(net, xp.asarray(rng.standard_normal((5, 4))), Y)
    with pytest.raises(ParameterError, match=r"Y: expected shape \(5, 2\)"):
        NetworkObjective(net, X, xp.asarray(rng.standard_normal((5, 3))))
    bad = to_numpy(X).copy()
    bad[1, 1] = np.nan
    with pytest.raises(ParameterError, match="X: contains NaN"):
        NetworkObjective(net, xp.asarray(bad), Y)
    with pytest.raises(ParameterError, match="alpha"):
        NetworkObjective(net, X, Y, alpha=-1.0)
    with pytest.raises(ParameterError, match="loss"):
        NetworkObjective(net, X, Y, loss="hinge")
    with pytest.raises(ParameterError, match="activation"):
        mlp([3, 4, 2], "gelu")
    with pytest.raises(ParameterError, match="kernel"):
        small_cnn((1, 4, 4), kernel=5)
    o = NetworkObjective(net, X, Y)
    with pytest.raises(ParameterError, match=rf"theta: expected a flat vector of shape \({net.size},\)"):
        o.gradient(xp.zeros(net.size + 1, dtype=xp.float64))
    with pytest.raises(ParameterError, match="theta: contains NaN"):
        o.hvp(xp.full(net.size, float("nan"), dtype=xp.float64), xp.zeros(net.size, dtype=xp.float64))


def test_subset_is_the_objective_on_those_rows():
    from workbench.solvers.nets.datasets import spirals

    xp = get_namespace("numpy")
    d = spirals(40, seed=1, xp=xp)
    obj = NetworkObjective(mlp([2, 6, 2]), d.X, d.Y, "mse", alpha=0.01)
    th = obj.initial(3)
    idx = np.array([5, 0, 17, 17, 39])
    direct = NetworkObjective(obj.net, d.X[idx], d.Y[idx], "mse", alpha=0.01)
    sub = obj.subset(idx)
    assert sub.n_samples == 5 and obj.n_samples == 40
    np.testing.assert_allclose(sub.gradient(th), direct.gradient(th), rtol=1e-14, atol=0)
    assert sub.value(th) == pytest.approx(direct.value(th), rel=1e-14)
    assert abs(sub.value(th) - obj.value(th)) > 1e-6       # not the full objective
    for bad in (np.array([], dtype=int), np.array([0.5]), np.array([40]), np.array([-1])):
        with pytest.raises(ParameterError, match="idx"):
            obj.subset(bad)


def test_numpy_fast_path_is_bit_identical():
    """The NumPy hot-path shim (networks._NumpyFast) changes no bit of value, gradient or HVP."""
    import array_api_compat.numpy as npx

    from workbench.solvers.nets.networks import NetworkObjective, mlp, small_cnn

    rng = np.random.default_rng(3)
    cases = [(mlp([3, 7, 5, 2], "tanh"), rng.standard_normal((9, 3)), np.eye(2)[rng.integers(0, 2, 9)], "ce"),
             (small_cnn((1, 6, 6), (2,), 3, (4,), 3, "swish"), rng.standard_normal((5, 1, 6, 6)),
              rng.standard_normal((5, 3)), "mse")]
    for net, X, Y, loss in cases:
        o = NetworkObjective(net, npx.asarray(X), npx.asarray(Y), loss, alpha=1e-2)
        th, v = o.initial(1), npx.asarray(rng.standard_normal(o.size))
        fast = (o.value(th), o.gradient(th), o.hvp(th, v))
        assert type(o._fx).__name__ == "_NumpyFast"
        o._fx = o.xp                                     # the plain array-api-compat namespace
        plain = (o.value(th), o.gradient(th), o.hvp(th, v))
        assert fast[0] == plain[0]
        assert np.array_equal(fast[1], plain[1]) and np.array_equal(fast[2], plain[2])

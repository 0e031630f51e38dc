"""wb.from_jax: exact gradient and HVP against jax.hessian, sharpness, Lanczos on JAX arrays, EoS, bad input.

Skipped when JAX is not installed (the ``jax`` extra). float64 needs x64, enabled here.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

import workbench as wb  # noqa: E402
from workbench.solvers.core.checks import ParameterError  # noqa: E402
from workbench.solvers.linalg.hessian import lanczos  # noqa: E402


def _mlp_loss(p, X, Y):
    h = X
    for k, (W, b) in enumerate(p):
        h = h @ W + b
        if k < len(p) - 1:
            h = jnp.tanh(h)
    return 0.5 * jnp.mean(jnp.sum((h - Y) ** 2, axis=1))


def _problem(dtype, sizes=(3, 8, 2), n=20, seed=0, scale=0.7):
    rng = np.random.default_rng(seed)
    params = [(jnp.asarray(rng.standard_normal((i, o)) * scale, dtype=dtype),
               jnp.asarray(rng.standard_normal(o) * scale, dtype=dtype)) for i, o in zip(sizes[:-1], sizes[1:])]
    X = jnp.asarray(rng.standard_normal((n, sizes[0])), dtype=dtype)
    Y = jnp.asarray(rng.standard_normal((n, sizes[-1])), dtype=dtype)
    return params, X, Y


@functools.cache
def _mlp(dtype):
    """The 3-8-2 MLP objective of one dtype, built once per test run: its jitted functions compile once (issue 26).

    Tests only read it (an objective holds no state that its methods change).
    """
    params, X, Y = _problem(dtype)
    return wb.from_jax(_mlp_loss, params, X, Y), params, X, Y


@pytest.mark.parametrize("dtype, rtol", [(jnp.float64, 1e-10), (jnp.float32, 1e-4)])
def test_gradient_hvp_and_sharpness_against_dense_hessian(dtype, rtol):
    obj, params, X, Y = _mlp(dtype)
    th = obj.theta0
    assert obj.size == 50 and obj.dtype == dtype and th.dtype == dtype
    from jax.flatten_util import ravel_pytree

    unravel = ravel_pytree(params)[1]
    E = lambda t: _mlp_loss(unravel(t), X, Y)  # noqa: E731 - the independent dense route
    H = jax.hessian(E)(th)
    g_ref = jax.grad(E)(th)
    f, g = obj.value_and_gradient(th)
    assert f == pytest.approx(float(E(th)), rel=rtol)
    assert float(jnp.linalg.norm(g - g_ref) / jnp.linalg.norm(g_ref)) <= rtol
    rng = np.random.default_rng(1)
    for _ in range(3):
        v = jnp.asarray(rng.standard_normal(obj.size), dtype=dtype)
        hv = obj.hvp(th, v)
        assert isinstance(hv, jax.Array) and hv.dtype == dtype
        assert float(jnp.linalg.norm(hv - H @ v) / jnp.linalg.norm(H @ v)) <= rtol
    lam = np.linalg.eigvalsh(np.asarray(H, dtype=np.float64))[::-1]
    r = wb.sharpness(obj, k=3, method="lanczos")
    assert isinstance(r.vectors, jax.Array) and r.vectors.dtype == dtype
    np.testing.assert_allclose(r.values, lam[:3], rtol=10 * rtol)
    assert wb.sharpness(obj).values[0] == pytest.approx(lam[0], rel=10 * rtol)


def test_lanczos_functional_path_on_jax_arrays():
    """Immutable arrays: the basis is kept as rows (no in-place writes); past 32 steps too."""
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.standard_normal((80, 80)))
    lam = np.linspace(-1.0, 4.0, 80)
    A = jnp.asarray(Q @ np.diag(lam) @ Q.T)
    r = lanczos(lambda v: A @ v, 80, jnp, jnp.float64, k=2, tol=1e-10, max_steps=80)
    np.testing.assert_allclose(r.values, [4.0, lam[-2]], rtol=1e-9)
    assert r.matvecs > 32 and isinstance(r.vectors, jax.Array)


def test_layout_and_unflatten():
    obj, params, X, Y = _mlp(jnp.float64)
    back = obj.unflatten(obj.theta0 * 2)
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(params)
    np.testing.assert_array_equal(np.asarray(back[0][0]), 2 * np.asarray(params[0][0]))
    np.testing.assert_array_equal(np.asarray(obj.flatten(back)), 2 * np.asarray(obj.theta0))


def test_bad_input_names_the_parameter():
    params, X, Y = _problem(jnp.float64)
    with pytest.raises(ParameterError, match="params: the pytree has no leaves"):
        wb.from_jax(_mlp_loss, [], X, Y)
    with pytest.raises(ParameterError, match=r"loss_fn: returned shape \(20,\), expected a scalar"):
        wb.from_jax(lambda p, X, Y: jnp.sum(X @ p[0][0], axis=1), params, X, Y)
    with pytest.raises(ParameterError, match="params: a leaf has dtype int"):
        wb.from_jax(_mlp_loss, [(jnp.ones((3, 2), dtype=jnp.int32), jnp.zeros(2))], X, Y)
    obj = _mlp(jnp.float64)[0]
    with pytest.raises(ParameterError, match=r"theta: expected a flat vector of shape \(50,\)"):
        obj.gradient(jnp.zeros(51))
    with pytest.raises(ParameterError, match="theta: has dtype float32 but the objective computes in float64"):
        wb.sharpness(obj, jnp.zeros(50, dtype=jnp.float32))
    with pytest.raises(ParameterError, match="theta: contains NaN"):
        obj.hvp(jnp.full(50, jnp.nan), obj.theta0)


def test_max_stable_lr_and_principal_flow():
    obj = _mlp(jnp.float64)[0]
    lam = wb.sharpness(obj).values[0]
    assert wb.max_stable_lr(obj) == pytest.approx(2 / lam, rel=1e-6)
    assert wb.max_stable_lr(obj, scheme="heavy-ball", momentum=0.9) == pytest.approx(3.8 / lam, rel=1e-6)
    h = 0.5 / lam
    r = wb.principal_flow(obj, h=h, times=[0.0, h])
    th0 = np.asarray(obj.theta0)
    gd = th0 - h * np.asarray(obj.gradient(obj.theta0))
    assert not r.diverged and np.linalg.norm(r.theta[-1] - gd) < 0.05 * np.linalg.norm(gd - th0)


def _eos_objective(seed=1, width=32, n=64):
    rng = np.random.default_rng(seed)
    sizes = (4, width, width, 1)
    X = rng.standard_normal((n, sizes[0]))
    Y = np.sin(2 * X @ rng.standard_normal((sizes[0], 1)))
    params = [(rng.standard_normal((i, o)) / np.sqrt(i), np.zeros(o)) for i, o in zip(sizes[:-1], sizes[1:])]
    params = jax.tree_util.tree_map(jnp.asarray, params)
    return wb.from_jax(_mlp_loss, params, X, Y)


def test_edge_of_stability_reduced():
    """The default suite's reduced run: progressive sharpening carries λ_max from 0.59·2/η up to 2/η."""
    obj = _eos_objective()
    eta = 2.0 / (1.7 * wb.sharpness(obj).values[0])
    run = wb.train(obj, lr=eta, steps=150, track=("sharpness",), every=50, sharpness_tol=1e-4)
    s = run.column("sharpness") / run.threshold
    assert not run.diverged and s[0] == pytest.approx(1 / 1.7, rel=1e-3) and s.max() >= 0.95


@pytest.mark.slow
def test_edge_of_stability_run_settles_at_two_over_eta():
    """Progressive sharpening, then λ_max hovers at 2/η (Cohen et al. 2021): within 10% in the second half.

    Slow: ~15 s on a loaded 2-core machine, mostly XLA compilation and the host copy per step.
    """
    obj = _eos_objective()
    eta = 2.0 / (1.7 * wb.sharpness(obj).values[0])
    run = wb.train(obj, lr=eta, steps=800, track=("loss", "sharpness", "directional_smoothness"), every=40,
                   sharpness_tol=1e-4)
    assert not run.diverged and run.steps_done == 800
    s = run.column("sharpness")
    assert s[0] < 0.7 * run.threshold
    second = s[run.column("step") >= 400]
    assert len(second) >= 10 and np.all(np.abs(second / run.threshold - 1.0) <= 0.10)
    assert run.records[-1]["loss"] < 0.1 * run.records[0]["loss"]
    assert isinstance(run.theta, jax.Array) and run.theta.shape == (obj.size,)


@pytest.mark.parametrize("loss, match", [
    (lambda p, X, Y: jnp.mean((X @ jax.lax.stop_gradient(p["w"]) - Y) ** 2), "loss_fn: the loss has no gradient path"),
    (lambda p, X, Y: jnp.mean((X @ p["w"] - Y) ** 2) * jnp.nan, "loss_fn: the loss at the given parameters is nan"),
])
def test_losses_without_gradient_or_finite_value_are_refused(loss, match):
    X = jnp.ones((4, 3))
    Y = jnp.zeros((4,))
    with pytest.raises(ParameterError, match=match):
        wb.from_jax(loss, {"w": jnp.ones(3)}, X, Y)


def test_a_named_optax_chain_is_a_registered_scheme_with_its_limit():
    A = jnp.asarray(np.diag([4.0, 1.0]), dtype=jnp.float32)
    obj = wb.from_jax(lambda p: 0.5 * p["w"] @ A @ p["w"], {"w": jnp.ones(2, dtype=jnp.float32)})
    chain = [("add_decayed_weights", {"weight_decay": 0.01}),
             ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True})]
    s = wb.scheme_of(chain)
    assert (s.scheme, s.params, s.lr) == ("nesterov-lookahead", {"mu": 0.9, "weight_decay": 0.01}, 0.1)
    assert wb.max_stable_lr(obj, optimizer=chain) == pytest.approx(2 * 1.9 / (2.8 * 4.01), rel=1e-5)
    assert wb.scheme_of([("adamw", {"learning_rate": 1e-3})]).params["decay"] == pytest.approx(1e-7)
    with pytest.raises(ParameterError, match="optimizer: optax.adam's preconditioner lives in its opt_state"):
        wb.max_stable_lr(obj, optimizer=[("adam", {"learning_rate": 1e-3})])
    with pytest.raises(ParameterError, match="optimizer: optax.lamb is not supported"):
        wb.scheme_of([("lamb", {"learning_rate": 1e-3})])
    with pytest.raises(ParameterError, match="optimizer: optax.sgd has no keyword 'beta'"):
        wb.scheme_of([("sgd", {"learning_rate": 0.1, "beta": 0.9})])

"""Nesterov's semi-implicit scheme (37)-(38) on the windowed CNN: parameters, references, bounds."""
from __future__ import annotations

import numpy as np
import pytest

import array_api_compat.numpy as npx
from solvers.backend import to_numpy
from solvers.bounds import compute_bounds, exact_bounds, simulated_bounds
from solvers.checks import ParameterError
from solvers.correlation import CnnOperator
from solvers.images import checkerboard, smooth
from solvers.momentum import momentum_params, run_nesterov_linear, run_nesterov_nonlinear
from solvers.schemes import run_linear, run_nonlinear


def test_momentum_params_both_ways():
    p = momentum_params(1e-4, momentum=0.9)
    assert p.damping == pytest.approx(0.2 / 1.9e-4, rel=1e-14)
    assert p.eta == pytest.approx(9.5e-9, rel=1e-12)
    q = momentum_params(1e-4, damping=p.damping)
    assert q.momentum == pytest.approx(0.9, rel=1e-14) and q.eta == pytest.approx(p.eta, rel=1e-14)
    assert momentum_params(1e-3).momentum == 0.9                  # the paper's default
    z = momentum_params(0.1, momentum=0.0)
    assert z.damping == pytest.approx(20.0) and z.eta == pytest.approx(0.1 ** 2 / 2)   # η = Δt²(1+μ)/2


@pytest.mark.parametrize("kw, match", [
    ({"momentum": 1.0}, "momentum: must lie in"), ({"momentum": -0.1}, "momentum: must lie in"),
    ({"momentum": float("nan")}, "momentum"), ({"damping": -1.0}, "damping: d must be >= 0"),
    ({"damping": 0.0}, "damping: d = 0"), ({"damping": 3e4}, "damping: d\\*dt"),
    ({"momentum": 0.5, "damping": 1.0}, "either momentum or damping"),
])
def test_momentum_params_bad_input(kw, match):
    with pytest.raises(ParameterError, match=match):
        momentum_params(1e-4, **kw)
    with pytest.raises(ParameterError, match="dt"):
        momentum_params(0.0, momentum=0.5)


def test_zero_momentum_is_forward_euler_bit_for_bit(xp):
    op = CnnOperator(xp.asarray(smooth(16, 1)), 4)
    p = momentum_params(0.02, momentum=0.0)
    alphas = [5.0, 50.0, 4000.0]
    nes = run_nesterov_linear(op, alphas, 0.02, momentum=0.0, steps=30)
    eul = run_linear(op, alphas, p.eta, steps=30)
    assert np.array_equal(to_numpy(nes.kernel), to_numpy(eul.kernel))
    assert np.array_equal(nes.diverged, eul.diverged)
    nes = run_nesterov_nonlinear(op, alphas, 0.02, momentum=0.0, steps=30)
    eul = run_nonlinear(op, alphas, p.eta, steps=30)
    assert np.array_equal(to_numpy(nes.kernel), to_numpy(eul.kernel))


def test_linear_nesterov_matches_dense_reference(xp, rng):
    img = rng.standard_normal((12, 12))
    op = CnnOperator(xp.asarray(img), 4)
    g, c = op.gram_dense(), to_numpy(op.patch_sum()).ravel()
    a, beta, dt, mom = -0.5, 1.2, 0.05, 0.8
    p = momentum_params(dt, momentum=mom)
    alphas = np.array([1.0, 30.0, 300.0])
    k0 = rng.standard_normal((4, 4))
    res = run_nesterov_linear(op, alphas, dt, a, beta, momentum=mom, steps=25, K0=xp.asarray(k0))
    ref = np.tile(k0.ravel(), (3, 1))
    prev = ref.copy()
    for _ in range(25):
        v = ref + mom * (ref - prev)
        prev = ref
        ref = v - p.eta * (0.5 * a * (c + beta * v @ g) + alphas[:, None] * v)
    got = to_numpy(res.kernel).reshape(3, -1)
    live = ~res.diverged
    np.testing.assert_allclose(got[live], ref[live], rtol=1e-10, atol=1e-12)
    assert res.extra["momentum"] == mom and res.extra["d"] == pytest.approx(p.damping)


def _max_root(h: np.ndarray, mom: float) -> np.ndarray:
    # p(ξ) = ξ² − (1 − h)(1 + μ)ξ + (1 − h)μ per eigen-mode, h = ηz
    return np.array([max(abs(np.roots([1.0, -(1 - x) * (1 + mom), (1 - x) * mom]))) for x in h])


def test_exact_windowed_bounds_are_where_an_eigenmode_leaves_the_unit_disk(rng):
    # independent of the analyzer: numpy roots of every eigen-mode's polynomial at the bounds ± 0.1 %
    op = CnnOperator(npx.asarray(rng.standard_normal((14, 14))), 5)
    lam = np.linalg.eigvalsh(op.gram_dense())
    dt, a, beta, mom = 0.01, -0.5, 1.0, 0.9
    p = momentum_params(dt, momentum=mom)
    ex = exact_bounds(op, dt, a, beta, scheme="nesterov", momentum=mom)
    for bound, inside in ((ex["alpha_lower"], +1), (ex["alpha_upper"], -1)):
        for f, stable in ((1 + inside * 1e-3, True), (1 - inside * 1e-3, False)):
            z = bound * f + 0.5 * a * beta * lam
            assert (_max_root(p.eta * z, mom).max() < 1) == stable, (bound, f)


def test_simulated_nesterov_bounds_agree_with_exact():
    op = CnnOperator(npx.asarray(checkerboard(48)), 8)
    ex = exact_bounds(op, 1e-3, scheme="nesterov", momentum=0.9)
    sim = simulated_bounds(op, 1e-3, scheme="nesterov", momentum=0.9, rtol=1e-3, steps=800)
    for k in ("lower", "upper"):
        assert abs(sim[f"alpha_{k}"] - ex[f"alpha_{k}"]) <= 1e-3 * abs(ex[f"alpha_{k}"]), k
    assert "note" not in sim


def test_compute_bounds_nesterov_contract():
    r = compute_bounds(checkerboard(32), 6, 1e-3, scheme="nesterov", momentum=0.5, methods=("theory", "theory_exact",
                                                                                               "exact"))
    assert r["scheme"] == "nesterov" and r["momentum"] == 0.5
    assert r["d"] == pytest.approx(2 * 0.5 / (1.5 * 1e-3)) and r["eta"] == pytest.approx(1e-6 * 1.5 / 2)
    # paper (45): z < 4/(3Δt²); exact: z < 4/((1+2μ)Δt²): the ratio 3/(1+2μ) = 1.5 at μ = 0.5
    assert r["theory"]["z_upper"] == pytest.approx(4 / 3e-6)
    assert r["theory_exact"]["z_upper"] / r["theory"]["z_upper"] == pytest.approx(1.5, rel=1e-12)
    assert r["theory"]["alpha_lower"] == r["theory_exact"]["alpha_lower"]
    with pytest.raises(ParameterError, match="momentum: only the nesterov"):
        compute_bounds(checkerboard(32), 6, 1e-3, momentum=0.9)
    with pytest.raises(ParameterError, match="scheme: unknown"):
        compute_bounds(checkerboard(32), 6, 1e-3, scheme="adam")


def test_nonlinear_nesterov_converges_inside_and_diverges_outside():
    op = CnnOperator(npx.asarray(smooth(24, 3)), 6)
    dt = 0.05
    p = momentum_params(dt, momentum=0.9)
    z_hi = 4 / ((1 + 2 * 0.9) * dt ** 2)            # the exact region's end for μ = 0.9
    res = run_nesterov_nonlinear(op, [0.2 * z_hi, 1.5 * z_hi], dt, momentum=0.9, steps=400)
    assert not res.diverged[0] and res.diverged[1]
    assert res.reason[1] in ("growth", "blowup", "nonfinite")
    assert res.extra["eta"] == pytest.approx(p.eta)

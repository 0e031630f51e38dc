"""α bounds three ways: theory (26)-(27), exact windowed, simulated (first paper, appendix D.3)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import array_api_compat.numpy as npx
from workbench.solvers.cnn.bounds import alpha_bounds_from_spectrum, compute_bounds, exact_bounds, theory_bounds
from workbench.solvers.cnn.simulated import simulated_bounds
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.cnn.images import checkerboard, noise, smooth
from workbench.solvers.stepping.optimizers import resolve


def G(dt):
    """gd (forward Euler (21)) with step dt."""
    return resolve("gd", dt)


@pytest.mark.parametrize("a", [-0.5, -2.0, 0.7])
def test_bounds_formula_both_signs(a):
    dt, beta, pmin, pmax = 1e-3, 1.5, 2.0, 50.0
    s = 0.5 * a * beta
    lo, hi = alpha_bounds_from_spectrum(G(dt), a, beta, pmin, pmax)
    # stable iff 0 < alpha + s*P < 2/dt for every P in [pmin, pmax]
    assert lo == pytest.approx(max(-s * pmin, -s * pmax), rel=1e-15)
    assert hi == pytest.approx(min(2 / dt - s * pmin, 2 / dt - s * pmax), rel=1e-15)
    if a < 0:  # the paper's (26)-(27)
        assert lo == pytest.approx(-s * pmax) and hi == pytest.approx(2 / dt - s * pmin)


def test_periodic_full_window_theory_equals_exact(xp):
    img = noise(12, 5)
    op = CnnOperator(xp.asarray(img), 12, "periodic")
    th, ex = theory_bounds(op, G(1e-3)), exact_bounds(op, G(1e-3), eig_method="lanczos", rtol=1e-12)
    assert ex["alpha_lower"] == pytest.approx(th["alpha_lower"], rel=1e-9)
    assert ex["alpha_upper"] == pytest.approx(th["alpha_upper"], rel=1e-9)


def test_windowed_interval_contains_theory_interval(xp):
    op = CnnOperator(xp.asarray(smooth(24, 2)), 6, "periodic")
    th, ex = theory_bounds(op, G(1e-4)), exact_bounds(op, G(1e-4))
    assert ex["alpha_lower"] <= th["alpha_lower"] * (1 + 1e-12)
    assert ex["alpha_upper"] >= th["alpha_upper"] * (1 - 1e-12)
    assert ex["mu_max"] < th["P_max"]  # strictly inside for a non-trivial image


def test_checkerboard_closed_form():
    n, w, dt = 48, 12, 1e-6
    op = CnnOperator(npx.asarray(checkerboard(n)), w)
    ex = exact_bounds(op, G(dt))
    assert ex["alpha_lower"] == pytest.approx(0.25 * (n - w + 1) ** 2 * w ** 2, rel=1e-12)
    assert ex["alpha_upper"] == pytest.approx(2 / dt, rel=1e-12)
    th = theory_bounds(op, G(dt))
    assert th["alpha_lower"] == pytest.approx(0.25 * n ** 4, rel=1e-12)  # max|I^|^2 = n^4 at (pi, pi)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(8, 14), w=st.integers(2, 4),
       kind=st.sampled_from(["noise", "smooth"]), mode=st.sampled_from(["valid", "periodic"]))
def test_simulated_matches_exact_on_random_images(seed, n, w, kind, mode):
    img = noise(n, seed) if kind == "noise" else smooth(n, seed)
    op = CnnOperator(npx.asarray(img), w, mode)
    ex = exact_bounds(op, G(1.0))
    dt = 1.0 / (0.25 * ex["mu_max"])  # puts the lower bound at 1/dt, inside (0, 2/dt)
    ex = exact_bounds(op, G(dt))
    rtol = 1e-2
    sim = simulated_bounds(op, G(dt), rtol=rtol, steps=1500)
    for key in ("alpha_lower", "alpha_upper"):
        assert abs(sim[key] - ex[key]) <= rtol * abs(ex[key]), (key, sim, ex)


def test_fft_and_matrix_operators_agree():
    op = CnnOperator(npx.asarray(smooth(20, 3)), 4)
    dt = 1.0 / (0.25 * exact_bounds(op, G(1.0))["mu_max"])
    a = simulated_bounds(op, G(dt), rtol=1e-2, steps=400, operator="fft")
    b = simulated_bounds(op, G(dt), rtol=1e-2, steps=400, operator="matrix")
    assert a["operator"] == "fft" and b["operator"] == "matrix"
    assert a["alpha_lower"] == pytest.approx(b["alpha_lower"], rel=1e-12)
    assert a["alpha_upper"] == pytest.approx(b["alpha_upper"], rel=1e-12)


def test_simulated_reports_empty_stable_set():
    # a > 0 with this spectrum: lower bound > upper bound, nothing is stable
    op = CnnOperator(npx.asarray(checkerboard(16)), 4)
    mu_max = 13 ** 2 * 16
    dt = 4.0 / (0.5 * mu_max)
    sim = simulated_bounds(op, G(dt), a=-1.0, rtol=1e-2, steps=200)
    ex = exact_bounds(op, G(dt), a=-1.0)
    assert ex["alpha_lower"] > ex["alpha_upper"] and ex["empty"]
    assert math.isnan(sim["alpha_lower"]) and sim["empty"] and "no stable value" in sim["note"]


def test_compute_bounds_contract():
    r = compute_bounds(checkerboard(32), 8, 1e-5, steps=300, rtol=1e-2)
    text = json.dumps(r, allow_nan=False) if all(math.isfinite(r[m][k]) for m in ("theory", "exact", "simulated")
                                                   for k in ("alpha_lower", "alpha_upper")) else None
    assert text is not None
    for key in ("kernel", "scheme", "dt", "a", "beta", "mode"):
        assert key in r
    assert r["scheme"] == "gd" and r["lr"] == 1e-5 and r["mode"] == "valid" and r["kernel"] == 8
    assert not r["exact"]["empty"] and not r["simulated"]["empty"]
    assert r["theory"]["empty"] and r["theory"]["alpha_lower"] > r["theory"]["alpha_upper"]   # n^4/4 > 2/dt here
    for m in ("theory", "exact", "simulated"):
        assert set(r[m]) >= {"alpha_lower", "alpha_upper"}
    assert r["simulated"]["rtol"] == 1e-2


@pytest.mark.parametrize("kw,msg", [
    ({"rtol": 1.5}, "rtol: must be < 1"),
    ({"methods": ("theory", "guess")}, "methods: unknown"),
    ({"backend": "torch"}, "backend: unknown backend"),
    ({"mode": "same"}, "mode: unknown"),
    ({"dt": 0}, "dt: must lie in"),
    ({"beta": -1}, "beta: must be finite and > 0"),
])
def test_compute_bounds_bad_input(kw, msg):
    args = {"dt": 1e-5} | kw
    dt = args.pop("dt")
    with pytest.raises(ParameterError, match=msg):
        compute_bounds(checkerboard(16), 4, dt, **args)


def test_kernel_too_large():
    with pytest.raises(ParameterError, match="kernel: size 20 is larger"):
        compute_bounds(checkerboard(16), 20, 1e-5)


def test_unresolvable_edge_is_reported_as_finite_horizon():
    # a generic image at a tiny step: one step moves a mode at the lower edge by ~1e-7, 400 steps cannot show it
    r = compute_bounds(noise(16, 0), 4, 1e-6, steps=400, rtol=1e-3)
    sim = r["simulated"]
    assert sim["horizon_steps"]["lower"] > 1e6 and sim["horizon_steps"]["upper"] < 400 * 5
    # the lower edge (exact 66.8) is within the resolution 400 steps allow (~2.5e3): said so, with that resolution
    assert any("finite horizon" in n and "resolve" in n for n in sim["notes"]) and not sim["seeded"]
    assert abs(sim["alpha_lower"] - r["exact"]["alpha_lower"]) < 2.5e3
    assert sim["alpha_upper"] == r["exact"]["alpha_upper"]          # the upper edge is confirmed

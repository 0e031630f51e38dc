"""Simulated α bounds over long horizons: repeated squaring against stepping, confirmation, unresolved edges."""
from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.solvers.core.backend import get_namespace
from workbench.solvers.cnn.bounds import compute_bounds, exact_bounds, resolve_scheme
from workbench.solvers.cnn.correlation import CnnOperator, DenseGram
from workbench.solvers.cnn.images import noise
from workbench.solvers.cnn.schemes import run_cnn
from workbench.solvers.cnn.simulated import simulated_bounds
from workbench.solvers.stepping.divergence import DivergenceCriterion, classify
from workbench.solvers.stepping.powers import power_classify

npx = get_namespace("numpy")


def _stepped(t: np.ndarray, d0: np.ndarray, steps: int) -> tuple[bool, str]:
    """Slow reference: δ ↦ Tδ stepped ``steps`` times, classified by divergence.classify."""
    inc, v = np.empty((steps, 1)), d0.copy()
    for k in range(steps):
        inc[k, 0] = np.linalg.norm(v)
        if inc[k, 0] > 1e8 * inc[0, 0]:                  # the stepper freezes a blown-up member
            return True, "blowup"
        v = t @ v
    blown = np.zeros(1, bool)
    d, reason, _, _ = classify(inc, np.ones((steps + 1, 1)), np.zeros(1, bool), blown, 0.0, DivergenceCriterion())
    return bool(d[0]), reason[0]


@pytest.mark.parametrize("top", [1 + 3e-3, 1 - 3e-3, 1 + 2e-4, -1.002, 0.5, 1.5])
def test_powers_classify_as_stepping_does(top):
    rng = np.random.default_rng(0)
    n = 24
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    ev = np.concatenate([rng.uniform(-0.9, 0.99, n - 1), [top]])
    t = (q * ev) @ q.T
    t = 0.5 * (t + t.T)
    d0 = rng.standard_normal(n)
    r = power_classify([npx.asarray(t)], [npx.asarray(d0)], npx, min_steps=1000, max_steps=2 ** 20)
    assert r.steps == 1024
    want = _stepped(t, d0, r.steps)
    assert (bool(r.diverged[0]), r.reason[0] if r.reason[0] != "blowup" else "blowup") == want or (
        want[0] and r.diverged[0])                       # diverged either way (blow-up seen at a power of two)
    assert bool(r.diverged[0]) == (abs(top) > 1)


def test_powers_double_the_horizon_until_the_outside_member_diverges():
    rng = np.random.default_rng(1)
    n = 16
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    # a growing mode of rate 1e-5 per step, hidden under slowly decaying neighbours
    ev = np.concatenate([1 - np.geomspace(2e-5, 0.5, n - 1), [1 + 1e-5]])
    t = (q * ev) @ q.T
    t = 0.5 * (t + t.T)
    d0 = q @ np.concatenate([np.ones(n - 1), [1e-3]])
    r = power_classify([npx.asarray(t)], [npx.asarray(d0)], npx, min_steps=1000, max_steps=2 ** 24,
                       stop=lambda d: bool(d[0]))
    assert r.diverged[0] and r.steps > 1024
    assert _stepped(t, d0, r.steps // 2) == (False, "")  # half that horizon does not show it: the doubling was needed


def test_generic_image_edges_confirmed_over_their_horizon():
    # noise: a dense top of the spectrum; the lower edge (153) needs ~1.3e4 steps, more than the 1000 given
    op = CnnOperator(npx.asarray(noise(24, 0)), 4)
    res = resolve_scheme("gd", 1e-3)
    ex = exact_bounds(op, res)
    sim = simulated_bounds(op, res, rtol=1e-3, steps=1000, guess={k: ex[f"alpha_{k}"] for k in ("lower", "upper")})
    assert sim["seeded"] and sim["unresolved"] == []
    assert sim["horizon_steps"]["lower"] > 1000 and sim["steps_run"]["lower"] >= sim["horizon_steps"]["lower"]
    assert sim["path"]["lower"] == "powers"
    for k in ("lower", "upper"):
        assert abs(sim[f"alpha_{k}"] - ex[f"alpha_{k}"]) <= 1e-3 * abs(ex[f"alpha_{k}"])
    # slow reference: the stepper on the same pair over the same horizon classifies it the same way
    inner, outer = sim["bracket_lower"][1], sim["bracket_lower"][0]
    r = run_cnn(DenseGram(op), [inner, outer], scheme=res, steps=sim["steps_run"]["lower"])
    assert list(r.diverged) == [False, True]


def test_unsearched_prediction_places_the_scan():
    # without a guess and without confirmation: a scan on the predicted interval, then bisection
    op = CnnOperator(npx.asarray(noise(24, 0)), 4)
    res = resolve_scheme("gd", 1e-4)
    ex = exact_bounds(op, res)
    sim = simulated_bounds(op, res, rtol=1e-3, steps=1000, confirm=False)
    assert not sim["seeded"] and sim["runs"] > 4
    assert any("search on" in n for n in sim["notes"])
    for k in ("lower", "upper"):
        assert abs(sim[f"alpha_{k}"] - ex[f"alpha_{k}"]) <= 1e-3 * abs(ex[f"alpha_{k}"]), k


def test_edge_out_of_the_budget_is_reported_unresolved_not_searched():
    # FFT stepping with a small work budget cannot reach the lower edge's horizon: nan and the horizon it needs
    r = compute_bounds(noise(24, 0), 4, 1e-4, operator="fft", work=3e8, methods=("exact", "simulated"))
    sim = r["simulated"]
    assert sim["unresolved"] == ["lower"] and math.isnan(sim["alpha_lower"])
    assert sim["bracket_lower"] == [None, None]
    assert any("unresolved" in n and "needs" in n for n in sim["notes"])
    assert abs(sim["alpha_upper"] - r["exact"]["alpha_upper"]) <= 1e-3 * r["exact"]["alpha_upper"]


def test_bad_budgets_are_refused():
    op = CnnOperator(npx.asarray(noise(16, 0)), 3)
    res = resolve_scheme("gd", 1e-4)
    with pytest.raises(Exception, match="max_steps"):
        simulated_bounds(op, res, steps=1000, max_steps=500)
    with pytest.raises(Exception, match="work"):
        simulated_bounds(op, res, work=0.0)

"""Perturbed gradient descent p ← p − (lr·k)·(d/k): rounding, batching, divergence, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.solvers.core.backend import to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.cnn.images import checkerboard, smooth
from workbench.solvers.cnn.perturbation import check_ks, history_bytes, relative_l1, relative_l2, run_perturbed
from workbench.solvers.cnn.schemes import initial_kernel, nonlinear_step

PRECISIONS = ["float64", "float32"]


def _board(xp, prec, n=32, w=8):
    return CnnOperator(xp.asarray(checkerboard(n), dtype=getattr(xp, prec)), w)


@pytest.mark.parametrize("prec", PRECISIONS)
def test_power_of_two_factors_give_bit_identical_trajectories(xp, prec):
    op = _board(xp, prec)
    ks = (1, 2, 4, 8, 3, 6, 12, 5, 10)
    r = run_perturbed(op, [0.07], ks, 20.0, 0, steps=80)
    K = r.final_kernels()
    row = {int(k): K[r.index(0, i)] for i, k in enumerate(r.ks)}
    for group in ((1, 2, 4, 8), (3, 6, 12), (5, 10)):
        for k in group[1:]:
            assert np.array_equal(row[k], row[group[0]]), (prec, k, group[0])
    # the whole trajectory, not only the end: zero divergence from k = 1 at every iteration
    for k in (2, 4, 8):
        assert np.all(r.rel_l1[:, r.index(0, list(r.ks).index(k))] == 0.0)
    # the groups differ from one another (the restrained regime amplifies the last-bit difference)
    assert not np.array_equal(row[1], row[3])
    assert not np.array_equal(row[1], row[5])
    assert not np.array_equal(row[3], row[5])


@pytest.mark.parametrize("prec", PRECISIONS)
def test_k3_differs_from_k1_in_the_last_bits_after_one_step(xp, prec):
    op = CnnOperator(xp.asarray(smooth(24, seed=2), dtype=getattr(xp, prec)), 5)
    r = run_perturbed(op, [0.07], (1, 3), 0.5, 0, steps=1)
    K = r.final_kernels().astype(np.float64)
    k1, k3 = K[r.index(0, 0)], K[r.index(0, 1)]
    diff = np.abs(k1 - k3)
    assert np.any(diff > 0), "k = 3 must round differently from k = 1"
    eps = np.finfo(getattr(np, prec)).eps
    # last bits only: a few ulps of the iterate (the update lr·d is rounded three times, not once)
    assert np.all(diff <= 4 * eps * np.maximum(np.abs(k1), np.abs(k3))), np.max(diff / np.abs(k1))
    # k = 1 is the unperturbed scheme (13), bit for bit
    K0 = initial_kernel(op, 1, 0)
    al = xp.full((1, 1, 1), 0.5, dtype=op.dtype)
    ref = to_numpy(nonlinear_step(op, K0, al, 0.07, 1.0, 0.0, 1.0))[0]
    assert np.array_equal(ref, r.final_kernels()[r.index(0, 0)])


def test_batched_grid_equals_one_member_at_a_time(xp):
    op = _board(xp, "float64", n=24, w=6)
    lrs, ks, alphas, seeds = [0.03, 0.11], [1, 3], [20.0, 5.0], [0, 4]
    r = run_perturbed(op, lrs, ks, alphas, seeds, steps=40)
    assert r.shape == (2, 2, 2, 2) and r.members == 16
    Kb = r.final_kernels()
    for il, lr in enumerate(lrs):
        for ik, k in enumerate(ks):
            for ia, a in enumerate(alphas):
                for is_, s in enumerate(seeds):
                    one = run_perturbed(op, [lr], [k], [a], [s], steps=40)
                    j = r.index(il, ik, ia, is_)
                    assert np.array_equal(one.final_kernels()[0], Kb[j])
                    assert np.array_equal(one.loss[:, 0], r.loss[:, j])
                    assert one.status[0] == r.status[j]


def test_runs_are_deterministic(xp):
    op = _board(xp, "float32", n=24, w=6)
    a = run_perturbed(op, [0.04, 0.09], (1, 3, 7), steps=50)
    b = run_perturbed(op, [0.04, 0.09], (1, 3, 7), steps=50)
    assert np.array_equal(a.final_kernels(), b.final_kernels())
    assert np.array_equal(a.rel_l1, b.rel_l1, equal_nan=True)


def test_relative_differences_by_hand(xp):
    w1 = xp.asarray(np.array([[[1.0, 0.0], [2.0, -1.0]]]))
    w2 = xp.asarray(np.array([[[1.0, 0.0], [0.0, 1.0]]]))
    # terms: 0, 0 (0/0), 2/2, 2/2 -> mean 0.5, times 2
    assert float(relative_l1(w1, w2)[0]) == pytest.approx(1.0, abs=1e-15)
    assert float(relative_l2(w1, w2)[0]) == pytest.approx(2 * np.sqrt(8) / (np.sqrt(6) + np.sqrt(2)), rel=1e-14)
    z = xp.zeros((1, 2, 2), dtype=xp.float64)
    assert float(relative_l1(z, z)[0]) == 0.0 and float(relative_l2(z, z)[0]) == 0.0


def test_divergence_classification_no_warnings(xp):
    # α = 20: the directions orthogonal to the checkerboard pattern obey K ← (1 − 20 lr) K exactly,
    # so lr > 0.1 is a genuine (unrestrained) instability; lr ≤ 0.09 stays bounded
    op = _board(xp, "float32")
    r = run_perturbed(op, [0.01, 0.04, 0.09, 0.1025, 0.13], (1, 3), 20.0, steps=400)
    for il, lr in enumerate(r.lrs):
        for ik in range(2):
            j = r.index(il, ik)
            if lr > 0.1:
                assert r.diverged[j] and r.reason[j] in ("blowup", "growth"), (lr, r.reason[j])
                assert 0 < r.diverged_at[j] <= 400
                assert np.isnan(r.rel_l1[-1, j])  # no divergence measured after freezing
            else:
                assert not r.diverged[j] and r.status[j] in ("bounded", "converged"), (lr, r.status[j])
                assert np.all(np.isfinite(r.loss[:, j]))


def test_spectral_radius_history_sees_the_weight_decay_directions(xp):
    op = _board(xp, "float64", n=24, w=6)
    r = run_perturbed(op, [0.01, 0.13], (1, 3), 20.0, steps=30, spectral_every=3)
    assert list(r.rho_iters) == list(range(0, 31, 3))
    lo = r.rho[:, r.index(0, 0)]
    hi = r.rho[:, r.index(1, 0)]
    # ρ ≥ |1 − lr α| at every iterate: 0.8 below 2/α, 1.6 above
    assert np.all(lo >= 0.8 - 1e-12)
    ok = np.isfinite(hi)
    assert ok.sum() >= 3 and np.all(hi[ok] >= 1.6 - 1e-12)
    assert r.crossing_fraction[r.index(1, 0)] == 1.0
    assert r.mean_log_rho[r.index(1, 0)] >= np.log(1.6) - 1e-12


def test_summaries_only_match_histories(xp):
    op = _board(xp, "float64", n=24, w=6)
    a = run_perturbed(op, [0.03, 0.07], (1, 3), steps=60, spectral_every=5)
    b = run_perturbed(op, [0.03, 0.07], (1, 3), steps=60, spectral_every=5, histories=False)
    assert b.loss is None and b.rel_l1 is None and b.rho is None
    assert np.array_equal(a.final_kernels(), b.final_kernels())
    for name in ("final_loss", "max_rel_l1", "max_rel_l2", "first_above", "crossing_fraction", "mean_log_rho"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert np.array_equal(a.max_rel_l1, np.nanmax(a.rel_l1, axis=0))


def test_too_long_histories_are_refused_with_the_bytes_needed():
    import array_api_compat.numpy as xnp

    op = _board(xnp, "float64", n=16, w=4)
    need = history_bytes(10 ** 9, 2)
    with pytest.raises(ParameterError, match=r"^steps: .*" + str(need) + r" bytes.*histories=False"):
        run_perturbed(op, [0.01], (1, 3), steps=10 ** 9)
    with pytest.raises(ParameterError, match="^steps:"):
        run_perturbed(op, [0.01], (1, 3), steps=100, memory_budget=1000)


@pytest.mark.parametrize("ks", [0, -1, 2.5, True, "three", [1, 1], [], 2 ** 25])
def test_bad_k(ks):
    with pytest.raises(ParameterError, match="^k:"):
        check_ks(ks)


def test_bad_inputs_name_the_parameter():
    import array_api_compat.numpy as xnp

    op = _board(xnp, "float64", n=16, w=4)
    cases = [
        ({"lrs": [0.0]}, "lr"), ({"lrs": [-0.1]}, "lr"), ({"lrs": [float("nan")]}, "lr"), ({"lrs": []}, "lr"),
        ({"ks": [0, 1]}, "k"), ({"ks": [1.5]}, "k"),
        ({"alphas": [float("inf")]}, "alpha"), ({"seeds": [-1]}, "seeds"), ({"seeds": [0.5]}, "seeds"),
        ({"steps": 0}, "steps"), ({"steps": 2.5}, "steps"), ({"reference_k": 2}, "reference_k"),
        ({"spectral_every": -1}, "spectral_every"), ({"y": 2.0}, "y"), ({"beta": 0.0}, "beta"),
        ({"K0": np.zeros((3, 3))}, "K0"),
    ]
    for kw, name in cases:
        args = {"lrs": [0.01], "ks": (1, 3), "steps": 3}
        args.update(kw)
        with pytest.raises(ParameterError, match=f"^{name}:"):
            run_perturbed(op, args.pop("lrs"), args.pop("ks"), **args)
    assert list(check_ks([3.0, 1])) == [3, 1]  # integer-valued numbers are accepted


def test_tangent_growth_matches_two_nearby_trajectories(xp):
    # S_n = log ‖J_{n-1}⋯J_0 e0‖ must equal the growth of a small explicit perturbation h·e0
    op = CnnOperator(xp.asarray(smooth(20, seed=5)), 4)
    K0 = 0.05 * np.random.default_rng(7).standard_normal((4, 4))
    e0 = np.random.default_rng(12345).standard_normal((4, 4))  # the documented tangent start
    e0 /= np.linalg.norm(e0)
    h, steps, lr = 1e-7, 12, 0.02
    a = run_perturbed(op, [lr], [1], 0.5, steps=steps, K0=K0, tangent=True)
    b = run_perturbed(op, [lr], [1], 0.5, steps=steps, K0=K0 + h * e0)
    growth = np.linalg.norm(b.final_kernels()[0] - a.final_kernels()[0]) / h
    assert abs(np.log(growth) - a.log_growth[-1, 0]) < 1e-4, (np.log(growth), a.log_growth[-1, 0])
    assert abs(a.log_growth[-1, 0]) > 0.1  # the check is not trivially log 1 = 0
    assert a.lyapunov[0] == pytest.approx(a.log_growth[-1, 0] / steps, rel=1e-12)


def test_tangent_exponent_above_the_weight_decay_threshold(xp):
    op = _board(xp, "float64", n=24, w=6)
    r = run_perturbed(op, [0.01, 0.13], [1], 20.0, steps=40, tangent=True)
    # orthogonal to the pattern the step is exactly (1 - 20 lr), |.| = 0.8 and 1.6, so the tangent's
    # component there alone gives S_n >= n log|1 - 20 lr| + log‖e0⊥‖ (‖e0⊥‖ ≈ 1: v is 1 of 36 directions)
    n = np.arange(41)
    for i, lr in enumerate((0.01, 0.13)):
        s_n = r.log_growth[:, i]
        live = n <= (r.diverged_at[i] if r.diverged_at[i] >= 0 else 40)
        assert np.all(s_n[live] - n[live] * np.log(abs(1 - 20 * lr)) >= -0.1), lr
    assert r.lyapunov[1] >= np.log(1.6) - 0.01
    assert r.amplification[1] >= 0.9 * r.log_growth[-1, 1] > 0

"""workbench.solvers.cnn.onset and the cases linearization-d4-onset / activated-d5-onset (quick versions).

Tolerances: 1e-12 for exact float64 algebra (Swish derivatives, Hessian at K = 0), 1e-6
relative for central finite differences of the gradient, the bisection tolerance for onsets.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from workbench.derivations import cnn
from workbench.derivations import linearizations as LZ
from workbench.derivations import symbols as S
from workbench.solvers.core.backend import get_namespace, to_numpy
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.cnn.images import smooth
from workbench.solvers.core.lambdify import lambdify
from workbench.solvers.cnn.model import swish_derivatives
from workbench.solvers.cnn.onset import bisect_onset, data_hessian, equilibrium, local_stability, rank_one_operator
from workbench.solvers.cnn.schemes import nonlinear_gradient
from workbench.validation.registry import list_cases, run_case


def _op(xp, n=8, w=3):
    return CnnOperator(xp.asarray(1.0 + 0.2 * smooth(n, seed=2)), w)


def test_swish_derivatives_match_sympy():
    u = np.array([-30.0, -2.5, -0.3, 0.0, 0.01, 0.7, 4.0, 25.0])
    for beta in (0.5, 1.0, 7.0):
        r1 = lambdify(sp.diff(cnn.swish(S.u), S.u), (S.u, S.beta), xp=get_namespace("numpy"))
        r2 = lambdify(cnn.SWISH_D2_CORRECTED.subs(cnn.u, S.u), (S.u, S.beta), xp=get_namespace("numpy"))
        with np.errstate(over="ignore"):   # the SymPy forms use exp(-βu); compare where they are finite
            ref1, ref2 = np.asarray(r1(u, beta)), np.asarray(r2(u, beta))
        ok = np.isfinite(ref1) & np.isfinite(ref2)
        _, r, got1, got2 = swish_derivatives(np, u, beta)
        np.testing.assert_array_equal(r, u * swish_derivatives(np, u, beta, second=False)[0])
        np.testing.assert_allclose(got1[ok], ref1[ok], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got2[ok], ref2[ok], rtol=1e-12, atol=1e-14)


def test_data_hessian_vs_finite_differences(rng):
    xp = get_namespace("numpy")
    op = _op(xp)
    beta, b, y = 1.3, 0.2, 0.7
    k = 0.05 * rng.standard_normal((3, 3))
    H = data_hessian(op, k, beta, b, y)
    zero = xp.asarray(0.0)
    h = 1e-5
    fd = np.zeros((9, 9))
    for j in range(9):
        e = np.zeros(9)
        e[j] = h
        gp, _ = nonlinear_gradient(op, xp.asarray(k + e.reshape(3, 3)), zero, beta, b, y)
        gm, _ = nonlinear_gradient(op, xp.asarray(k - e.reshape(3, 3)), zero, beta, b, y)
        fd[:, j] = (to_numpy(gp) - to_numpy(gm)).reshape(-1) / (2 * h)
    assert np.allclose(H, H.T, atol=1e-12 * np.abs(H).max())
    assert np.abs(H - fd).max() <= 1e-6 * np.abs(H).max()


def test_rank_one_operator_is_the_hessian_at_zero():
    xp = get_namespace("numpy")
    op = _op(xp)
    beta, b, y = 1.7, 0.3, 0.8
    cg_e, cc_e = LZ.d4_operator_coefficients()
    cg = lambdify(cg_e, (S.b, S.y, S.beta))(b, y, beta)
    cc = lambdify(cc_e, (S.b, S.y, S.beta))(b, y, beta)
    H0 = rank_one_operator(op, cg, cc)
    Hd = data_hessian(op, np.zeros((3, 3)), beta, b, y)
    assert np.abs(H0 - Hd).max() <= 1e-12 * np.abs(Hd).max()
    # the misprinted (31) coefficient (half the c cᵀ term) is far off
    assert np.abs(rank_one_operator(op, cg, cc / 2) - Hd).max() > 1e-2 * np.abs(Hd).max()


def test_equilibrium_and_local_stability(xp):
    op = _op(xp)
    beta, b, y = 1.0, 0.0, 1.0
    eq = equilibrium(op, [5e3, 8e3], beta, b, y)
    assert eq.converged.all()
    al = xp.reshape(xp.asarray([5e3, 8e3], dtype=op.dtype), (2, 1, 1))
    grad, _ = nonlinear_gradient(op, eq.kernel, al, beta, b, y)
    g = to_numpy(grad).reshape(2, -1)
    assert np.linalg.norm(g, axis=1).max() <= 1e-11 * 8e3 * np.linalg.norm(to_numpy(eq.kernel).reshape(2, -1), axis=1).min()
    # onset from the equilibrium Hessian, then one stable and one unstable alpha around it
    lam = np.linalg.eigvalsh(data_hessian(op, to_numpy(eq.kernel)[1], beta, b, y))[-1]
    dt = 0.2 / lam
    onset = 2 / dt - lam
    res = local_stability(op, [0.97 * onset, 1.03 * onset], dt, beta, b, y, steps=300)
    assert res.diverged.tolist() == [False, True]


def test_bisect_onset_synthetic():
    calls = []

    def upper(al):
        calls.append(len(al))
        return np.asarray(al) < 3.21

    r = bisect_onset(upper, 1.0, 5.0, rtol=1e-6)
    assert abs(r["alpha"] - 3.21) <= 1e-6 * 3.21 and r["monotone"] and r["converged"]
    assert r["bracket"][0] < 3.21 <= r["bracket"][1]
    assert r["runs"] == sum(calls)
    r = bisect_onset(lambda al: np.asarray(al) > 2.5, 1.0, 5.0, side="lower", rtol=1e-6)
    assert abs(r["alpha"] - 2.5) <= 1e-6 * 2.5 and r["bracket"][0] > 2.5 >= r["bracket"][1]
    with pytest.raises(ParameterError, match="^lo:"):
        bisect_onset(upper, 4.0, 5.0)           # all unstable: no transition
    with pytest.raises(ParameterError, match="^lo:"):
        bisect_onset(upper, 5.0, 1.0)
    with pytest.raises(ParameterError, match="^side:"):
        bisect_onset(upper, 1.0, 5.0, side="middle")
    with pytest.raises(ParameterError, match="^rtol:"):
        bisect_onset(upper, 1.0, 5.0, rtol=2.0)


def test_onset_bad_input():
    xp = get_namespace("numpy")
    op = _op(xp)
    with pytest.raises(ParameterError, match="^alpha:"):
        equilibrium(op, [1.0, -2.0])
    with pytest.raises(ParameterError, match="^y:"):
        equilibrium(op, [1.0], y=1.5)
    with pytest.raises(ParameterError, match="^dt:"):
        local_stability(op, [1.0], 0.0)
    with pytest.raises(ParameterError, match="^K0:"):
        equilibrium(op, [1.0], K0=np.zeros((2, 2)))
    with pytest.raises(ParameterError, match="^alpha:"):      # Picard cannot converge: alpha << Hessian
        local_stability(op, [1e-3], 1e-3, steps=10)


def test_cases_registered():
    ids = list_cases()
    assert "linearization-d4-onset" in ids and "activated-d5-onset" in ids


def test_d4_case_quick(tmp_path):
    res = run_case("linearization-d4-onset", tmp_path, quick=True).to_dict()
    assert res["passed"] and res["verdict"] == "refined"
    row = res["numbers"]["results"][0]
    rel = row["relative_to_simulated"]
    assert abs(row["simulated_vs_reference"]) <= 2e-4
    assert abs(rel["d4_windowed"]) <= 1e-3            # the linearization at K = 0 predicts the onset
    assert rel["d3_constant_a"] > 0.05                # without the c cᵀ term the bound is too high
    assert abs(rel["paper_33_fourier"]) > 0.05        # whole-image Ī instead of the window sums
    assert row["upper"]["d4_windowed"] < row["upper"]["d3_constant_a"]
    assert 0 < row["regime"]["g"] < 0.3 and row["regime"]["max_abs_rprime_minus_half"] < 1e-2
    assert (tmp_path / "linearization_d4_onset.png").exists()


def test_d5_case_quick(tmp_path):
    res = run_case("activated-d5-onset", tmp_path, quick=True).to_dict()
    assert res["passed"] and res["verdict"] == "refuted"
    row = res["numbers"]["results"][0]
    rel = row["relative_to_simulated"]
    assert abs(rel["corrected_r1"]) <= 1e-4
    assert rel["paper_printed"] > 0.25 and rel["paper_coefficient_delta_kept"] > 0.1
    assert row["regime"]["max_abs_rprime_minus_1"] < 1e-6 and abs(row["regime"]["sprime"] - 0.25) < 1e-3
    neg, pos = row["lower_probes"]
    assert neg["paper_says_stable"] and neg["diverged"] and neg["rho_measured"] > 1
    assert not pos["diverged"] and pos["rho_measured"] < 1
    assert abs(neg["rho_measured"] - (1 - row["dt"] * neg["alpha"])) <= 1e-8
    assert (tmp_path / "activated_d5_onset.png").exists()


@pytest.mark.slow
def test_full_cases(tmp_path):
    d4 = run_case("linearization-d4-onset", tmp_path, quick=False).to_dict()
    assert d4["passed"] and d4["verdict"] == "refined" and len(d4["numbers"]["results"]) == 3
    for row in d4["numbers"]["results"]:
        assert abs(row["relative_to_simulated"]["d4_windowed"]) <= 2e-3
        assert abs(row["simulated_vs_reference"]) <= 2e-5
    d5 = run_case("activated-d5-onset", tmp_path, quick=False).to_dict()
    assert d5["passed"] and d5["verdict"] == "refuted" and len(d5["numbers"]["results"]) == 3
    for row in d5["numbers"]["results"]:
        assert abs(row["relative_to_simulated"]["corrected_r1"]) <= 2e-5
        assert row["relative_to_simulated"]["paper_printed"] > 0.3

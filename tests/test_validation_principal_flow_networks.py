"""Principal flow on networks: FlowProblem.from_network (complex continuation) and the three validation cases."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from workbench.solvers.core.checks import ParameterError
from workbench.solvers.dynamics.flows import FlowProblem, gradient_descent, integrate, stability_coefficients, vector_field
from workbench.solvers.nets.networks import NetworkObjective, mlp
from workbench.validation.registry import run_case


def _obj(sizes, n=10, seed=3, activation="tanh", loss="mse"):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0]))
    Y = rng.standard_normal((n, sizes[-1]))
    if loss == "ce":
        Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    return NetworkObjective(mlp(sizes, activation), X, Y, loss)


def test_from_network_is_the_analytic_continuation():
    obj = _obj([2, 3, 1])
    P = FlowProblem.from_network(obj)
    rng = np.random.default_rng(0)
    th = np.asarray(obj.initial(0)) + 0.1 * rng.standard_normal(obj.size)
    H = P.hess(th)
    assert np.allclose(H, np.asarray(obj.hessian(th)), rtol=1e-12, atol=1e-14)
    v = rng.standard_normal(obj.size)
    eps = 1e-20  # complex step: Im grad(theta + i eps v)/eps = H v exactly for an analytic E
    assert np.allclose(P.grad(th + 1j * eps * v).imag / eps, H @ v, rtol=1e-10, atol=1e-13)
    # HVP-based IGR/third-order fields equal the dense-Hessian ones; third term vs difference of Hessians
    dense = FlowProblem(P.size, P.grad, P.hess, None, False)
    for fl in ("igr", "third"):
        assert np.allclose(vector_field(P, fl, 0.3)(th), vector_field(dense, fl, 0.3)(th), rtol=1e-6, atol=1e-9)


def test_from_network_pf_equals_gd_on_a_linear_model_above_2_over_lambda():
    obj = _obj([3, 2], n=10, seed=3)  # linear model + MSE: a quadratic loss, where the PF is exact (Remark 3.1)
    P = FlowProblem.from_network(obj)
    th0 = np.random.default_rng(1).standard_normal(obj.size)
    lam = np.linalg.eigvalsh(P.hess(th0))
    h = 2.3 / lam[-1]  # unstable: h lambda0 = 2.3 > 2, the PF state is complex
    t = np.arange(6) * h
    gd = gradient_descent(P, h, th0, 5)
    r = integrate(P, "pf", h, th0, t)
    assert np.max(np.abs(r.theta - gd)) < 1e-9
    assert np.linalg.norm(gd[-1]) > 2 * np.linalg.norm(gd[0])  # GD really diverges here
    ngf = integrate(P, "ngf", h, th0, t)
    assert np.max(np.abs(ngf.theta - gd)) > 0.1


def test_from_network_refuses_non_analytic():
    with pytest.raises(ParameterError, match="relu"):
        FlowProblem.from_network(_obj([2, 3, 1], activation="relu"))
    with pytest.raises(ParameterError, match="mse"):
        FlowProblem.from_network(_obj([2, 3, 2], loss="ce"))
    with pytest.raises(ParameterError, match="obj"):
        FlowProblem.from_network(object())


def test_stability_coefficient_sign_on_network():
    obj = _obj([2, 3, 1])
    P = FlowProblem.from_network(obj)
    th = np.asarray(obj.initial(0))
    lam0 = np.linalg.eigvalsh(P.hess(th))[-1]
    for c, positive in ((0.9, False), (1.1, True)):  # Re sc_0 > 0 exactly when h lambda_0 > 2
        s = stability_coefficients(P, th, c * 2 / lam0)
        assert (s["sc"][0].real > 0) == positive


def _check_common(r, verdict):
    assert r["verdict"] == verdict, r["reason"]
    assert r["passed"] is True
    assert r["figures"] and all(f.endswith(".png") for f in r["figures"])
    for k in ("prediction", "measurement", "tolerance", "tables", "numbers", "notes"):
        assert r[k]


def test_case_mlp_tracking_quick(tmp_path):
    r = run_case("pf-mlp-tracking", tmp_path, quick=True).to_dict()
    # three small networks: no significant effect either way at n = 1 (judge's outcomes: test_judges.py)
    _check_common(r, "not reproduced")
    assert (tmp_path / r["figures"][0]).exists()
    res = r["numbers"]["results"]
    low = next(v for k, v in res.items() if k.endswith("0.8x(2/lambda0)"))
    # below 2/lambda0 the BEA hierarchy holds at n = 1: NGF > IGR > third-order error
    e = {k: v[1] for k, v in low["errors"].items()}
    assert e["ngf"] > e["igr"] > e["third"]
    assert all(v["errors"]["ngf"][0] == 0.0 for v in res.values())  # theta(0) = theta_0
    assert len(r["numbers"]["networks"]) == 3
    for e in r["numbers"]["effects"].values():   # an interval over the three networks
        assert len(e["n1"]["samples"]) == 3 and e["n1"]["half_width"] > 0


def test_case_stability_coefficients_quick(tmp_path):
    r = run_case("pf-stability-coefficients", tmp_path, quick=True).to_dict()
    _check_common(r, "confirmed")
    n = r["numbers"]
    t = n["contingency_re_sc0_positive"]
    assert t["tp"] + t["fp"] + t["fn"] + t["tn"] == n["recorded_steps"]
    s = n["series"]
    # the table is recomputable from the series: Re sc_0 > 0 vs loss increases
    pred = np.array(s["re_sc0"]) > 0
    inc = np.array(s["dE"]) > 1e-12 * np.maximum(1.0, np.abs(s["loss"]))
    assert t["tp"] == int(np.sum(pred & inc)) and t["fn"] == int(np.sum(~pred & inc))
    assert np.allclose(np.diff(s["loss"]), s["dE"][:-1], rtol=1e-12, atol=1e-15)
    assert n["sc0_check_rel_error"] < 1e-8
    assert 0 < n["fraction_h_lambda0_above_2"] < 1


def test_case_dal_quick(tmp_path):
    r = run_case("dal-vs-fixed", tmp_path, quick=True).to_dict()
    _check_common(r, "refined")
    n = r["numbers"]
    assert n["dal_rate_check_rel_error"] < 1e-10
    assert 0.5 < n["median_drift_ratio_smallest_fixed"] < 2.0
    summ = n["summary"]
    assert {"DAL", "DAL-0.5"} <= set(summ) and any(k.startswith("DAL-momentum") for k in summ)
    for k, s in summ.items():  # every run is classified; losses recorded per step
        assert s["status"] in ("completed", "diverged", "converged", "undefined")
        assert len(n["curves"][k]["loss"]) == s["steps_done"] + 1
    # the plotted drift points are the (h^2/2)||H grad E|| / drift pairs behind the reported correlation
    sc = n["drift_scatter"]
    assert len(sc["drift"]) == n["drift_points"] > 10
    assert np.corrcoef(np.log(sc["drift"]), np.log(sc["half_h2_Hg"]))[0, 1] == pytest.approx(
        n["pearson_log_drift_vs_log_half_h2_Hg"], rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("cid", ["pf-mlp-tracking", "pf-stability-coefficients", "dal-vs-fixed"])
def test_full_case_passes_its_checks(tmp_path, cid):
    res = run_case(cid, tmp_path, quick=False).to_dict()
    mod = importlib.import_module("workbench.validation.cases." + cid.replace("-", "_"))
    assert res["passed"] and res["figures"]
    assert res["verdict"] == mod.judge(res["numbers"]).verdict     # judge's outcomes: test_judges.py

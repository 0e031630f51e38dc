"""Cases of the 4th paper (uc-*): quick versions by default, the full ones slow."""
from __future__ import annotations

import json
import math

import pytest

from workbench.validation.shared.unstable_convergence import C_STAR, Q_STAR, tanh_gd_map
from workbench.validation.registry import list_cases, run_case

CASES = ["uc-example1-fact1", "uc-example2-invariant", "uc-example3-single-neuron", "uc-example4-smoothness",
         "uc-theorem1", "uc-edge-of-stability"]


def test_registered():
    assert set(CASES) <= set(list_cases())


def test_two_cycle_of_example2():
    import numpy as np

    amp = math.sqrt(Q_STAR / 20)
    assert tanh_gd_map(np.array([amp, 0.0]))[0] == pytest.approx(-amp, rel=1e-12)
    assert C_STAR == pytest.approx((41 / 39) ** 2 * Q_STAR)


def test_quick_toy_cases(tmp_path):
    res = {c: run_case(c, tmp_path, quick=True).to_dict() for c in CASES[:5]}
    for c, r in res.items():
        assert r["passed"] and r["verdict"] == "confirmed", c
        json.dumps(r)
    n1 = res["uc-example1-fact1"]["numbers"]["rows"]
    assert [r["measured"] for r in n1] == ["diverges", "neutral", "converges"]
    n2 = res["uc-example2-invariant"]["numbers"]
    assert n2["max_qF_over_cstar"] <= 1 and n2["max_cycle_error"] < 1e-6
    n3 = res["uc-example3-single-neuron"]["numbers"]
    assert n3["linear"]["diverged"] and not n3["tanh"]["diverged"]
    assert 0.95 * 150 < n3["tanh"]["sharpness_final"] < 150
    assert res["uc-example4-smoothness"]["numbers"]["gap_last"] < 1e-8
    assert res["uc-theorem1"]["numbers"]["converged_to_stationary"] == 0


def test_quick_edge_of_stability(tmp_path):
    r = run_case("uc-edge-of-stability", tmp_path, quick=True).to_dict()
    assert r["passed"] and r["verdict"] == "refined", r["reason"]
    for run in r["numbers"]["runs"]:
        if run["regime"] == "unstable":
            assert 0.9 < run["sharpness_tail_median_ratio"] < 1.1
            assert abs(run["rp_tail_median"]) < 0.1
            assert 0.9 < run["L_tail_median_ratio"] < 1.1
        else:
            assert run["rp_tail_median"] < -0.9
    assert (tmp_path / "uc_edge_of_stability.png").exists()
    json.dumps(r)


@pytest.mark.slow
@pytest.mark.parametrize("cid", CASES)
def test_full_cases(tmp_path, cid):
    r = run_case(cid, tmp_path, quick=False).to_dict()
    assert r["passed"], r["notes"]

"""Cases pf-quadratic-exact, pf-local-stability, pf-rosenbrock-tracking (third paper), quick versions."""
from __future__ import annotations

import json

import pytest

from workbench.validation.registry import list_cases, run_case


@pytest.mark.parametrize("cid", ["pf-quadratic-exact", "pf-local-stability", "pf-rosenbrock-tracking"])
def test_quick_case(cid, tmp_path):
    assert cid in list_cases()
    res = run_case(cid, tmp_path, quick=True).to_dict()
    assert res["passed"]
    json.dumps(res)
    n = res["numbers"]
    if cid == "pf-quadratic-exact":
        assert n["worst_pf_rel"] < 1e-9 and n["remark31_printed_max_rel"] > 1e-2
        assert res["verdict"] == "refined"
    elif cid == "pf-local-stability":
        assert res["verdict"] == "confirmed"
        for r in n["results"]:
            assert r["pf_predicts_attraction"] == (r["h_lambda0"] < 2) == r["gd_attracted"]
    else:
        for k, v in n["results"].items():
            e1 = {fl: errs[1] for fl, errs in v["errors"].items()}
            assert e1["pf"] < min(e1["ngf"], e1["igr"], e1["third"]), k

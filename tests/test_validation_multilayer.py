"""Case multilayer-dt-bound (first paper, appendix F): quick version by default, full one slow."""
from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.solvers.core.backend import get_namespace
from workbench.solvers.nets.datasets import spirals
from workbench.solvers.linalg.hessian import sharpness
from workbench.solvers.nets.networks import NetworkObjective, mlp
from workbench.validation.cases.multilayer_dt_bound import _minimize, gd_is_stable, largest_stable_step
from workbench.validation.registry import list_cases, run_case


def test_registered():
    assert "multilayer-dt-bound" in list_cases()


def test_criterion_separates_around_the_linear_threshold():
    xp = get_namespace("numpy")
    d = spirals(24, classes=3, seed=1, xp=xp)
    obj = NetworkObjective(mlp([2, 6, 3], "tanh"), d.X, d.Y, "ce", alpha=1.0)
    ts = _minimize(obj, np.asarray(obj.initial(0)))
    mu = sharpness(obj, ts, method="dense").value  # full Hessian, alpha included
    assert gd_is_stable(obj, ts, 0.97 * 2 / mu, 600)[0]
    ok, why = gd_is_stable(obj, ts, 1.03 * 2 / mu, 600)
    assert not ok and why
    assert not gd_is_stable(obj, ts, 3.0 * 2 / mu, 600)[0]
    r = largest_stable_step(obj, ts, 1.0, 600, 1e-2)  # a poor first guess still brackets
    assert abs(r["dt"] * mu / 2 - 1) < 2e-2
    assert r["bracket"][0] < 2 / mu < r["bracket"][1] * (1 + 1e-2)


def test_quick_case(tmp_path):
    res = run_case("multilayer-dt-bound", tmp_path, quick=True).to_dict()
    assert res["passed"] and res["verdict"] == "confirmed"
    n = res["numbers"]
    for name, rows in n["results"].items():
        ratios = [r["ratio"] for r in rows]
        assert ratios == sorted(ratios), name  # approaches 1 from below as alpha grows
        assert ratios[-1] > 0.9 and all(r < 1.0 + n["tolerance"] for r in ratios)
        for r in rows:
            assert r["rel_error_sharp"] <= n["tolerance"]
            assert r["ratio_sharp"] == pytest.approx(r["alpha"] / (r["alpha"] + r["lambda_max_data"]))
    assert (tmp_path / "multilayer_dt_bound.png").exists()
    json.dumps(res)  # JSON-ready


@pytest.mark.slow
def test_full_case(tmp_path):
    res = run_case("multilayer-dt-bound", tmp_path, quick=False).to_dict()
    assert res["passed"], res["notes"]
    assert res["numbers"]["max_rel_error_sharp"] <= res["numbers"]["tolerance"]

"""Cases diffusion-cfl and diffusion-joint-region (second paper, Theorem 2 and the joint region)."""
from __future__ import annotations

import json

import pytest

from workbench.validation.shared.diffusion import diverges
from workbench.validation.registry import list_cases, run_case


def test_cases_registered():
    assert {"diffusion-cfl", "diffusion-joint-region"} <= set(list_cases())


def test_divergence_criterion_separates_both_sides_of_beta_max():
    # N = 1, gamma = 0.5: beta_max = 0.375 exactly on an even periodic grid
    kw = dict(gamma=0.5, eta=0.1, shape=(16,), boundary="periodic", steps=1500)
    assert not diverges(0.375 * 0.99, **kw)
    assert diverges(0.375 * 1.01, **kw)
    # with the gradient kept (h = 0.5) the bound moves to 0.5 (workbench.derivations.diffusion.joint_beta_max)
    assert not diverges(0.5 * 0.99, lam=5.0, **kw) and diverges(0.5 * 1.01, lam=5.0, **kw)


@pytest.mark.parametrize("cid", ["diffusion-cfl", "diffusion-joint-region"])
def test_quick_case(tmp_path, cid):
    res = run_case(cid, tmp_path, quick=True).to_dict()
    assert res["passed"] and res["verdict"] == "confirmed"
    rows = res["numbers"]["rows"]
    assert rows and all(r["rel_diff_exact" if cid == "diffusion-cfl" else "rel_diff"] <= 2e-2 for r in rows)
    json.dumps(res)
    assert all((tmp_path / f).exists() for f in res["figures"])
    if cid == "diffusion-joint-region":
        assert all(r["beta_max_simulated"] > r["beta_max_paper"] for r in rows)   # b_max moves up with lambda > 0


@pytest.mark.slow
def test_full_cfl_case(tmp_path):
    res = run_case("diffusion-cfl", tmp_path, quick=False).to_dict()
    assert res["passed"] and res["verdict"] == "confirmed"
    assert {r["N"] for r in res["numbers"]["rows"]} == {1, 2, 3}
    neu = [r for r in res["numbers"]["rows"] if r["boundary"] == "neumann"]
    assert neu and all(r["agrees"] and r["rel_diff_paper"] > 0 for r in neu)


@pytest.mark.slow
def test_full_joint_case(tmp_path):
    res = run_case("diffusion-joint-region", tmp_path, quick=False).to_dict()
    assert res["passed"] and res["verdict"] == "confirmed"

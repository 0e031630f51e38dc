"""Case cnn-nesterov-table5: quick version by default, the paper's settings when slow tests run."""
from __future__ import annotations

import pytest

from workbench.validation.registry import run_case


def test_table5_quick(tmp_path):
    res = run_case("cnn-nesterov-table5", tmp_path, quick=True).to_dict()
    assert res["passed"] and res["verdict"] == "refined"
    n = res["numbers"]
    # exact region vs (45) at mu = 0.9: factor 3/(1 + 2 mu) = 15/14
    assert n["exact_over_paper"] == pytest.approx(15 / 14, rel=1e-12)
    assert n["theory_stable_set_empty"] is True
    assert n["damping_matters"] is True
    assert n["columns"]["damping remark (d has no impact)"]["agrees"] is False
    assert n["printed_recurrence_agrees"] is True and n["closed_form_agrees"] is True
    for r in n["results"]:  # the recurrence (42)-(43) as printed turns unstable exactly at the exact edge
        below, above = r["printed_radius_below_above"]
        assert below <= 1.0 + 1e-12 < above
    # upper bounds at fixed dt follow 4/((1 + 2 mu) dt^2): momentum 0, 0.5, 0.9
    ups = [r["exact"]["alpha_upper"] for r in n["damping_results"]]
    zs = [4 / ((1 + 2 * m) * 1e-6) for m in (0.0, 0.5, 0.9)]
    lam_min_term = ups[0] - zs[0]
    assert [u - lam_min_term for u in ups] == pytest.approx(zs, rel=1e-9)
    assert (tmp_path / "cnn_nesterov_table5.png").exists()


@pytest.mark.slow
def test_table5_full(tmp_path):
    res = run_case("cnn-nesterov-table5", tmp_path, quick=False).to_dict()
    assert res["passed"], res["notes"]
    cols = res["numbers"]["columns"]
    assert cols["alpha_min (Fourier lower, (47))"]["agrees"] is True
    assert cols["alpha_e_max (windowed upper)"]["agrees"] is True
    assert cols["alpha_max (Fourier upper, (46))"]["agrees"] is True  # (46) reproduces the print; (45) is not the edge
    for r in res["numbers"]["results"]:
        w = r["kernel"]
        assert r["exact"]["alpha_lower"] == pytest.approx(0.25 * (256 - w + 1) ** 2 * w ** 2, rel=1e-9)

"""Validation cases: reduced versions in the default suite, the full ones marked slow."""
from __future__ import annotations

import json

import pytest

from workbench.solvers.core.backend import gpu_available
from workbench.validation.registry import list_cases, run_case
from workbench.cli.app import main


def test_registry_lists_the_cases():
    assert {"cnn-gd-bounds", "cnn-linearization", "cnn-nesterov-table5"} <= set(list_cases())


def test_gd_bounds_quick(tmp_path):
    res = run_case("cnn-gd-bounds", tmp_path, quick=True).to_dict()
    assert res["passed"] and res["verdict"] == "refined"
    n = res["numbers"]
    assert n["theory_stable_set_empty"] is True  # paper's w -> inf bounds: lower > upper on the checkerboard
    for row, w in zip(n["results"], (8, 16)):
        assert row["exact"]["alpha_lower"] == pytest.approx(0.25 * (64 - w + 1) ** 2 * w ** 2, rel=1e-12)
        rel = abs(row["simulated"]["alpha_lower"] - row["exact"]["alpha_lower"]) / row["exact"]["alpha_lower"]
        assert rel <= 1e-3
    assert (tmp_path / "cnn_gd_bounds.png").exists()


def test_failed_check_gives_exit_1(tmp_path, monkeypatch, capsys):
    import workbench.validation.registry as reg

    real = reg.run_case

    def failing(cid, out, quick=False):
        res = real(cid, out, quick=quick)
        res.passed = False
        return res

    monkeypatch.setattr(reg, "run_case", failing)
    assert main(["validate", "cnn-linearization", "--quick", "--out", str(tmp_path)]) == 1
    assert json.loads((tmp_path / "results.json").read_text())["cases"][0]["passed"] is False


@pytest.mark.skipif(gpu_available(), reason="CuPy is usable here")
def test_missing_cupy_is_one_line(capsys):
    assert main(["bounds", "--image", "checkerboard:8", "--kernel", "2", "--dt", "1e-3", "--backend", "cupy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "backend 'cupy'" in err[0]


@pytest.mark.slow
@pytest.mark.parametrize("cid", ["cnn-gd-bounds", "cnn-linearization"])
def test_full_cases(tmp_path, cid):
    res = run_case(cid, tmp_path, quick=False).to_dict()
    assert res["passed"], res["notes"]

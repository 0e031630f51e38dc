"""workbench.benchmarks.flows: row format and the agreement of the PF paths it times (no timed assertions)."""
from __future__ import annotations

import math

from workbench.benchmarks.flows import bench_rows


def test_bench_rows_quick():
    rows = bench_rows(quick=True, repeat=1)
    names = [r["name"] for r in rows]
    assert names == ["PF matrix function: eigh vs logm", "PF field vs NGF field",
                     "PF field: real (eigh) vs complex (eig)"]
    for r in rows:
        assert set(r) >= {"name", "ours", "baseline", "ours_s", "baseline_s", "ratio", "note", "noise", "kind"}
        assert r["ours_s"] > 0 and r["baseline_s"] > 0
        assert math.isclose(r["ratio"], r["baseline_s"] / r["ours_s"], rel_tol=1e-12)
    assert rows[1]["kind"] == "factor"
    # the eigh route's alpha_PF(hH) grad E = a satisfies hH a = logm(I - hH) grad E
    assert rows[0]["residual"] < 1e-8
    assert "parameters" in rows[1]["note"]

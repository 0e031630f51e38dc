"""Case scheme-atlas (quick): every registered scheme's exact region against root sampling and simulation."""
from __future__ import annotations

import json

from workbench.derivations.schemes import registry as reg
from workbench.validation.registry import run_case


def test_scheme_atlas_quick(tmp_path):
    res = run_case("scheme-atlas", tmp_path, quick=True).to_dict()
    n = res["numbers"]
    assert res["verdict"] == "confirmed" and res["passed"], res["reason"]
    assert res["paper"] == 0 and res["rule"]
    assert n["disagreements"] == 0 and n["stated_error"] <= 1e-12
    assert n["worst_simulated_rel"] <= n["rtol"] == 1e-2
    # one row per registered scheme in the region table; in the quick run one simulated setting (the first) per scheme
    regions, bounds = res["tables"]
    assert [r[0] for r in regions["rows"]] == list(reg.names()) and n["samples_per_scheme"] == 500
    assert [r[0] for r in bounds["rows"]] == list(reg.names())
    assert res["figures"] == ["scheme_atlas.png"] and (tmp_path / "scheme_atlas.png").stat().st_size > 1000
    json.dumps(res, allow_nan=False)

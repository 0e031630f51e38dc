"""Case ``derivation-identities``: the papers' exact identities in the report, verdicts computed at run time."""
from __future__ import annotations

import sympy as sp

from workbench.validation.cases import derivation_identities as dc
from workbench.validation.registry import Context, list_cases


def test_registered_and_covers_the_four_groups():
    assert "derivation-identities" in list_cases()
    where = [i["where"] for i in dc.identities()]
    for label in ("D.1 (11)", "D.1 (12)", "D.1 (13)", "E (37)", "E (38)", "(1) → (3)", "Thm 1 (8)", "Thm 1 (9)",
                  "Thm 3.1", "Thm 3.2 (13)"):
        assert label in where, label


def test_a_sample_of_identities_hold():
    picked = [i for i in dc.identities() if i["where"] in ("D.1 (12)", "E (38)", "Thm 1 (7)", "Thm 3.1")][:5]
    assert picked and all(dc.check(i)["holds"] for i in picked)


def test_verdict_is_computed_not_written(monkeypatch, tmp_path):
    x = sp.Symbol("x")
    good = {"paper": "p", "where": "(1)", "what": "x + x = 2x", "pair": lambda: (x + x, 2 * x)}
    bad = {"paper": "p", "where": "(2)", "what": "x·x = 2x (wrong)", "pair": lambda: (x * x, 2 * x)}
    monkeypatch.setattr(dc, "identities", lambda: [good, bad])
    res = dc.derivation_identities(Context(tmp_path))
    assert res["verdict"] == "refuted" and res["passed"] is True  # a refuted identity is a finding, not a failed check
    rows = res["tables"][0]["rows"]
    assert [r[-1] for r in rows] == ["holds", "FAILS"]
    assert rows[1][4] == "x·(x - 2)"  # the residual simplify leaves
    monkeypatch.setattr(dc, "identities", lambda: [good])
    assert dc.derivation_identities(Context(tmp_path))["verdict"] == "confirmed"

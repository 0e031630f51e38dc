"""The committed verdict file and its CI check (python -m workbench.report.verdicts)."""
from __future__ import annotations

import json

import pytest

from workbench.report import verdicts as vf


def _results(path, cases, quick=False):
    doc = {"meta": {"quick": quick, "interrupted": False},
           "cases": [{"id": c, "verdict": v, "seconds": 1.5} for c, v in cases.items()]}
    path.write_text(json.dumps(doc))
    return path


def test_check_passes_on_agreement_and_fails_in_one_line_on_a_change(tmp_path, capsys):
    committed = tmp_path / "verdicts.json"
    committed.write_text(json.dumps({"a": "confirmed", "b": "refuted"}))
    same = _results(tmp_path / "same.json", {"a": "confirmed", "b": "refuted"})
    assert vf.main(["check", str(same), str(committed)]) == 0
    changed = _results(tmp_path / "changed.json", {"a": "confirmed", "b": "refined"})
    capsys.readouterr()
    assert vf.main(["check", str(changed), str(committed)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1 verdict changed (b: refuted -> refined)" in err[0] and "write" in err[0]


def test_check_names_cases_added_or_missing(tmp_path):
    assert vf.compare({"a": "confirmed"}, {"a": "confirmed", "c": "refuted"}) == ["not in the verdict file: c"]
    assert vf.compare({"a": "confirmed", "b": "refuted"}, {"a": "confirmed"}) == ["not in the run: b"]
    assert vf.compare({"a": "x"}, {"a": "x"}) == []


def test_write_then_check_round_trip_and_refusals(tmp_path, capsys):
    res = _results(tmp_path / "r.json", {"a": "refined", "b": "confirmed"})
    out = tmp_path / "v.json"
    assert vf.main(["write", str(res), str(out)]) == 0
    assert json.loads(out.read_text()) == {"a": "refined", "b": "confirmed"}
    assert vf.main(["check", str(res), str(out)]) == 0
    quick = _results(tmp_path / "q.json", {"a": "refined"}, quick=True)
    capsys.readouterr()
    assert vf.main(["check", str(quick), str(out)]) == 2
    assert "--quick run" in capsys.readouterr().err
    assert vf.main(["check", str(tmp_path / "none.json"), str(out)]) == 2
    assert "results: cannot read" in capsys.readouterr().err
    assert vf.main(["nope"]) == 2


@pytest.mark.skipif(not vf.VERDICTS.exists(), reason="validation/verdicts.json is written from a full-size run: "
                    "python -m workbench.report.verdicts write DIR/results.json")
def test_committed_file_lists_every_case_with_a_known_verdict():
    from workbench.validation.registry import list_cases
    from workbench.validation.verdict import VERDICTS

    committed = vf.load_verdicts()
    assert sorted(committed) == sorted(list_cases())
    assert set(committed.values()) <= set(VERDICTS)

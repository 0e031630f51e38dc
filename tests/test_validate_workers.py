"""validate --workers: cases in one-thread worker processes, longest first, the same results as serial."""
from __future__ import annotations

import json

import pytest

from workbench.cli.app import main
from workbench.jobs.validate import longest_first, run_validation

CASES = ["uc-example1-fact1", "uc-example4-smoothness"]


def test_longest_first_orders_by_seconds_unknown_first():
    secs = {"a": 1.0, "b": 30.0, "c": 5.0}
    assert longest_first(["a", "b", "c", "new"], secs) == ["new", "b", "c", "a"]
    assert longest_first(["a", "c"], {}) == ["a", "c"]  # no data: the given order


def test_parallel_run_equals_serial_run(tmp_path):
    serial = run_validation(CASES, tmp_path / "s", quick=True, workers=1)
    parallel = run_validation(CASES, tmp_path / "p", quick=True, workers=2)
    assert [c["id"] for c in parallel.cases] == CASES  # the report keeps the listed order
    for a, b in zip(serial.cases, parallel.cases):
        assert (a["verdict"], a["passed"]) == (b["verdict"], b["passed"])
        assert json.dumps(a["numbers"], sort_keys=True) == json.dumps(b["numbers"], sort_keys=True)
    meta = json.loads((tmp_path / "p" / "results.json").read_text())["meta"]
    assert meta["workers"] == 2 and meta["cases"] == 2


@pytest.mark.parametrize("bad", ["0", "-1", "two"])
def test_bad_workers_one_line_exit_2(tmp_path, capsys, bad):
    assert main(["validate", "uc-theorem1", "--out", str(tmp_path), "--workers", bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "workers:" in err[0]

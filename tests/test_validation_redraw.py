"""Figures redrawn from a case's numbers alone (``registry.redraw``) equal the ones the run wrote."""
from __future__ import annotations

import io
import json

import pytest

from workbench.solvers.core.checks import ParameterError
from workbench.validation.registry import redraw, run_case


def _png(fig, tmp_path) -> bytes:
    """The PNG the report writes for ``fig`` (validation.files.save_figure, in the report style)."""
    from workbench.validation.files import save_figure
    from workbench.validation.plots import report_style

    with report_style():
        return save_figure(fig, tmp_path / "again" / "f.png").read_bytes()


@pytest.mark.parametrize("cid", ["diffusion-joint-region", "multilayer-dt-bound"])
def test_redraw_from_results_json_is_byte_identical(tmp_path, cid):
    res = run_case(cid, tmp_path, quick=True).to_dict()
    numbers = json.loads(json.dumps(res["numbers"]))          # what results.json gives back
    from workbench.validation.plots import report_style

    with report_style():
        figs = redraw(cid, numbers)
    assert figs and [name for name, _, _ in figs] == res["figures"]
    (tmp_path / "again").mkdir()
    for name, fig, caption in figs:
        assert caption == res["captions"][name]
        assert _png(fig, tmp_path) == (tmp_path / name).read_bytes()


def test_redraw_unknown_case_is_a_parameter_error():
    with pytest.raises(ParameterError, match="case"):
        redraw("no-such-case", {})


def test_cases_without_figures_redraw_nothing():
    assert redraw("uc-example1-fact1", {}) == []


def test_workbench_report_rerenders_a_run_byte_identically(tmp_path):
    """``workbench report DIR`` redraws every figure from results.json alone (PNG and SVG) and
    renders report.md/report.html again: every file equal to the run's, byte for byte."""
    import filecmp
    import shutil

    from workbench.cli.app import main

    run = tmp_path / "run"
    assert main(["validate", "--quick", "pf-saddle-escape", "uc-example4-smoothness", "--out", str(run),
                 "--workers", "1"]) == 0
    again = tmp_path / "again"
    shutil.copytree(run, again)
    files = [p.name for p in run.iterdir() if p.suffix in (".md", ".html", ".png", ".svg")]
    assert any(f.endswith(".svg") for f in files) and any(f.endswith(".png") for f in files)
    for f in files:  # make sure the comparison sees rewritten files, not the copies
        (again / f).write_bytes(b"")
    assert main(["report", str(again)]) == 0
    same, diff, missing = filecmp.cmpfiles(run, again, files, shallow=False)
    assert diff == [] and missing == [] and sorted(same) == sorted(files)

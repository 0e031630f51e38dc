"""Short reprs (issue 25): a TrainRun and an Eigenpairs print as one line, never their records or vectors."""
from __future__ import annotations

import doctest
import sys

import numpy as np
import pytest

import workbench as wb
from workbench.api.training import TrainRun
from workbench.solvers.core.objectives import CallableObjective
from workbench.solvers.linalg.hessian import Eigenpairs


def _quadratic(diag):
    P = np.diag(diag)
    return CallableObjective(lambda t: 0.5 * float(t @ P @ t), len(diag), gradient=lambda t: P @ t,
                             hvp=lambda t, v: P @ v, x0=np.ones(len(diag)))


@pytest.mark.parametrize("cls", [TrainRun, Eigenpairs])
def test_repr_doctest(cls):
    mod = sys.modules[cls.__module__]
    tests = doctest.DocTestFinder(recurse=False).find(cls, cls.__name__, module=mod, globs=vars(mod))
    runner = doctest.DocTestRunner()
    out: list[str] = []
    for t in tests:
        runner.run(t, out=out.append)
    assert runner.tries >= 1 and runner.failures == 0, "".join(out)


def test_reprs_of_real_results_are_one_short_line():
    obj = _quadratic([4.0, 3.0, 2.0, 1.5] + list(np.linspace(0.1, 1.0, 96)))
    run = wb.train(obj, lr=0.1, steps=50, track=("loss", "sharpness"), every=10)
    text = repr(run)
    assert "\n" not in text and len(text) < 200 and text.startswith("TrainRun(gd, lr=0.1, 50/50 steps, completed")
    assert f"; last: loss {run.records[-1]['loss']:.4g}, sharpness " in text
    eig = wb.sharpness(obj, k=4, method="lanczos")
    text = repr(eig)
    assert "\n" not in text and len(text) < 200 and text.startswith("Eigenpairs(k=4, n=100, values=[4, 3, 2, ...]")


def test_diverged_run_says_so():
    obj = _quadratic([4.0, 1.0])
    run = wb.train(obj, lr=1.0, steps=200, track=("loss",), every=50)
    assert run.diverged and f"diverged ({run.reason})" in repr(run)


def test_html_reprs_summarise_without_dumping():
    obj = _quadratic([4.0, 3.0, 2.0, 1.5] + list(np.linspace(0.1, 1.0, 96)))
    run = wb.train(obj, lr=0.1, steps=200, track=("loss",), every=10)
    html = run._repr_html_()
    assert html.startswith("<table><caption>TrainRun(gd")
    assert html.count("<tr>") == 1 + 6 + 1               # header, first and last three records, the gap row
    assert f"… {len(run.records) - 6} more records …" in html
    assert f"{run.records[-1]['loss']:.6g}" in html
    eig = wb.sharpness(obj, k=4, method="lanczos")
    html = eig._repr_html_()
    assert html.count("<tr>") == 1 + 4 and f"{float(eig.values[0]):.8g}" in html
    assert "vectors" not in html and html.startswith("<table><caption>Eigenpairs(k=4")

"""No workbench call changes the caller's matplotlib backend or rcParams (notebooks keep their inline plots)."""
from __future__ import annotations

import copy

import matplotlib
import pytest

import workbench as wb


def _state():
    params = {k: copy.deepcopy(v) for k, v in matplotlib.rcParams.items() if k != "backend"}
    return matplotlib.rcParams._get_backend_or_none(), params


@pytest.fixture
def unchanged():
    """Set a backend and an rcParam as a notebook would; assert both are as they were after the test body."""
    with matplotlib.rc_context({"font.size": 13.0, "backend": "svg"}):
        before = _state()
        yield
        after = _state()
        assert after[0] == before[0] == "svg"
        changed = [k for k in before[1] if before[1][k] != after[1][k]]
        assert not changed, changed


def test_validation_case_leaves_matplotlib_state(unchanged, tmp_path):
    run = wb.validate("diffusion-cfl", out=tmp_path / "r", quick=True, verbose=False)
    assert run.cases[0]["figures"], "the case drew no figure, so the test would prove nothing"
    png = tmp_path / "r" / run.cases[0]["figures"][0]
    assert png.is_file() and png.with_suffix(".svg").is_file()


def test_bounds_and_plots_leave_matplotlib_state(unchanged):
    wb.bounds("checkerboard:16", 3, dt=0.01)
    fig = wb.plot.region("heavy-ball", momentum=0.9)
    assert fig.axes


def test_report_figure_helpers_leave_matplotlib_state(unchanged):
    from workbench.validation.plots import figure, pyplot

    fig, ax = figure()
    assert ax.xaxis.label.get_fontsize() == 9.5  # the report style applied to the figure itself
    fig2, axes = pyplot().subplots(1, 2, figsize=(4, 2))
    assert len(axes) == 2


def test_bounds_result_is_small_in_a_notebook_and_the_same_json():
    import json

    res = wb.bounds("checkerboard:32", 4, dt=1e-3)
    assert set(res) >= {"theory", "exact"} and "simulated" not in res  # the fast default
    assert len(repr(res)) < 200 and repr(res).startswith("Bounds(gd, w=4")
    html = res._repr_html_()
    assert html.count("<tr>") == 3 and f"{res['exact']['alpha_upper']:.6g}" in html
    assert json.loads(json.dumps(res)) == json.loads(json.dumps(dict(res)))
    assert res["exact"]["alpha_upper"] == pytest.approx(2 / 1e-3)  # gd: α < 2/Δt (mu_min = 0 here)

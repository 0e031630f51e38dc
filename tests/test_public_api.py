"""The public API (import workbench as wb) on framework-free objectives: values, runs, errors, figures."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import workbench as wb
from workbench.derivations import objectives as symobj
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.nets.networks import NetworkObjective, mlp
from workbench.solvers.core.objectives import SympyObjective


def _quad(lams=(40.0, 2.0)):
    return SympyObjective(symobj.quadratic(np.diag(lams).tolist()), start=[1.0, 1.0])


def _net(seed=0):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))
    return NetworkObjective(mlp([3, 6, 1]), X, Y)


def test_public_names():
    for name in ("from_torch", "from_jax", "sharpness", "max_stable_lr", "train", "principal_flow",
                 "modified_flow", "dal", "plot"):
        assert name in wb.__all__ and getattr(wb, name) is not None
    assert wb.sharpness.__doc__ and "Examples" in wb.train.__doc__


def test_sharpness_and_max_stable_lr_on_a_quadratic():
    obj = _quad()
    r = wb.sharpness(obj, k=2)
    np.testing.assert_allclose(r.values, [40.0, 2.0], rtol=1e-12)
    assert wb.max_stable_lr(obj) == pytest.approx(2 / 40, rel=1e-12)
    assert wb.max_stable_lr(obj, scheme="heavy-ball", momentum=0.9) == pytest.approx(2 * 1.9 / 40, rel=1e-10)
    assert wb.max_stable_lr(obj, scheme="nesterov", momentum=0.9) == pytest.approx(2 * 1.9 / (2.8 * 40), rel=1e-10)


def test_train_records_and_divergence_classification():
    obj = _quad()
    ok = wb.train(obj, lr=0.049, steps=200, track=("loss", "grad_norm", "relative_progress",
                                                   "directional_smoothness", "sharpness"), every=10)
    assert ok.status == "completed" and ok.reason == "" and ok.steps_done == 200
    assert [r["step"] for r in ok.records] == list(range(0, 200, 10))
    assert set(ok.records[0]) == {"step", "loss", "grad_norm", "relative_progress", "directional_smoothness",
                                  "sharpness"}
    assert ok.records[0]["sharpness"] == pytest.approx(40.0, rel=1e-10)
    assert ok.threshold == pytest.approx(2 / 0.049)
    # on a quadratic, L(θ; η∇f) is the Rayleigh quotient of P at ∇f, RP = -1 + (η/2) L exactly
    r0 = ok.records[0]
    assert r0["relative_progress"] == pytest.approx(-1 + 0.049 / 2 * r0["directional_smoothness"], rel=1e-10)
    bad = wb.train(obj, lr=0.06, steps=2000, track=("loss",), every=100)  # 0.06 * 40 = 2.4 > 2
    assert bad.diverged and bad.reason in ("nonfinite", "blowup", "growth")
    hb = wb.train(obj, lr=0.09, steps=300, scheme="heavy-ball", momentum=0.9, track=("loss",), every=50)
    assert not hb.diverged and hb.threshold == pytest.approx(3.8 / 0.09)  # 0.09 * 40 = 3.6 < 3.8


def test_train_to_frame_and_records():
    obj = _net()
    run = wb.train(obj, lr=0.1, steps=20, track=("loss",), every=5)
    assert isinstance(run.records, list) and all(isinstance(r, dict) for r in run.records)
    np.testing.assert_array_equal(run.column("step"), [0, 5, 10, 15])
    pd = pytest.importorskip("pandas")
    df = run.to_frame()
    assert isinstance(df, pd.DataFrame) and list(df.columns) == ["step", "loss"] and len(df) == 4


def test_bad_input_names_the_parameter(monkeypatch):
    obj = _quad()
    with pytest.raises(ParameterError, match="scheme: unknown 'lion'"):
        wb.max_stable_lr(obj, scheme="lion")
    with pytest.raises(ParameterError, match="track: unknown tracker 'hessian'"):
        wb.train(obj, lr=0.01, steps=10, track=("loss", "hessian"))
    with pytest.raises(ParameterError, match="lr: must be finite and > 0"):
        wb.train(obj, lr=-1.0, steps=10)
    with pytest.raises(ParameterError, match=r"theta: expected a flat vector of shape \(2,\)"):
        wb.sharpness(obj, np.zeros(3))
    with pytest.raises(ParameterError, match="obj: expected an objective"):
        wb.sharpness(lambda t: t)
    with pytest.raises(ParameterError, match="kind: unknown flow 'gd'"):
        wb.modified_flow("gd", obj)
    with pytest.raises(ParameterError, match="name: 'sharpness' was not tracked"):
        wb.train(obj, lr=0.01, steps=10, track=("loss",)).column("sharpness")
    # a framework that is not installed: the error names the extra
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "jax", None)
    with pytest.raises(ParameterError, match=r"model: from_torch needs PyTorch.*stability-workbench\[torch\]"):
        wb.from_torch(object(), None, None, None)
    with pytest.raises(ParameterError, match=r"loss_fn: from_jax needs JAX.*stability-workbench\[jax\]"):
        wb.from_jax(None, {})


def test_flows_and_dal():
    obj = _net()
    th = obj.initial(0)
    lam = wb.sharpness(obj).values[0]
    h = 0.5 / lam
    pf = wb.principal_flow(obj, th, h, times=[0.0, h])
    assert not pf.diverged and pf.theta.shape == (2, obj.size)
    ngf = wb.modified_flow("ngf", obj, th, h, times=[0.0, h])
    igr = wb.modified_flow("igr", obj, th, h, times=[0.0, h])
    gd = np.asarray(th) - h * np.asarray(obj.gradient(th))
    # the PF tracks one GD step more closely than IGR, and IGR more closely than NGF (third paper, §3)
    e = [np.linalg.norm(r.theta[-1].real - gd) for r in (pf, igr, ngf)]
    assert e[0] < e[1] < e[2]
    run = wb.dal(obj, th, steps=20)
    assert run.status == "completed" and len(run.lrs) == 20
    d = np.linalg.norm(np.asarray(obj.hvp(th, obj.gradient(th) / np.linalg.norm(obj.gradient(th)))))
    assert run.lrs[0] == pytest.approx(2 / d, rel=1e-10)


def test_plots_return_figures_and_leave_the_backend_alone():
    import matplotlib
    from matplotlib.figure import Figure

    before = matplotlib.get_backend()
    had_pyplot = "matplotlib.pyplot" in sys.modules
    run = wb.train(_quad(), lr=0.049, steps=40, track=("loss", "sharpness", "directional_smoothness"), every=5)
    figs = [wb.plot.sharpness(run), wb.plot.loss(run), wb.plot.region("heavy-ball", momentum=0.9)]
    assert all(isinstance(f, Figure) for f in figs)
    ax = figs[0].axes[0]
    assert any(np.allclose(line.get_ydata(), run.threshold) for line in ax.get_lines())  # the 2/η line
    assert matplotlib.get_backend() == before
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot
    with pytest.raises(ParameterError, match="run: sharpness was not tracked"):
        wb.plot.sharpness(wb.train(_quad(), lr=0.01, steps=5, track=("loss",)))


def test_run_verdict_never_calls_a_decreasing_finite_loss_diverged():
    from workbench.solvers.stepping.divergence import DivergenceCriterion, run_verdict

    assert run_verdict([2.30, 2.1, 1.95, 1.83, 1.74], "growth") == ""
    assert run_verdict([1.0, 1.1, 1.3, 2.0], "growth") == "growth"
    assert run_verdict([1.0, 0.5, float("nan")], "") == "nonfinite-loss"
    assert run_verdict([1.0, 0.5, 1e13], "") == "blowup"
    assert run_verdict([1.0, 0.9], "nonfinite") == "nonfinite"
    assert run_verdict([1.0, 50.0], "", DivergenceCriterion(loss_blowup=10.0)) == "blowup"


def test_new_public_names():
    for name in ("stability", "scheme_of", "Monitor"):
        assert name in wb.__all__ and getattr(wb, name) is not None


def test_sharpness_which_and_max_stable_lr_skips_lambda_min(monkeypatch):
    obj = _quad((40.0, -3.0))
    assert wb.sharpness(obj, which="smallest").value == pytest.approx(-3.0, rel=1e-12)
    top, bottom = wb.sharpness(obj, which="both")
    assert (top.value, bottom.value) == (pytest.approx(40.0, rel=1e-12), pytest.approx(-3.0, rel=1e-12))
    with pytest.raises(ParameterError, match="which: expected 'largest', 'smallest' or 'both'"):
        wb.sharpness(obj, which="top")
    import workbench.solvers.linalg.hessian as hess

    calls = []
    real = hess.top_eigenpairs
    monkeypatch.setattr(hess, "top_eigenpairs", lambda *a, **kw: calls.append(kw.get("which")) or real(*a, **kw))
    # negative curvature does not enter the limit (it grows for every eta): lambda_min is not computed
    assert wb.max_stable_lr(obj, scheme="heavy-ball", momentum=0.5) == pytest.approx(3 / 40, rel=1e-10)
    assert calls == ["largest"]

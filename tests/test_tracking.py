"""Trackers on the one stepper (workbench.solvers.stepping.tracking): visits, stops, shared evaluations."""
from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.derivations.objectives import quadratic
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.core.objectives import SympyObjective
from workbench.solvers.stepping import stepper
from workbench.solvers.stepping.divergence import DivergenceCriterion
from workbench.solvers.stepping.optimizers import resolve
from workbench.solvers.stepping.tracking import LossWatch, Stop, Tracker, run_tracked

A = ((4.0, 0.0), (0.0, 1.0))      # E = ½θᵀAθ: GD θₙ = (1 − ηA)ⁿθ₀ exactly


class Counting:
    """Wraps an objective and counts evaluations (each visit must evaluate once)."""

    def __init__(self, obj):
        self.obj, self.calls, self.xp = obj, 0, obj.xp

    def value_and_gradient(self, theta):
        self.calls += 1
        return self.obj.value_and_gradient(theta)

    def value(self, theta):
        self.calls += 1
        return self.obj.value(theta)

    def gradient(self, theta):
        self.calls += 1
        return self.obj.gradient(theta)


class Rows:
    def __init__(self, stop_at=None):
        self.seen, self.started, self.finished, self.stop_at = [], 0, None, stop_at

    def start(self, visit):
        self.started += 1

    def handle(self, step, v):
        self.seen.append(step)
        if step == self.stop_at:
            raise Stop("enough")
        return {"loss": v.f, "g0": float(v.g[0])}

    def finish(self, run):
        self.finished = run


def test_every_iterate_visited_once_with_one_evaluation_each(xp):
    obj = SympyObjective(quadratic(A), xp=xp)
    c, t = Counting(obj), Rows()
    assert isinstance(t, Tracker)
    th0 = xp.asarray([1.0, 1.0], dtype=xp.float64)
    run = run_tracked(c, "gd", th0, 0.1, [t], steps=7)
    assert t.seen == list(range(8)) and t.started == 1 and t.finished is run
    assert c.calls == 8                                   # θ₀ … θ₇, force and rows share one evaluation
    assert run.steps_done == 7 and run.stopped == "" and run.divergence == ""
    expect = np.array([0.6 ** 7, 0.9 ** 7])
    assert np.allclose(np.asarray(run.theta), expect, rtol=1e-13, atol=0)
    assert [r["step"] for r in run.records] == list(range(8))
    n = 3
    assert run.records[n]["g0"] == pytest.approx(4.0 * 0.6 ** n, rel=1e-13)
    assert run.records[n]["loss"] == pytest.approx(0.5 * (4 * 0.36 ** n + 0.81 ** n), rel=1e-13)


def test_stop_ends_the_run_at_the_visited_step():
    obj = SympyObjective(quadratic(A))
    t, later = Rows(stop_at=4), Rows()
    run = run_tracked(obj, "gd", obj.initial(0), 0.1, [t, later], steps=20)
    assert run.stopped == "enough" and run.steps_done == 4 and run.divergence == ""
    assert t.seen == [0, 1, 2, 3, 4] and later.seen == [0, 1, 2, 3]   # trackers after a Stop skip that step
    direct = stepper.run("gd", lambda x: obj.gradient(x[0])[None], obj.initial(0)[None], 0.1, 4)
    assert np.array_equal(np.asarray(run.theta), np.asarray(direct.theta[0]))


def test_loss_watch_labels_divergence_from_the_divergence_module():
    obj = SympyObjective(quadratic(A))
    crit = DivergenceCriterion(blowup=math.inf, loss_blowup=1e3)
    w = LossWatch(crit)
    run = run_tracked(obj, "gd", obj.initial(0), 0.6, [w], crit, steps=100)   # |1 − 0.6·4| = 1.4 > 1
    f0 = obj.value(obj.initial(0))
    assert w.limit == pytest.approx(1e3 * max(1.0, f0))
    assert run.divergence == "blowup" and run.stopped == "blowup"
    f = lambda n: obj.value(obj.initial(0) * np.array([(-1.4) ** n, 0.4 ** n]))
    assert f(run.steps_done) > w.limit >= f(run.steps_done - 1)


def test_nonfinite_iterate_found_by_the_stepper():
    obj = SympyObjective(quadratic(A))
    run = run_tracked(obj, "gd", obj.initial(0), 1e100, [], DivergenceCriterion(blowup=math.inf), steps=50)
    assert run.divergence == "nonfinite-iterate" and run.stopped == ""
    assert np.all(np.isfinite(np.asarray(run.theta)))     # the frozen last finite iterate
    assert run.steps_done == 1                           # ‖θ₁‖ ~ 1e98 finite; ‖θ₂ − θ₁‖² overflows


def test_non_gradient_point_scheme_and_lr_rule_match_the_stepper():
    obj = SympyObjective(quadratic(A))
    res = resolve("nesterov", 0.05, {"mu": 0.9})
    t = Rows()
    rates = [0.05 * (1 + 0.01 * n) for n in range(30)]
    run = run_tracked(obj, res, obj.initial(2), lambda n, v: rates[n], [t], steps=30)
    direct = stepper.run(res, lambda x: obj.gradient(x[0])[None], obj.initial(2)[None],
                         lambda n, th, g: rates[n], 30)
    assert np.array_equal(np.asarray(run.theta), np.asarray(direct.theta[0]))
    assert t.seen == list(range(31))


def test_zero_steps_and_bad_steps():
    obj = SympyObjective(quadratic(A))
    t = Rows()
    run = run_tracked(obj, "gd", obj.initial(0), 0.1, [t], steps=0)
    assert t.seen == [0] and run.steps_done == 0 and run.result is None
    with pytest.raises(ParameterError, match="steps"):
        run_tracked(obj, "gd", obj.initial(0), 0.1, [], steps=-1)


def test_named_trackers_match_the_training_api_records():
    from workbench.api.training import train
    from workbench.solvers.dynamics.trackers import TRACKERS, make_trackers

    obj = SympyObjective(quadratic(A))
    names = ("loss", "grad_norm", "sharpness", "relative_progress", "directional_smoothness")
    assert set(TRACKERS) == set(names)
    ref = train(obj, obj.initial(0), "heavy-ball", lr=0.2, steps=12, track=names, every=3, mu=0.5)
    run = run_tracked(obj, "heavy-ball", obj.initial(0), 0.2, make_trackers(names, every=3), steps=12,
                      params={"mu": 0.5})
    rows = [r for r in run.records if r["step"] < 12]
    assert [r["step"] for r in rows] == [r["step"] for r in ref.records] == [0, 3, 6, 9]
    for a, b in zip(rows, ref.records):
        for k in names:
            assert a[k] == pytest.approx(b[k], rel=1e-12), k
    th3 = np.asarray(run_tracked(obj, "heavy-ball", obj.initial(0), 0.2, [], steps=3, params={"mu": 0.5}).theta)
    g3 = np.diag(A) * th3                                  # ∇E = Aθ; L(θ; η∇E) is the Rayleigh quotient of A at ∇E
    assert rows[1]["directional_smoothness"] == pytest.approx(g3 @ (np.diag(A) * g3) / (g3 @ g3), rel=1e-12)
    assert rows[1]["loss"] == pytest.approx(0.5 * th3 @ (np.diag(A) * th3), rel=1e-12)
    with pytest.raises(ParameterError, match="track: unknown tracker"):
        make_trackers(["curvature"])

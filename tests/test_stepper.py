"""The one stepper: every registered scheme iterates its registry record; Nesterov (37)-(38) references."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import array_api_compat.numpy as npx
from workbench.derivations.schemes import registry as reg
from workbench.solvers.stepping import stepper
from workbench.solvers.core.backend import to_numpy
from workbench.solvers.cnn.bounds import compute_bounds, exact_bounds, resolve_scheme
from workbench.solvers.cnn.simulated import simulated_bounds
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.stepping.divergence import DivergenceCriterion
from workbench.solvers.cnn.images import checkerboard, smooth
from workbench.solvers.stepping.optimizers import h_interval, resolve
from workbench.solvers.cnn.schemes import run_cnn


def test_pde_parametrization_both_ways():
    p = resolve("nesterov", params={"dt": 1e-4, "momentum": 0.9})
    assert p.given["d"] == pytest.approx(0.2 / 1.9e-4, rel=1e-14)
    assert p.lr == pytest.approx(9.5e-9, rel=1e-12)
    q = resolve("nesterov", params={"dt": 1e-4, "d": p.given["d"]})
    assert q.hyper["mu"] == pytest.approx(0.9, rel=1e-14) and q.lr == pytest.approx(p.lr, rel=1e-14)
    assert resolve("nesterov", params={"dt": 1e-3}).hyper["mu"] == 0.9          # the paper's default
    z = resolve("nesterov", params={"dt": 0.1, "momentum": 0.0})
    assert z.given["d"] == pytest.approx(20.0) and z.lr == pytest.approx(0.1 ** 2 / 2)   # η = Δt²(1+μ)/2
    assert resolve("gd", params={"dt": 0.25}).lr == 0.25 and resolve("euler", 0.25).name == "gd"


@pytest.mark.parametrize("params, match", [
    ({"dt": 1e-4, "momentum": 1.0}, "mu: must lie in"), ({"dt": 1e-4, "momentum": -0.1}, "mu: must lie in"),
    ({"dt": 1e-4, "momentum": float("nan")}, "momentum"), ({"dt": 1e-4, "d": -1.0}, "d: must lie in"),
    ({"dt": 1e-4, "d": 0.0}, "d: must lie in"), ({"dt": 1e-4, "d": 3e4}, "d: d\\*dt"),
    ({"dt": 1.0, "d": 1e-300}, "d: .* gives mu = 1.0"), ({"dt": 1e200, "d": 1e-300}, "dt: .* overflow"),
    ({"dt": 1e-200}, "dt: .*underflow"), ({"dt": 0.0, "momentum": 0.5}, "dt: must lie in"),
    ({"mu": 0.5, "momentum": 0.5}, "given twice"), ({"nu": 0.5}, "nu: unknown hyperparameter of nesterov"),
])
def test_nesterov_bad_input(params, match):
    with pytest.raises(ParameterError, match=match):
        resolve("nesterov", None, params)


@pytest.mark.parametrize("scheme, lr, params, match", [
    ("lion", 0.1, {}, "scheme: unknown 'lion'"), ("heavy-ball", 0.1, {"mu": 1.0}, "mu: must lie in \\[0, 1\\)"),
    ("qhm", 0.1, {"nu": 1.5}, "nu: must lie in \\[0, 1\\]"), ("qhm", -0.1, {}, "lr: must be > 0"),
    ("aggmo", 0.1, {"K": 2.5}, "K: must lie an integer"), ("heavy-ball", None, {}, "lr: the learning rate"),
    ("gd", 0.1, {"mu": 0.5}, "mu: unknown hyperparameter of gd"), ("heavy-ball", 0.1, {"dt": 1.0}, "dt: unknown"),
])
def test_registry_bad_input(scheme, lr, params, match):
    with pytest.raises(ParameterError, match=match):
        resolve(scheme, lr, params)


def test_zero_momentum_nesterov_is_gd_bit_for_bit(xp):
    op = CnnOperator(xp.asarray(smooth(16, 1)), 4)
    nes = resolve("nesterov", params={"dt": 0.02, "momentum": 0.0})
    alphas = [5.0, 50.0, 4000.0]
    for force in ("linear", "nonlinear"):
        a = run_cnn(op, alphas, scheme=nes, force=force, steps=30)
        b = run_cnn(op, alphas, nes.lr, scheme="gd", force=force, steps=30)
        assert np.array_equal(to_numpy(a.kernel), to_numpy(b.kernel))
        assert np.array_equal(a.diverged, b.diverged)


def test_linear_nesterov_matches_dense_reference(xp, rng):
    img = rng.standard_normal((12, 12))
    op = CnnOperator(xp.asarray(img), 4)
    g, c = op.gram_dense(), to_numpy(op.patch_sum()).ravel()
    a, beta, dt, mom = -0.5, 1.2, 0.05, 0.8
    p = resolve("nesterov", params={"dt": dt, "momentum": mom})
    alphas = np.array([1.0, 30.0, 300.0])
    k0 = rng.standard_normal((4, 4))
    res = run_cnn(op, alphas, scheme=p, a=a, beta=beta, steps=25, K0=xp.asarray(k0))
    ref = np.tile(k0.ravel(), (3, 1))
    prev = ref.copy()
    for _ in range(25):
        v = ref + mom * (ref - prev)
        prev = ref
        ref = v - p.lr * (0.5 * a * (c + beta * v @ g) + alphas[:, None] * v)
    got = to_numpy(res.kernel).reshape(3, -1)
    live = ~res.diverged
    np.testing.assert_allclose(got[live], ref[live], rtol=1e-10, atol=1e-12)
    assert res.extra["params"]["mu"] == mom and res.extra["d"] == pytest.approx(p.given["d"])


def _reference_step(name, hyper, lr, grad, theta, buffers):
    """Each scheme as its source writes it (a slow per-scheme reference for the stepper)."""
    if name == "gd":
        return theta - lr * grad(theta), buffers
    if name in ("heavy-ball", "central-difference"):
        prev = buffers.get("prev", theta)
        return theta + hyper["mu"] * (theta - prev) - lr * grad(theta), {"prev": theta}
    if name == "nesterov":
        prev = buffers.get("prev", theta)
        v = theta + hyper["mu"] * (theta - prev)
        return v - lr * grad(v), {"prev": theta}
    if name == "qhm":
        g = grad(theta)
        m = hyper["beta"] * buffers.get("m", 0 * theta) + (1 - hyper["beta"]) * g
        return theta - lr * ((1 - hyper["nu"]) * g + hyper["nu"] * m), {"m": m}
    if name == "aggmo":
        K, a = hyper["K"], hyper["base"]
        g = grad(theta)
        vs = [(1 - a ** i) * buffers.get(i, 0 * theta) - g for i in range(K)]
        return theta + lr / K * sum(vs), dict(enumerate(vs))
    if name in ("heavy-ball-dampened", "rmsprop"):       # torch.optim.SGD / RMSprop with P = I
        g = grad(theta) + hyper["weight_decay"] * theta
        b = hyper["mu"] * buffers.get("b", 0 * theta) + (1 - hyper.get("dampening", 0.0)) * g
        return theta - lr * b, {"b": b}
    if name == "nesterov-lookahead":                     # torch.optim.SGD(nesterov=True)
        g = grad(theta) + hyper["weight_decay"] * theta
        b = hyper["mu"] * buffers.get("b", 0 * theta) + g
        return theta - lr * (g + hyper["mu"] * b), {"b": b}
    if name == "adam":                                   # frozen P = I
        g = grad(theta) + hyper["weight_decay"] * theta
        m = hyper["beta1"] * buffers.get("m", 0 * theta) + (1 - hyper["beta1"]) * g
        return (1 - hyper["decay"]) * theta - lr * m, {"m": m}
    if name == "diffusion-nesterov":                     # Algorithm 1 (6)-(7) on one Fourier mode: ∇² acts as −κ
        g = grad(theta)
        v = buffers.get("v", 0 * theta)
        v = (hyper["gamma"] * v + g) - hyper["beta"] * hyper["kappa"] * v
        return theta - lr * ((g + hyper["gamma"] * v) - hyper["beta"] * hyper["kappa"] * v), {"v": v}
    raise AssertionError(name)


@pytest.mark.parametrize("name", reg.names())
def test_stepper_matches_each_scheme_as_published(name, rng):
    H = rng.standard_normal((6, 6))
    H = H @ H.T / 6 + 0.1 * np.eye(6)
    grad = lambda x: x @ H  # noqa: E731  (batch of row vectors)
    res = resolve(name, 0.3)
    theta0 = rng.standard_normal((2, 6))
    out = stepper.run(res, grad, npx.asarray(theta0), steps=15)
    th, buf = theta0, {}
    for _ in range(15):
        th, buf = _reference_step(name, res.hyper, res.lr, grad, th, buf)
    np.testing.assert_allclose(to_numpy(out.theta), th, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", reg.names())
def test_quadratic_stability_edge_is_the_exact_region(name):
    # λ on both sides of h_upper/η by 1 %: the stepper's classification matches the region
    res = resolve(name, 1.0)
    h_hi = h_interval(res).upper
    lam = np.array([0.5 * h_hi, 0.99 * h_hi, 1.01 * h_hi, 1.5 * h_hi])
    grad = lambda x: x * npx.asarray(lam)[:, None]  # noqa: E731
    out = stepper.run(res, grad, npx.ones((4, 1)), steps=4000)
    assert out.diverged.tolist() == [False, False, True, True], (name, h_hi, out.reason)


def test_exact_windowed_bounds_are_where_an_eigenmode_leaves_the_unit_disk(rng):
    op = CnnOperator(npx.asarray(rng.standard_normal((14, 14))), 5)
    lam = np.linalg.eigvalsh(op.gram_dense())
    dt, a, beta, mom = 0.01, -0.5, 1.0, 0.9
    p = resolve("nesterov", params={"dt": dt, "momentum": mom})
    ex = exact_bounds(op, p, a, beta)
    for bound, inside in ((ex["alpha_lower"], +1), (ex["alpha_upper"], -1)):
        for f, stable in ((1 + inside * 1e-3, True), (1 - inside * 1e-3, False)):
            h = p.lr * (bound * f + 0.5 * a * beta * lam)
            radius = max(max(abs(np.roots([1.0, -(1 - x) * (1 + mom), (1 - x) * mom]))) for x in h)
            assert (radius < 1) == stable, (bound, f)


@pytest.mark.parametrize("seeded", [False, True])
def test_simulated_nesterov_bounds_agree_with_exact(seeded):
    op = CnnOperator(npx.asarray(checkerboard(48)), 8)
    p = resolve_scheme("nesterov", 1e-3, momentum=0.9)
    ex = exact_bounds(op, p)
    guess = {"lower": ex["alpha_lower"], "upper": ex["alpha_upper"]} if seeded else None
    sim = simulated_bounds(op, p, rtol=1e-3, steps=800, guess=guess, confirm=seeded)   # unseeded: the search only
    for k in ("lower", "upper"):
        assert abs(sim[f"alpha_{k}"] - ex[f"alpha_{k}"]) <= 1e-3 * abs(ex[f"alpha_{k}"]), k
    assert not any("not confirmed" in n or "unresolved" in n for n in sim["notes"]) and sim["seeded"] == seeded
    assert sim["runs"] == 4 if seeded else sim["runs"] > 4


def test_seeded_search_falls_back_when_the_guess_is_wrong():
    op = CnnOperator(npx.asarray(checkerboard(32)), 6)
    p = resolve_scheme("gd", 1e-5)
    ex = exact_bounds(op, p)
    sim = simulated_bounds(op, p, rtol=1e-3, steps=600, guess={"lower": ex["alpha_lower"] * 1.2,
                                                              "upper": ex["alpha_upper"]})
    assert "lower: the predicted edge" in sim["note"] and not sim["seeded"]
    assert abs(sim["alpha_lower"] - ex["alpha_lower"]) <= 1e-3 * ex["alpha_lower"]
    assert sim["alpha_upper"] == ex["alpha_upper"]           # confirmed: the midpoint of the seeded bracket


def test_empty_interval_is_reported_by_every_method():
    op = CnnOperator(npx.asarray(checkerboard(32)), 6)
    p = resolve_scheme("gd", 1e-3)                              # 2/dt = 2000 < the spread 6561
    ex = exact_bounds(op, p)
    sim = simulated_bounds(op, p, rtol=1e-3, steps=300)
    assert ex["empty"] and "stable interval is empty" in ex["reason"]
    assert sim["empty"] and "no stable value" in sim["reason"]


def test_compute_bounds_nesterov_contract():
    r = compute_bounds(checkerboard(32), 6, 1e-3, scheme="nesterov", momentum=0.5, methods=("theory", "theory_exact",
                                                                                               "exact"))
    assert r["scheme"] == "nesterov" and r["momentum"] == 0.5 and r["params"] == {"mu": 0.5}
    assert r["d"] == pytest.approx(2 * 0.5 / (1.5 * 1e-3)) and r["eta"] == pytest.approx(1e-6 * 1.5 / 2)
    # paper (45): z < 4/(3Δt²); exact: z < 4/((1+2μ)Δt²): the ratio 3/(1+2μ) = 1.5 at μ = 0.5
    assert r["theory"]["z_upper"] == pytest.approx(4 / 3e-6)
    assert r["theory_exact"]["z_upper"] / r["theory"]["z_upper"] == pytest.approx(1.5, rel=1e-12)
    assert r["theory"]["alpha_lower"] == r["theory_exact"]["alpha_lower"]
    with pytest.raises(ParameterError, match="momentum: unknown hyperparameter of gd"):
        compute_bounds(checkerboard(32), 6, 1e-3, momentum=0.9)
    with pytest.raises(ParameterError, match="scheme: unknown"):
        compute_bounds(checkerboard(32), 6, 1e-3, scheme="lion")


def test_nonlinear_nesterov_converges_inside_and_diverges_outside():
    op = CnnOperator(npx.asarray(smooth(24, 3)), 6)
    dt = 0.05
    p = resolve("nesterov", params={"dt": dt, "momentum": 0.9})
    z_hi = 4 / ((1 + 2 * 0.9) * dt ** 2)            # the exact region's end for μ = 0.9
    res = run_cnn(op, [0.2 * z_hi, 1.5 * z_hi], scheme=p, force="nonlinear", steps=400)
    assert not res.diverged[0] and res.diverged[1]
    assert res.reason[1] in ("growth", "blowup", "nonfinite")
    assert res.extra["lr"] == pytest.approx(p.lr)


@pytest.mark.parametrize("kw, match", [
    ({"blowup": 1.0}, "blowup"), ({"window": 5}, "window"), ({"window": 0}, "window"),
    ({"converged": float("nan")}, "converged"), ({"blowup": float("nan")}, "blowup"),
    ({"loss_blowup": 0.5}, "blowup"),
])
def test_divergence_criterion_checks(kw, match):
    with pytest.raises(ParameterError, match=match):
        DivergenceCriterion(**kw)


def test_stepper_refuses_huge_record_and_fractional_steps():
    with pytest.raises(ParameterError, match="steps: needs .* of memory"):
        stepper.run("gd", lambda x: x, npx.ones((4, 2)), 0.1, steps=999999999999)
    with pytest.raises(ParameterError, match="steps: expected an integer"):
        stepper.run("gd", lambda x: x, npx.ones((1, 2)), 0.1, steps=2.7)


def test_loss_verdict_and_disabled_increment_check():
    from workbench.solvers.stepping.divergence import loss_limit, loss_verdict

    crit = DivergenceCriterion(blowup=float("inf"), loss_blowup=1e6)
    lim = loss_limit(-3.0, crit)
    assert lim == 3e6 and loss_limit(0.5, crit) == 1e6           # max(1, |f0|)
    assert loss_verdict(2.9e6, lim) == "" and loss_verdict(3.1e6, lim) == "blowup"
    assert loss_verdict(float("nan"), lim) == "nonfinite-loss" and loss_verdict(-float("inf"), lim) == "nonfinite-loss"
    # increments growing 1e9-fold are not a blow-up when the check is off; growth still is
    r = stepper.run("gd", lambda x: -0.5 * x, npx.ones((1, 3)), 1.0, 60, criterion=crit)
    assert r.reason == ["growth"] and r.norms[-1, 0] == pytest.approx(np.sqrt(3) * 1.5 ** 60)


def test_indexed_force_rule_and_observer_stop_against_a_hand_loop(rng):
    """A force that changes per step, a step-size rule, and a requested stop: the same numbers as a plain loop."""
    H = np.diag([1.0, 2.0, 3.0])
    c = 1.0 + rng.random(12)
    th0 = rng.standard_normal((2, 3))

    def force(x, n):
        return c[n] * (x @ H)

    def rule(n, th, g):
        return 0.3 / (1.0 + n)

    seen = []

    def observe(n, th, g):
        seen.append(n)
        return {"stop": "enough"} if n == 7 else {"norm": float(np.linalg.norm(th))}

    r = stepper.run("gd", force, npx.asarray(th0), rule, 12, observe=observe, indexed=True)
    ref = th0.copy()
    for n in range(7):
        ref = ref - (0.3 / (1.0 + n)) * (c[n] * (ref @ H))
    assert np.array_equal(np.asarray(r.theta), ref)
    assert seen == list(range(8)) and len(r.records) == 7 and r.records[-1]["step"] == 6
    assert r.extra["stopped"] == "enough" and r.extra["steps_done"] == 7 and r.increments.shape == (7, 2)
    # a non-finite rate ends the run before that step's update
    r2 = stepper.run("gd", force, npx.asarray(th0), lambda n, th, g: 0.1 if n < 3 else float("inf"), 12, indexed=True)
    assert r2.extra["stopped"] == "lr" and r2.extra["steps_done"] == 3
    ref = th0.copy()
    for n in range(3):
        ref = ref - 0.1 * (c[n] * (ref @ H))
    assert np.array_equal(np.asarray(r2.theta), ref)


def test_observed_run_ends_once_every_member_diverged():
    calls = []

    def force(x):
        calls.append(1)
        return -x

    r = stepper.run("gd", force, npx.ones((1, 2)), 1e300, 500, observe=lambda n, th, g: None)
    assert r.reason == ["nonfinite"] and r.extra["steps_done"] == len(calls) < 10


@example(name="qhm", seed=0, n=8, w=2)
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(reg.names()), seed=st.integers(0, 10_000), n=st.integers(8, 12), w=st.integers(2, 3))
def test_every_scheme_exact_bounds_equal_simulated_on_random_images(name, seed, n, w):
    # the registry's exact region over the windowed spectrum vs the unseeded search on the stepped scheme.
    # Simulated bounds are finite-horizon: buffers with EMA factors near 1 (QHM's default beta = 0.999, AggMo's
    # 1 - 0.1^2) make modes near the edge grow or decay by ~1e-3 per step, so 2000 steps cannot resolve them;
    # those schemes run with faster buffers here (scheme-atlas covers their defaults through root sampling).
    # Three random draws: the same comparison runs for every scheme in the scheme-atlas quick case (smooth:16) and on
    # 40 random configurations in test_reliability_bounds; this test adds random images and kernel widths.
    params = {"qhm": {"nu": 0.7, "beta": 0.9}, "aggmo": {"K": 2, "base": 0.5}}.get(name, {})
    img = smooth(n, seed)
    mu_max = compute_bounds(img, w, lr=1.0, scheme=name, params=params, methods=("exact",))["exact"]["mu_max"]
    rtol = 1e-2
    r = compute_bounds(img, w, lr=1.0 / mu_max, scheme=name, params=params, methods=("exact", "simulated"),
                       rtol=rtol, steps=2000, seeded=False)
    for k in ("alpha_lower", "alpha_upper"):
        assert abs(r["simulated"][k] - r["exact"][k]) <= rtol * abs(r["exact"][k]), (name, k, r)


def test_max_growth_test_is_not_fooled_by_an_oscillating_mode():
    # a rotation by 0.9 rad scaled by 1.0005 per step: increments oscillate, the mode grows slowly
    c, s_ = np.cos(0.9), np.sin(0.9)
    R = 1.0005 * np.array([[c, -s_], [s_, c]])
    grad = lambda x: x - x @ R.T  # noqa: E731  (gd with lr 1: x' = R x)
    th0 = npx.asarray(np.array([[1.0, 0.0], [1.0, 0.0]]))
    crit_max = DivergenceCriterion(window=0.05, growth_test="max")
    r = stepper.run("gd", grad, th0, 1.0, 2000, criterion=crit_max)
    assert r.diverged.tolist() == [True, True] and r.reason == ["growth", "growth"]
    R2 = R / 1.0005 * 0.9995                                   # the same rotation, slowly decaying
    r2 = stepper.run("gd", lambda x: x - x @ R2.T, th0, 1.0, 2000, criterion=crit_max)
    assert r2.diverged.tolist() == [False, False]
    with pytest.raises(ParameterError, match="growth_test"):
        DivergenceCriterion(growth_test="mean")


class _HaltAt:
    """GD as an Update that halts member 1 before step 3 (as a non-finite loss would)."""

    lr = 0.1

    def start(self, theta0):
        return [theta0]

    def point(self, state):
        return state[0]

    def step(self, state, x, g, eta):
        return [state[0] - eta * g]

    def halt(self, n, x, g):
        return npx.asarray([False, n == 3])

    def to_dict(self):
        return {"scheme": "halt-test"}


def test_frozen_at_halt_and_to_end():
    th0 = npx.ones((2, 3))
    seen = []
    live = {}

    def observe(n, th, g):
        seen.append((n, [bool(a) for a in live["active"]]))

    r = stepper.run(_HaltAt(), lambda x: x, th0, None, 8, observe=observe, live=live)
    assert list(r.frozen_at) == [-1, 3] and r.reason == ["", "nonfinite"]
    assert np.allclose(to_numpy(r.theta)[1], 0.9 ** 3, rtol=1e-15)        # kept at θ₃
    assert np.allclose(to_numpy(r.theta)[0], 0.9 ** 8, rtol=1e-15)
    assert seen[3] == (3, [True, False]) and seen[2] == (2, [True, True])
    # a blow-up at step n freezes the member at iterate n + 1; to_end keeps observing after every member froze
    crit = DivergenceCriterion(blowup=10.0)
    seen.clear()
    r = stepper.run("gd", lambda x: x, npx.ones((1, 2)), 3.5, 200, criterion=crit,
                    observe=lambda n, th, g: seen.append(n), to_end=True)
    # increments grow by |1 − 3.5| = 2.5 per step: 2.5^3 = 15.6 > 10 at step 3
    assert list(r.frozen_at) == [4] and r.reason == ["blowup"] and seen == list(range(200))
    seen.clear()
    stepper.run("gd", lambda x: x, npx.ones((1, 2)), 3.5, 200, criterion=crit, observe=lambda n, th, g: seen.append(n))
    assert seen == [0, 1, 2, 3]                         # without to_end the run ends once every member froze

"""Simulated α bounds of the linearized one-layer CNN: divergence observed or not over a stated horizon.

First paper (Sun et al. 2022), appendices D.3 and E. A registered scheme with learning rate η is
stepped on the linearized force ½a(c + βGK) + αK (:func:`workbench.solvers.cnn.schemes.run_cnn`) for a
batch of α, and each member is classified by :class:`~workbench.solvers.stepping.divergence.DivergenceCriterion`.

**Placement.** The edges are predicted from the extremes of G (Lanczos,
:func:`~workbench.solvers.cnn.spectrum.alpha_extremes`) or given as ``guess`` (the exact bounds);
the prediction only *places* the runs, and the result's notes say so.

**Horizon.** At α = edge·(1 ∓ rtol/2) the mode at the edge grows or decays by about
h = η·rtol/2·|edge| per step, and its neighbours in a dense spectrum decay almost as slowly, so
seeing the sign of h takes ~1/h steps (``horizon_steps``). Each edge is run for at least
``max(steps, horizon_steps)`` steps:

* with a dense one-step map (w ≤ 32, gradient descent: one state, symmetric map) by repeated
  squaring (:func:`workbench.solvers.stepping.powers.power_classify`), where N steps cost log₂N
  matrix products and the horizon doubles until the member outside the edge is seen to diverge
  (up to ``max_steps``);
* otherwise by stepping (FFTs or the dense matrix), within the work budget ``work``.

**Confirmation, then search.** The two members edge·(1 ± rtol/2) are run first; an edge whose pair
classifies as predicted lies in that bracket of relative width rtol. Otherwise a scan on the
predicted interval widened by 10 % on each side (so a narrow stable set always has scan points
inside) and a bisection (:func:`workbench.solvers.stepping.bisect.stable_interval`) find it, every run
at the edge's horizon. An edge whose horizon exceeds the budget is reported as ``nan`` with the
horizon it needs (``unresolved``), never as a finite-horizon search value.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from workbench.solvers.core.backend import to_numpy
from workbench.solvers.core.checks import ParameterError, check_finite, check_positive
from workbench.solvers.cnn.correlation import CnnOperator, DenseGram
from workbench.solvers.cnn.schemes import initial_kernel, linear_force, run_cnn
from workbench.solvers.cnn.spectrum import alpha_extremes
from workbench.solvers.stepping.bisect import stable_interval
from workbench.solvers.stepping.divergence import DivergenceCriterion
from workbench.solvers.stepping.optimizers import Resolved, h_interval
from workbench.solvers.stepping.powers import DEFAULT_WORK, power_classify, power_cost, step_cost

__all__ = ["simulated_bounds", "DEFAULT_WORK"]



def _predicted(op: CnnOperator, s: float, zl: float, zh: float) -> tuple[float, float]:
    """Edges from the extremes of G: z_lo < α + sμ < z_hi for μ in [λ_min, λ_max] (appendix D.3)."""
    ex = alpha_extremes(op, s, zh, rtol=1e-6, z_lo=zl)
    lo_mu, hi_mu = max(ex.lambda_min, 0.0), ex.lambda_max
    return zl - min(s * lo_mu, s * hi_mu), zh - max(s * lo_mu, s * hi_mu)


class _Runner:
    """Classifies batches of α at a horizon: repeated squaring where it applies and is cheaper, else stepping."""

    def __init__(self, op: CnnOperator, res: Resolved, a: float, beta: float, seed: int, use_matrix: bool,
                 crit: DivergenceCriterion, max_steps: int, work: float):
        self.op, self.res, self.a, self.beta, self.seed, self.crit = op, res, a, beta, seed, crit
        self.dense = DenseGram(op) if use_matrix else None
        self.stepper = self.dense if use_matrix else op
        self.max_steps, self.work = int(max_steps), float(work)
        self.n = op.w * op.w
        xp = op.xp
        # powers need a symmetric one-step map of the increments: one state component (gradient descent),
        # the ratio test, float64, and the dense G
        self.can_power = (use_matrix and len(res.kinds) == 1 and crit.growth_test == "ratio"
                          and op.dtype == xp.float64)
        hw = op.shape[0] * op.shape[1]
        self.fft_step = 4 * 2.5 * hw * math.log2(max(hw, 2))        # one member, one step of G by FFTs
        self.runs = 0
        self.member_steps = 0                                        # members × steps simulated
        self.flops = 0.0                                              # the estimated work of the runs

    def _step_work(self, members: int, steps: int) -> float:
        if self.dense is not None:
            return step_cost(self.n, members, steps)
        return float(steps) * members * self.fft_step

    def reach(self, members: int, steps: int) -> tuple[int, str]:
        """(horizon affordable for ``steps`` wanted, path): powers reach max_steps; stepping the work budget."""
        if self.can_power and power_cost(self.n, members, steps) < self._step_work(members, steps):
            return min(self.max_steps, max(steps, 16)), "powers"
        per = self._step_work(members, 1)
        return int(min(steps, self.max_steps, max(2.0, self.work // per))), "stepping"

    def classify(self, alphas: np.ndarray, steps: int, stop: Callable[[np.ndarray], bool] | None = None
                 ) -> tuple[np.ndarray, int, str]:
        """``(stable, horizon run, path)`` for the members ``alphas``, at least ``steps`` steps where affordable."""
        alphas = np.asarray(alphas, dtype=np.float64)
        n_run, path = self.reach(alphas.size, steps)
        self.runs += alphas.size
        if path == "powers":
            r = self._powers(alphas, n_run if stop is None else max(steps, 16), stop)
            self.member_steps += alphas.size * r.steps
            self.flops += power_cost(self.n, alphas.size, r.steps)
            return ~r.diverged, r.steps, path
        self.member_steps += alphas.size * n_run
        self.flops += self._step_work(alphas.size, n_run)
        r = run_cnn(self.stepper, list(alphas), scheme=self.res, force="linear", a=self.a, beta=self.beta,
                    steps=n_run, seed=self.seed, criterion=self.crit)
        return ~r.diverged, n_run, path

    def _powers(self, alphas: np.ndarray, min_steps: int, stop: Callable[[np.ndarray], bool] | None) -> Any:
        xp, op, res = self.op.xp, self.op, self.res
        g = self.dense.matrix
        a00, b0, c0, eta = float(res.A[0][0]), float(res.B[0]), float(res.C[0]), float(res.lr)
        k0 = initial_kernel(op, 1, self.seed)
        eye = xp.eye(self.n, dtype=op.dtype)
        maps, d0 = [], []
        for al in alphas:
            # increments: δ' = (a00 − η b0 c0 M) δ, M = αI + ½aβG; δ0 from the first step (offset ½a·c included)
            maps.append(a00 * eye - (eta * b0 * c0) * (float(al) * eye + (0.5 * self.a * self.beta) * g))
            force = linear_force(self.dense, c0 * k0, xp.asarray(float(al), dtype=op.dtype), self.a, self.beta)
            d0.append(xp.reshape(a00 * k0 - eta * b0 * force - k0, (self.n,)))
        return power_classify(maps, d0, xp, min_steps=min_steps, max_steps=self.max_steps,
                              blowup=self.crit.blowup, window=self.crit.window, stop=stop)


def _confirm(run: _Runner, key: str, g: float, rtol: float, need: int) -> dict:
    """Run edge·(1 ± rtol/2) (inside, outside) for the edge's horizon; the outside member should diverge."""
    step = 0.5 * rtol * abs(g)
    inner, outer = (g + step, g - step) if key == "lower" else (g - step, g + step)
    stable, n_run, path = run.classify(np.array([inner, outer]), need, stop=lambda d: bool(d[1]))
    return {"inner": inner, "outer": outer, "stable": (bool(stable[0]), bool(stable[1])), "steps": n_run,
            "path": path, "confirmed": bool(stable[0]) and not bool(stable[1])}


def simulated_bounds(
    op: CnnOperator,
    res: Resolved,
    a: float = -0.5,
    beta: float = 1.0,
    *,
    rtol: float = 1e-3,
    steps: int = 1000,
    max_steps: int = 2 ** 22,
    work: float = DEFAULT_WORK,
    scan: int = 16,
    points: int = 1,
    seed: int = 0,
    operator: str = "auto",
    criterion: DivergenceCriterion | None = None,
    max_rounds: int = 60,
    guess: dict[str, float] | None = None,
    confirm: bool = True,
) -> dict:
    """α bounds measured by running the linearized scheme (see the module docstring).

    Parameters
    ----------
    rtol : float
        Relative width of each edge's bracket.
    steps : int
        The shortest horizon of any run.
    max_steps : int
        The longest horizon (repeated squaring); stepping stops at the ``work`` budget
        (floating-point operations per run) first.
    guess : dict, optional
        Predicted edges (e.g. the exact bounds); else predicted from the extremes of G.
    confirm : bool
        Confirm the predicted edges first (default); False: only the search, placed by the prediction.
    operator : {"auto", "fft", "matrix"}
        How the stepping applies G: FFTs on the image grid, or the dense w²×w² matrix
        (:class:`~workbench.solvers.cnn.correlation.DenseGram`, also what repeated squaring needs); ``auto``: the
        matrix for w ≤ 32.

    Returns
    -------
    dict
        ``alpha_lower``/``alpha_upper`` (nan where no edge was found or its horizon was out of reach),
        ``bracket_*`` (unstable side, stable side), ``horizon_steps`` (needed), ``steps_run`` and ``path``
        per edge, ``unresolved`` (edges out of reach), ``runs``, ``rounds``, ``member_steps`` (members ×
        steps simulated), ``work_done`` (estimated operations: n³ per squaring and member, or the
        stepping cost), ``empty``, ``notes``.
    """
    a, beta = check_finite("a", a), check_positive("beta", beta)
    rtol = check_positive("rtol", rtol)
    if rtol >= 1:
        raise ParameterError(f"rtol: must be < 1, got {rtol}")
    steps, max_steps = int(steps), int(max_steps)
    if steps < 2:
        raise ParameterError(f"steps: need at least 2 time steps to classify growth, got {steps}")
    if max_steps < max(steps, 16):
        raise ParameterError(f"max_steps: must be >= max(steps, 16), got {max_steps}")
    work = check_positive("work", work)
    # a momentum scheme iterates a non-symmetric map: its increments need not grow monotonically near the edge,
    # so it is classified by window maxima (same verdict as the ratio test for monotone increments)
    crit = criterion or DivergenceCriterion(growth_test="ratio" if len(res.kinds) == 1 else "max")
    if operator not in ("auto", "fft", "matrix"):
        raise ParameterError(f"operator: unknown {operator!r}; use auto, fft or matrix")
    use_matrix = operator == "matrix" or (operator == "auto" and op.w <= 32)
    reg = h_interval(res)
    zl, zh = reg.lower / res.lr, reg.upper / res.lr
    s = 0.5 * a * beta
    notes: list[str] = []
    g = {k: v for k, v in (guess or {}).items() if v is not None and math.isfinite(v)}
    pred = None if len(g) == 2 and confirm else _predicted(op, s, zl, zh)     # given edges: placed by them
    seeds = g or {"lower": pred[0], "upper": pred[1]}
    notes.append(("runs" if confirm else "the search") + " placed by "
                 + ("the given predicted edges (the exact bounds)" if g else
                                      "the edges predicted from the extremes of G (Lanczos)")
                 + "; every bound below is a classification of runs of the scheme")
    run = _Runner(op, res, a, beta, seed, use_matrix, crit, max_steps, work)
    zero_scale = 1.0 / (res.lr * steps)           # an edge within 1/(η·steps) of 0 is "at 0" on the horizon's scale
    # the horizon an edge needs: a mode at rtol/2 beyond it changes by η·rtol/2·|edge| per step for a
    # one-state scheme (gradient descent). A momentum scheme's edge modes move at other rates (e.g. /(1 − μ) at
    # z ≈ 0), for which no estimate is made here: its runs last `steps`, as given.
    one_state = len(res.kinds) == 1
    need = {k: max(steps, int(math.ceil(1.0 / (res.lr * 0.5 * rtol * abs(v))))) if v and one_state else steps
            for k, v in seeds.items()}
    if not one_state:
        notes.append(f"a momentum scheme: every run lasts the {steps} steps given (no horizon estimate)")
    brackets: dict[str, list] = {}
    seeded: dict[str, bool] = {}
    steps_run: dict[str, int] = {}
    path: dict[str, str] = {}
    unresolved: list[str] = []
    rounds = 0
    for key in ("lower", "upper"):
        v = seeds.get(key)
        if v is None or abs(v) <= zero_scale:      # searched, at the resolution of `steps`
            continue
        reach, how = run.reach(2, need[key])
        if need[key] > reach:
            unresolved.append(key)
            steps_run[key], path[key] = reach, how
            notes.append(f"alpha_{key}: unresolved: at rtol/2 outside the predicted edge {v:.6g} the mode changes "
                         f"by ~{1.0 / need[key]:.1e} per step, so deciding it needs ~{need[key]:.3g} steps; "
                         f"{how} allows {reach} (max_steps {max_steps}, work budget {work:.0e} operations per "
                         "run); not run, no value reported")
            continue
        if not confirm:
            continue
        c = _confirm(run, key, v, rtol, need[key])
        rounds += 1
        steps_run[key], path[key] = c["steps"], c["path"]
        if c["confirmed"]:
            brackets[key], seeded[key] = [c["outer"], c["inner"]], True
        else:
            notes.append(f"alpha_{key}: the predicted edge {v:.6g} was not confirmed over {c['steps']} steps "
                         f"(inside {'stable' if c['stable'][0] else 'unstable'}, outside "
                         f"{'stable' if c['stable'][1] else 'unstable'}); searched instead")
    todo = tuple(k for k in ("lower", "upper") if k not in brackets and k not in unresolved)
    empty = False
    if todo:
        pred = pred or _predicted(op, s, zl, zh)
        lo_p, hi_p = min(pred), max(pred)
        width = max(hi_p - lo_p, rtol * max(abs(lo_p), abs(hi_p), zero_scale))
        lo_a, hi_b = lo_p - 0.1 * width, hi_p + 0.1 * width
        n_search = max(need.get(k, steps) if abs(seeds.get(k) or 0.0) > zero_scale else steps for k in todo)
        reached, how = run.reach(max(1, int(points)) * len(todo), n_search)

        def classify(alphas: np.ndarray) -> np.ndarray:
            return run.classify(alphas, n_search)[0]

        search = stable_interval(classify, lo_a, hi_b, rtol=rtol, atol=rtol * 1e-12 / res.lr, scan=scan,
                                 points=points, edges=todo, max_rounds=max_rounds, resolution=zero_scale)
        rounds += search.rounds
        notes += [f"search: {n}" for n in search.notes]
        notes.append(f"search on [{lo_a:.6g}, {hi_b:.6g}] (the predicted interval widened by 10 %), "
                     f"{scan} points, {reached} steps per run")
        for key in todo:
            e = search.edges[key]
            brackets[key] = list(e.bracket)
            steps_run[key], path[key] = reached, how
            at_zero = e.found and max(abs(e.bracket[0]), abs(e.bracket[1])) <= zero_scale
            if e.found and not at_zero and reached < need.get(key, steps):
                unresolved.append(key)
                notes.append(f"alpha_{key}: unresolved: the search ran {reached} steps per run, deciding the edge "
                             f"to rtol needs ~{need[key]:.3g}; its bracket [{e.bracket[0]:.6g}, "
                             f"{e.bracket[1]:.6g}] is a finite-horizon estimate and is not reported as the edge")
        empty = search.empty
    out: dict[str, Any] = {"rtol": rtol, "steps": steps, "max_steps": max_steps, "work": work,
                           "operator": "matrix" if use_matrix else "fft", "criterion": crit.describe(),
                           "runs": run.runs, "rounds": rounds, "zero_scale": zero_scale,
                           "member_steps": run.member_steps, "work_done": run.flops,
                           "horizon_steps": {k: float(v) for k, v in need.items()}, "steps_run": steps_run,
                           "path": path, "unresolved": unresolved, "predicted": dict(zip(("lower", "upper"), pred or (seeds.get("lower"), seeds.get("upper")))),
                           "seeded": bool(g) and all(seeded.get(k, False) for k in ("lower", "upper"))}
    for key in ("lower", "upper"):
        br = brackets.get(key, [None, None])
        u, st = br
        out[f"bracket_{key}"] = [None if u is None else float(u), None if st is None else float(st)]
        ok = u is not None and st is not None and key not in unresolved
        out[f"alpha_{key}"] = 0.5 * (u + st) if ok else math.nan
        if ok and max(abs(u), abs(st)) <= zero_scale:
            notes.append(f"alpha_{key}: the edge is at 0 within what the run can resolve (1/(lr x steps) = "
                         f"{zero_scale:.3g}); finite horizon: {steps} steps resolve it only to about "
                         f"+-{zero_scale:.3g}, so the bracket [{min(u, st):.3g}, {max(u, st):.3g}] is reported at "
                         "that resolution")
    out["empty"] = bool(empty)
    if empty:
        out["reason"] = notes[-2] if len(notes) > 1 else "no stable value found"
    out["note"] = "; ".join(notes)
    out["notes"] = notes
    return out

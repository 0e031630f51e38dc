"""Drift adjusted learning rates (DAL) as step-size rules, and a gradient-descent runner.

Third paper: Rosca, Wu, Qin, Dherin, "On a continuous time model of gradient descent
dynamics and instability in deep learning" (TMLR 2023), §6.1-§6.3 and §7.

The drift of one GD step from the negative gradient flow (NGF) is, to leading order,
(h²/2)∇²E∇E (Theorem 6.1). DAL sets the learning rate from ĝ = ∇E/‖∇E‖:

=================  ==================================================================
``fixed(h)``       hₜ = h
``dal()``          hₜ = 2 / ‖∇²E ĝ‖                                    (18)
``dal_p(p)``       hₜ = 2 / ‖∇²E ĝ‖ᵖ                                   (19)
``dal_momentum``   vₜ = m vₜ₋₁ − c/‖∇²E ĝ‖ᵖ ∇E(θₜ₋₁), θₜ = θₜ₋₁ + vₜ   (21), c = 1/2
=================  ==================================================================

Equation (21) is printed with the coefficient 1/(2‖∇²E ĝ‖), not the 2/‖·‖ of (18):
:func:`dal_momentum` follows the print (``scale=0.5``) and takes any ``scale``; with
``momentum=0`` and ``scale=2`` it is DAL-p exactly (a test checks this). ‖∇²E ĝ‖ costs one
Hessian-vector product per step (exact where the objective has it).

:func:`run` is plain full-batch GD (or heavy-ball momentum) under a rule, on any
:class:`~workbench.solvers.core.objectives.Objective` and backend. Per step t it records the loss
E(θₜ), the learning rate used hₜ, whether the loss increased, ‖∇E‖, ‖∇²E ĝ‖,
‖∇²E∇E‖ at θₜ₋₁ and, every ``drift_every`` steps (GD rules only), the per-iteration
drift ‖θₜ − NGF(θₜ₋₁, hₜ)‖ of §6.1 (Figs. 16-17), NGF integrated on the host with SciPy's
DOP853 (rtol 1e-10). Theorem 6.1 predicts drift ≈ (hₜ²/2)‖∇²E∇E‖ for small hₜ.
The iteration is :func:`workbench.solvers.stepping.stepper.run` of the registered ``gd`` (or ``heavy-ball``
with μ = m for (20)-(21)) with the rule as its per-step learning rate.

Divergence is detected on purpose and classified (``DALRun.status``, ``.divergence``,
``.reason``), never raised and never a silent NaN (the diverging loss is recorded as its
value or ``inf``): ``"diverged"`` (a non-finite iterate, a non-finite loss, or |E| beyond
``blowup``·max(1, |E₀|); kinds :data:`DIVERGENCE_KINDS`), ``"undefined"`` (‖∇²E ĝ‖ = 0:
the DAL step is infinite and no ``max_lr`` was given), ``"converged"`` (∇E = 0 exactly),
else ``"completed"``. NumPy's overflow warnings are silenced inside the loop
(:func:`workbench.solvers.core.backend.quiet_overflow`); the result says what happened instead.

A loss increase is E(θₜ) > E(θₜ₋₁) + 1e-12·max(1, |E(θₜ₋₁)|) (the margin keeps rounding
noise near a minimum from counting).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from workbench.solvers.core.backend import quiet_overflow, to_numpy
from workbench.solvers.core.checks import ParameterError, check_positive
from workbench.solvers.dynamics.diagnostics import DIVERGENCE_KINDS
from workbench.solvers.stepping.divergence import DivergenceCriterion, loss_limit, loss_verdict
from workbench.solvers.stepping.optimizers import resolve
from workbench.solvers.stepping.tracking import Stop, Visit, run_tracked

__all__ = [
    "RULES", "RuleKind", "StepRule", "fixed", "dal", "dal_p", "dal_momentum", "dal_learning_rate", "DALRun", "run",
    "ngf_step", "INCREASE_RTOL", "DIVERGENCE_KINDS",
]



@dataclass(frozen=True)
class RuleKind:
    """One row of the step-rule table: whether the rate is adaptive, takes a momentum, and its label."""

    adaptive: bool
    momentum: bool
    label: Callable[["StepRule"], str]


#: The step rules of the third paper: fixed (1), DAL (18), DAL-p (19), DAL with momentum (20)-(21).
RULES: dict[str, RuleKind] = {
    "fixed": RuleKind(False, False, lambda r: f"fixed h={r.h:g}"),
    "dal": RuleKind(True, False, lambda r: "DAL"),
    "dal-p": RuleKind(True, False, lambda r: f"DAL-{r.p:g}"),
    "dal-momentum": RuleKind(True, True, lambda r: f"DAL-momentum m={r.momentum:g} p={r.p:g} c={r.scale:g}"),
}
#: relative margin for counting a loss increase (rounding noise near a minimum is not one)
INCREASE_RTOL = 1e-12


@dataclass(frozen=True)
class StepRule:
    """A step-size rule for :func:`run` (build it with :func:`fixed`, :func:`dal`, ...).

    Attributes
    ----------
    kind : str
        A key of :data:`RULES`: "fixed", "dal", "dal-p" or "dal-momentum".
    h : float or None
        The fixed learning rate (``kind="fixed"`` only).
    p : float
        Power of ‖∇²E ĝ‖ in (19) / (21); 1 for DAL (18).
    momentum : float
        Decay m in [0, 1) of (20)-(21); 0 for the GD rules.
    scale : float
        Numerator c of c/‖∇²E ĝ‖ᵖ: 2 in (18)-(19), 1/2 in (21) as printed.
    max_lr : float
        Upper cap on the adaptive rate (``inf``: none; then ‖∇²E ĝ‖ = 0 stops the run).
    """

    kind: str
    h: float | None = None
    p: float = 1.0
    momentum: float = 0.0
    scale: float = 2.0
    max_lr: float = math.inf

    def __post_init__(self) -> None:
        if self.kind not in RULES:
            raise ParameterError(f"kind: unknown step rule {self.kind!r}; expected one of {', '.join(RULES)}")
        if not RULES[self.kind].adaptive:
            check_positive("h", self.h)
        check_positive("p", self.p)
        check_positive("scale", self.scale)
        m = float(self.momentum)
        if not (math.isfinite(m) and 0.0 <= m < 1.0):
            raise ParameterError(f"momentum: must be in [0, 1), got {self.momentum!r}")
        if not RULES[self.kind].momentum and m != 0.0:
            raise ParameterError(f"momentum: only the 'dal-momentum' rule takes a momentum, got {m} for {self.kind!r}")
        mx = float(self.max_lr)
        if not (mx > 0) or math.isnan(mx):
            raise ParameterError(f"max_lr: must be > 0 (inf for no cap), got {self.max_lr!r}")

    @property
    def adaptive(self) -> bool:
        """True when the rate depends on ‖∇²E ĝ‖ (every rule but ``fixed``)."""
        return RULES[self.kind].adaptive

    @property
    def name(self) -> str:
        return RULES[self.kind].label(self)

    def rate(self, hhat_norm: float) -> float:
        """The learning rate for ‖∇²E ĝ‖ = ``hhat_norm`` (``inf`` where it is 0 and uncapped)."""
        if not self.adaptive:
            return float(self.h)  # type: ignore[arg-type]
        d = float(hhat_norm)
        if d <= 0.0:
            return float(self.max_lr)
        with quiet_overflow():
            lr = self.scale / d ** self.p
        return float(min(lr, self.max_lr)) if math.isfinite(lr) else float(self.max_lr)


def fixed(h: float) -> StepRule:
    """Fixed learning rate hₜ = h (plain GD (1))."""
    return StepRule("fixed", h=check_positive("h", h))


def dal(max_lr: float = math.inf) -> StepRule:
    """DAL (18): hₜ = 2/‖∇²E(θₜ₋₁) ĝ(θₜ₋₁)‖, ĝ = ∇E/‖∇E‖."""
    return StepRule("dal", p=1.0, max_lr=max_lr)


def dal_p(p: float, max_lr: float = math.inf) -> StepRule:
    """DAL-p (19): hₜ = 2/‖∇²E ĝ‖ᵖ (p = 1 is DAL).

    The paper: smaller p, more drift and faster training. That holds where ‖∇²E ĝ‖ > 1;
    the rule is not invariant to the scale of E, and where ‖∇²E ĝ‖ < 1 a smaller p gives
    a smaller step.
    """
    return StepRule("dal-p", p=check_positive("p", p), max_lr=max_lr)


def dal_momentum(momentum: float = 0.9, p: float = 1.0, scale: float = 0.5, max_lr: float = math.inf) -> StepRule:
    """DAL with momentum (21): vₜ = m vₜ₋₁ − (c/‖∇²E ĝ‖ᵖ)∇E(θₜ₋₁), θₜ = θₜ₋₁ + vₜ.

    ``scale`` c = 1/2 is the coefficient printed in (21); ``p`` as in (19) (§7: "we can
    use powers to control the stability performance trade-off").
    """
    return StepRule("dal-momentum", p=check_positive("p", p), momentum=momentum, scale=check_positive("scale", scale),
                    max_lr=max_lr)


def dal_learning_rate(obj: Any, theta: Any, p: float = 1.0, scale: float = 2.0) -> float:
    """DAL-p step c/‖∇²E ĝ‖ᵖ, ĝ = ∇E/‖∇E‖ ((18); p ≠ 1 is DAL-p (19); c = 2); one HVP.

    Parameters
    ----------
    obj : Objective
    theta : array, shape (obj.size,)
    p : float
        Power, > 0.
    scale : float
        Numerator c, > 0 (2 in (18)-(19)).

    Raises
    ------
    ParameterError
        p ≤ 0, scale ≤ 0, or a zero gradient / zero drift (no finite DAL step).
    """
    p = check_positive("p", p)
    scale = check_positive("scale", scale)
    xp = obj.xp
    g = obj.gradient(theta)
    gn = float(xp.linalg.vector_norm(g))
    if gn == 0.0:
        raise ParameterError("theta: the gradient is zero; DAL's step 2/||H g/|g|||^p is undefined")
    d = float(xp.linalg.vector_norm(obj.hvp(theta, g / gn)))
    if d == 0.0:
        raise ParameterError("theta: the drift H g is zero; DAL's step is infinite")
    return scale / d ** p


def ngf_step(obj: Any, theta: Any, t: float, rtol: float = 1e-10, atol: float = 1e-13) -> np.ndarray:
    """NGF(θ, t): the negative gradient flow θ̇ = −∇E (2) from θ for time t, on the host.

    SciPy DOP853 with error control; gradients evaluated by ``obj`` on its backend.
    Returns a NumPy float64 array (non-finite entries if the flow blew up).
    """
    from scipy.integrate import solve_ivp

    tv = check_positive("t", t)
    xp, dt = obj.xp, obj.dtype
    y0 = np.asarray(to_numpy(theta), dtype=np.float64)

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(y)):
            return np.full_like(y, np.nan)
        return -np.asarray(to_numpy(obj.gradient(xp.asarray(y, dtype=dt))), dtype=np.float64)

    with quiet_overflow():
        sol = solve_ivp(rhs, (0.0, tv), y0, method="DOP853", rtol=rtol, atol=atol)
    if sol.status != 0:
        return np.full_like(y0, np.nan)
    return sol.y[:, -1].copy()


@dataclass
class DALRun:
    """The record of :func:`run`; arrays of per-step quantities have one entry per step done.

    Attributes
    ----------
    rule : StepRule
    losses : ndarray, shape (steps_done + 1,)
        E(θ₀), …, E(θ_steps_done).
    lrs : ndarray
        hₜ used at step t (for momentum: the coefficient of ∇E in vₜ).
    increased : ndarray of bool
        E(θₜ) > E(θₜ₋₁) (with the margin :data:`INCREASE_RTOL`).
    grad_norms, hhat_norms, hg_norms : ndarray
        ‖∇E‖, ‖∇²E ĝ‖ and ‖∇²E∇E‖ at θₜ₋₁ (the last two NaN where not computed).
    drifts : ndarray
        ‖θₜ − NGF(θₜ₋₁, hₜ)‖ where recorded, NaN elsewhere.
    update_norms : ndarray
        ‖θₜ − θₜ₋₁‖.
    theta : array
        The last finite iterate, on the objective's backend.
    status : {"completed", "converged", "diverged", "undefined"}
    divergence : str
        For ``status="diverged"``: one of :data:`DIVERGENCE_KINDS`; else "".
    reason : str
    path : ndarray or None
        Host copies of θ₀ … (``keep_path=True``).
    """

    rule: StepRule
    losses: np.ndarray
    lrs: np.ndarray
    increased: np.ndarray
    grad_norms: np.ndarray
    hhat_norms: np.ndarray
    hg_norms: np.ndarray
    drifts: np.ndarray
    update_norms: np.ndarray
    theta: Any
    steps_done: int
    status: str
    reason: str = ""
    path: np.ndarray | None = None
    extra: dict = field(default_factory=dict)
    divergence: str = ""

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    @property
    def n_increases(self) -> int:
        return int(np.sum(self.increased))

    @property
    def max_relative_increase(self) -> float:
        """Largest one-step loss increase relative to the loss before it (0 for a monotone run).

        Tells a spike (a loss jump of tens of percent, what a loss curve shows as
        instability) from a small oscillation that :attr:`n_increases` counts alike.
        Steps that end past the divergence threshold or at a non-finite loss are left out.
        """
        L = self.losses
        prev, nxt = L[:-1], L[1:]
        ok = np.isfinite(prev) & np.isfinite(nxt) & (prev > 0)
        if self.extra.get("diverging_loss_recorded") and ok.size:
            ok[-1] = False
        rel = (nxt[ok] - prev[ok]) / prev[ok]
        return float(max(rel.max(), 0.0)) if rel.size else 0.0

    @property
    def final_loss(self) -> float:
        """The last recorded loss (``inf`` or a value past ``blowup`` for a diverged run)."""
        return float(self.losses[-1])

    @property
    def last_finite_loss(self) -> float:
        """The last loss below the divergence threshold (E at :attr:`theta`)."""
        return float(self.losses[-2] if self.extra.get("diverging_loss_recorded") else self.losses[-1])

    @property
    def mean_drift(self) -> float:
        """Mean of the recorded drifts (NaN when none was recorded)."""
        d = self.drifts[np.isfinite(self.drifts)]
        return float(d.mean()) if d.size else math.nan

    def summary(self) -> dict:
        """JSON-ready summary (floats, ints, strings)."""
        lr = self.lrs[np.isfinite(self.lrs)]
        return {"rule": self.rule.name, "status": self.status, "divergence": self.divergence, "reason": self.reason,
                "steps_done": self.steps_done,
                "initial_loss": float(self.losses[0]),
                "final_loss": self.final_loss if math.isfinite(self.final_loss) else None,
                "last_finite_loss": self.last_finite_loss, "min_loss": float(np.min(self.losses)),
                "n_increases": self.n_increases,
                "max_relative_increase": self.max_relative_increase,
                "mean_drift": self.mean_drift,
                "lr_min": float(lr.min()) if lr.size else math.nan,
                "lr_max": float(lr.max()) if lr.size else math.nan,
                "lr_mean": float(lr.mean()) if lr.size else math.nan}


class _DALTracker:
    """Tracker of :func:`run`: at θₙ the drift, loss and loss verdict of step n − 1, then step n's rate.

    Stops with "diverged" (a loss past the limit, :func:`~workbench.solvers.stepping.divergence.loss_verdict`),
    "converged" (∇E = 0) or "undefined" (an infinite adaptive rate).
    """

    def __init__(self, obj: Any, rule: StepRule, steps: int, limit: float, drift_every: int, need_h: bool,
                 keep_path: bool) -> None:
        self.obj, self.rule, self.steps, self.limit = obj, rule, steps, limit
        self.drift_every, self.need_h, self.keep_path = drift_every, need_h, keep_path
        self.losses: list[float] = []
        self.lrs: list[float] = []
        self.inc: list[bool] = []
        self.gns: list[float] = []
        self.hhs: list[float] = []
        self.hgs: list[float] = []
        self.drs: list[float] = []
        self.path: list[np.ndarray] = []
        self.last: dict = {}                       # the last iterate with a finite loss below the limit
        self.out = {"status": "completed", "reason": "", "done": 0}
        self.extra: dict = {}

    def start(self, visit: Any) -> None:
        return None

    def finish(self, run: Any) -> None:
        return None

    def _arrive(self, n: int, v: Any) -> None:
        """θₙ reached by step n − 1: its drift, the loss and its verdict."""
        f1 = v.f
        dr = math.nan
        if self.drift_every and not self.rule.momentum and ((n - 1) % self.drift_every == 0):
            ngf = ngf_step(self.obj, self.last["theta"], self.lrs[n - 1])
            if np.all(np.isfinite(ngf)):
                dr = float(np.linalg.norm(np.asarray(to_numpy(v.theta), dtype=np.float64) - ngf))
        self.drs.append(dr)
        self.out["done"] = n
        kind = loss_verdict(f1, self.limit)
        if kind:
            self.inc.append(True)
            self.losses.append(f1 if math.isfinite(f1) else math.inf)
            self.out["status"] = "diverged"
            self.out["reason"] = (f"loss {f1:.3g} beyond {self.limit:.3g} at step {n}" if math.isfinite(f1)
                                  else f"non-finite loss at step {n}")
            self.extra["diverging_loss_recorded"] = True
            self.extra["divergence"] = kind
            raise Stop("diverged")
        prev = self.last["f"]
        self.inc.append(bool(f1 > prev + INCREASE_RTOL * max(1.0, abs(prev))))
        self._keep(v)

    def _keep(self, v: Any) -> None:
        self.losses.append(v.f)
        self.last.update(theta=v.theta, f=v.f)
        if self.keep_path:
            self.path.append(to_numpy(v.theta).copy())

    def handle(self, n: int, v: Any) -> None:
        if n:
            self._arrive(n, v)
        else:
            self._keep(v)
        if n == self.steps:
            return
        xp = self.obj.xp
        g = v.g
        gn = float(xp.linalg.vector_norm(g))
        if gn == 0.0:
            self.out["status"], self.out["reason"] = "converged", f"zero gradient at step {n}"
            raise Stop("converged")
        hh = float(xp.linalg.vector_norm(self.obj.hvp(v.theta, g / gn))) if self.need_h else math.nan
        rule = self.rule
        lr = rule.rate(hh) if rule.adaptive else rule.rate(0.0)
        if not math.isfinite(lr):
            self.out["status"], self.out["reason"] = "undefined", (
                f"||H g_hat|| = {hh:g} at step {n}: the {rule.name} step is infinite (give max_lr to cap it)")
            raise Stop("undefined")
        self.lrs.append(lr)
        self.gns.append(gn)
        self.hhs.append(hh)
        self.hgs.append(hh * gn)


def run(obj: Any, theta0: Any, rule: StepRule, steps: int, *, blowup: float = 1e6, drift_every: int = 0,
        record_hvp: bool = True, keep_path: bool = False) -> DALRun:
    """Gradient descent (or momentum (20)-(21)) on ``obj`` from ``theta0`` under a step rule.

    Parameters
    ----------
    obj : Objective
        Any :class:`~workbench.solvers.core.objectives.Objective` (NumPy, CuPy, array-api-strict).
    theta0 : array, shape (obj.size,)
    rule : StepRule
        :func:`fixed`, :func:`dal`, :func:`dal_p` or :func:`dal_momentum`.
    steps : int
        Number of updates, ≥ 0.
    blowup : float
        Divergence threshold: |E| > blowup·max(1, |E₀|), > 1.
    drift_every : int
        Record ‖θₜ − NGF(θₜ₋₁, hₜ)‖ every this many steps (0: never; costs one DOP853
        integration of the NGF, tens of gradients). Not for the momentum rule (its update
        is not a GD step; ignored there).
    record_hvp : bool
        For ``fixed``, also compute ‖∇²E ĝ‖ (one HVP per step) to record the drift norm.
    keep_path : bool
        Keep host copies of every iterate.

    Returns
    -------
    DALRun

    Raises
    ------
    ParameterError
        A bad ``rule``, ``steps`` < 0, ``blowup`` ≤ 1, ``drift_every`` < 0, or a ``theta0`` of
        the wrong shape / non-finite (the objective's own check).
    """
    if not isinstance(rule, StepRule):
        raise ParameterError(f"rule: expected a StepRule (workbench.solvers.dynamics.dal.fixed/dal/dal_p/dal_momentum), got "
                             f"{type(rule).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or int(steps) < 0:
        raise ParameterError(f"steps: must be an integer >= 0, got {steps!r}")
    steps = int(steps)
    blowup = check_positive("blowup", blowup)
    if blowup <= 1:
        raise ParameterError(f"blowup: must be > 1, got {blowup}")
    if isinstance(drift_every, bool) or not isinstance(drift_every, (int, np.integer)) or int(drift_every) < 0:
        raise ParameterError(f"drift_every: must be an integer >= 0, got {drift_every!r}")
    drift_every = int(drift_every)
    # 1e6, not the module default 1e12: a loss a million times its start is far past anything DAL's comparisons
    # (third paper, Figs. 16-23) plot, and the runs recorded so far stop there (their figures clip at 1e6)
    crit = DivergenceCriterion(blowup=math.inf, loss_blowup=blowup)
    theta = obj.as_vector("theta0", theta0) if hasattr(obj, "as_vector") else theta0
    f, _ = obj.value_and_gradient(theta)
    if not math.isfinite(f):
        raise ParameterError(f"theta0: the loss is not finite there ({f})")
    tr = _DALTracker(obj, rule, steps, loss_limit(f, crit), drift_every, rule.adaptive or record_hvp, keep_path)
    if steps:
        # (20)-(21) with a per-step rate is heavy-ball momentum; momentum 0 is plain GD
        m = float(rule.momentum)
        scheme = resolve("heavy-ball", 1.0, {"mu": m}) if m else resolve("gd", 1.0)
        run = run_tracked(obj, scheme, theta, lambda n, v: tr.lrs[n], [tr], crit, steps=steps)
        if run.divergence == "nonfinite-iterate":
            t = len(tr.drs)
            tr.out["status"], tr.out["reason"] = "diverged", f"non-finite iterate at step {t + 1} (lr {tr.lrs[t]:.3g})"
            tr.extra["divergence"] = "nonfinite-iterate"
            for v in (tr.lrs, tr.gns, tr.hhs, tr.hgs):
                del v[t:]
        ups = [float(v) for v in run.result.increments[:len(tr.lrs), 0]]
    else:
        tr.handle(0, Visit(0, theta, 1.0, obj))
        ups = []
    extra, out = tr.extra, tr.out

    def arr(v: list) -> np.ndarray:
        return np.asarray(v, dtype=float)

    return DALRun(rule, arr(tr.losses), arr(tr.lrs), np.asarray(tr.inc, dtype=bool), arr(tr.gns), arr(tr.hhs),
                  arr(tr.hgs), arr(tr.drs), arr(ups), tr.last["theta"], out["done"], out["status"], out["reason"],
                  np.asarray(tr.path) if keep_path else None, extra, str(extra.get("divergence", "")))

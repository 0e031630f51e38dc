"""How a run is classified: one set of divergence kinds and thresholds for every stepper.

A run's iterates θ₀, θ₁, … (one batch member each) are watched through their
increments δₙ = θₙ₊₁ − θₙ.  A member is **diverged** when

1. ``nonfinite``: an iterate has a NaN or ±inf entry;
2. ``blowup``: ‖δₙ‖ > ``blowup`` · ‖δ₀‖ at some step n (default 1e8);
3. ``growth``: at the end, ρ̂ = (‖δ_N‖ / ‖δ_{N−m}‖)^{1/m} > 1 with m = ⌈``window`` · N⌉
   (default 10 % of the run), unless it has **converged**: ‖δ_N‖ ≤ ``converged`` · ε ·
   ‖θ_N‖ with ε the dtype's machine epsilon (default 100 ε: the increments have
   reached rounding level).

For a linear scheme the increments obey δₙ₊₁ = T δₙ, so their growth over the last
window measures the spectral radius of T once the dominant mode has taken over,
which takes about log(1/(ρ−1))/γ steps (γ the decay rate of the other modes); a
mode that grows by less than that within N steps counts as stable: simulated bounds
are finite-horizon measurements.  Diverged members are frozen at their last finite
state, so nothing overflows and nothing warns.

**Loss-watched runs** (the recorded GD/SGD/DAL runs of the third and fourth papers,
:mod:`workbench.solvers.dynamics.diagnostics`, :mod:`workbench.solvers.dynamics.sgd_diagnostics`, :mod:`workbench.solvers.dynamics.dal`) watch the
loss instead: a run stops at a non-finite iterate (``nonfinite-iterate``), a non-finite
loss (``nonfinite-loss``) or a loss above ``loss_blowup`` · max(1, |f(θ₀)|) (``blowup``),
see :func:`loss_verdict`; there the increment checks are off (``blowup=inf``).

The thresholds, stated once (a case that needs another value passes its own
:class:`DivergenceCriterion` and says why beside it):

==================  =========  ==================================================
``blowup``          1e8        increment relative to the first (``inf``: off)
``window``          0.1        growth window, fraction of the run
``converged``       100        increments at rounding level, in units of ε·‖θ‖
``loss_blowup``     1e12       loss relative to max(1, |f(θ₀)|)
==================  =========  ==================================================

Where another value is used, it is passed as a criterion beside its reason:

* :data:`workbench.solvers.cnn.onset.LOCAL_CRITERION` (``blowup`` 1e4) and the ``multilayer-dt-bound``
  case (``blowup`` 1e3, ``window`` 0.5): a perturbation of an unstable equilibrium of a
  nonlinear map may settle into a bounded orbit whose increments stop growing, so the
  run counts as unstable once the perturbation leaves the linear regime;
* :func:`workbench.solvers.dynamics.dal.run` (``loss_blowup`` 1e6): DAL's comparisons stop a run once its
  loss is a million times the start (the third paper's figures clip there);
* :func:`workbench.solvers.cnn.perturbation.run_perturbed` keeps ``blowup`` and ``converged`` but has
  its own growth test (‖K‖ rising over the whole window), since the restrained
  oscillations of the nonlinear scheme have irregular increments.

Absolute norm bounds that end a *trajectory* (``blowup`` of
:func:`workbench.solvers.dynamics.flows.integrate` and :func:`workbench.solvers.dynamics.flows.gradient_descent`, the
``diffusion-training`` case's 1e6·‖θ⁰‖) are not divergence classifications: they
cut GD and the flows it is compared with at the same norm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.solvers.core.checks import ParameterError

__all__ = ["DivergenceCriterion", "RunResult", "KINDS", "LOSS_KINDS", "classify", "loss_limit", "loss_verdict",
           "step_flags", "run_verdict"]

#: the kinds a diverged member is labelled with ("" for a member that did not diverge)
KINDS = ("nonfinite", "blowup", "growth")
#: the kinds of a loss-watched run (:func:`loss_verdict`; a non-finite iterate is found by the stepper)
LOSS_KINDS = ("nonfinite-iterate", "nonfinite-loss", "blowup")


@dataclass(frozen=True)
class DivergenceCriterion:
    """Thresholds of the classification (see the module docstring); stated once, here."""

    blowup: float = 1e8
    window: float = 0.1
    converged: float = 100.0
    loss_blowup: float = 1e12
    #: "ratio": ρ̂ = (‖δ_N‖/‖δ_{N−m}‖)^{1/m} > 1 (exact for symmetric linear maps, whose increments are
    #: monotone); "max": max ‖δ‖ over the last window > max over the window two windows earlier, which an
    #: oscillating (complex-root) mode near the edge cannot fool (the second paper's Algorithm 1)
    growth_test: str = "ratio"

    def __post_init__(self) -> None:
        if self.growth_test not in ("ratio", "max"):
            raise ParameterError(f"growth_test: use 'ratio' or 'max', got {self.growth_test!r}")
        if not (isinstance(self.blowup, (int, float)) and not math.isnan(self.blowup) and self.blowup > 1):
            raise ParameterError(f"blowup: must be a number > 1 (inf: no increment check), got {self.blowup!r}")
        if not (isinstance(self.loss_blowup, (int, float)) and not math.isnan(self.loss_blowup)
                and self.loss_blowup > 1):
            raise ParameterError(f"blowup: the loss blow-up factor must be > 1, got {self.loss_blowup!r}")
        if not (isinstance(self.window, (int, float)) and 0 < self.window <= 0.5):
            raise ParameterError(f"window: the growth window is a fraction of the run in (0, 0.5], got {self.window!r}")
        if not (isinstance(self.converged, (int, float)) and math.isfinite(self.converged) and self.converged >= 0):
            raise ParameterError(f"converged: must be a finite number >= 0, got {self.converged!r}")

    def describe(self) -> str:
        growth = (f"increment growth over the last {self.window:.0%} of the run" if self.growth_test == "ratio" else
                  f"a larger maximum increment over the last {self.window:.0%} of the run than over the window two "
                  "windows earlier")
        return (f"non-finite iterate, increment > {self.blowup:.0e} x the first, or {growth} "
                f"(unless converged to {self.converged:g} eps)")


@dataclass
class RunResult:
    """Outcome of a batched run (host arrays, one entry per batch member).

    ``members`` labels the members (e.g. the weight decays α); ``reason`` is one of
    :data:`KINDS` or ``""``; ``growth`` is ρ̂ at the end (nan where diverged early);
    ``increments`` (steps × B) and ``norms`` ((steps + 1) × B) are ‖δₙ‖ and ‖θₙ‖;
    ``kernel``/``theta`` is the final iterate (backend array), ``state`` the final
    state of the scheme; ``records`` what an observer returned; ``frozen_at`` the iterate
    at which each member was frozen (n + 1 when step n's increment flagged it, n when an
    update halted it before step n; −1 if never).
    """

    members: np.ndarray
    diverged: np.ndarray
    reason: list[str]
    growth: np.ndarray
    converged: np.ndarray
    increments: np.ndarray
    norms: np.ndarray
    theta: Any
    steps: int
    criterion: DivergenceCriterion = field(default_factory=DivergenceCriterion)
    state: list = field(default_factory=list)
    records: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    frozen_at: np.ndarray | None = None

    @property
    def alphas(self) -> np.ndarray:
        """The member labels under their name in the weight-decay runs of the first paper."""
        return self.members

    @property
    def kernel(self) -> Any:
        return self.theta


def loss_limit(f0: float, crit: DivergenceCriterion) -> float:
    """The loss above which a loss-watched run has blown up: ``loss_blowup`` · max(1, |f(θ₀)|)."""
    return crit.loss_blowup * max(1.0, abs(float(f0)))


def loss_verdict(f: float, limit: float) -> str:
    """``""``, ``"nonfinite-loss"`` or ``"blowup"`` for a loss ``f`` against :func:`loss_limit`."""
    if not math.isfinite(f):
        return "nonfinite-loss"
    return "blowup" if abs(f) > limit else ""


def step_flags(xp: Any, dn: Any, d0: Any, active: Any, crit: DivergenceCriterion) -> tuple[Any, Any]:
    """``(newly_nonfinite, newly_blown)`` for one step's increment norms ``dn`` (kinds 1 and 2 above).

    Only members still ``active`` can be flagged; ``d0`` is the first step's ‖δ₀‖.
    """
    fin = xp.isfinite(dn)
    return active & ~fin, active & fin & (dn > crit.blowup * d0)


def classify(inc: np.ndarray, norms: np.ndarray, nonfinite: np.ndarray, blown: np.ndarray, eps: float,
             crit: DivergenceCriterion) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """``(diverged, reason, growth, converged)`` from the recorded increments and early flags."""
    steps = inc.shape[0]
    m = max(1, int(math.ceil(crit.window * steps)))
    m = min(m, steps - 1)
    if m < 1:                                                    # a one-step run has no growth window
        growth = np.full(inc.shape[1:], np.nan)
    elif crit.growth_test == "max" and 3 * m <= steps:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            growth = (inc[-m:].max(axis=0) / inc[-3 * m:-2 * m].max(axis=0)) ** (1.0 / (2 * m))
    else:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            growth = (inc[-1] / inc[-1 - m]) ** (1.0 / m)
    conv = inc[-1] <= crit.converged * eps * norms[-1]
    early = nonfinite | blown
    grow = ~early & ~conv & (growth > 1.0)
    diverged = early | grow
    growth = np.where(early, np.nan, growth)
    reason = ["nonfinite" if a else "blowup" if b else "growth" if g else "" for a, b, g in zip(nonfinite, blown, grow)]
    return diverged, reason, growth, conv & ~early


def run_verdict(losses: Any, reason: str, crit: DivergenceCriterion | None = None) -> str:
    """The classification of a recorded run from the losses its stepper computed and its increment kind.

    ``losses`` are f at the points where the stepper took its gradients (one per step, the
    value the gradient call computed: no extra forward pass), ``reason`` the increment
    classification of :func:`classify` (one member). The run is

    * ``reason`` when it is ``nonfinite`` or ``blowup`` (an iterate went non-finite or an
      increment blew up: found by the stepper before any loss could say otherwise);
    * ``nonfinite-loss`` / ``blowup`` when a loss is non-finite or above :func:`loss_limit`;
    * ``""`` (not diverged) when the losses stayed finite and the last is not above the
      first: a run whose loss decreased has not diverged, whatever its increments did at
      the end (a nonlinear run at the edge of stability oscillates and can pass the
      growth test of :func:`classify`, which is exact for linear iterations only);
    * else ``reason`` (``growth`` or ``""``).
    """
    crit = crit or DivergenceCriterion()
    if reason in ("nonfinite", "blowup"):
        return reason
    f = np.asarray(list(losses), dtype=np.float64).reshape(-1)
    if f.size == 0:
        return reason
    for v in f:
        kind = loss_verdict(float(v), loss_limit(f[0], crit)) if math.isfinite(f[0]) else "nonfinite-loss"
        if kind:
            return kind
    if f[-1] <= f[0]:
        return ""
    return reason

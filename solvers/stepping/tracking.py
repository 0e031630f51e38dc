"""Trackers on the one stepper: one loop (:func:`workbench.solvers.stepping.stepper.run`), many trackers.

py-pde's pattern: the controller owns the loop, a scheme supplies its step, and what is
recorded or checked along the way is a tracker object. A :class:`Tracker` sees every
iterate θₙ of one trajectory, n = 0 … N (θ_N included when the run reaches its end), as a
:class:`Visit`; it returns a row (a dict, merged into ``TrackedRun.records``) or ends the
run by raising :class:`Stop`. The recorded runs of the third and fourth papers (full-batch
GD and SGD with the relative-progress recorders, fourth paper §4-§5; DAL, third paper) and
the GD iterates compared with the flows differ only by their trackers.

Divergence: a non-finite iterate is found by the stepper
(:func:`workbench.solvers.stepping.divergence.step_flags`); a loss past its limit by
:class:`LossWatch` (:func:`workbench.solvers.stepping.divergence.loss_verdict`). Nothing
else labels a run diverged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from workbench.solvers.core.backend import namespace_of
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.stepping.divergence import LOSS_KINDS, DivergenceCriterion, RunResult, loss_limit, loss_verdict
from workbench.solvers.stepping.optimizers import Resolved, resolve
from workbench.solvers.stepping.stepper import Update, run

__all__ = ["Stop", "Visit", "Tracker", "LossWatch", "TrackedRun", "run_tracked"]


class Stop(Exception):
    """Raised by :meth:`Tracker.handle` to end the run at the visited step; ``reason`` is recorded."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = str(reason)


class Visit:
    """The iterate θₙ as the trackers see it: ``step``, ``theta`` (one trajectory), ``eta``, ``objective``.

    ``f`` = E(θₙ) and ``g`` = ∇E(θₙ) are evaluated on first use and shared by every
    tracker and by the force. With ``paired`` they come from one ``value_and_gradient``
    (full-batch runs, whose force is ∇E anyway); otherwise ``f`` alone costs one ``value``.
    """

    __slots__ = ("step", "theta", "eta", "objective", "paired", "_f", "_g")

    def __init__(self, step: int, theta: Any, eta: float, objective: Any, paired: bool = True) -> None:
        self.step, self.theta, self.eta, self.objective, self.paired = step, theta, eta, objective, paired
        self._f: float | None = None
        self._g: Any = None

    def _pair(self) -> None:
        self._f, self._g = self.objective.value_and_gradient(self.theta)

    @property
    def f(self) -> float:
        """E(θₙ) (one evaluation, kept)."""
        if self._f is None:
            if self.paired:
                self._pair()
            else:
                self._f = float(self.objective.value(self.theta))
        return self._f  # type: ignore[return-value]

    @property
    def g(self) -> Any:
        """∇E(θₙ) (one evaluation, kept)."""
        if self._g is None:
            if self.paired and self._f is None:
                self._pair()
            else:
                self._g = self.objective.gradient(self.theta)
        return self._g


@runtime_checkable
class Tracker(Protocol):
    """What watches a run: ``start`` before step 0, ``handle`` at every iterate, ``finish`` after the end.

    ``handle(step, visit)`` returns a row (dict of floats, or None) or raises :class:`Stop`.
    """

    def start(self, visit: Visit) -> None: ...

    def handle(self, step: int, visit: Visit) -> dict | None: ...

    def finish(self, run: "TrackedRun") -> None: ...


class LossWatch:
    """Stops a loss-watched run at a non-finite loss or one past the limit (:mod:`~workbench.solvers.stepping.divergence`).

    The limit is ``loss_blowup`` · max(1, |E(θ₀)|) (:func:`~workbench.solvers.stepping.divergence.loss_limit`);
    the loss is checked at steps n with n % ``every`` == 0 and at step ``last``.
    """

    def __init__(self, criterion: DivergenceCriterion, every: int = 1, last: int | None = None) -> None:
        self.criterion, self.every, self.last = criterion, int(every), last
        self.limit = math.inf

    def start(self, visit: Visit) -> None:
        self.limit = loss_limit(visit.f, self.criterion)

    def handle(self, step: int, visit: Visit) -> None:
        if step % self.every == 0 or step == self.last:
            kind = loss_verdict(visit.f, self.limit)
            if kind:
                raise Stop(kind)

    def finish(self, run: "TrackedRun") -> None:
        return None


@dataclass
class TrackedRun:
    """One tracked trajectory (:func:`run_tracked`).

    ``theta`` the last iterate kept (the frozen one after a non-finite step); ``steps_done``
    the last step visited; ``stopped`` the :class:`Stop` reason ("" when none);
    ``divergence`` one of :data:`~workbench.solvers.stepping.divergence.LOSS_KINDS` or "";
    ``records`` the rows the trackers returned (``{"step": n, ...}``); ``result`` the
    stepper's :class:`~workbench.solvers.stepping.divergence.RunResult` (None for 0 steps).
    """

    theta: Any
    steps_done: int
    stopped: str
    divergence: str
    records: list[dict] = field(default_factory=list)
    result: RunResult | None = None


def run_tracked(objective: Any, scheme: str | Resolved | Update, theta0: Any, lr: Any,
                trackers: Sequence[Tracker], criterion: DivergenceCriterion | None = None, *, steps: int,
                force: Callable[[Visit], Any] | None = None, params: dict[str, Any] | None = None) -> TrackedRun:
    """Step one trajectory with the one stepper and let ``trackers`` watch every iterate.

    Parameters
    ----------
    objective : Objective or None
        Gives ``Visit.f``/``Visit.g`` (None when the force needs no objective).
    scheme : str, Resolved or Update
        A registered scheme (with ``lr`` and ``params``), a resolved one, or an update.
    theta0 : array, shape (n,)
    lr : float or callable
        η, or a rule ``lr(n, visit) -> float`` evaluated after the trackers of step n.
    trackers : sequence of Tracker
        Called in order; a :class:`Stop` ends the run at that step (later trackers skip it).
    criterion : DivergenceCriterion, optional
        The stepper's thresholds (loss-watched runs pass ``blowup=inf``).
    steps : int
        Number of updates N ≥ 0.
    force : callable, optional
        ``force(visit)`` the vector the scheme steps against (default ``visit.g``, ∇E at
        the scheme's gradient point); e.g. a mini-batch gradient of step ``visit.step``.

    Returns
    -------
    TrackedRun
    """
    if isinstance(steps, bool) or not hasattr(steps, "__index__") or int(steps) < 0:
        raise ParameterError(f"steps: must be an integer >= 0, got {steps!r}")
    steps = int(steps)
    rule = lr if callable(lr) else None
    if isinstance(scheme, str):
        scheme = resolve(scheme, 1.0 if rule is not None else lr, params)
    eta0 = float(getattr(scheme, "lr", 1.0)) if rule is not None else float(lr)
    push = force if force is not None else (lambda v: v.g)
    paired = force is None
    C = getattr(scheme, "C", None)
    at_theta = C is not None and float(C[0]) == 1.0 and not any(float(c) for c in C[1:])
    xp = namespace_of(theta0)
    current: dict[str, Any] = {}
    records: list[dict] = []
    stop = {"reason": ""}

    def visit(n: int, theta: Any) -> Visit:
        v = Visit(n, theta, eta0, objective, paired)
        current["visit"] = v
        if n == 0:
            for t in trackers:
                t.start(v)
        row: dict = {}
        try:
            for t in trackers:
                r = t.handle(n, v)
                if r:
                    row.update(r)
        except Stop as s:
            stop["reason"] = s.reason
        if row:
            records.append({"step": n, **row})
        return v

    def gradient(x: Any, n: int) -> Any:
        v = visit(n, x[0, ...]) if at_theta else Visit(n, x[0, ...], eta0, objective, paired)
        if stop["reason"]:
            return xp.zeros_like(x)                      # the run ends at this step: no force needed
        return xp.reshape(push(v), (1, -1))

    def observe(n: int, th: Any, _g: Any) -> dict | None:
        if not at_theta:
            visit(n, th[0, ...])
        return {"stop": stop["reason"]} if stop["reason"] else None

    def eta(n: int, _th: Any, _g: Any) -> float:
        return float(rule(n, current["visit"]))  # type: ignore[misc]

    result = None
    if steps == 0:
        last = visit(0, theta0)
        theta, done = theta0, 0
    else:
        result = run(scheme, gradient, xp.reshape(theta0, (1, -1)), eta if rule is not None else eta0, steps,
                     criterion=criterion, observe=observe, indexed=True, params=None)
        theta = result.theta[0, ...]
        last = current["visit"]
        if result.reason[0] == "nonfinite" or stop["reason"]:
            done = last.step
        elif result.extra["stopped"]:                    # the lr rule gave a non-finite step
            done = int(result.extra["steps_done"])
        else:                                            # ran to the end: θ_N is visited too
            last = visit(steps, theta)
            done = steps
    if result is not None and result.reason[0] == "nonfinite" and not stop["reason"]:
        divergence = "nonfinite-iterate"
    else:
        divergence = stop["reason"] if stop["reason"] in LOSS_KINDS else ""
    out = TrackedRun(theta, done, stop["reason"], divergence, records, result)
    for t in trackers:
        t.finish(out)
    return out

"""Mini-batch SGD with per-step recorders of the expected relative progress (4th paper, §5).

Fourth paper (Ahn, Zhang, Sra, "Understanding the unstable convergence of gradient
descent"), §5 and appendix C. SGD is θₜ₊₁ = θₜ − η·g(θₜ) with E g = ∇f; here g is the
gradient of the same loss on an explicit, seeded mini-batch (:func:`workbench.solvers.dynamics.diagnostics.minibatches`:
random reshuffling, every sample once per epoch).

* :func:`run_sgd` — the training loop: seeded batches, full loss every ``loss_every``
  steps, divergence detected on purpose and classified (``nonfinite-iterate``,
  ``nonfinite-loss``, ``blowup``) with no floating-point warning escaping
  (:func:`workbench.solvers.core.backend.quiet_overflow`), recorders called at θₜ every k steps.
* :class:`ExpectedRPRecorder` — Definition 3, E[RP(θₜ)] = (E f(θₜ − ηg) − f(θₜ))/(η‖∇f‖²),
  the right-hand side of (6), its exact form (appendix C, Gauss–Legendre quadrature) and
  Remark 6's fraction of mini-batches with f(θₜ − ηg) < f(θₜ), by
  :func:`workbench.solvers.dynamics.diagnostics.sgd_relative_progress`. The expectation is the mean over
  ``epochs`` full reshuffles of the data drawn from the recorder's own seed stream (seed,
  t) — independent of the training batches — so the batch gradients average to ∇f(θₜ)
  exactly and the exact form of (6) holds to quadrature accuracy.
* :class:`FullBatchRPRecorder` — the full-batch RP(θₜ) (Def. 1), L(θₜ; η∇f) (Def. 2) and the
  (5) right-hand side at the SGD iterate, for comparison with GD.
* :class:`workbench.solvers.dynamics.diagnostics.SharpnessRecorder` works unchanged on :func:`run_sgd`.

Cost per record (N samples, B per batch, E epochs, quadrature order q): E·N/B batch
gradients, E·N/B full value-and-gradients at θ − ηg, and E·N/B·q full gradients for the
exact form; the training step itself is one batch gradient (plus a full loss every
``loss_every`` steps).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from workbench.solvers.core.backend import to_numpy
from workbench.solvers.core.checks import ParameterError, check_positive
from workbench.solvers.stepping.tracking import LossWatch, run_tracked
from workbench.solvers.dynamics.diagnostics import (
    DIVERGENCE_KINDS,
    loss_criterion,
    RecordedRun,
    Recorder,
    approximation5,
    minibatches,
    network_batch_gradient,
    sgd_relative_progress,
)

__all__ = ["SGDState", "ExpectedRPRecorder", "FullBatchRPRecorder", "SGDRun", "run_sgd", "DIVERGENCE_KINDS"]



def _check_int(name: str, value: Any, lo: int = 1, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < lo or (
            hi is not None and int(value) > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ParameterError(f"{name}: must be an integer {rng}, got {value!r}")
    return int(value)


@dataclass
class SGDState:
    """What an SGD recorder sees at step t, before the update: θₜ, the batch about to be used, f(θₜ).

    ``f`` is the full loss at θₜ when the loop computed it this step (``nan`` otherwise);
    ``batch_gradient`` maps (θ, idx) to the mini-batch gradient.
    """

    t: int
    theta: Any
    eta: float
    obj: Any
    batch: np.ndarray
    batch_size: int
    batch_gradient: Callable[[Any, np.ndarray], Any]
    f: float


class ExpectedRPRecorder(Recorder):
    """E[RP(θₜ)] (Definition 3), the RHS of (6), its exact form, and Remark 6's fraction.

    Parameters
    ----------
    every : int
        Record every k steps.
    epochs : int
        Reshuffles of the data whose mini-batches form the expectation (E·N/B batches).
    order : int
        Gauss–Legendre nodes for the exact form of (6) (≥ 1).
    seed : int
        Seed of the recorder's own batch stream; record t uses seed ``seed + 7919·(t + 1)``.
    batch_size : int, optional
        Batch size of the expectation (default: the run's).

    Recorded keys: ``expected_rp``, ``rhs6``, ``rhs6_exact``, ``eq6_error`` (E[RP] − (6)),
    ``exact_error`` (E[RP] − exact form), ``fraction_decrease``, ``mean_g_error`` and
    ``noise_ratio`` = E‖g − ∇f‖²/‖∇f‖² (with E g = ∇f, E‖g‖²/‖∇f‖² = 1 + noise_ratio, the
    weight that turns the GD term of (6) into the SGD one); ``nan``
    where ∇f(θₜ) = 0 (undefined, never divided by zero) or a probe step overflows.
    """

    name = "expected_rp"

    def __init__(self, every: int = 1, epochs: int = 1, order: int = 4, seed: int = 0,
                 batch_size: int | None = None) -> None:
        super().__init__(every)
        self.epochs = _check_int("epochs", epochs)
        self.order = _check_int("order", order)
        self.seed = int(seed)
        self.batch_size = None if batch_size is None else _check_int("batch_size", batch_size)

    def measure(self, s: SGDState) -> dict[str, float]:
        B = self.batch_size or s.batch_size
        batches = minibatches(s.obj.n_samples, B, seed=self.seed + 7919 * (s.t + 1), epochs=self.epochs)
        nan = {k: math.nan for k in ("expected_rp", "rhs6", "rhs6_exact", "eq6_error", "exact_error",
                                     "fraction_decrease", "mean_g_error", "noise_ratio")}
        try:
            rep = sgd_relative_progress(s.obj, s.batch_gradient, s.theta, s.eta, batches, order=self.order)
        except ParameterError:  # a probe step θ − ηg left the finite range: the run is diverging
            return nan
        e, r6, rx = rep.expected_rp.value, rep.rhs6.value, rep.rhs6_exact.value
        return {"expected_rp": e, "rhs6": r6, "rhs6_exact": rx, "eq6_error": e - r6, "exact_error": e - rx,
                "fraction_decrease": rep.fraction_decrease, "mean_g_error": rep.mean_g_error,
                "noise_ratio": self._noise_ratio(s, batches)}

    @staticmethod
    def _noise_ratio(s: SGDState, batches: Sequence[np.ndarray]) -> float:
        """E‖g − ∇f‖² / ‖∇f‖² over ``batches`` (the gradient noise-to-signal ratio; nan if ∇f = 0)."""
        xp = s.obj.xp
        g = s.obj.gradient(s.theta)
        gg = float(xp.sum(g * g))
        if not gg > 0.0:
            return math.nan
        acc = 0.0
        for idx in batches:
            d = s.batch_gradient(s.theta, idx) - g
            acc += float(xp.sum(d * d))
        return acc / len(batches) / gg


class FullBatchRPRecorder(Recorder):
    """Full-batch RP(θₜ) (Def. 1), L(θₜ; η∇f) (Def. 2) and the (5) RHS at the SGD iterate (2 gradients)."""

    name = "full_rp"

    def measure(self, s: SGDState) -> dict[str, float]:
        try:
            a = approximation5(s.obj, s.theta, s.eta)
        except ParameterError:
            return {"rp": math.nan, "L": math.nan, "rhs5": math.nan}
        rhs5 = a["rhs"].value
        return {"rp": a["rp"].value, "L": (rhs5 + 1.0) * 2.0 / s.eta, "rhs5": rhs5}


@dataclass
class SGDRun(RecordedRun):
    """Result of :func:`run_sgd`.

    ``losses[i]`` is the full loss f(θ) at step ``loss_steps[i]`` (step 0 is θ₀);
    ``diverged`` with ``divergence`` ∈ :data:`DIVERGENCE_KINDS` and a ``reason``;
    ``path`` (optional) the iterates (steps_done + 1, n) on the host.
    """

    losses: np.ndarray
    loss_steps: np.ndarray
    theta: Any
    steps_done: int
    diverged: bool
    divergence: str
    reason: str
    recorders: list[Recorder]
    batch_size: int
    seed: int
    path: np.ndarray | None = None


class _SGDHistory:
    """Tracker of :func:`run_sgd`: the full loss every ``loss_every`` steps (and at the end), the path."""

    def __init__(self, recorders: Sequence[Recorder], eta: float, obj: Any, batches: Sequence[np.ndarray], B: int,
                 batch_gradient: Callable[[Any, np.ndarray], Any], loss_every: int, last: int,
                 keep_path: bool) -> None:
        self.recorders, self.eta, self.obj, self.batches, self.B = list(recorders), eta, obj, batches, B
        self.batch_gradient, self.loss_every, self.last, self.keep_path = batch_gradient, loss_every, last, keep_path
        self.losses: list[float] = []
        self.loss_steps: list[int] = []
        self.path: list[np.ndarray] = []

    def start(self, visit: Any) -> None:
        return None

    def handle(self, step: int, v: Any) -> None:
        if step % self.loss_every == 0 or step == self.last:
            self.losses.append(v.f)
            self.loss_steps.append(step)
        if self.keep_path:
            self.path.append(to_numpy(v.theta).copy())

    def finish(self, run: Any) -> None:
        return None

    def recording(self) -> "_SGDRecorders":
        """The tracker that calls the recorders at θₜ (t < N) after the loss check."""
        return _SGDRecorders(self)


class _SGDRecorders:
    """Calls :func:`run_sgd`'s recorders with an :class:`SGDState` at θₜ, before its update."""

    def __init__(self, hist: _SGDHistory) -> None:
        self.hist = hist

    def start(self, visit: Any) -> None:
        return None

    def handle(self, step: int, v: Any) -> None:
        h = self.hist
        if step == h.last or not h.recorders:
            return
        f = h.losses[-1] if h.loss_steps[-1] == step else math.nan
        state = SGDState(step, v.theta, h.eta, h.obj, h.batches[step], h.B, h.batch_gradient, f)
        for r in h.recorders:
            r(state)

    def finish(self, run: Any) -> None:
        return None


#: the divergence of an SGD run in words, by :data:`~workbench.solvers.stepping.divergence.LOSS_KINDS` kind
_REASONS: dict[str, Callable[[int, list, float], str]] = {
    "nonfinite-iterate": lambda done, losses, limit: f"non-finite iterate at step {done + 1}",
    "nonfinite-loss": lambda done, losses, limit: f"non-finite loss at step {done}",
    "blowup": lambda done, losses, limit: f"loss {losses[-1]:.3g} beyond {limit:.3g} at step {done}",
}


def run_sgd(obj: Any, theta0: Any, eta: float, batch_size: int, epochs: int = 1,
            recorders: Sequence[Recorder] = (), *, seed: int = 0,
            batch_gradient: Callable[[Any, np.ndarray], Any] | None = None,
            batches: Sequence[np.ndarray] | None = None, loss_every: int = 1, blowup: float | None = None,
            keep_path: bool = False) -> SGDRun:
    """Seeded mini-batch SGD θₜ₊₁ = θₜ − η·g_{Bₜ}(θₜ) (4th paper, §5) with per-step recorders.

    The iteration is :func:`workbench.solvers.stepping.stepper.run` of the registered ``gd`` with a force
    that takes the step index (batch Bₜ at step t); divergence is loss-watched
    (:mod:`workbench.solvers.stepping.divergence`).

    Parameters
    ----------
    obj : Objective
        A mean loss over ``obj.n_samples`` samples (a :class:`~workbench.solvers.nets.networks.NetworkObjective`,
        or any objective with ``batch_gradient`` given).
    theta0 : array, shape (n,)
    eta : float
        Step size η > 0.
    batch_size : int
        B, 1 ≤ B ≤ N, dividing N (equal batches make the epoch mean of g equal ∇f).
    epochs : int
        Number of reshuffles; the run has epochs·N/B steps.
    recorders : sequence of Recorder
        Called with an :class:`SGDState` at θₜ (before the update) every k steps.
    seed : int
        Seed of the training batches (:func:`workbench.solvers.dynamics.diagnostics.minibatches`).
    batch_gradient : callable (θ, idx) -> array, optional
        Default :func:`workbench.solvers.dynamics.diagnostics.network_batch_gradient` for network objectives.
    batches : sequence of index arrays, optional
        Explicit batches (overrides ``epochs``/``seed``).
    loss_every : int
        Compute the full loss every this many steps (and at the end); divergence of the
        iterate itself is checked every step.
    blowup : float, optional
        A full loss above ``blowup``·max(1, |f(θ₀)|) stops the run (``divergence="blowup"``);
        default :class:`workbench.solvers.stepping.divergence.DivergenceCriterion`'s ``loss_blowup`` (1e12).
    keep_path : bool
        Keep every iterate on the host.

    Returns
    -------
    SGDRun

    Raises
    ------
    ParameterError
        η ≤ 0; ``batch_size`` < 1, > N or not dividing N; ``epochs`` or ``loss_every`` < 1;
        no ``batch_gradient`` for a non-network objective.
    """
    eta = check_positive("eta", eta)
    n = int(getattr(obj, "n_samples", 0) or 0)
    if n < 1:
        raise ParameterError("obj: SGD needs an objective with n_samples >= 1 (a mean loss over samples)")
    B = _check_int("batch_size", batch_size, 1, n)
    if n % B:
        raise ParameterError(f"batch_size: must divide the number of samples {n}, got {batch_size!r}")
    epochs = _check_int("epochs", epochs)
    loss_every = _check_int("loss_every", loss_every)
    if batch_gradient is None:
        if not hasattr(obj, "net"):
            raise ParameterError("batch_gradient: required for an objective that is not a network objective")
        batch_gradient = network_batch_gradient(obj)
    if batches is None:
        batches = minibatches(n, B, seed=seed, epochs=epochs)
    elif len(batches) == 0:
        raise ParameterError("batches: need at least one mini-batch")
    crit = loss_criterion(blowup)
    theta = obj.as_vector("theta0", theta0) if hasattr(obj, "as_vector") else theta0
    last = len(batches)
    hist = _SGDHistory(recorders, eta, obj, batches, B, batch_gradient, loss_every, last, keep_path)
    watch = LossWatch(crit, loss_every, last)
    run = run_tracked(obj, "gd", theta, eta, [hist, watch, hist.recording()], crit, steps=last,
                      force=lambda v: batch_gradient(v.theta, batches[v.step]))
    kind, done, losses = run.divergence, run.steps_done, hist.losses
    reason = _REASONS[kind](done, losses, watch.limit) if kind else ""
    return SGDRun(np.asarray(losses), np.asarray(hist.loss_steps), run.theta, done, bool(kind), kind, reason,
                  list(recorders), B, int(seed), np.asarray(hist.path) if keep_path else None)

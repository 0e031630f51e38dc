"""Unstable-convergence diagnostics of gradient descent on any :class:`~workbench.solvers.core.objectives.Objective`.

Fourth paper (Ahn, Zhang, Sra, "Understanding the unstable convergence of gradient
descent"), §4–§5 and appendix C:

* :func:`relative_progress` — RP(θ) = [f(θ − η∇f) − f(θ)] / (η‖∇f‖²) (Definition 1);
* :func:`directional_smoothness` — L(θ; v) = ⟨v, ∇f(θ) − ∇f(θ − v)⟩ / ‖v‖² (Definition 2),
  exactly as the paper defines it, from two gradients (no Hessian);
* :func:`theorem2_rhs` — −1 + (η/2)·2∫₀¹ τ·L(θ; ητ∇f) dτ (Theorem 2, (4)) by Gauss–Legendre
  quadrature on [0, 1] with ``order`` nodes. For a polynomial f of degree p,
  τ·L(θ; ητ∇f) = ⟨∇f, ∇f − ∇f(θ − ητ∇f)⟩/(η‖∇f‖²) is a polynomial of degree p − 1 in
  τ, so ``order`` ≥ p/2 nodes integrate it exactly (one node for a quadratic);
* :func:`approximation5` — −1 + (η/2)·L(θ; η∇f) ((5)) and its error RP − (5);
* :func:`minibatches` / :func:`sgd_relative_progress` — the expected RP of SGD
  (Definition 3), the RHS of (6) and its exact form (quadrature), and the fraction of
  mini-batches whose step decreases the full loss (Remark 6), with the mini-batches drawn
  explicitly from a seed;
* :func:`run_gd` with recorders (:class:`RPRecorder`, :class:`SmoothnessRecorder`,
  :class:`SharpnessRecorder`, :class:`Theorem2Recorder`) — plain full-batch GD on any
  objective, recording every k steps. RP(θₜ) and L(θₜ; η∇f(θₜ)) use f(θₜ₊₁) and ∇f(θₜ₊₁),
  which the next GD step computes anyway, so they cost a few dot products; sharpness
  costs a Lanczos/eigsh run (:func:`workbench.solvers.linalg.hessian.sharpness`).

Undefined values: RP needs ‖∇f‖ > 0 and L(θ; v) needs v ≠ 0. Where they vanish the
functions return a :class:`Quantity` with ``value = nan`` and ``defined = False`` (and a
reason) without ever dividing by zero.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from workbench.solvers.core.backend import quiet_overflow, to_numpy
from workbench.solvers.core.checks import ParameterError, check_positive
from workbench.solvers.stepping.divergence import LOSS_KINDS, DivergenceCriterion

__all__ = [
    "Quantity",
    "gauss_legendre_01",
    "relative_progress",
    "directional_smoothness",
    "gd_directional_smoothness",
    "theorem2_rhs",
    "approximation5",
    "minibatches",
    "network_batch_gradient",
    "SGDReport",
    "sgd_relative_progress",
    "Recorder",
    "RPRecorder",
    "SmoothnessRecorder",
    "SharpnessRecorder",
    "Theorem2Recorder",
    "DIVERGENCE_KINDS",
    "RecordedRun",
    "GDRun",
    "run_gd",
]


@dataclass(frozen=True)
class Quantity:
    """A diagnostic value that may be undefined.

    ``value`` is a float (``nan`` when ``defined`` is False); ``reason`` says why it is
    undefined (e.g. ``"zero gradient"``). ``float(q)`` gives ``value``.
    """

    value: float
    defined: bool = True
    reason: str = ""

    def __float__(self) -> float:
        return float(self.value)


def _undefined(reason: str) -> Quantity:
    return Quantity(math.nan, False, reason)


def _check_eta(eta: Any) -> float:
    return check_positive("eta", eta)


def _check_order(order: Any) -> int:
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or int(order) < 1:
        raise ParameterError(f"order: the Gauss-Legendre order must be an integer >= 1, got {order!r}")
    return int(order)


def gauss_legendre_01(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on [0, 1] (``order`` nodes, exact for degree 2·order − 1).

    Raises
    ------
    ParameterError
        ``order`` < 1 or not an integer.
    """
    n = _check_order(order)
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (x + 1.0), 0.5 * w


def _dot(xp: Any, a: Any, b: Any) -> float:
    return float(xp.sum(a * b))


def _fg(obj: Any, theta: Any, f0: float | None, g0: Any | None) -> tuple[float, Any]:
    if f0 is None or g0 is None:
        return obj.value_and_gradient(theta)
    return float(f0), g0


def relative_progress(obj: Any, theta: Any, eta: float, *, f0: float | None = None, g0: Any = None,
                      f1: float | None = None) -> Quantity:
    """RP(θ) = [f(θ − η∇f(θ)) − f(θ)] / (η‖∇f(θ)‖²) — Definition 1 of the 4th paper.

    Parameters
    ----------
    obj : Objective
    theta : array, shape (n,)
    eta : float
        Step size η > 0.
    f0, g0 : optional
        f(θ) and ∇f(θ) if already known (both or neither).
    f1 : float, optional
        f(θ − η∇f(θ)) if already known (the next GD iterate's loss).

    Returns
    -------
    Quantity
        Undefined (nan, ``defined=False``) when ∇f(θ) = 0 or f(θ − η∇f) is not finite.

    Raises
    ------
    ParameterError
        η ≤ 0 or not finite.
    """
    eta = _check_eta(eta)
    xp = obj.xp
    f0, g0 = _fg(obj, theta, f0, g0)
    gg = _dot(xp, g0, g0)
    if not gg > 0.0:
        return _undefined("zero gradient: RP divides by eta*|grad f|^2")
    if f1 is None:
        with quiet_overflow():
            step = theta - eta * g0
        if not bool(xp.all(xp.isfinite(step))):
            return _undefined("theta - eta*grad f is not finite")
        f1 = obj.value(step)
    if not math.isfinite(f1):
        return _undefined("f(theta - eta*grad f) is not finite")
    return Quantity((f1 - f0) / (eta * gg))


def directional_smoothness(obj: Any, theta: Any, v: Any, *, g0: Any = None, g1: Any = None) -> Quantity:
    """L(θ; v) = ⟨v, ∇f(θ) − ∇f(θ − v)⟩ / ‖v‖² — Definition 2 of the 4th paper.

    Parameters
    ----------
    obj : Objective
    theta, v : arrays, shape (n,)
    g0, g1 : optional
        ∇f(θ) and ∇f(θ − v) if already known.

    Returns
    -------
    Quantity
        Undefined when v = 0.
    """
    xp = obj.xp
    vv = _dot(xp, v, v)
    if not vv > 0.0:
        return _undefined("zero update vector: L divides by |v|^2")
    if g0 is None:
        g0 = obj.gradient(theta)
    if g1 is None:
        g1 = obj.gradient(theta - v)
    return Quantity(_dot(xp, v, g0 - g1) / vv)


def gd_directional_smoothness(obj: Any, theta: Any, eta: float, *, g0: Any = None, g1: Any = None) -> Quantity:
    """L(θ; η∇f(θ)), the directional smoothness along the GD step (4th paper, §4.2, (3)).

    ≈ 2/η when GD oscillates; for a quadratic ½θᵀPθ it is the Rayleigh quotient of P at ∇f.
    """
    eta = _check_eta(eta)
    if g0 is None:
        g0 = obj.gradient(theta)
    if not _dot(obj.xp, g0, g0) > 0.0:
        return _undefined("zero gradient: the GD step is zero")
    return directional_smoothness(obj, theta, eta * g0, g0=g0, g1=g1)


def theorem2_rhs(obj: Any, theta: Any, eta: float, order: int = 8, *, g0: Any = None) -> Quantity:
    """−1 + (η/2)·2∫₀¹ τ·L(θ; ητ∇f) dτ, the right-hand side of Theorem 2 (4), by quadrature.

    L is evaluated from its definition at the ``order`` Gauss–Legendre nodes τᵢ ∈ (0, 1)
    (one gradient each); the sum is Σᵢ wᵢ·2τᵢ·L(θ; ητᵢ∇f). Exact (to rounding) for a
    polynomial f of degree ≤ 2·order (see the module docstring).

    Raises
    ------
    ParameterError
        η ≤ 0, ``order`` < 1.
    """
    eta = _check_eta(eta)
    nodes, weights = gauss_legendre_01(order)
    if g0 is None:
        g0 = obj.gradient(theta)
    if not _dot(obj.xp, g0, g0) > 0.0:
        return _undefined("zero gradient: RP divides by eta*|grad f|^2")
    total = 0.0
    for t, w in zip(nodes, weights):
        L = directional_smoothness(obj, theta, float(eta * t) * g0, g0=g0)
        if not L.defined or not math.isfinite(L.value):
            return _undefined(f"L(theta; eta*tau*grad f) undefined at tau={t:.3g}")
        total += float(w) * 2.0 * float(t) * L.value
    return Quantity(-1.0 + eta / 2.0 * total)


def approximation5(obj: Any, theta: Any, eta: float) -> dict[str, Quantity]:
    """(5): RP(θ) ≈ −1 + (η/2)·L(θ; η∇f(θ)); returns ``{"rp", "rhs", "error"}`` (error = RP − RHS)."""
    eta = _check_eta(eta)
    f0, g0 = obj.value_and_gradient(theta)
    step = theta - eta * g0
    f1, g1 = obj.value_and_gradient(step)
    rp = relative_progress(obj, theta, eta, f0=f0, g0=g0, f1=f1)
    L = gd_directional_smoothness(obj, theta, eta, g0=g0, g1=g1)
    if not (rp.defined and L.defined):
        u = _undefined(rp.reason or L.reason)
        return {"rp": rp, "rhs": u, "error": u}
    rhs = -1.0 + eta / 2.0 * L.value
    return {"rp": rp, "rhs": Quantity(rhs), "error": Quantity(rp.value - rhs)}


# -- SGD ----------------------------------------------------------------------------------
def minibatches(n: int, batch_size: int, seed: int = 0, epochs: int = 1) -> list[np.ndarray]:
    """Explicit seeded mini-batches: ``epochs`` random permutations of range(n), each cut into n/B batches.

    ``numpy.random.default_rng(seed)`` draws the permutations. Each sample is used once
    per epoch, so with a mean loss and equal batch sizes the average of the batch
    gradients over an epoch is the full gradient exactly (an unbiased g with the
    sample mean equal to ∇f, which makes the exact form of (6) hold to rounding).

    Raises
    ------
    ParameterError
        ``batch_size`` does not divide ``n`` (batches of unequal size), or < 1.
    """
    n, B = int(n), int(batch_size)
    if B < 1 or n < 1 or n % B:
        raise ParameterError(f"batch_size: must be >= 1 and divide the number of samples {n}, got {batch_size!r}")
    if int(epochs) < 1:
        raise ParameterError(f"epochs: must be >= 1, got {epochs!r}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(int(epochs)):
        perm = rng.permutation(n)
        out.extend(perm[i:i + B] for i in range(0, n, B))
    return out


def network_batch_gradient(obj: Any) -> Callable[[Any, np.ndarray], Any]:
    """(θ, idx) ↦ ∇ of the same :class:`~workbench.solvers.nets.networks.NetworkObjective` on the samples ``idx``.

    Weight decay is included in every batch loss, so the batch gradients average to ∇f.
    Each call takes the rows with :meth:`~workbench.solvers.nets.networks.NetworkObjective.subset` (no
    re-validation of the data, nothing kept between calls, so memory stays flat however
    many reshuffles a run records).
    """

    def grad(theta: Any, idx: np.ndarray) -> Any:
        return obj.subset(idx).gradient(theta)

    return grad


@dataclass(frozen=True)
class SGDReport:
    """Expected RP of SGD at one θ over a set of mini-batches (4th paper, §5).

    ``expected_rp`` is Definition 3 (LHS of (6)); ``rhs6`` the approximation (6),
    −1 + (η/2)·E[‖g‖²/‖∇f‖²·L(θ; ηg)]; ``rhs6_exact`` its exact form (appendix C) by
    Gauss–Legendre quadrature of order ``order``; ``fraction_decrease`` the fraction of
    mini-batches with f(θ − ηg) < f(θ) (Remark 6); ``mean_g_error`` = ‖mean g − ∇f‖/‖∇f‖
    (0 up to rounding for a full epoch).
    """

    expected_rp: Quantity
    rhs6: Quantity
    rhs6_exact: Quantity
    fraction_decrease: float
    batches: int
    mean_g_error: float
    per_batch_change: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"expected_rp": self.expected_rp.value, "rhs6": self.rhs6.value, "rhs6_exact": self.rhs6_exact.value,
                "defined": self.expected_rp.defined, "fraction_decrease": self.fraction_decrease,
                "batches": self.batches, "mean_g_error": self.mean_g_error}


def sgd_relative_progress(obj: Any, batch_gradient: Callable[[Any, np.ndarray], Any], theta: Any, eta: float,
                          batches: Sequence[np.ndarray], order: int = 4) -> SGDReport:
    """E[RP(θ)] of Definition 3, the RHS of (6) and its exact form, and Remark 6's fraction.

    The expectation is the mean over ``batches`` (from :func:`minibatches`):
    E[RP] = (mean_b f(θ − ηg_b) − f(θ)) / (η‖∇f‖²);
    (6): −1 + (η/2)·mean_b[‖g_b‖²/‖∇f‖²·L(θ; ηg_b)];
    exact: −1 + (η/2)·2∫₀¹τ·mean_b[‖g_b‖²L(θ; ητg_b)]dτ/‖∇f‖² + (1 − mean_b⟨g_b,∇f⟩/‖∇f‖²),
    the last term 0 when the batch gradients average to ∇f (a full epoch).

    Raises
    ------
    ParameterError
        η ≤ 0, ``order`` < 1, no batches.
    """
    eta = _check_eta(eta)
    nodes, weights = gauss_legendre_01(order)
    if len(batches) == 0:
        raise ParameterError("batches: need at least one mini-batch")
    xp = obj.xp
    f0, g = obj.value_and_gradient(theta)
    gg = _dot(xp, g, g)
    changes, terms6, terms_exact, gdots = [], [], [], []
    gsum = None
    with quiet_overflow():
        for idx in batches:
            gb = batch_gradient(theta, idx)
            gsum = gb if gsum is None else gsum + gb
            gbn = _dot(xp, gb, gb)
            f1, g1 = obj.value_and_gradient(theta - eta * gb)
            changes.append(f1 - f0)
            gdots.append(_dot(xp, gb, g))
            if gbn > 0.0:
                terms6.append(gbn * _dot(xp, gb, g - g1) / (eta * gbn))  # ‖g‖²·L(θ; ηg)
                acc = 0.0
                for t, w in zip(nodes, weights):
                    gt = obj.gradient(theta - float(eta * t) * gb)
                    acc += float(w) * 2.0 * float(t) * _dot(xp, gb, g - gt) / (eta * float(t))
                terms_exact.append(acc)
            else:
                terms6.append(0.0)
                terms_exact.append(0.0)
    changes_a = np.asarray(changes)
    frac = float(np.mean(changes_a < 0.0))
    mean_g_err = float(xp.linalg.vector_norm(gsum / len(batches) - g)) / math.sqrt(gg) if gg > 0 else math.nan
    if not gg > 0.0:
        u = _undefined("zero full gradient: E[RP] divides by eta*|grad f|^2")
        return SGDReport(u, u, u, frac, len(batches), mean_g_err, changes_a)
    erp = float(np.mean(changes_a)) / (eta * gg)
    rhs6 = -1.0 + eta / 2.0 * float(np.mean(terms6)) / gg
    bias = 1.0 - float(np.mean(gdots)) / gg
    rhs_exact = -1.0 + bias + eta / 2.0 * float(np.mean(terms_exact)) / gg
    ok = math.isfinite(erp)
    return SGDReport(Quantity(erp) if ok else _undefined("non-finite loss after a step"), Quantity(rhs6),
                     Quantity(rhs_exact), frac, len(batches), mean_g_err, changes_a)


# -- recorders and the GD loop -------------------------------------------------------------
@dataclass
class StepState:
    """What a recorder sees at step t: θₜ, f(θₜ), ∇f(θₜ), and the next iterate's f and ∇f."""

    t: int
    theta: Any
    f: float
    g: Any
    f_next: float
    g_next: Any
    eta: float
    obj: Any


class Recorder:
    """Base recorder: ``every`` k steps, :meth:`measure` returns a dict of floats; kept in ``steps``/``values``.

    Parameters
    ----------
    every : int
        Record at steps t with t % every == 0 (k ≥ 1).
    """

    name = "recorder"

    def __init__(self, every: int = 1) -> None:
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or int(every) < 1:
            raise ParameterError(f"every: must be an integer >= 1, got {every!r}")
        self.every = int(every)
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {}

    def measure(self, s: StepState) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, s: StepState) -> None:
        if s.t % self.every:
            return
        self.steps.append(s.t)
        for k, v in self.measure(s).items():
            self.values.setdefault(k, []).append(float(v))

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"step": np.asarray(self.steps)}
        out.update({k: np.asarray(v) for k, v in self.values.items()})
        return out


class RPRecorder(Recorder):
    """RP(θₜ) (Definition 1) from f(θₜ₊₁) of the GD loop: O(n) per record (nan where ∇f = 0)."""

    name = "rp"

    def measure(self, s: StepState) -> dict[str, float]:
        return {"rp": relative_progress(s.obj, s.theta, s.eta, f0=s.f, g0=s.g, f1=s.f_next).value}


class SmoothnessRecorder(Recorder):
    """L(θₜ; η∇f(θₜ)) (Definition 2) from ∇f(θₜ₊₁) of the GD loop, and the (5) RHS."""

    name = "smoothness"

    def measure(self, s: StepState) -> dict[str, float]:
        L = gd_directional_smoothness(s.obj, s.theta, s.eta, g0=s.g, g1=s.g_next).value
        return {"L": L, "rhs5": -1.0 + s.eta / 2.0 * L}


class SharpnessRecorder(Recorder):
    """λ_max(∇²f(θₜ)) by :func:`workbench.solvers.linalg.hessian.sharpness` (dense for n ≤ 64, else eigsh/Lanczos)."""

    name = "sharpness"

    def __init__(self, every: int = 1, method: str = "auto", tol: float = 1e-6) -> None:
        super().__init__(every)
        self.method, self.tol = method, float(tol)
        self._v0_seed = 0

    def measure(self, s: StepState) -> dict[str, float]:
        from workbench.solvers.linalg.hessian import sharpness

        r = sharpness(s.obj, s.theta, method=self.method, tol=self.tol, seed=self._v0_seed)
        return {"sharpness": r.value, "sharpness_residual": r.error}


class Theorem2Recorder(Recorder):
    """The RHS of Theorem 2 (4) by Gauss–Legendre of ``order`` nodes (``order`` gradients per record)."""

    name = "theorem2"

    def __init__(self, every: int = 1, order: int = 4) -> None:
        super().__init__(every)
        self.order = _check_order(order)

    def measure(self, s: StepState) -> dict[str, float]:
        return {"rhs4": theorem2_rhs(s.obj, s.theta, s.eta, self.order, g0=s.g).value}


#: How a recorded run can diverge: a non-finite iterate, a non-finite loss, or a loss above
#: its blow-up limit (:data:`workbench.solvers.stepping.divergence.LOSS_KINDS`, thresholds there).
DIVERGENCE_KINDS = LOSS_KINDS


def loss_criterion(blowup: float | None) -> DivergenceCriterion:
    """The criterion of a loss-watched run: increment checks off, loss limit ``blowup`` (default the module's)."""
    if blowup is None:
        return DivergenceCriterion(blowup=math.inf)
    return DivergenceCriterion(blowup=math.inf, loss_blowup=check_positive("blowup", blowup))


class RecordedRun:
    """Look-up of a run's recorders by name (shared by :class:`GDRun` and the SGD and DAL runs)."""

    recorders: list[Recorder]

    def record(self, name: str) -> dict[str, np.ndarray]:
        """The arrays of the recorder called ``name`` (``"rp"``, ``"smoothness"``, ``"sharpness"``, …)."""
        for r in self.recorders:
            if r.name == name:
                return r.arrays()
        raise KeyError(f"no recorder {name!r}; have {[r.name for r in self.recorders]}")


@dataclass
class GDRun(RecordedRun):
    """Result of :func:`run_gd`: losses and gradient norms per step, the recorders, the end state.

    ``losses[t]`` = f(θₜ) for t = 0 … ``steps_done``; ``diverged`` with ``reason`` when the
    loss became non-finite or exceeded ``blowup``·max(1, f(θ₀)); ``path`` (optional) the
    iterates as an array (steps_done + 1, n) on the host.
    """

    losses: np.ndarray
    grad_norms: np.ndarray
    theta: Any
    steps_done: int
    diverged: bool
    reason: str
    recorders: list[Recorder]
    path: np.ndarray | None = None


class _GDHistory:
    """Tracker of :func:`run_gd`: losses, gradient norms, path, and the recorders of step n − 1 at θₙ."""

    def __init__(self, recorders: Sequence[Recorder], eta: float, obj: Any, keep_path: bool) -> None:
        self.recorders, self.eta, self.obj, self.keep_path = list(recorders), eta, obj, keep_path
        self.losses: list[float] = []
        self.gnorms: list[float] = []
        self.path: list[np.ndarray] = []
        self.prev: Any = None

    def start(self, visit: Any) -> None:
        return None

    def handle(self, step: int, v: Any) -> None:
        f1, g1 = v.f, v.g
        p = self.prev
        if p is not None:
            for r in self.recorders:
                r(StepState(step - 1, p.theta, p.f, p.g, f1, g1, self.eta, self.obj))
        self.losses.append(f1)
        self.gnorms.append(math.sqrt(_dot(self.obj.xp, g1, g1)) if step == 0 or math.isfinite(f1) else math.nan)
        if self.keep_path:
            self.path.append(to_numpy(v.theta).copy())
        self.prev = v

    def finish(self, run: Any) -> None:
        return None


def run_gd(obj: Any, theta0: Any, eta: float, steps: int, recorders: Sequence[Recorder] = (), *,
           blowup: float | None = None, keep_path: bool = False) -> GDRun:
    """Plain full-batch gradient descent θₜ₊₁ = θₜ − η∇f(θₜ) with per-iteration recorders.

    :func:`workbench.solvers.stepping.tracking.run_tracked` of the registered ``gd`` with one
    ``value_and_gradient`` per step. At θₜ₊₁ the recorders are called with the state of
    step t (so RP(θₜ) and L(θₜ; η∇f(θₜ)) reuse the next step's work). Divergence is detected
    on purpose (:mod:`workbench.solvers.stepping.divergence`, loss-watched): a non-finite
    iterate, or a non-finite or > ``blowup``·max(1, f₀) loss (default ``loss_blowup`` = 1e12)
    stops the run with ``diverged=True`` (no overflow warning escapes).

    Raises
    ------
    ParameterError
        η ≤ 0, ``steps`` < 0.
    """
    from workbench.solvers.stepping.tracking import LossWatch, run_tracked

    eta = _check_eta(eta)
    if isinstance(steps, bool) or int(steps) < 0:
        raise ParameterError(f"steps: must be an integer >= 0, got {steps!r}")
    crit = loss_criterion(blowup)
    theta = obj.as_vector("theta0", theta0) if hasattr(obj, "as_vector") else theta0
    hist, watch = _GDHistory(recorders, eta, obj, keep_path), LossWatch(crit)
    run = run_tracked(obj, "gd", theta, eta, [hist, watch], crit, steps=int(steps))
    losses = hist.losses
    if run.divergence == "nonfinite-iterate":
        reason = f"non-finite iterate at step {len(losses)}"
    elif run.divergence:
        reason = f"loss {losses[-1]:.3g} beyond {watch.limit:.3g} at step {len(losses) - 1}"
    else:
        reason = ""
    return GDRun(np.asarray(losses), np.asarray(hist.gnorms), run.theta, len(losses) - 1, bool(run.divergence),
                 reason, list(recorders), np.asarray(hist.path) if keep_path else None)

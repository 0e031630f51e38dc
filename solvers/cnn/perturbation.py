"""Floating-point perturbed gradient descent on the one-layer CNN, batched over lr × k × α × seed.

First paper (Sun et al. 2022), §4–5 and appendix B–C; settings in
``../shared/papers/README.md``. The perturbation with a positive integer k replaces
the gradient step p ← p − lr·d by

    p ← p − (lr·k)·(d/k),

computed literally in the working dtype: lr·k and d/k are each rounded, then their
product. In exact arithmetic nothing changes; in floating point the update differs in
the last bit for most k. For k = 2ⁿ·k′ both the product lr·k and the quotient d/k are
exact rescalings of lr·k′ and d/k′ (barring overflow and subnormals), so k and k·2ⁿ
give bit-identical trajectories (appendix B, Table 2).

:func:`run_perturbed` runs the Cartesian product of learning rates, k, weight decays α
and initial-kernel seeds as one (B, w, w) batch (one FFT batch per step, any backend,
float32 or float64, deterministic) and measures, per iteration and member:

* the loss (2);
* the divergence from the reference member that differs only in k (k = ``reference_k``):
  relative L1, 2·mean(|w₁ − w₂| / (|w₁| + |w₂|)) over the w² weights (terms with
  w₁ = w₂ = 0 count as 0; the paper's measure), and relative L2,
  2‖w₁ − w₂‖ / (‖w₁‖ + ‖w₂‖);
* optionally, every ``spectral_every`` iterations, the local amplification factor
  ρ_n = spectral radius of I − lr·H(K_n) (:mod:`workbench.solvers.cnn.cnn_hessian`), and the
  fraction of checked iterations with ρ_n > 1 + margin;
* optionally (``tangent=True``), the exact linearized growth of a perturbation: a
  tangent vector e is carried along, e ← (I − lr·H(K_n)) e / γ_n, one Hessian-vector
  product per step, and S_n = Σ_{m<n} log γ_m is kept. S_N/N is the finite-time top
  Lyapunov exponent; A = max_n (S_n − min_{m≤n} S_m) is the largest factor (as a log)
  by which the linearized dynamics amplify a perturbation injected at some iteration
  m and observed at n, so rounding differences of size ε reach about ε·e^A while they
  stay small. ρ_n bounds log γ_n from above (‖I − lrH‖ = ρ_n), which makes mean log ρ
  a looser, cheaper upper bound.

Divergence (reusing the thresholds of :class:`workbench.solvers.stepping.divergence.DivergenceCriterion`):
a member diverges when an iterate or its loss is non-finite (``nonfinite``), when an
increment ‖K_{n+1} − K_n‖ exceeds ``blowup``·‖K_1 − K_0‖ (``blowup``), or when ‖K_n‖
increased at every one of the last m = ⌈``window``·N⌉ steps and by a factor > 2 in
total (``growth``: a geometric unstable mode; the increment test of the linear scheme
is not used because the bounded, restrained oscillations of the nonlinear scheme have
irregular increments). Diverged members are frozen at their last finite iterate, so
nothing overflows or warns; their divergence histories are NaN from then on (and for
the members compared with them). Bounded members are labelled ``converged`` (last
increment ≤ ``converged``·ε·‖K_N‖) or ``bounded``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.solvers.core.backend import namespace_of, quiet_overflow, to_numpy
from workbench.solvers.core.checks import ParameterError, check_finite, check_positive
from workbench.solvers.cnn.cnn_hessian import LocalCurvature, step_spectral_radius
from workbench.solvers.cnn.correlation import CnnOperator
from workbench.solvers.stepping.divergence import DivergenceCriterion
from workbench.solvers.stepping.stepper import run as stepper_run
from workbench.solvers.cnn.schemes import check_model, initial_kernel

__all__ = [
    "PerturbedRun",
    "check_ks",
    "perturbed_update",
    "PerturbedUpdate",
    "relative_l1",
    "relative_l2",
    "history_bytes",
    "run_perturbed",
    "DEFAULT_MEMORY_BUDGET",
]

DEFAULT_MEMORY_BUDGET = 512 * 2 ** 20  # bytes of kept histories (host + device copies counted once)


def check_ks(ks: Any) -> np.ndarray:
    """Positive integers k (ints, or integer-valued numbers); a 1-D host int64 array."""
    seq = [ks] if np.ndim(ks) == 0 else list(np.asarray(ks, dtype=object).reshape(-1))
    if not seq:
        raise ParameterError("k: expected at least one perturbation factor")
    out = []
    for k in seq:
        if isinstance(k, (bool, np.bool_)):
            raise ParameterError(f"k: must be a positive integer, got {k!r}")
        try:
            kf = float(k)
        except (TypeError, ValueError):
            raise ParameterError(f"k: must be a positive integer, got {k!r}") from None
        if not math.isfinite(kf) or kf != math.floor(kf) or kf <= 0:
            raise ParameterError(f"k: must be a positive integer, got {k!r}")
        if kf > 2 ** 24:
            raise ParameterError(f"k: {int(kf)} is not exactly representable in float32 (k <= 2**24)")
        out.append(int(kf))
    if len(set(out)) != len(out):
        raise ParameterError(f"k: values must be distinct, got {out}")
    return np.asarray(out, dtype=np.int64)


def _float_list(name: str, values: Any, check: Any = check_finite) -> np.ndarray:
    """One number or a non-empty sequence, each passed through ``check`` (finite, or positive)."""
    seq = [values] if np.ndim(values) == 0 else list(np.asarray(values, dtype=object).reshape(-1))
    if not seq:
        raise ParameterError(f"{name}: expected at least one value")
    return np.asarray([check(name, v) for v in seq], dtype=np.float64)


def _seeds(values: Any) -> np.ndarray:
    seq = [values] if np.ndim(values) == 0 else list(np.asarray(values, dtype=object).reshape(-1))
    if not seq:
        raise ParameterError("seeds: expected at least one seed")
    out = []
    for s in seq:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ParameterError(f"seeds: must be non-negative integers, got {s!r}")
        out.append(int(s))
    return np.asarray(out, dtype=np.int64)


def perturbed_update(K: Any, lr_k: Any, k: Any, d: Any) -> Any:
    """K − (lr·k)·(d/k) with ``lr_k`` = lr·k already rounded in K's dtype; ``k`` in K's dtype."""
    return K - lr_k * (d / k)


def relative_l1(w1: Any, w2: Any) -> Any:
    """2·mean(|w₁ − w₂| / (|w₁| + |w₂|)) over the last two axes (0/0 terms count as 0)."""
    xp = namespace_of(w1, w2)
    den = xp.abs(w1) + xp.abs(w2)
    pos = den > 0
    q = xp.where(pos, xp.abs(w1 - w2) / xp.where(pos, den, xp.ones_like(den)), xp.zeros_like(den))
    return 2.0 * xp.mean(xp.mean(q, axis=-1), axis=-1)


def relative_l2(w1: Any, w2: Any) -> Any:
    """2‖w₁ − w₂‖ / (‖w₁‖ + ‖w₂‖) over the last two axes (0 when both are zero)."""
    xp = namespace_of(w1, w2)
    d = w1 - w2
    num = xp.sqrt(xp.sum(xp.sum(d * d, axis=-1), axis=-1))
    den = xp.sqrt(xp.sum(xp.sum(w1 * w1, axis=-1), axis=-1)) + xp.sqrt(xp.sum(xp.sum(w2 * w2, axis=-1), axis=-1))
    pos = den > 0
    return xp.where(pos, 2.0 * num / xp.where(pos, den, xp.ones_like(den)), xp.zeros_like(den))


def history_bytes(steps: int, members: int, spectral_every: int = 0, tangent: bool = False) -> int:
    """Bytes the per-iteration histories take: loss, relative L1, relative L2 (and the
    tangent growth S_n) as float64, (steps + 1) × members each, plus ρ and its error
    bound at every checked iteration."""
    n_checks = 0 if spectral_every <= 0 else steps // spectral_every + 1
    return 8 * members * ((3 + int(bool(tangent))) * (steps + 1) + 2 * n_checks)


@dataclass
class PerturbedRun:
    """Result of :func:`run_perturbed`; host NumPy arrays, one entry per member (axis -1).

    Members are the Cartesian product lr × k × α × seed in C order: member index
    ``np.ravel_multi_index((i_lr, i_k, i_alpha, i_seed), shape)``; :meth:`grid` reshapes a
    per-member array to ``shape``. Histories are ``None`` when ``histories=False``.
    """

    lrs: np.ndarray
    ks: np.ndarray
    alphas: np.ndarray
    seeds: np.ndarray
    shape: tuple[int, int, int, int]
    dtype: str
    steps: int
    reference_k: int
    member_lr: np.ndarray
    member_k: np.ndarray
    member_alpha: np.ndarray
    member_seed: np.ndarray
    reference: np.ndarray  # index of each member's reference member (same lr, α, seed; k = reference_k)
    loss: np.ndarray | None  # (steps + 1, B) loss at K_n
    rel_l1: np.ndarray | None  # (steps + 1, B) vs the reference member; NaN once either has diverged
    rel_l2: np.ndarray | None
    final_loss: np.ndarray
    final_rel_l1: np.ndarray
    final_rel_l2: np.ndarray
    max_rel_l1: np.ndarray
    max_rel_l2: np.ndarray
    first_above: np.ndarray  # first iteration with rel_l1 > ``threshold`` (-1 if never)
    threshold: float
    diverged: np.ndarray
    reason: list[str]
    diverged_at: np.ndarray  # iteration at which a member was frozen (-1 if never)
    status: list[str]  # "nonfinite" | "blowup" | "growth" | "converged" | "bounded"
    kernel: Any  # final iterates (B, w, w), backend array
    rho_iters: np.ndarray | None = None  # iterations at which ρ was computed
    rho: np.ndarray | None = None  # (checks, B) spectral radius of I − lr·H(K_n) (NaN once frozen)
    rho_error: np.ndarray | None = None
    crossing_fraction: np.ndarray | None = None  # fraction of checks with ρ > 1 + rho_margin
    mean_log_rho: np.ndarray | None = None  # mean log ρ over the checks (upper bound on the growth rate)
    rho_margin: float = 0.0
    log_growth: np.ndarray | None = None  # (steps + 1, B) S_n, tangent growth (natural log) up to n
    lyapunov: np.ndarray | None = None  # S_N / (active steps): finite-time top Lyapunov exponent
    amplification: np.ndarray | None = None  # max_n (S_n − min_{m≤n} S_m), natural log
    yhat_equal_fraction: np.ndarray | None = None  # iterations with ŷ bit-identical to the reference's ŷ
    criterion: DivergenceCriterion = field(default_factory=DivergenceCriterion)
    seconds: float = 0.0

    @property
    def members(self) -> int:
        return int(self.member_lr.size)

    def grid(self, values: Any) -> np.ndarray:
        """Reshape a per-member array (last axis B) to (..., n_lr, n_k, n_alpha, n_seed)."""
        v = np.asarray(values)
        return v.reshape(v.shape[:-1] + self.shape)

    def index(self, lr: int = 0, k: int = 0, alpha: int = 0, seed: int = 0) -> int:
        """Member index of grid position (i_lr, i_k, i_alpha, i_seed)."""
        return int(np.ravel_multi_index((lr, k, alpha, seed), self.shape))

    def final_kernels(self) -> np.ndarray:
        return to_numpy(self.kernel)


class PerturbedUpdate:
    """The perturbed GD step K ← K − (lr·k)·(∇L/k) (appendix B) as a :class:`~workbench.solvers.stepping.stepper.Update`.

    ``gradient(K, n)`` is the force (the batched gradient of the loss (2) with weight
    decay, kept as :attr:`curvature` for the trackers); ``halt`` freezes a member whose
    loss is not finite; ``lr_k`` = lr·k is rounded once in the working dtype.
    """

    lr = 1.0

    def __init__(self, op: CnnOperator, lr_k: Any, k_d: Any, al_d: Any, beta: float, b: float, y: float) -> None:
        self.op, self.lr_k, self.k_d, self.al_d, self.model = op, lr_k, k_d, al_d, (beta, b, y)
        self.curvature: Any = None

    def start(self, theta0: Any) -> list:
        return [theta0]

    def point(self, state: list) -> Any:
        return state[0]

    def gradient(self, K: Any, n: int = 0) -> Any:
        self.curvature = LocalCurvature(self.op, K, self.al_d, *self.model, need_loss=True)
        return self.curvature.gradient

    def halt(self, n: int, x: Any, g: Any) -> Any:
        return ~self.op.xp.isfinite(self.curvature.loss)

    def step(self, state: list, x: Any, g: Any, eta: Any) -> list:
        return [perturbed_update(state[0], self.lr_k, self.k_d, g)]

    def to_dict(self) -> dict:
        return {"scheme": "perturbed-gd"}


@dataclass
class _BatchVisit:
    """K_n of every member, its local curvature (loss, gradient, Hessian products), the live members."""

    step: int
    K: Any
    curvature: Any
    active: Any


class _Measure:
    """Loss and relative L1/L2 divergence from the reference member (NaN once either is frozen)."""

    def __init__(self, xp: Any, ref_d: Any, threshold: float, histories: bool, steps: int, B: int) -> None:
        self.xp, self.ref_d, self.threshold, self.histories = xp, ref_d, threshold, histories
        self.rows: list[tuple[Any, Any, Any]] = []
        self.max_l1 = self.max_l2 = None
        self.first_above = xp.full((B,), -1, dtype=xp.int64)

    def start(self, visit: Any) -> None:
        return None

    def handle(self, n: int, v: _BatchVisit) -> None:
        xp = self.xp
        K, active = v.K, v.active
        Kr = xp.take(K, self.ref_d, axis=0)
        both = active & xp.take(active, self.ref_d, axis=0)
        l1, l2 = relative_l1(K, Kr), relative_l2(K, Kr)
        if self.max_l1 is None:
            self.max_l1, self.max_l2 = xp.zeros_like(l1), xp.zeros_like(l2)
        nan = xp.full_like(l1, float("nan"))
        self.max_l1 = xp.where(both, xp.maximum(self.max_l1, l1), self.max_l1)
        self.max_l2 = xp.where(both, xp.maximum(self.max_l2, l2), self.max_l2)
        hit = both & (self.first_above < 0) & (l1 > self.threshold)
        self.first_above = xp.where(hit, xp.full_like(self.first_above, n), self.first_above)
        if self.histories:
            f64 = xp.float64
            self.rows.append((xp.astype(v.curvature.loss, f64), xp.astype(xp.where(both, l1, nan), f64),
                              xp.astype(xp.where(both, l2, nan), f64)))

    def finish(self, res: PerturbedRun) -> None:
        xp = self.xp
        res.max_rel_l1 = to_numpy(xp.astype(self.max_l1, xp.float64)).astype(np.float64)
        res.max_rel_l2 = to_numpy(xp.astype(self.max_l2, xp.float64)).astype(np.float64)
        res.first_above = to_numpy(self.first_above).astype(np.int64)
        if self.histories:
            res.loss, res.rel_l1, res.rel_l2 = (to_numpy(xp.stack([r[i] for r in self.rows])).astype(np.float64)
                                                for i in range(3))


class _SameOutput:
    """How often ŷ is bit-identical to the reference member's ŷ."""

    def __init__(self, xp: Any, ref_d: Any, B: int) -> None:
        self.xp, self.ref_d = xp, ref_d
        self.count = xp.zeros((B,), dtype=xp.int64)
        self.visits = 0

    def start(self, visit: Any) -> None:
        return None

    def handle(self, n: int, v: _BatchVisit) -> None:
        xp, yhat = self.xp, v.curvature.yhat
        self.count = self.count + xp.astype(yhat == xp.take(yhat, self.ref_d, axis=0), xp.int64)
        self.visits += 1

    def finish(self, res: PerturbedRun) -> None:
        res.yhat_equal_fraction = to_numpy(self.count).astype(np.float64) / self.visits


class _Spectral:
    """ρ_n = spectral radius of I − lr·H(K_n) every ``every`` iterations (live members only)."""

    def __init__(self, op: CnnOperator, al_d: Any, m_lr: np.ndarray, beta: float, b: float, y: float, every: int,
                 max_steps: int, histories: bool, margin: float, eps: float, B: int) -> None:
        self.op, self.al_d, self.m_lr, self.model = op, al_d, m_lr, (beta, b, y)
        self.every, self.max_steps, self.histories, self.margin, self.eps = every, max_steps, histories, margin, eps
        self.rho_rows: list[np.ndarray] = []
        self.rerr_rows: list[np.ndarray] = []
        self.iters: list[int] = []
        self.cross, self.logsum, self.nchk = np.zeros(B), np.zeros(B), np.zeros(B)

    def start(self, visit: Any) -> None:
        return None

    def handle(self, n: int, v: _BatchVisit) -> None:
        if n % self.every:
            return
        sr = step_spectral_radius(self.op, v.K, self.al_d, self.m_lr, *self.model, curvature=v.curvature,
                                  max_steps=self.max_steps)
        act_h = to_numpy(v.active).astype(bool)
        rho = np.where(act_h, sr["rho"], np.nan)
        if self.histories:
            self.rho_rows.append(rho)
            self.rerr_rows.append(np.where(act_h, sr["rho_error"], np.nan))
            self.iters.append(n)
        ok = act_h & np.isfinite(rho)
        self.cross += ok & (rho > 1.0 + self.margin)
        self.logsum += np.where(ok, np.log(np.where(ok, np.maximum(rho, self.eps), 1.0)), 0.0)
        self.nchk += ok

    def finish(self, res: PerturbedRun) -> None:
        with np.errstate(divide="ignore", invalid="ignore"):
            res.crossing_fraction = np.where(self.nchk > 0, self.cross / np.maximum(self.nchk, 1), np.nan)
            res.mean_log_rho = np.where(self.nchk > 0, self.logsum / np.maximum(self.nchk, 1), np.nan)
        if self.histories:
            res.rho_iters = np.asarray(self.iters, dtype=np.int64)
            res.rho = np.stack(self.rho_rows, axis=0)
            res.rho_error = np.stack(self.rerr_rows, axis=0)


class _Tangent:
    """A tangent vector e ← (I − lr·H(K_n)) e / γ_n carried along; S_n = Σ log γ, its Lyapunov exponent and A."""

    def __init__(self, xp: Any, op: CnnOperator, lr_d: Any, histories: bool, steps: int, B: int, dtype: Any) -> None:
        self.xp, self.lr_d, self.histories, self.steps = xp, lr_d, histories, steps
        e0 = np.random.default_rng(12345).standard_normal((op.w, op.w))
        e0 /= np.linalg.norm(e0)
        self.tv = xp.asarray(np.broadcast_to(e0, (B, op.w, op.w)).copy(), dtype=dtype)
        self.S = xp.zeros((B,), dtype=xp.float64)
        self.S_min = xp.zeros((B,), dtype=xp.float64)
        self.amp = xp.zeros((B,), dtype=xp.float64)
        self.t_steps = xp.zeros((B,), dtype=xp.float64)
        self.rows: list[Any] = []

    def start(self, visit: Any) -> None:
        return None

    def handle(self, n: int, v: _BatchVisit) -> None:
        xp = self.xp
        if self.histories:
            self.rows.append(self.S)
        if n == self.steps:
            return
        col = (self.tv.shape[0], 1, 1)
        te = self.tv - self.lr_d * v.curvature.matvec(self.tv)
        gam = xp.sqrt(xp.sum(xp.sum(te * te, axis=-1), axis=-1))
        okg = v.active & xp.isfinite(gam) & (gam > 0)
        safe = xp.where(okg, gam, xp.ones_like(gam))
        self.tv = xp.where(xp.reshape(okg, col), te / xp.reshape(safe, col), self.tv)
        self.S = self.S + xp.where(okg, xp.log(xp.astype(safe, xp.float64)), xp.zeros_like(self.S))
        self.t_steps = self.t_steps + xp.astype(okg, xp.float64)
        self.S_min = xp.minimum(self.S_min, self.S)
        self.amp = xp.maximum(self.amp, self.S - self.S_min)

    def finish(self, res: PerturbedRun) -> None:
        s_host = to_numpy(self.S).astype(np.float64)
        ts = to_numpy(self.t_steps).astype(np.float64)
        res.lyapunov = np.where(ts > 0, s_host / np.maximum(ts, 1.0), np.nan)
        res.amplification = to_numpy(self.amp).astype(np.float64)
        if self.histories:
            res.log_growth = to_numpy(self.xp.stack(self.rows)).astype(np.float64)


def _classify(out: Any, late: np.ndarray, act_h: np.ndarray, frozen_h: np.ndarray, steps: int,
              crit: DivergenceCriterion, eps: float) -> tuple[np.ndarray, list[str], list[str], np.ndarray]:
    """``(diverged, reason, status, diverged_at)`` of a perturbed run (see the module docstring).

    Non-finite and blow-up come from the stepper (plus a non-finite loss at K_N, ``late``);
    growth: ‖K‖ rising at every one of the last m = ⌈window·N⌉ steps and by a factor > 2 in total.
    """
    nf_h = (np.asarray(out.reason) == "nonfinite") | late
    bu_h = np.asarray(out.reason) == "blowup"
    norms = out.norms
    m_win = max(1, int(math.ceil(crit.window * steps)))
    norm_end, start_win = norms[-1], norms[steps - m_win]
    falls = ~(norms[1:] > norms[:-1])[::-1]                     # newest first
    rising_h = np.where(falls.any(axis=0), falls.argmax(axis=0), falls.shape[0])   # trailing rises
    with np.errstate(divide="ignore", invalid="ignore"):
        grew = act_h & (rising_h >= m_win) & (norm_end > 2.0 * start_win)
    conv = act_h & ~grew & (out.increments[-1] <= crit.converged * eps * norm_end)
    diverged = nf_h | bu_h | grew
    reason = ["nonfinite" if a else "blowup" if c else "growth" if g else "" for a, c, g in zip(nf_h, bu_h, grew)]
    status = [r if r else ("converged" if c else "bounded") for r, c in zip(reason, conv)]
    return diverged, reason, status, np.where(grew, steps, frozen_h)


def run_perturbed(
    op: CnnOperator,
    lrs: Any,
    ks: Any = (1, 3),
    alphas: Any = 20.0,
    seeds: Any = 0,
    *,
    steps: int = 1000,
    beta: float = 1.0,
    b: float = 0.0,
    y: float = 1.0,
    reference_k: int | None = None,
    histories: bool = True,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    spectral_every: int = 0,
    spectral_steps: int = 30,
    rho_margin: float | None = None,
    tangent: bool = False,
    threshold: float = 1e-3,
    K0: Any = None,
    init_scale: float | None = None,
    criterion: DivergenceCriterion | None = None,
) -> PerturbedRun:
    """Perturbed gradient descent p ← p − (lr·k)·(∇L/k) for every (lr, k, α, seed) at once.

    Parameters
    ----------
    op : CnnOperator
        Image, window and mode; its dtype (float32 or float64) and namespace are the
        working precision and backend.
    lrs, ks, alphas, seeds : number or sequence
        Learning rates (> 0), perturbation factors (distinct positive integers), weight
        decays (finite) and initial-kernel seeds (:func:`workbench.solvers.cnn.schemes.initial_kernel`).
    steps : int
        Gradient steps N (≥ 1).
    reference_k : int, optional
        The k every member is compared with (default: 1 if in ``ks``, else ``ks[0]``);
        must be one of ``ks``.
    histories : bool
        Keep per-iteration loss/divergence (and ρ) histories. When they would take more
        than ``memory_budget`` bytes a :class:`ParameterError` says how many bytes are
        needed; ``histories=False`` keeps only the summaries (final, max, first-crossing
        values, crossing fractions), whose memory does not grow with ``steps``.
    spectral_every : int
        Compute ρ_n every this many iterations (0: never). Each check costs a few
        Hessian-vector products (≤ ``spectral_steps`` Lanczos steps; 2–3 on the
        checkerboard, whose Hessian is αI plus rank one).
    rho_margin : float, optional
        A check counts as crossing when ρ_n > 1 + rho_margin (default 1e3·ε of the dtype).
    tangent : bool
        Carry a tangent vector (one extra Hessian-vector product per step) and report the
        Lyapunov exponent and the amplification A (see the module docstring).
    threshold : float
        ``first_above`` records the first iteration with relative L1 > threshold.
    K0 : array (w, w), optional
        Initial kernel for every member (then ``seeds`` must hold one seed).
    init_scale : float, optional
        Passed to :func:`initial_kernel` as ``scale``.
    """
    import time

    t_start = time.perf_counter()
    xp = op.xp
    dtype = op.dtype
    lr_v = _float_list("lr", lrs, check_positive)
    k_v = check_ks(ks)
    a_v = _float_list("alpha", alphas)
    s_v = _seeds(seeds)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ParameterError(f"steps: must be a positive integer, got {steps!r}")
    steps = int(steps)
    if isinstance(spectral_every, bool) or not isinstance(spectral_every, (int, np.integer)) or spectral_every < 0:
        raise ParameterError(f"spectral_every: must be a non-negative integer, got {spectral_every!r}")
    beta, b, y = check_model(beta, b, y)
    threshold = check_positive("threshold", threshold)
    ref_k = (1 if 1 in k_v else int(k_v[0])) if reference_k is None else int(check_ks(reference_k)[0])
    if ref_k not in k_v:
        raise ParameterError(f"reference_k: {ref_k} is not one of k = {list(map(int, k_v))}")
    shape = (lr_v.size, k_v.size, a_v.size, s_v.size)
    B = int(np.prod(shape))
    if histories:
        need = history_bytes(steps, B, spectral_every, tangent)
        if need > memory_budget:
            raise ParameterError(
                f"steps: keeping per-iteration histories for {steps} iterations x {B} members needs "
                f"{need} bytes ({need / 2 ** 20:.1f} MiB), over the memory budget of {int(memory_budget)} bytes; "
                f"pass histories=False to keep only summaries (final, maximum and first-crossing values), "
                f"or raise memory_budget"
            )
    crit = criterion or DivergenceCriterion()
    eps = float(np.finfo(np.float32 if dtype == xp.float32 else np.float64).eps)
    margin = 1e3 * eps if rho_margin is None else float(rho_margin)

    # member parameters, C order over (lr, k, alpha, seed)
    il, ik, ia, is_ = (g.reshape(-1) for g in np.indices(shape))
    m_lr, m_k, m_a, m_s = lr_v[il], k_v[ik], a_v[ia], s_v[is_]
    ref_pos = int(np.nonzero(k_v == ref_k)[0][0])
    reference = np.ravel_multi_index((il, np.full_like(ik, ref_pos), ia, is_), shape)

    col = (B, 1, 1)
    lr_d = xp.reshape(xp.asarray(m_lr, dtype=dtype), col)
    k_d = xp.reshape(xp.asarray(m_k.astype(np.float64), dtype=dtype), col)
    lr_k = lr_d * k_d  # rounded once in the working dtype: the "lr·k" of the perturbation
    al_d = xp.reshape(xp.asarray(m_a, dtype=dtype), col)
    ref_d = xp.asarray(reference.astype(np.int64))

    if K0 is not None:
        if s_v.size != 1:
            raise ParameterError("K0: an explicit initial kernel needs exactly one seed")
        K0 = xp.asarray(K0, dtype=dtype)
        if tuple(K0.shape) != (op.w, op.w):
            raise ParameterError(f"K0: expected shape {(op.w, op.w)}, got {tuple(K0.shape)}")
        K = xp.broadcast_to(xp.reshape(K0, (1, op.w, op.w)), (B, op.w, op.w))
        K = K + xp.zeros_like(K)
    else:
        per_seed = [initial_kernel(op, 1, int(s), init_scale)[0, ...] for s in s_v]
        K = xp.stack([per_seed[i] for i in is_], axis=0)

    upd = PerturbedUpdate(op, lr_k, k_d, al_d, beta, b, y)
    measure = _Measure(xp, ref_d, threshold, histories, steps, B)
    trackers: list[Any] = [measure, _SameOutput(xp, ref_d, B)]
    if spectral_every:
        trackers.append(_Spectral(op, al_d, m_lr, beta, b, y, spectral_every, spectral_steps, histories, margin, eps, B))
    if tangent:
        trackers.append(_Tangent(xp, op, lr_d, histories, steps, B, dtype))
    live: dict = {}

    def observe(n: int, Kn: Any, _g: Any) -> None:
        v = _BatchVisit(n, Kn, upd.curvature, live["active"])
        for t in trackers:
            t.handle(n, v)

    with quiet_overflow():
        out = stepper_run(upd, upd.gradient, K, None, steps, criterion=crit, observe=observe, indexed=True,
                          live=live, to_end=True)
        K = out.theta
        frozen_h = np.asarray(out.frozen_at, dtype=np.int64)
        act_h = frozen_h < 0
        lc = LocalCurvature(op, K, al_d, beta, b, y, need_loss=True)      # the last iterate K_N
        loss = lc.loss
        late = act_h & ~np.asarray(to_numpy(xp.isfinite(loss)), dtype=bool)
        frozen_h = np.where(late, steps, frozen_h)
        act_h = act_h & ~late
        final = _BatchVisit(steps, K, lc, xp.asarray(act_h))
        for t in trackers:
            t.handle(steps, final)
    diverged, reason, status, diverged_at = _classify(out, late, act_h, frozen_h, steps, crit, eps)
    final_loss = to_numpy(xp.astype(loss, xp.float64)).astype(np.float64)
    both_end = act_h & act_h[reference]
    Kr = xp.take(K, ref_d, axis=0)
    fl1 = np.where(both_end, to_numpy(xp.astype(relative_l1(K, Kr), xp.float64)), np.nan)
    fl2 = np.where(both_end, to_numpy(xp.astype(relative_l2(K, Kr), xp.float64)), np.nan)
    res = PerturbedRun(
        lrs=lr_v, ks=k_v, alphas=a_v, seeds=s_v, shape=shape,
        dtype="float32" if dtype == xp.float32 else "float64", steps=steps, reference_k=ref_k,
        member_lr=m_lr, member_k=m_k, member_alpha=m_a, member_seed=m_s, reference=reference,
        loss=None, rel_l1=None, rel_l2=None,
        final_loss=final_loss, final_rel_l1=fl1, final_rel_l2=fl2,
        max_rel_l1=np.zeros(B), max_rel_l2=np.zeros(B), first_above=np.zeros(B, dtype=np.int64),
        threshold=threshold, diverged=diverged, reason=reason, diverged_at=diverged_at, status=status, kernel=K,
        rho_margin=margin, criterion=crit,
    )
    for t in trackers:
        t.finish(res)
    res.seconds = time.perf_counter() - t_start
    return res

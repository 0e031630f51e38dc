"""Long horizons of a symmetric linear one-step map, by repeated squaring.

A linear scheme with a symmetric one-step map T (forward Euler on a quadratic, i.e. gradient
descent on the linearized one-layer CNN, first paper (21)) has increments
δₙ = θₙ₊₁ − θₙ = Tⁿ δ₀. Near a stability edge the mode that decides stability grows or decays
by only ~ε per step, so a run must last ~1/ε steps before that mode outweighs its neighbours
(:mod:`workbench.solvers.stepping.divergence`). Stepping costs N matrix–vector products for N
steps; squaring T costs log₂N matrix products, so for N ≫ the dimension n it is far cheaper:
T^(2^j) is formed for j = 1, 2, … and the increments are read at N = 2^j.

What is observed is exactly what :func:`workbench.solvers.stepping.divergence.classify` looks at,
at the sampled steps:

* ``blowup``: ‖δ_{2^j}‖ > ``blowup`` · ‖δ₀‖ at some j (the stepper checks every step; growth
  that large is seen at the next power of two);
* ``growth``: ‖δ_N‖ > ‖δ_{N−m}‖ with m = N/2^q the largest power-of-two fraction of N not above
  the criterion's window (1/16 for the default 10 %), so N − m = 2^(j−1) + … + 2^(j−q);
* ``nonfinite``: a non-finite power.

The converged test of the stepper is not needed: it guards against increments at rounding
level, and here the increments are the powers applied to δ₀, never differences of iterates.
For a symmetric T, log‖Tⁿδ₀‖ is convex in n (a sum of exponentials), so growth over the window
means growth at N, and observed growth certifies a mode of modulus > 1.

Rounding: each squaring of the normalised power adds ~n·ε to its entries, which moves T's
eigenvalues by ~n·ε/2^j: far below the per-step growth ε ≳ 1e-9 that a bound to rtol ≥ 1e-6
resolves (float64 only). The slow reference is stepping (tests).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from workbench.solvers.core.backend import backend_name
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.core.threads import cover_scipy_blas

__all__ = ["PowerRun", "power_classify", "power_cost", "step_cost"]


@dataclass
class PowerRun:
    """Classification of each member at ``steps`` (the last power of two reached)."""

    diverged: np.ndarray
    reason: list[str]
    steps: int
    squarings: int


def power_cost(n: int, members: int, steps: int) -> float:
    """Floating-point operations of :func:`power_classify`: n³ per squaring (symmetric product) and member."""
    return float(members) * max(1, math.ceil(math.log2(max(steps, 2)))) * float(n) ** 3


#: default work budget of one classification run, in floating-point operations (a few CPU seconds)
DEFAULT_WORK = 2e11

#: per-step overhead of the stepper (divergence flags, norms, state updates) in flop-equivalents (~50 µs)
STEP_OVERHEAD = 1.5e6


def step_cost(n: int, members: int, steps: int) -> float:
    """Operations of stepping with a dense n×n matrix, as flop-equivalents: 2Bn² per step, reading the
    matrix (a memory-bound product of a few members runs ~3x slower per flop than a large GEMM: 24n²),
    and the stepper's overhead."""
    return float(steps) * ((2.0 * members + 24.0) * float(n) ** 2 + STEP_OVERHEAD)


def _square(xp: Any, x: Any, scale: float) -> Any:
    """(x/scale)² of a symmetric x: BLAS ``syrk`` (half the flops) for NumPy float64, else a matrix product."""
    if backend_name(xp) == "numpy" and x.dtype == xp.float64:
        from scipy.linalg.blas import dsyrk  # lazy: keeps scipy.linalg off the start-up path

        cover_scipy_blas()
        c = dsyrk(1.0 / (scale * scale), x.T, trans=1)   # upper triangle of x xᵀ = x² (x symmetric); lower is 0
        y = c + c.T
        n = y.shape[0]
        y.flat[::n + 1] = np.diagonal(c)
        return y
    y = xp.matmul(x / scale, x / scale)
    return 0.5 * (y + xp.matrix_transpose(y))


def _lognorm(xp: Any, v: Any) -> float:
    nv = float(xp.linalg.vector_norm(v))
    return math.log(nv) if nv > 0 else -math.inf


def power_classify(
    maps: Sequence[Any],
    d0: Sequence[Any],
    xp: Any,
    *,
    min_steps: int,
    max_steps: int,
    blowup: float = 1e8,
    window: float = 0.1,
    stop: Callable[[np.ndarray], bool] | None = None,
) -> PowerRun:
    """Classify the iterations δ ↦ T_b δ from δ₀ = ``d0[b]`` at N = 2^j steps (see the module docstring).

    Parameters
    ----------
    maps : sequence of (n, n) arrays
        The symmetric one-step maps T_b, one per member (float64).
    d0 : sequence of (n,) arrays
        First increments δ₀ (from the scheme's first step, force offsets included).
    min_steps : int
        The first N = 2^j ≥ ``min_steps`` (and ≥ 16, so the window exists) is where members are
        first classified.
    max_steps : int
        No power beyond it: the run ends at the largest 2^j ≤ ``max_steps``.
    stop : callable, optional
        ``stop(diverged) -> bool`` after each classification; True ends the run there
        (e.g. "the member outside the predicted edge has diverged"). Without it the run ends at
        the first classification.
    """
    if len(maps) != len(d0) or not maps:
        raise ParameterError("maps: need one first increment per map, and at least one map")
    if int(max_steps) < max(16, int(min_steps)):
        raise ParameterError(f"max_steps: must be >= max(16, min_steps={min_steps}), got {max_steps}")
    q = max(1, math.ceil(math.log2(1.0 / window)))            # window m = N / 2^q <= window * N
    j_min = max(4, q, math.ceil(math.log2(max(int(min_steps), 1))))
    j_max = int(math.floor(math.log2(int(max_steps))))
    nb = len(maps)
    diverged = np.zeros(nb, dtype=bool)
    reason = [""] * nb
    log_d0 = [_lognorm(xp, v) for v in d0]
    xs = [m for m in maps]
    logs = [0.0] * nb                                        # T^(2^j) = xs[b] · e^logs[b]
    hist: list[deque] = [deque(maxlen=q) for _ in range(nb)]  # the last q (power, log scale) pairs
    cap = math.log(blowup) if math.isfinite(blowup) else math.inf
    for j in range(1, j_max + 1):
        for b in range(nb):
            if diverged[b]:
                continue
            hist[b].append((xs[b], logs[b]))
            # normalise by the largest entry: for j > 1 the power is positive semi-definite (a square of a
            # symmetric matrix), so that is its largest diagonal entry, read in O(n)
            x = xs[b]
            scale = float(xp.max(xp.abs(x) if j == 1 else xp.linalg.diagonal(x)))
            if not math.isfinite(scale):
                diverged[b], reason[b] = True, "nonfinite"
                continue
            scale = scale if scale > 0 else 1.0
            xs[b], logs[b] = _square(xp, x, scale), 2.0 * (logs[b] + math.log(scale))
            ln = _lognorm(xp, xp.matmul(xs[b], d0[b])) + logs[b]
            if ln - log_d0[b] > cap:
                diverged[b], reason[b] = True, "blowup"
                continue
            if j >= j_min:
                v, lw = d0[b], 0.0                           # δ_{N−m}: apply T^(2^(j−q)) … T^(2^(j−1))
                for x, lx in hist[b]:
                    v = xp.matmul(x, v)
                    lw += lx
                if ln > _lognorm(xp, v) + lw:
                    diverged[b], reason[b] = True, "growth"
        if j >= j_min and (stop is None or stop(diverged) or j == j_max):
            return PowerRun(diverged, reason, 2 ** j, j)
    return PowerRun(diverged, reason, 2 ** j_max, j_max)

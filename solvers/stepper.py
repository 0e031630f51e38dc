"""One batched stepper for every registered optimizer and every force.

The scheme comes from the registry (:mod:`derivations.optimizers`): a state
``s = (θ, buffers…)`` advanced by ``s' = A s − η B g`` with ``g = ∇f(C s)``; this module
iterates exactly those coefficients (:func:`solvers.optimizers.resolve`), so the
analysis and the simulation can never drift apart.  The force ``gradient`` is any
callable on a batch of iterates (B, …): the linearized CNN (first paper (21)/(41)),
the nonlinear CNN (13), a quadratic, or an :class:`~solvers.objectives.Objective`.
Every member of the batch may carry its own weight decay (inside ``gradient``) or
learning rate (``lr`` as a sequence).  Buffers start at rest (θ₋₁ = θ₀, momentum 0).
Classification: :mod:`solvers.divergence`.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from array_api_compat import device as array_device

from .backend import namespace_of, quiet_overflow, to_numpy
from .checks import ParameterError, check_memory, run_memory
from .divergence import DivergenceCriterion, RunResult, classify
from .optimizers import Resolved, resolve

__all__ = ["run"]


def _steps(steps: Any) -> int:
    if isinstance(steps, bool) or not (isinstance(steps, (int, np.integer)) or
                                       (isinstance(steps, float) and float(steps).is_integer())):
        raise ParameterError(f"steps: expected an integer number of time steps, got {steps!r}")
    steps = int(steps)
    if steps < 2:
        raise ParameterError(f"steps: need at least 2 time steps, got {steps}")
    return steps


def _norms(xp: Any, x: Any) -> Any:
    flat = xp.reshape(x, (x.shape[0], -1))
    return xp.sqrt(xp.sum(flat * flat, axis=1))


def _combine(coeffs: Sequence[float], arrays: Sequence[Any]) -> Any:
    """Σ c_j a_j, skipping zero coefficients and multiplying by none of the ones."""
    out = None
    for c, a in zip(coeffs, arrays):
        if c == 0.0:
            continue
        term = a if c == 1.0 else (-a if c == -1.0 else c * a)
        out = term if out is None else out + term
    return out if out is not None else 0.0 * arrays[0]


def _lr(lr: Any, B: int, xp: Any, like: Any) -> tuple[Any, float]:
    if np.ndim(lr) == 0 and not hasattr(lr, "shape"):
        return float(lr), float(lr)
    arr = np.asarray(to_numpy(lr) if hasattr(lr, "shape") else lr, dtype=np.float64).reshape(-1)
    if arr.size == 1:
        return float(arr[0]), float(arr[0])
    if arr.size != B:
        raise ParameterError(f"lr: expected one learning rate or one per member ({B}), got {arr.size}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ParameterError("lr: every learning rate must be finite and > 0")
    shape = (B,) + (1,) * (like.ndim - 1)
    return xp.reshape(xp.asarray(arr, dtype=like.dtype), shape), float(arr[0])


def run(
    scheme: str | Resolved,
    gradient: Callable[[Any], Any],
    theta0: Any,
    lr: Any = None,
    steps: int = 1000,
    *,
    params: dict[str, Any] | None = None,
    criterion: DivergenceCriterion | None = None,
    observe: Callable[[int, Any, Any], dict] | None = None,
    every: int = 1,
    members: Any = None,
) -> RunResult:
    """Iterate a registered scheme on ``gradient`` from ``theta0`` and classify every member.

    Parameters
    ----------
    scheme : str or Resolved
        A registry name (with ``lr`` and ``params``) or a resolved scheme.
    gradient : callable
        ``g = gradient(x)`` for a batch ``x`` of shape (B, …), same shape back.
    theta0 : array
        Starting iterates, (B, …); the leading axis holds the members.
    lr : float or sequence, optional
        η, or one η per member; defaults to the resolved scheme's.
    steps : int
        Number of steps N ≥ 2.
    observe : callable, optional
        ``observe(n, theta_n, g_n) -> dict`` every ``every`` steps (before the
        update of step n); the dicts, with ``"step"`` added, are ``records``.
    members : sequence, optional
        Labels of the members (e.g. α), echoed as ``RunResult.members``.

    Returns
    -------
    RunResult
        Classified per :class:`~solvers.divergence.DivergenceCriterion`.
    """
    res = scheme if isinstance(scheme, Resolved) else resolve(
        scheme, lr if (lr is None or np.ndim(lr) == 0) and not hasattr(lr, "shape") else 1.0, params)
    crit = criterion or DivergenceCriterion()
    steps = _steps(steps)
    every = int(every)
    if every < 1:
        raise ParameterError(f"every: must be >= 1, got {every}")
    xp = namespace_of(theta0)
    if theta0.ndim < 1 or theta0.shape[0] < 1:
        raise ParameterError(f"theta0: expected a batch (B, ...) with B >= 1, got shape {tuple(theta0.shape)}")
    B = int(theta0.shape[0])
    per_member = int(np.prod(theta0.shape[1:])) if theta0.ndim > 1 else 1
    check_memory("steps", run_memory(steps, B, 1, theta0.dtype.itemsize if hasattr(theta0.dtype, "itemsize") else 8)
                 + 8 * (len(res.kinds) + 3) * B * per_member)
    eta, _ = _lr(res.lr if lr is None else lr, B, xp, theta0)
    A = [[float(v) for v in row] for row in res.A]            # Python floats: no NumPy scalars meet xp arrays
    Bv, C = [float(v) for v in res.B], [float(v) for v in res.C]
    eB = [None if b == 0.0 else (eta if b == 1.0 else eta * b) for b in Bv]
    reuse = [A[i] == C for i in range(len(A))]
    state = [theta0 if k == "theta" else xp.zeros_like(theta0) for k in res.kinds]
    mshape = (B,) + (1,) * (theta0.ndim - 1)
    # per-step records kept as device arrays in lists (no in-place writes: JAX arrays are immutable; no host
    # sync per step on a GPU), stacked once at the end
    dev = array_device(theta0)
    incs: list[Any] = []
    norms: list[Any] = [_norms(xp, theta0)]
    active = xp.ones((B,), dtype=xp.bool, device=dev)
    nonfinite = xp.zeros((B,), dtype=xp.bool, device=dev)
    blown = xp.zeros((B,), dtype=xp.bool, device=dev)
    d0 = None
    records: list[dict] = []
    done = steps
    with quiet_overflow():
        for n in range(steps):
            x = _combine(C, state)
            g = gradient(x)
            if observe is not None and n % every == 0:
                rec = observe(n, state[0], g)
                if rec is not None:
                    records.append({"step": n, **rec})
            new = []
            for i in range(len(state)):
                si = x if reuse[i] else _combine(A[i], state)
                new.append(si if eB[i] is None else si - eB[i] * g)
            dn = _norms(xp, new[0] - state[0])
            if d0 is None:
                d0 = xp.where(dn > 0, dn, xp.ones_like(dn))
            fin = xp.isfinite(dn)
            newly_nf = active & ~fin
            newly_bu = active & fin & (dn > crit.blowup * d0)
            nonfinite = nonfinite | newly_nf
            blown = blown | newly_bu
            active = active & ~newly_nf & ~newly_bu
            keep = xp.reshape(active, mshape)
            state = [xp.where(keep, a, b) for a, b in zip(new, state)]
            incs.append(xp.where(active, dn, xp.zeros_like(dn)))
            norms.append(_norms(xp, state[0]))
            if n % 64 == 63 and not bool(xp.any(active)):     # every member frozen: stop (checked rarely)
                done = n + 1
                break
    pad = steps - len(incs)                            # rows after an early stop (every member frozen) stay 0
    incs = np.concatenate([to_numpy(xp.stack(incs)).astype(np.float64), np.zeros((pad, B))])
    norms = to_numpy(xp.stack(norms)).astype(np.float64)
    norms = np.concatenate([norms, np.repeat(norms[-1:], pad, axis=0)])
    nf_h = np.asarray(to_numpy(nonfinite), dtype=bool)
    bu_h = np.asarray(to_numpy(blown), dtype=bool)
    eps = float(np.finfo(np.float32 if theta0.dtype == xp.float32 else np.float64).eps)
    diverged, reason, growth, conv = classify(incs, norms, nf_h, bu_h, eps, crit)
    labels = np.arange(B, dtype=np.float64) if members is None else np.asarray(members, dtype=np.float64).reshape(-1)
    out = RunResult(members=labels, diverged=diverged, reason=reason, growth=growth, converged=conv,
                    increments=incs, norms=norms, theta=state[0], steps=steps, criterion=crit, state=state,
                    records=records)
    out.extra.update(res.to_dict(), steps_done=done)
    return out

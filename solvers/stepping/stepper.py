"""One batched stepper for every registered optimizer and every force.

The scheme comes from the registry (:mod:`workbench.derivations.schemes.registry`): a state
``s = (θ, buffers…)`` advanced by ``s' = A s − η B g`` with ``g = ∇f(C s)``; this module
iterates exactly those coefficients (:func:`workbench.solvers.stepping.optimizers.resolve`), so the
analysis and the simulation can never drift apart.  The force ``gradient`` is any
callable on a batch of iterates (B, …): the linearized CNN (first paper (21)/(41)),
the nonlinear CNN (13), a quadratic, or an :class:`~workbench.solvers.core.objectives.Objective`.
Every member of the batch may carry its own weight decay (inside ``gradient``) or
learning rate (``lr`` as a sequence).  Buffers start at rest (θ₋₁ = θ₀, momentum 0).
Classification: :mod:`workbench.solvers.stepping.divergence`.

The loop also serves the recorded single-trajectory runs (full-batch GD and SGD with
per-step recorders, fourth paper; DAL, third paper): the force may take the step index
(``indexed=True``: a mini-batch gradient that changes per step), the learning rate may be
a rule ``lr(n, theta, g)`` evaluated every step (DAL's adaptive rate), and an observer
may end the run by returning ``{"stop": reason}`` (a loss past
:func:`workbench.solvers.stepping.divergence.loss_verdict`'s limit).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from array_api_compat import device as array_device

from workbench.solvers.core.backend import namespace_of, quiet_overflow, to_numpy
from workbench.solvers.core.checks import ParameterError, check_memory, run_memory
from workbench.solvers.stepping.divergence import DivergenceCriterion, RunResult, classify, step_flags
from workbench.solvers.stepping.optimizers import Resolved, resolve

__all__ = ["run", "Update"]


@runtime_checkable
class Update(Protocol):
    """A one-step update that is not a registry record (py-pde's pattern: the loop is here, the step there).

    For schemes whose coefficients are operators rather than numbers, e.g. Algorithm 1 of
    the second paper (:class:`workbench.solvers.dynamics.diffusion.DiffusionUpdate`: a Laplacian on the
    momentum buffer), or an update whose rounding is part of the experiment.
    ``start(theta0)`` gives the state (θ first), ``point(state)`` where the gradient is
    taken, ``step(state, x, g, eta)`` the next state; ``lr`` the default learning rate.
    An update may also have ``halt(n, x, g) -> mask``: members to freeze before step n's
    update, counted as ``nonfinite`` (e.g. a non-finite loss computed with the gradient),
    and ``C = (1.0,)`` when ``point(state)`` is θ itself (as a record with C = [1]): then
    :func:`~workbench.solvers.stepping.tracking.run_tracked` lets its trackers see θₙ before
    the force is computed (:class:`workbench.solvers.dynamics.rk4.RK4`).
    """

    lr: float

    def start(self, theta0: Any) -> list: ...

    def point(self, state: list) -> Any: ...

    def step(self, state: list, x: Any, g: Any, eta: Any) -> list: ...

    def to_dict(self) -> dict: ...


def _steps(steps: Any) -> int:
    if isinstance(steps, bool) or not (isinstance(steps, (int, np.integer)) or
                                       (isinstance(steps, float) and float(steps).is_integer())):
        raise ParameterError(f"steps: expected an integer number of time steps, got {steps!r}")
    steps = int(steps)
    if steps < 1:
        raise ParameterError(f"steps: need at least 1 time step, got {steps}")
    return steps


def _norms(xp: Any, x: Any) -> Any:
    """‖xᵢ‖ per member (the modulus for a complex state: a flow integrated in ℂᴰ, third paper §3.1)."""
    flat = xp.reshape(x, (x.shape[0], -1))
    if xp.isdtype(flat.dtype, "complex floating"):
        flat = xp.abs(flat)
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


def _lr(lr: Any, B: int, xp: Any, like: Any) -> Any:
    """η as a float, or one per member shaped to broadcast against the iterates."""
    if np.ndim(lr) == 0 and not hasattr(lr, "shape"):
        return float(lr)
    arr = np.asarray(to_numpy(lr) if hasattr(lr, "shape") else lr, dtype=np.float64).reshape(-1)
    if arr.size == 1:
        return float(arr[0])
    if arr.size != B:
        raise ParameterError(f"lr: expected one learning rate or one per member ({B}), got {arr.size}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ParameterError("lr: every learning rate must be finite and > 0")
    shape = (B,) + (1,) * (like.ndim - 1)
    return xp.reshape(xp.asarray(arr, dtype=like.dtype), shape)


def run(
    scheme: str | Resolved | Update,
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
    indexed: bool = False,
    live: dict | None = None,
    to_end: bool = False,
) -> RunResult:
    """Iterate a registered scheme on ``gradient`` from ``theta0`` and classify every member.

    Parameters
    ----------
    scheme : str, Resolved or Update
        A registry name (with ``lr`` and ``params``), a resolved scheme, or an
        :class:`Update` (a step that is not a registry record).
    gradient : callable
        ``g = gradient(x)`` for a batch ``x`` of shape (B, …), same shape back;
        ``gradient(x, n)`` at step n when ``indexed``.
    theta0 : array
        Starting iterates, (B, …); the leading axis holds the members.
    lr : float, sequence or callable, optional
        η, or one η per member; defaults to the resolved scheme's.  A callable
        ``lr(n, theta_n, g_n) -> float`` is a step-size rule: evaluated every step
        (after the observer), one η for all members; a non-finite value ends the run
        before step n's update (``extra["stopped"] = "lr"``).
    steps : int
        Number of steps N ≥ 1 (the growth check needs N ≥ 2).
    observe : callable, optional
        ``observe(n, theta_n, g_n) -> dict`` every ``every`` steps (before the
        update of step n); the dicts, with ``"step"`` added, are ``records``.  A dict
        with a ``"stop"`` entry ends the run before step n's update
        (``extra["stopped"]`` is its value, ``extra["steps_done"]`` = n; it is not a record).
        When every member has diverged the run ends at the next observed step.
    members : sequence, optional
        Labels of the members (e.g. α), echoed as ``RunResult.members``.
    indexed : bool
        Pass the step index to ``gradient``.
    live : dict, optional
        Filled before every observation with ``"active"``, the members not yet frozen
        (a backend bool array), for observers that measure only live members.
    to_end : bool
        Step all N steps even when every member is frozen (observers see every step).

    Returns
    -------
    RunResult
        Classified per :class:`~workbench.solvers.stepping.divergence.DivergenceCriterion`.
    """
    custom = scheme if isinstance(scheme, Update) and not isinstance(scheme, (str, Resolved)) else None
    res = scheme if isinstance(scheme, Resolved) or custom is not None else resolve(
        scheme, lr if (lr is None or np.ndim(lr) == 0) and not hasattr(lr, "shape") and not callable(lr) else 1.0,
        params)
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
                 + 8 * (len(getattr(res, "kinds", ())) + 3) * B * per_member)
    rule = lr if callable(lr) else None
    eta = _lr(res.lr if lr is None or rule is not None else lr, B, xp, theta0)
    if custom is not None:
        A, Bv, C = [[1.0]], [1.0], [1.0]                      # unused: the update supplies the step
    else:
        A = [[float(v) for v in row] for row in res.A]        # Python floats: no NumPy scalars meet xp arrays
        Bv, C = [float(v) for v in res.B], [float(v) for v in res.C]

    def scaled(eta: Any) -> list:
        return [None if b == 0.0 else (eta if b == 1.0 else eta * b) for b in Bv]

    eB = scaled(eta)
    reuse = [A[i] == C for i in range(len(A))]
    state = (custom.start(theta0) if custom is not None else
             [theta0 if k == "theta" else xp.zeros_like(theta0) for k in res.kinds])
    mshape = (B,) + (1,) * (theta0.ndim - 1)
    # per-step records kept as device arrays in lists (no in-place writes: JAX arrays are immutable; no host
    # sync per step on a GPU), stacked once at the end
    dev = array_device(theta0)
    incs: list[Any] = []
    norms: list[Any] = [_norms(xp, theta0)]
    active = xp.ones((B,), dtype=xp.bool, device=dev)
    nonfinite = xp.zeros((B,), dtype=xp.bool, device=dev)
    blown = xp.zeros((B,), dtype=xp.bool, device=dev)
    frozen_at = xp.full((B,), -1, dtype=xp.int64, device=dev)
    halt = getattr(custom, "halt", None)
    d0 = None
    records: list[dict] = []
    done = steps
    stopped = ""
    with quiet_overflow():
        for n in range(steps):
            if observe is not None and n % every == 0 and n and not to_end and not bool(xp.any(active)):
                done = n                                            # every member frozen: nothing left to observe
                break
            x = custom.point(state) if custom is not None else _combine(C, state)
            g = gradient(x, n) if indexed else gradient(x)
            if halt is not None:
                stop = halt(n, x, g)
                if stop is not None:
                    stop = active & stop
                    nonfinite = nonfinite | stop
                    frozen_at = xp.where(stop, xp.full_like(frozen_at, n), frozen_at)
                    active = active & ~stop
            if live is not None:
                live["active"] = active
            if observe is not None and n % every == 0:
                rec = observe(n, state[0], g)
                if rec is not None and "stop" in rec:
                    done, stopped = n, str(rec["stop"])
                    break
                if rec is not None:
                    records.append({"step": n, **rec})
            if rule is not None:
                eta = float(rule(n, state[0], g))
                if not math.isfinite(eta):
                    done, stopped = n, "lr"
                    break
                eB = scaled(eta)
            if custom is not None:
                new = custom.step(state, x, g, eB[0])
            else:
                new = []
                for i in range(len(state)):
                    si = x if reuse[i] else _combine(A[i], state)
                    new.append(si if eB[i] is None else si - eB[i] * g)
            dn = _norms(xp, new[0] - state[0])
            if d0 is None:
                d0 = xp.where(dn > 0, dn, xp.ones_like(dn))
            newly_nf, newly_bu = step_flags(xp, dn, d0, active, crit)
            nonfinite = nonfinite | newly_nf
            blown = blown | newly_bu
            frozen_at = xp.where(newly_nf | newly_bu, xp.full_like(frozen_at, n + 1), frozen_at)
            active = active & ~newly_nf & ~newly_bu
            keep = xp.reshape(active, mshape)
            state = [xp.where(keep, a, b) for a, b in zip(new, state)]
            incs.append(xp.where(active, dn, xp.zeros_like(dn)))
            norms.append(_norms(xp, state[0]))
            if n % 64 == 63 and not to_end and not bool(xp.any(active)):     # every member frozen: stop (checked rarely)
                done = n + 1
                break
    incs_h = to_numpy(xp.stack(incs)).astype(np.float64) if incs else np.zeros((0, B))
    norms_h = to_numpy(xp.stack(norms)).astype(np.float64)
    if stopped:                                               # rows past a requested stop are not part of the run
        keep = max(done, 1)
        incs_h = np.concatenate([incs_h, np.zeros((max(0, keep - len(incs_h)), B))])[:keep]
        norms_h = np.concatenate([norms_h, np.repeat(norms_h[-1:], max(0, keep + 1 - len(norms_h)), axis=0)])[:keep + 1]
    else:                                                     # after an early end (every member frozen) rows stay 0
        pad = steps - len(incs_h)
        incs_h = np.concatenate([incs_h, np.zeros((pad, B))])
        norms_h = np.concatenate([norms_h, np.repeat(norms_h[-1:], pad, axis=0)])
    incs, norms = incs_h, norms_h
    nf_h = np.asarray(to_numpy(nonfinite), dtype=bool)
    bu_h = np.asarray(to_numpy(blown), dtype=bool)
    eps = float(np.finfo(np.float32 if theta0.dtype == xp.float32 else np.float64).eps)
    diverged, reason, growth, conv = classify(incs, norms, nf_h, bu_h, eps, crit)
    labels = np.arange(B, dtype=np.float64) if members is None else np.asarray(members, dtype=np.float64).reshape(-1)
    out = RunResult(members=labels, diverged=diverged, reason=reason, growth=growth, converged=conv,
                    increments=incs, norms=norms, theta=state[0], steps=steps, criterion=crit, state=state,
                    records=records, frozen_at=np.asarray(to_numpy(frozen_at), dtype=np.int64))
    out.extra.update(res.to_dict(), steps_done=done, stopped=stopped)
    return out
